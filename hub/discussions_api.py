"""Discussion and pull request endpoints: ``/api/{t}/{id}/discussions[/{num}[/...]]``.

Shapes are the ones huggingface_hub's ``get_repo_discussions``, ``get_discussion_details``,
``create_discussion``, ``comment_discussion``, ``rename_discussion``,
``change_discussion_status``, ``merge_pull_request``, ``edit_discussion_comment`` and
``hide_discussion_comment`` parse (hf_api.py, community.py).

Who may do what, as on huggingface.co (and the namespace rules of auth.py): reading needs
only to see the repo; opening and commenting need a write token; renaming and closing or
reopening need the author or the repo's namespace; merging needs the namespace; a comment is
edited by its author and hidden by its author or the namespace.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from .auth import Identity, namespace_forbidden, require_writer
from .context import HubContext
from .discussions import (
    PAGE_SIZE,
    Discussion,
    author_json,
    comment_event,
    edit_comment,
    find_comment,
    hide_comment,
    list_discussions,
    next_number,
    require_discussion,
    save_discussion,
    status_event,
    title_event,
)
from .errors import BadRequestError, ForbiddenError, MethodNotAllowedError, RouteNotFoundError
from .objects import utc_now_iso
from .pr_diff import tree_diff
from .protocol import Request, Response, json_response
from .pull_requests import (
    MAX_TITLE,
    conflicting_files,
    merge_pull_request,
    open_empty_pull_request,
    pull_request_url,
)
from .repo_api import open_repo
from .storage import Repo
from .validation import RepoKey

MAX_COMMENT = 65536
_TYPES = ("all", "discussion", "pull_request")
_STATUSES = {"all": None, "open": ("open", "draft"), "closed": ("closed", "merged")}
T = TypeVar("T")


def _title(value: object) -> str:
    if not isinstance(value, str) or not 3 <= len(value.strip()) <= MAX_TITLE:
        raise BadRequestError(f'"title" must be 3 to {MAX_TITLE} characters.')
    return value.strip()


def _text(value: object, what: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise BadRequestError(f'"{what}" must be a non-empty string.')
    if len(value) > MAX_COMMENT:
        raise BadRequestError(f'"{what}" is longer than {MAX_COMMENT} characters.')
    return value


def _summary(key: RepoKey, d: Discussion) -> dict[str, Any]:
    return {
        "num": d.num,
        "title": d.title,
        "status": d.status,
        "createdAt": d.created_at,
        "author": author_json(d.author),
        "isPullRequest": d.is_pull_request,
        "repo": {"name": key.repo_id, "type": key.repo_type},
        "numComments": sum(1 for e in d.events if e["type"] == "comment"),
        "pinned": False,
        "topReactions": [],
    }


def _details(repo: Repo, key: RepoKey, d: Discussion, with_diff: bool) -> dict[str, Any]:
    data = {**_summary(key, d), "events": d.events, "locked": False}
    if d.pr is not None:
        changes: dict[str, Any] = {"base": f"refs/heads/{d.pr.base}"}
        if d.pr.merge_commit is not None:
            changes["mergeCommitId"] = d.pr.merge_commit
        data["changes"] = changes
        data["filesWithConflicts"] = conflicting_files(repo, d)
        if with_diff:
            start, head = repo.get_commit(d.pr.start), repo.get_commit(d.pr.head)
            data["diff"] = tree_diff(repo, start.tree, head.tree)
    return data


def _writer(ctx: HubContext, req: Request, key: RepoKey) -> tuple[Repo, Identity]:
    """A write-role caller and a repo it can see (its namespace is not needed)."""
    identity = require_writer(req.identity)
    return open_repo(ctx, req, key), identity


def _check_moderator(identity: Identity, key: RepoKey, d: Discussion, what: str) -> None:
    """Only the discussion's author and the repo's namespace may ``what``."""
    if identity.name != d.author and not identity.acts_in(key.namespace):
        raise namespace_forbidden(identity, key.namespace, f"{what} #{d.num} of {key.repo_id}")


def _update(repo: Repo, num: int, change: Callable[[Discussion], T]) -> T:
    """Apply ``change`` to discussion ``num`` and save it, under the repo's lock."""
    with repo.store.lock(repo.key):
        repo._check_alive()
        d = require_discussion(repo, num)
        result = change(d)
        save_discussion(repo, d)
        return result


def list_handler(ctx: HubContext, req: Request, key: RepoKey) -> Response:
    """``GET .../discussions?p=&type=&status=&author=``: one page, newest first."""
    repo = open_repo(ctx, req, key)
    kind = req.param("type") or "all"
    status = req.param("status") or "all"
    page = req.param("p") or "0"
    if kind not in _TYPES or status not in _STATUSES or not page.isdigit():
        raise BadRequestError(
            '"type" must be all, discussion or pull_request; "status" all, open or closed; '
            '"p" a page number.'
        )
    author = req.param("author")
    wanted = _STATUSES[status]
    found = [
        d
        for d in list_discussions(repo)
        if (kind == "all" or d.is_pull_request == (kind == "pull_request"))
        and (wanted is None or d.status in wanted)
        and (author is None or d.author == author)
    ]
    start = int(page) * PAGE_SIZE
    return json_response(
        {
            "discussions": [_summary(key, d) for d in found[start : start + PAGE_SIZE]],
            "count": len(found),
            "start": start,
            "numClosedDiscussions": sum(1 for d in found if d.status in ("closed", "merged")),
        }
    )


def create_handler(ctx: HubContext, req: Request, key: RepoKey) -> Response:
    """``POST .../discussions``: a discussion, or (``pullRequest``) a draft pull request."""
    repo, identity = _writer(ctx, req, key)
    body = req.json_object()
    title = _title(body.get("title"))
    description = body.get("description") or ""
    if not isinstance(description, str) or len(description) > MAX_COMMENT:
        raise BadRequestError(
            f'"description" must be a string of at most {MAX_COMMENT} characters.'
        )
    if body.get("pullRequest") is True:
        d = open_empty_pull_request(repo, identity, title, description)
    else:
        with repo.store.lock(repo.key):
            repo._check_alive()
            d = Discussion(next_number(repo), title, "open", identity.name, utc_now_iso())
            d.events = [comment_event(identity.name, description)]
            save_discussion(repo, d)
    url = pull_request_url(req.base_url, key, d.num)
    return json_response({"num": d.num, "pullRequest": d.is_pull_request, "url": url})


def details_handler(ctx: HubContext, req: Request, key: RepoKey, num: int) -> Response:
    """``GET .../discussions/{num}[?diff=1]``: the discussion with its events."""
    repo = open_repo(ctx, req, key)
    d = require_discussion(repo, num)
    return json_response(_details(repo, key, d, req.flag("diff")))


def comment_handler(ctx: HubContext, req: Request, key: RepoKey, num: int) -> Response:
    """``POST .../discussions/{num}/comment``."""
    repo, identity = _writer(ctx, req, key)
    text = _text(req.json_object().get("comment"), "comment")

    def add(d: Discussion) -> dict[str, Any]:
        d.events.append(comment_event(identity.name, text))
        return d.events[-1]

    return json_response({"newMessage": _update(repo, num, add)})


def title_handler(ctx: HubContext, req: Request, key: RepoKey, num: int) -> Response:
    """``POST .../discussions/{num}/title``."""
    repo, identity = _writer(ctx, req, key)
    title = _title(req.json_object().get("title"))

    def rename(d: Discussion) -> dict[str, Any]:
        _check_moderator(identity, key, d, "rename")
        d.events.append(title_event(identity.name, d.title, title))
        d.title = title
        return d.events[-1]

    return json_response({"newTitle": _update(repo, num, rename)})


def status_handler(ctx: HubContext, req: Request, key: RepoKey, num: int) -> Response:
    """``POST .../discussions/{num}/status``: ``open`` or ``closed`` (drafts are published with
    ``open``), with an optional comment."""
    repo, identity = _writer(ctx, req, key)
    body = req.json_object()
    status = body.get("status")
    if status not in ("open", "closed"):
        raise BadRequestError('"status" must be "open" or "closed".')
    comment = _text(body["comment"], "comment") if body.get("comment") else None

    def change(d: Discussion) -> dict[str, Any]:
        _check_moderator(identity, key, d, "change the status of")
        if d.status in ("merged", status):
            raise BadRequestError(f"#{num} is already {d.status}.")
        answer: dict[str, Any] = {}
        if comment is not None:
            d.events.append(comment_event(identity.name, comment))
            answer["newMessage"] = d.events[-1]
        d.events.append(status_event(identity.name, status))
        d.status = status
        return {**answer, "newStatus": d.events[-1]}

    return json_response(_update(repo, num, change))


def merge_handler(ctx: HubContext, req: Request, key: RepoKey, num: int) -> Response:
    """``POST .../discussions/{num}/merge``: merge into the target branch (409 on conflicts)."""
    repo = open_repo(ctx, req, key, write=True)
    identity = require_writer(req.identity)
    raw = req.json_object().get("comment")
    comment = _text(raw, "comment") if raw else None
    d = merge_pull_request(repo, num, identity, comment)
    assert d.pr is not None
    return json_response(
        {"num": num, "status": d.status, "mergeCommitId": d.pr.merge_commit,
         "newStatus": d.events[-1]}
    )  # fmt: skip


def comment_action_handler(
    ctx: HubContext, req: Request, key: RepoKey, num: int, comment_id: str, action: str
) -> Response:
    """``POST .../discussions/{num}/comment/{id}/edit`` (``content``) and ``.../hide``."""
    repo, identity = _writer(ctx, req, key)
    content = _text(req.json_object().get("content"), "content") if action == "edit" else ""

    def act(d: Discussion) -> dict[str, Any]:
        event = find_comment(d, comment_id)
        author = event["author"]["name"]
        if action == "edit":
            if author != identity.name and not identity.is_admin:
                raise ForbiddenError("Only the author of a comment can edit it.")
            edit_comment(event, identity.name, content)
        else:
            if author != identity.name and not identity.acts_in(key.namespace):
                raise namespace_forbidden(identity, key.namespace, f"hide comments of #{num}")
            hide_comment(event, identity.name)
        return event

    return json_response({"updatedComment": _update(repo, num, act)})


def route_discussions(ctx: HubContext, req: Request, key: RepoKey, rest: list[str]) -> Response:
    """Dispatch ``/api/{t}/{id}/discussions/...``; ``rest`` are the segments after it."""
    method = "GET" if req.method == "HEAD" else req.method
    if not rest:
        handler = {"GET": list_handler, "POST": create_handler}.get(method)
        if handler is None:
            raise MethodNotAllowedError(f"{req.method} is not allowed here.")
        return handler(ctx, req, key)
    if not rest[0].isdigit() or rest[0].startswith("0") or len(rest[0]) > 9:
        raise BadRequestError(f"Invalid discussion number {rest[0]!r}.")
    num, tail = int(rest[0]), rest[1:]
    if not tail and method == "GET":
        return details_handler(ctx, req, key, num)
    actions = {
        ("comment",): comment_handler,
        ("title",): title_handler,
        ("status",): status_handler,
        ("merge",): merge_handler,
    }
    if method == "POST" and tuple(tail) in actions:
        return actions[tuple(tail)](ctx, req, key, num)
    if method == "POST" and len(tail) == 3 and tail[0] == "comment" and tail[2] in ("edit", "hide"):
        return comment_action_handler(ctx, req, key, num, tail[1], tail[2])
    raise RouteNotFoundError(f"No such discussion endpoint: {req.method} {'/'.join(tail)}.")
