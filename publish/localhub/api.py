"""JSON API endpoints under ``/api``: account, repos, refs, commits, trees, uploads.

Shapes follow reference/hub-api.md (sections 3-5); comments name the client behaviour that makes
a detail necessary.
"""

from __future__ import annotations

import base64
import binascii
import html
import json
from typing import Any
from urllib.parse import quote

from .auth import Identity, require_writer
from .context import HubContext
from .errors import (
    BadRequestError,
    ConflictError,
    EntryNotFoundError,
    HubError,
    MethodNotAllowedError,
    NotImplementedHubError,
    RepoNotFoundError,
    RouteNotFoundError,
    UnauthorizedError,
)
from .gitattributes import choose_upload_mode, is_lfs_by_attributes, parse_lfs_patterns
from .protocol import Request, Response, json_response
from .storage import (
    AddFile,
    Commit,
    CommitOperation,
    DeleteFile,
    DeleteFolder,
    FileEntry,
    Repo,
    TreeView,
    check_lfs_oid,
    decode_base64_content,
)
from .validation import (
    API_REPO_TYPES,
    RepoKey,
    check_ref_name,
    check_repo_path,
    check_repo_type,
    check_revision,
    make_repo_key,
)
from .yamlcheck import load_card_data, validate_readme

# --------------------------------------------------------------------------------------------
# helpers


def repo_url(base_url: str, key: RepoKey) -> str:
    """Web URL of a repo; clients parse ``namespace/name`` out of it."""
    return f"{base_url}/{key.url_prefix}{key.repo_id}"


def open_repo(ctx: HubContext, req: Request, key: RepoKey, *, write: bool = False) -> Repo:
    """Load a repo the caller may see; private repos are 404 for anonymous callers."""
    if write:
        require_writer(req.identity)
    repo = ctx.store.get_repo(key)
    if repo.private and req.identity is None:
        raise RepoNotFoundError(f"Repository {key.repo_id} not found.")
    return repo


def _author(identity: Identity | None) -> str:
    return identity.name if identity is not None else "anonymous"


def file_json(path: str, entry: FileEntry) -> dict[str, Any]:
    """Tree / paths-info entry of a file. Never carries ``xetHash`` (would switch to Xet)."""
    data: dict[str, Any] = {"type": "file", "path": path, "oid": entry.oid, "size": entry.size}
    if entry.lfs:
        data["lfs"] = {"oid": entry.sha256, "size": entry.size, "pointerSize": entry.pointer_size}
    return data


def dir_json(path: str, tree: TreeView) -> dict[str, Any]:
    """Tree / paths-info entry of a folder."""
    return {"type": "directory", "path": path, "oid": tree.dir_oid(path), "size": 0}


def commit_json(commit: Commit, *, formatted: bool = False) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": commit.id,
        "title": commit.title,
        "message": commit.message,
        "date": commit.date,
        "authors": [{"user": name} for name in commit.authors],
    }
    if formatted:
        data["formatted"] = {
            "title": html.escape(commit.title),
            "message": html.escape(commit.message),
        }
    return data


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
    if req.identity is None:
        raise UnauthorizedError("Invalid user token.")
    ident = req.identity
    return json_response(
        {
            "type": "user",
            "id": ident.name,
            "name": ident.name,
            "fullname": ident.name,
            "orgs": [],
            "auth": {
                "type": "access_token",
                "accessToken": {"displayName": "ocforge-localhub", "role": ident.role},
            },
        }
    )


def agent_harnesses(ctx: HubContext, req: Request) -> Response:
    # huggingface_hub fetches this once a day for its user-agent; an empty registry is valid.
    return json_response({"standardEnvVars": [], "harnesses": {}})


def validate_yaml(ctx: HubContext, req: Request) -> Response:
    body = req.json_object()
    content = body.get("content")
    if not isinstance(content, str):
        raise BadRequestError('"content" must be the README text.')
    repo_type = check_repo_type(body.get("repoType"))
    errors = validate_readme(content, repo_type)
    # The client reads the JSON before the status: both answers must be JSON.
    payload = {"errors": [{"message": m} for m in errors], "warnings": []}
    return json_response(payload, 400 if errors else 200)


def _create_delete_key(body: dict[str, Any], identity: Identity) -> RepoKey:
    name = body.get("name")
    organization = body.get("organization") or identity.name
    if isinstance(name, str) and "/" in name and body.get("organization") is None:
        organization, name = name.split("/", 1)
    return make_repo_key(check_repo_type(body.get("type")), organization, name)


def create_repo(ctx: HubContext, req: Request) -> Response:
    identity = require_writer(req.identity)
    body = req.json_object()
    key = _create_delete_key(body, identity)
    visibility = body.get("visibility")
    if visibility not in (None, "public", "private"):
        raise BadRequestError('"visibility" must be "public" or "private".')
    private = visibility == "private" or (visibility is None and body.get("private") is True)
    url = repo_url(req.base_url, key)
    try:
        repo = ctx.store.create_repo(key, private=private, author=identity.name)
    except ConflictError as exc:
        # create_repo(exist_ok=True) swallows the 409 and still reads "url" from its body.
        exc.extra["url"] = url
        raise
    return json_response({"url": url, "name": key.repo_id, "id": repo.meta["uuid"]})


def delete_repo(ctx: HubContext, req: Request) -> Response:
    identity = require_writer(req.identity)
    key = _create_delete_key(req.json_object(), identity)
    ctx.store.delete_repo(key)
    return json_response({})


# --------------------------------------------------------------------------------------------
# read endpoints


def repo_info(ctx: HubContext, req: Request, key: RepoKey, revision: str | None) -> Response:
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
        "_id": repo.meta.get("uuid"),
        "id": key.repo_id,
        "author": key.namespace,
        "sha": commit.id,
        "private": repo.private,
        "gated": False,
        "disabled": False,
        "downloads": 0,
        "likes": 0,
        "tags": [],
        "createdAt": repo.created_at,
        "lastModified": commit.date,
        "siblings": siblings,
        "xetEnabled": False,
        "usedStorage": sum(e.size for e in tree.files.values()),
    }
    if key.repo_type == "model":
        info["modelId"] = key.repo_id
    readme = tree.files.get("README.md")
    if readme is not None and readme.size <= 1024 * 1024:
        card = load_card_data(repo.blob_path(readme.sha256).read_text("utf-8", errors="replace"))
        if card is not None:
            info["cardData"] = card
    return json_response(info)


def list_refs(ctx: HubContext, req: Request, key: RepoKey) -> Response:
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
        payload["pullRequests"] = []
    return json_response(payload)


def list_commits(ctx: HubContext, req: Request, key: RepoKey, revision: str) -> Response:
    repo = open_repo(ctx, req, key)
    head = repo.resolve(check_revision(revision))
    formatted = "formatted" in req.query.get("expand[]", [])
    return json_response([commit_json(c, formatted=formatted) for c in repo.history(head)])


def list_tree(
    ctx: HubContext, req: Request, key: RepoKey, revision: str, path_parts: list[str]
) -> Response:
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
            dir_json(p, tree) if is_dir else file_json(p, tree.files[p]), repo, head, expand
        )
        for p, is_dir in items
    ]
    return json_response(entries)


def paths_info(ctx: HubContext, req: Request, key: RepoKey, revision: str) -> Response:
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
            entries.append(file_json(path, tree.files[path]))
        elif path and tree.is_dir(path):
            entries.append(dir_json(path, tree))
        else:
            continue
        _with_last_commit(entries[-1], repo, head, expand)
    return json_response(entries)


# --------------------------------------------------------------------------------------------
# write endpoints


def _gitignore_rules(text: str) -> list[tuple[str, bool]]:
    rules = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        negate = line.startswith("!")
        rules.append((line[1:] if negate else line, not negate))
    return rules


def _is_ignored(rules: list[tuple[str, bool]], path: str) -> bool:
    # .gitignore patterns use the same matching rules as .gitattributes for this subset;
    # a pattern ending in "/" ignores everything below that folder.
    parts = path.split("/")
    candidates = [path] + ["/".join(parts[:i]) + "/" for i in range(1, len(parts))]
    decision = False
    for pattern, ignore in rules:
        for candidate in candidates:
            target = candidate.rstrip("/") if pattern.endswith("/") else candidate
            if candidate.endswith("/") and not pattern.endswith("/"):
                continue
            if is_lfs_by_attributes([(pattern.rstrip("/"), True)], target):
                decision = ignore
    return decision


def preupload(ctx: HubContext, req: Request, key: RepoKey, revision: str) -> Response:
    repo = open_repo(ctx, req, key, write=True)
    head = repo.resolve(check_revision(revision))
    body = req.json_object()
    files = body.get("files")
    if not isinstance(files, list):
        raise BadRequestError('"files" must be a list.')
    tree = repo.get_tree(head.tree)
    attributes = tree.files.get(".gitattributes")
    rules = (
        parse_lfs_patterns(repo.blob_path(attributes.sha256).read_text("utf-8", "replace"))
        if attributes is not None
        else []
    )
    ignore_text = body.get("gitIgnore")
    if not isinstance(ignore_text, str) and ".gitignore" in tree.files:
        ignore_text = repo.blob_path(tree.files[".gitignore"].sha256).read_text("utf-8", "replace")
    ignore_rules = _gitignore_rules(ignore_text) if isinstance(ignore_text, str) else []
    answers = []
    for item in files:
        if not isinstance(item, dict):
            raise BadRequestError('"files" items must be objects.')
        path = check_repo_path(item.get("path"))
        size = item.get("size")
        if not isinstance(size, int) or size < 0:
            raise BadRequestError(f"Invalid size for {path}.")
        try:
            sample = base64.b64decode(item.get("sample") or "", validate=True)
        except (ValueError, binascii.Error):
            raise BadRequestError(f"Invalid base64 sample for {path}.") from None
        mode = choose_upload_mode(path, size, sample, rules)
        answer: dict[str, Any] = {
            "path": path,
            "uploadMode": mode,
            # shouldIgnore means "excluded by .gitignore"; the client drops such files
            "shouldIgnore": _is_ignored(ignore_rules, path) if path != ".gitignore" else False,
        }
        existing = tree.files.get(path)
        # oid lets the client skip unchanged files: SHA-256 for LFS, git SHA-1 for regular
        if existing is not None and existing.lfs == (mode == "lfs"):
            answer["oid"] = existing.sha256 if existing.lfs else existing.oid
        answers.append(answer)
    return json_response({"files": answers, "commitOid": head.id})


def _parse_commit_line(line: bytes) -> tuple[str, dict[str, Any]]:
    try:
        item = json.loads(line)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise BadRequestError("Commit payload line is not valid JSON.") from None
    if not isinstance(item, dict) or not isinstance(item.get("value"), dict):
        raise BadRequestError('Commit payload lines must be {"key": ..., "value": {...}}.')
    key = item.get("key")
    if not isinstance(key, str):
        raise BadRequestError('Commit payload line without a "key".')
    return key, item["value"]


def commit(ctx: HubContext, req: Request, key: RepoKey, revision: str) -> Response:
    identity = require_writer(req.identity)
    repo = open_repo(ctx, req, key, write=True)
    branch = check_revision(revision)
    if req.flag("create_pr"):
        raise NotImplementedHubError("Pull requests are not supported by the local hub.")
    limits = ctx.limits
    req.body.limit = limits.max_commit_body
    req.body.check_declared_size()
    # Fail early (before storing blobs) if the branch does not exist.
    repo.resolve(branch)

    header: dict[str, Any] | None = None
    operations: list[CommitOperation] = []
    while True:
        line = req.body.readline(limits.max_commit_line)
        if not line:
            break
        if not line.strip():
            continue
        kind, value = _parse_commit_line(line)
        if header is None:
            if kind != "header":
                raise BadRequestError('The first line of a commit payload must be the "header".')
            header = value
            continue
        operations.append(_commit_operation(repo, kind, value, limits.max_commit_line))
    if header is None:
        raise BadRequestError("Empty commit payload.")
    summary = header.get("summary")
    description = header.get("description") or ""
    parent = header.get("parentCommit")
    if not isinstance(summary, str) or not summary.strip():
        raise BadRequestError('"summary" (the commit title) is required.')
    if not isinstance(description, str):
        raise BadRequestError('"description" must be a string.')
    if parent is not None and not isinstance(parent, str):
        raise BadRequestError('"parentCommit" must be a commit id.')
    new = repo.commit(
        branch,
        operations,
        title=summary.strip().splitlines()[0][:1000],
        message=description,
        author=identity.name,
        parent_commit=parent,
    )
    return json_response(
        {
            "success": True,
            "commitOid": new.id,
            # must contain "/commit/"; the part before it is parsed as the repo URL
            "commitUrl": f"{repo_url(req.base_url, key)}/commit/{new.id}",
            "commitMessage": new.title,
            "hookOutput": "",
            "pullRequestUrl": None,
        }
    )


def _commit_operation(repo: Repo, kind: str, value: dict[str, Any], limit: int) -> CommitOperation:
    path_raw = value.get("path")
    if kind == "file":
        path = check_repo_path(path_raw)
        if value.get("encoding", "base64") != "base64":
            raise BadRequestError(f"Unsupported encoding for {path}: only base64.")
        content = decode_base64_content(value.get("content"), path, limit)
        # Blobs are stored before the commit exists; unreferenced ones are harmless.
        return AddFile(path, repo.store_blob_bytes(content, lfs=False))
    if kind == "lfsFile":
        path = check_repo_path(path_raw)
        if value.get("algo", "sha256") != "sha256":
            raise BadRequestError(f"Unsupported LFS hash algorithm for {path}.")
        oid = check_lfs_oid(value.get("oid"), path)
        size = value.get("size")
        if size is None:  # copies of LFS files omit the size
            try:
                size = repo.blob_path(oid).stat().st_size
            except FileNotFoundError:
                raise HubError(f"LFS object for {path} not found.", status=422) from None
        if not isinstance(size, int) or size < 0:
            raise BadRequestError(f"Invalid LFS size for {path}.")
        return AddFile(path, FileEntry.for_lfs(oid, size))
    if kind == "deletedFile":
        return DeleteFile(check_repo_path(path_raw))
    if kind == "deletedFolder":
        return DeleteFolder(check_repo_path(path_raw))
    raise BadRequestError(f"Unknown commit operation {kind!r}.")


def create_branch(ctx: HubContext, req: Request, key: RepoKey, name: str) -> Response:
    repo = open_repo(ctx, req, key, write=True)
    branch = check_ref_name(name, "branch")
    body = req.json_object()
    start = body.get("startingPoint")
    if start is not None and not isinstance(start, str):
        raise BadRequestError('"startingPoint" must be a revision.')
    if body.get("emptyBranch"):
        raise NotImplementedHubError("Empty branches are not supported by the local hub.")
    repo.create_branch(branch, repo.resolve(check_revision(start or "main")))
    return json_response({})


def delete_branch(ctx: HubContext, req: Request, key: RepoKey, name: str) -> Response:
    repo = open_repo(ctx, req, key, write=True)
    repo.delete_branch(check_revision(name))
    return json_response({})


def create_tag(ctx: HubContext, req: Request, key: RepoKey, revision: str) -> Response:
    repo = open_repo(ctx, req, key, write=True)
    body = req.json_object()
    tag = check_ref_name(body.get("tag"), "tag")
    repo.create_tag(tag, repo.resolve(check_revision(revision)))
    return json_response({})


def delete_tag(ctx: HubContext, req: Request, key: RepoKey, name: str) -> Response:
    repo = open_repo(ctx, req, key, write=True)
    repo.delete_tag(check_revision(name))
    return json_response({})


# --------------------------------------------------------------------------------------------
# routing


def route_api(ctx: HubContext, req: Request, seg: list[str]) -> Response:
    """Dispatch ``/api/...``; ``seg`` are the decoded segments after ``api``."""
    method = req.method
    fixed = {
        ("whoami-v2",): {"GET": whoami},
        ("agent-harnesses",): {"GET": agent_harnesses},
        ("validate-yaml",): {"POST": validate_yaml},
        ("repos", "create"): {"POST": create_repo},
        ("repos", "delete"): {"DELETE": delete_repo},
    }
    handlers = fixed.get(tuple(seg))
    if handlers is not None:
        handler = handlers.get(method)
        if handler is None:
            raise MethodNotAllowedError(f"{method} is not allowed here.")
        return handler(ctx, req)
    if len(seg) < 3 or seg[0] not in API_REPO_TYPES:
        raise RouteNotFoundError("No such API endpoint.")
    key = make_repo_key(API_REPO_TYPES[seg[0]], seg[1], seg[2])
    rest = seg[3:]
    action = rest[0] if rest else ""
    arg = rest[1] if len(rest) > 1 else None
    if method in ("GET", "HEAD"):
        if not rest:
            return repo_info(ctx, req, key, None)
        if action == "revision" and len(rest) == 2:
            return repo_info(ctx, req, key, arg)
        if action == "refs" and len(rest) == 1:
            return list_refs(ctx, req, key)
        if action == "commits" and len(rest) == 2:
            return list_commits(ctx, req, key, rest[1])
        if action == "tree" and len(rest) >= 2:
            return list_tree(ctx, req, key, rest[1], rest[2:])
        if action in ("xet-read-token", "xet-write-token"):
            raise NotImplementedHubError(
                "Xet is not supported by the local hub: run clients with HF_HUB_DISABLE_XET=1."
            )
    elif method == "POST" and len(rest) == 2:
        post = {
            "paths-info": paths_info,
            "preupload": preupload,
            "commit": commit,
            "branch": create_branch,
            "tag": create_tag,
        }.get(action)
        if post is not None:
            return post(ctx, req, key, rest[1])
    elif method == "DELETE" and len(rest) == 2:
        delete = {"branch": delete_branch, "tag": delete_tag}.get(action)
        if delete is not None:
            return delete(ctx, req, key, rest[1])
    raise RouteNotFoundError(f"No such API endpoint: {method} {quote(action)}.")


__all__ = ["open_repo", "repo_url", "route_api"]
