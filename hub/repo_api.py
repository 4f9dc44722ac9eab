"""Account, repository and read-only endpoints under ``/api``.

Shapes follow reference/hub-api.md (sections 3-4); comments name the client behaviour that makes
a detail necessary.
"""

from __future__ import annotations

from typing import Any

from .auth import Identity, namespace_forbidden, require_writer, whoami_payload
from .context import HubContext
from .discussions import pull_request_refs
from .errors import (
    BadRequestError,
    ConflictError,
    EntryNotFoundError,
    HubError,
    RepoNotFoundError,
    UnauthorizedError,
)
from .objects import Commit, FileEntry
from .org_settings import private_by_default
from .protocol import Request, Response, json_response
from .repo_ids import REPO_NOT_FOUND, new_repo_key, stored_key
from .shapes import commit_json, dir_json, file_json, repo_url
from .storage import Repo
from .validation import RepoKey, check_repo_path, check_repo_type, check_revision, make_repo_key
from .yamlcheck import load_card_data, validate_yaml_response


def open_repo(ctx: HubContext, req: Request, key: RepoKey, *, write: bool = False) -> Repo:
    """Load a repo the caller may see (and, with ``write``, change); see auth.py for the rules.

    A private repo outside the caller's namespaces is 404 like a missing one, so its existence
    does not leak; writing to a visible repo outside them is 403.
    """
    identity = require_writer(req.identity) if write else req.identity
    repo = ctx.store.get_repo(key)
    member = identity is not None and identity.acts_in(key.namespace)
    if repo.private and not member:
        raise RepoNotFoundError(REPO_NOT_FOUND)
    if write and identity is not None and not member:  # anonymous: require_writer raised
        raise namespace_forbidden(identity, key.namespace, f"write to {key.repo_id}")
    return repo


def _path_value(repo: Repo, commit: Commit, path: str) -> str | None:
    tree = repo.get_tree(commit.tree)
    if path in tree.files:
        return tree.files[path].oid
    if tree.is_dir(path):
        return tree.dir_oid(path)
    return None


def last_commit(repo: Repo, head: Commit, path: str) -> Commit:
    """Newest commit on the first-parent history of ``head`` that changed ``path``."""
    value = _path_value(repo, head, path)
    for commit in repo.history(head):
        if not commit.parents:
            return commit
        if _path_value(repo, repo.get_commit(commit.parents[0]), path) != value:
            return commit
    return head  # unreachable: history ends with a parentless commit


def xet_hash_of(ctx: HubContext, key: RepoKey, entry: FileEntry) -> str | None:
    """The Xet hash a client may download ``entry`` by, or ``None`` (not stored through Xet)."""
    record = ctx.xet.lookup_sha256(key, entry.sha256, entry.size) if entry.lfs else None
    return record.xet_hash if record is not None else None


def _file_entry(ctx: HubContext, key: RepoKey, path: str, entry: FileEntry) -> dict[str, Any]:
    return file_json(path, entry, xet_hash_of(ctx, key, entry))


def _with_last_commit(
    entry: dict[str, Any], repo: Repo, head: Commit, expand: bool
) -> dict[str, Any]:
    if expand:
        last = last_commit(repo, head, entry["path"])
        entry["lastCommit"] = {"id": last.id, "title": last.title, "date": last.date}
    return entry


# --------------------------------------------------------------------------------------------
# account and misc


def whoami(ctx: HubContext, req: Request) -> Response:
    """``GET /api/whoami-v2``: the caller's name and token role (401 without a token)."""
    if req.identity is None:
        raise UnauthorizedError("Invalid user token.")
    return json_response(whoami_payload(req.identity))


def agent_harnesses(ctx: HubContext, req: Request) -> Response:
    """``GET /api/agent-harnesses``: an empty registry."""
    # huggingface_hub fetches this once a day for its user-agent; an empty registry is valid.
    return json_response({"standardEnvVars": [], "harnesses": {}})


def validate_yaml(ctx: HubContext, req: Request) -> Response:
    """``POST /api/validate-yaml``: 200 or 400 with ``errors`` and ``warnings`` for README
    metadata, as JSON or (``Accept: text/plain``) as text; see yamlcheck.py."""
    body = req.json_object()
    content = body.get("content")
    if not isinstance(content, str):
        raise BadRequestError('"content" must be the README text.')
    repo_type = check_repo_type(body.get("repoType"))
    return validate_yaml_response(content, repo_type, req.headers.get("Accept"))


def _create_delete_key(body: dict[str, Any], identity: Identity) -> RepoKey:
    name = body.get("name")
    organization = body.get("organization") or identity.name
    if isinstance(name, str) and "/" in name and body.get("organization") is None:
        organization, name = name.split("/", 1)
    return make_repo_key(check_repo_type(body.get("type")), organization, name)


def create_repo(ctx: HubContext, req: Request) -> Response:
    """``POST /api/repos/create``: new repo with an initial commit; 409 (+ ``url``) if taken."""
    identity = require_writer(req.identity)
    body = req.json_object()
    # a bare name is the caller's namespace; an existing namespace keeps its casing
    key = new_repo_key(ctx.store, _create_delete_key(body, identity), identity)
    visibility = body.get("visibility")
    if visibility not in (None, "public", "private"):
        raise BadRequestError('"visibility" must be "public" or "private".')
    private = visibility == "private" or (visibility is None and body.get("private") is True)
    if visibility is None and body.get("private") is None:
        private = private_by_default(ctx.store.root, key.namespace)  # an org setting
    if not identity.acts_in(key.namespace):
        raise namespace_forbidden(identity, key.namespace, f"create a {key.repo_type}")
    url = repo_url(req.base_url, key)
    try:
        repo = ctx.store.create_repo(key, private=private, author=identity.name)
    except ConflictError as exc:
        # create_repo(exist_ok=True) swallows the 409 and still reads "url" from its body;
        # the existing repo's casing (it may differ from the request's)
        exc.extra["url"] = repo_url(req.base_url, stored_key(ctx.store, key))
        raise
    return json_response({"url": url, "name": key.repo_id, "id": repo.meta["uuid"]})


def delete_repo(ctx: HubContext, req: Request) -> Response:
    """``DELETE /api/repos/delete``: remove a repo and all its data."""
    identity = require_writer(req.identity)
    # A delete names one repo: not the one an old id leads to (redirects.py).
    key = stored_key(
        ctx.store, _create_delete_key(req.json_object(), identity), follow_redirects=False
    )
    open_repo(ctx, req, key, write=True)  # 404 / 403 outside the caller's namespaces
    ctx.store.delete_repo(key)
    return json_response({})


# --------------------------------------------------------------------------------------------
# read endpoints


def repo_info(ctx: HubContext, req: Request, key: RepoKey, revision: str | None) -> Response:
    """``GET /api/{t}/{id}[/revision/{rev}]``: repo info with the resolved ``sha``."""
    repo = open_repo(ctx, req, key)
    commit = repo.resolve(check_revision(revision or "main"))
    tree = repo.get_tree(commit.tree)
    siblings = []
    for path, entry in sorted(tree.files.items()):
        sibling: dict[str, Any] = {"rfilename": path, "size": entry.size, "blobId": entry.oid}
        if entry.lfs:
            sibling["lfs"] = {
                "size": entry.size,
                "sha256": entry.sha256,
                "pointerSize": entry.pointer_size,
            }
        siblings.append(sibling)
    info: dict[str, Any] = {
        **_repo_summary(repo, key, commit),
        "siblings": siblings,
        "xetEnabled": True,
        "usedStorage": sum(e.size for e in tree.files.values()),
    }
    if key.repo_type == "model":
        info["modelId"] = key.repo_id
    readme = tree.files.get("README.md")
    if readme is not None and readme.size <= 1024 * 1024 and repo.has_blob(readme.sha256):
        card = load_card_data(repo.blob_path(readme.sha256).read_text("utf-8", errors="replace"))
        if card is not None:
            info["cardData"] = card
    return json_response(info)


def _repo_summary(repo: Repo, key: RepoKey, commit: Commit) -> dict[str, Any]:
    """The fields a repo listing and a repo's info share, at ``commit``."""
    return {
        "_id": repo.meta.get("uuid"),
        "id": key.repo_id,
        "author": key.namespace,
        "sha": commit.id,
        "private": repo.private,
        "gated": repo.meta.get("gated") or False,  # settings_api.py
        "disabled": False,
        "downloads": 0,
        "likes": 0,
        "tags": [],
        "createdAt": repo.created_at,
        "lastModified": commit.date,
    }


def list_repos(ctx: HubContext, req: Request, repo_type: str) -> Response:
    """``GET /api/{models|datasets|spaces}``: repos the caller may see, ``author``/``search``."""
    author = req.param("author")
    search = (req.param("search") or "").lower()
    limit = req.param("limit")
    items: list[dict[str, Any]] = []
    for key in ctx.store.list_repos():
        if key.repo_type != repo_type or (author and key.namespace.casefold() != author.casefold()):
            continue
        if search and search not in key.repo_id.lower():
            continue
        try:
            repo = open_repo(ctx, req, key)
            head = repo.resolve("main")
        except HubError:
            continue  # deleted meanwhile, private, or without main
        items.append(_repo_summary(repo, key, head))
        if limit and limit.isdigit() and len(items) >= int(limit):
            break
    return json_response(items)


def list_refs(ctx: HubContext, req: Request, key: RepoKey) -> Response:
    """``GET /api/{t}/{id}/refs``: branches, tags and (empty) converts."""
    repo = open_repo(ctx, req, key)
    refs = repo.refs()
    payload: dict[str, Any] = {
        "branches": [
            {"name": name, "ref": f"refs/heads/{name}", "targetCommit": cid}
            for name, cid in sorted(refs.heads.items())
        ],
        "tags": [
            {"name": name, "ref": f"refs/tags/{name}", "targetCommit": cid}
            for name, cid in sorted(refs.tags.items())
        ],
        # list_repo_refs indexes "converts" unconditionally (KeyError otherwise)
        "converts": [],
    }
    if req.flag("include_prs"):
        payload["pullRequests"] = pull_request_refs(repo)
    return json_response(payload)


def list_commits(ctx: HubContext, req: Request, key: RepoKey, revision: str) -> Response:
    """``GET /api/{t}/{id}/commits/{rev}``: first-parent history, newest first."""
    repo = open_repo(ctx, req, key)
    head = repo.resolve(check_revision(revision))
    formatted = "formatted" in req.query.get("expand[]", [])
    return json_response([commit_json(c, formatted=formatted) for c in repo.history(head)])


def list_tree(
    ctx: HubContext, req: Request, key: RepoKey, revision: str, path_parts: list[str]
) -> Response:
    """``GET /api/{t}/{id}/tree/{rev}[/{path}]``: folder listing, optionally recursive."""
    repo = open_repo(ctx, req, key)
    head = repo.resolve(check_revision(revision))
    path = check_repo_path("/".join(path_parts), allow_root=True)
    tree = repo.get_tree(head.tree)
    if not tree.is_dir(path):
        # also for file paths: HfFileSystem then falls back to listing the parent folder
        raise EntryNotFoundError(f"Folder {path!r} not found at revision {revision}.")
    expand = req.flag("expand")
    if req.flag("recursive"):
        items = list(tree.walk(path))
    else:
        dirs, files = tree.children(path)
        items = [(d, True) for d in dirs] + [(f, False) for f in files]
    entries = [
        _with_last_commit(
            dir_json(p, tree) if is_dir else _file_entry(ctx, key, p, tree.files[p]),
            repo,
            head,
            expand,
        )
        for p, is_dir in items
    ]
    return json_response(entries)


def paths_info(ctx: HubContext, req: Request, key: RepoKey, revision: str) -> Response:
    """``POST /api/{t}/{id}/paths-info/{rev}``: entries of the listed paths that exist."""
    repo = open_repo(ctx, req, key)
    head = repo.resolve(check_revision(revision))
    content_type = (req.headers.get("Content-Type") or "").lower()
    if "json" in content_type:
        body = req.json_object()
        raw_paths = body.get("paths", [])
        expand = body.get("expand") in (True, "true", "True", "1")
        if not isinstance(raw_paths, list):
            raise BadRequestError('"paths" must be a list.')
    else:
        form = req.form()
        raw_paths = form.get("paths", [])
        expand = (form.get("expand") or ["false"])[0].lower() in ("true", "1")
    tree = repo.get_tree(head.tree)
    entries = []
    for raw in raw_paths:
        path = check_repo_path(raw, allow_root=True)
        # missing paths are left out (200), HfFileSystem turns an empty list into FileNotFound
        if path in tree.files:
            entries.append(_file_entry(ctx, key, path, tree.files[path]))
        elif path and tree.is_dir(path):
            entries.append(dir_json(path, tree))
        else:
            continue
        _with_last_commit(entries[-1], repo, head, expand)
    return json_response(entries)
