"""Discussions and pull requests of a repo: one JSON file per discussion, in the repo's folder.

Layout (inside ``repos/<type>/<namespace>/<name>/``, see storage.py)::

    discussions/<num>.json   # title, status, author, events; for a pull request also its
                             # target branch, the commit it started from and its head (refs/pr/N)

A pull request's ref ``refs/pr/N`` lives in its discussion file rather than in ``refs.json``:
a commit to a pull request then becomes visible, together with its "commit" event, by one
atomic replace of that file (written like every other file of the store: temp file, fsync,
rename, fsync of the folder), after the commit's objects. Files are changed only under the
repo's lock (the one ref updates take); readers read them without locking. Deleting the repo
deletes its discussions with the rest of its folder.

Events are stored in the JSON shape the Hub answers with (huggingface_hub's
``community.deserialize_event`` parses them), so a stored event is what every later read of
it returns.
"""

from __future__ import annotations

import html
import json
import re
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import BadRequestError, HubError, RevisionNotFoundError
from .hashing import canonical_json
from .objects import utc_now_iso

if TYPE_CHECKING:
    from .storage import Repo

DISCUSSIONS_DIR = "discussions"
#: discussions per page of ``GET .../discussions`` (huggingface.co's page size)
PAGE_SIZE = 50
_PR_REF_RE = re.compile(r"^refs/pr/([1-9][0-9]{0,8})$")
_FILE_RE = re.compile(r"^([1-9][0-9]{0,8})\.json$")


@dataclass
class PullRequestState:
    """The git side of a pull request: target branch, start commit, head, merge commit."""

    base: str
    start: str
    head: str
    merge_commit: str | None = None


@dataclass
class Discussion:
    """One discussion or pull request (``pr`` is set for pull requests)."""

    num: int
    title: str
    status: str
    author: str
    created_at: str
    events: list[dict[str, Any]] = field(default_factory=list)
    pr: PullRequestState | None = None

    @property
    def is_pull_request(self) -> bool:
        return self.pr is not None

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "num": self.num,
            "title": self.title,
            "status": self.status,
            "author": self.author,
            "createdAt": self.created_at,
            "events": self.events,
        }
        if self.pr is not None:
            data["pr"] = {
                "base": self.pr.base,
                "start": self.pr.start,
                "head": self.pr.head,
                "mergeCommit": self.pr.merge_commit,
            }
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Discussion:
        pr = data.get("pr")
        return cls(
            num=int(data["num"]),
            title=str(data["title"]),
            status=str(data["status"]),
            author=str(data["author"]),
            created_at=str(data["createdAt"]),
            events=list(data.get("events", [])),
            pr=PullRequestState(pr["base"], pr["start"], pr["head"], pr.get("mergeCommit"))
            if pr
            else None,
        )


def discussion_not_found(num: int) -> HubError:
    """404 for a discussion number the repo does not have."""
    return HubError(f"Discussion #{num} not found.", status=404, code="NotFound")


def pr_number(revision: str) -> int | None:
    """N for a revision ``refs/pr/N``, else ``None``."""
    match = _PR_REF_RE.match(revision)
    return int(match.group(1)) if match else None


def _path(repo: Repo, num: int) -> Path:
    return repo.dir / DISCUSSIONS_DIR / f"{num}.json"


def load_discussion(repo: Repo, num: int) -> Discussion | None:
    """The stored discussion ``num``, or ``None``."""
    try:
        return Discussion.from_json(json.loads(_path(repo, num).read_bytes()))
    except FileNotFoundError:
        return None


def require_discussion(repo: Repo, num: int) -> Discussion:
    """The stored discussion ``num``; 404 when there is none."""
    found = load_discussion(repo, num)
    if found is None:
        raise discussion_not_found(num)
    return found


def _numbers(repo: Repo) -> list[int]:
    try:
        names = [entry.name for entry in (repo.dir / DISCUSSIONS_DIR).iterdir()]
    except FileNotFoundError:
        return []
    return [int(m.group(1)) for m in map(_FILE_RE.match, names) if m]


def list_discussions(repo: Repo) -> list[Discussion]:
    """Every discussion of the repo, newest first (the Hub's default order)."""
    found = (load_discussion(repo, num) for num in sorted(_numbers(repo), reverse=True))
    return [d for d in found if d is not None]


def next_number(repo: Repo) -> int:
    """The number of the next discussion (call under the repo's lock)."""
    return max(_numbers(repo), default=0) + 1


def save_discussion(repo: Repo, discussion: Discussion) -> None:
    """Write ``discussion`` atomically (call under the repo's lock)."""
    repo.store.write_atomic(_path(repo, discussion.num), canonical_json(discussion.to_json()))


def require_pull_request(repo: Repo, num: int, revision: str) -> Discussion:
    """The pull request ``refs/pr/{num}``; ``RevisionNotFound`` when it does not exist."""
    found = load_discussion(repo, num)
    if found is None or found.pr is None:
        raise RevisionNotFoundError(f"Invalid rev id: {revision}")
    return found


def pull_request_head(repo: Repo, revision: str) -> str | None:
    """Commit id ``refs/pr/N`` points to, or ``None`` (not a pull request ref, or no such PR)."""
    num = pr_number(revision)
    found = load_discussion(repo, num) if num is not None else None
    return found.pr.head if found is not None and found.pr is not None else None


def pull_request_refs(repo: Repo) -> list[dict[str, str]]:
    """``pullRequests`` of ``GET .../refs?include_prs=1``, by number."""
    prs = sorted((d for d in list_discussions(repo) if d.pr is not None), key=lambda d: d.num)
    return [
        {"name": f"refs/pr/{d.num}", "ref": f"refs/pr/{d.num}", "targetCommit": d.pr.head}
        for d in prs
        if d.pr is not None
    ]


# -- events -----------------------------------------------------------------------------------


def author_json(name: str) -> dict[str, Any]:
    """The ``author`` object of discussions and events (clients read ``name``)."""
    return {"name": name, "fullname": name, "type": "user", "avatarUrl": "", "isPro": False}


def render_html(raw: str) -> str:
    """The ``html`` of a comment: the text escaped, paragraphs and line breaks kept."""
    paragraphs = [p for p in re.split(r"\n\s*\n", raw.strip()) if p.strip()]
    return "".join(f"<p>{html.escape(p).replace(chr(10), '<br>')}</p>" for p in paragraphs)


def _event(kind: str, author: str, data: dict[str, Any]) -> dict[str, Any]:
    # 24 hex digits, like the Hub's event ids (the client lower-cases comment ids)
    return {
        "id": secrets.token_hex(12),
        "type": kind,
        "createdAt": utc_now_iso(),
        "author": author_json(author),
        "data": data,
    }


def _revision(raw: str, author: str, when: str) -> dict[str, Any]:
    return {"raw": raw, "html": render_html(raw), "updatedAt": when, "author": author_json(author)}


def comment_event(author: str, raw: str) -> dict[str, Any]:
    """A new comment."""
    event = _event("comment", author, {"edited": False, "hidden": False})
    latest = _revision(raw, author, event["createdAt"])
    event["data"].update(latest=latest, history=[latest], numEdits=0, editors=[author])
    return event


def edit_comment(event: dict[str, Any], author: str, raw: str) -> None:
    """Replace a comment's text; the previous text stays in its history."""
    data = event["data"]
    if data["hidden"]:
        raise BadRequestError("A hidden comment cannot be edited.")
    latest = _revision(raw, author, utc_now_iso())
    data["history"] = [latest, *data["history"]]
    data.update(latest=latest, edited=True, numEdits=data.get("numEdits", 0) + 1)
    if author not in data.setdefault("editors", []):
        data["editors"].append(author)


def hide_comment(event: dict[str, Any], author: str) -> None:
    """Hide a comment: its text (and every earlier version) is dropped for good."""
    data = event["data"]
    data.update(hidden=True, hiddenBy=author)
    data["latest"] = {**data["latest"], "raw": "", "html": ""}
    data["history"] = [{**entry, "raw": "", "html": ""} for entry in data["history"]]


def find_comment(discussion: Discussion, comment_id: str) -> dict[str, Any]:
    """The comment event ``comment_id`` of ``discussion``; 404 when there is none."""
    for event in discussion.events:
        if event["type"] == "comment" and event["id"] == comment_id:
            return event
    raise HubError(
        f"Comment {comment_id} not found in discussion #{discussion.num}.",
        status=404,
        code="NotFound",
    )


def status_event(author: str, status: str) -> dict[str, Any]:
    return _event("status-change", author, {"status": status})


def title_event(author: str, old: str, new: str) -> dict[str, Any]:
    return _event("title-change", author, {"from": old, "to": new})


def commit_event(author: str, commit_id: str, subject: str) -> dict[str, Any]:
    return _event("commit", author, {"oid": commit_id, "subject": subject})
