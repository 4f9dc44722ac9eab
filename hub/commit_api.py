"""Write endpoints under ``/api``: preupload, commit, branches, tags (reference/hub-api.md §5)."""

from __future__ import annotations

import base64
import binascii
import contextlib
from typing import Any

from .auth import require_writer
from .context import HubContext
from .errors import (
    BadRequestError,
    NotImplementedHubError,
    PayloadTooLargeError,
    UnprocessableError,
)
from .gitattributes import choose_upload_mode, is_lfs_by_attributes, parse_lfs_patterns
from .objects import AddFile, CommitOperation, DeleteFile, DeleteFolder, FileEntry
from .protocol import Request, Response, decode_json, json_response
from .pull_requests import commit_operations, open_commit_target, pull_request_url
from .repo_api import open_repo
from .shapes import repo_url
from .storage import Repo
from .validation import RepoKey, check_ref_name, check_repo_path, check_revision, is_sha256
from .xet.accounting import record_commit
from .yamlcheck import validate_readme


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
    """``POST /api/{t}/{id}/preupload/{rev}``: upload mode, ignore flag and current oid per file."""
    repo = open_commit_target(ctx, req, key, revision, create_pr=req.flag("create_pr"))
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
        path = check_repo_path(item.get("path"), error=UnprocessableError)
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


def _parse_commit_line(line: bytes, lineno: int) -> tuple[str, dict[str, Any]]:
    item = decode_json(line.rstrip(b"\r\n"), f"Commit payload line {lineno}", one_line=True)
    if not isinstance(item, dict) or not isinstance(item.get("value"), dict):
        raise BadRequestError('Commit payload lines must be {"key": ..., "value": {...}}.')
    key = item.get("key")
    if not isinstance(key, str):
        raise BadRequestError('Commit payload line without a "key".')
    return key, item["value"]


def commit(ctx: HubContext, req: Request, key: RepoKey, revision: str) -> Response:
    """``POST /api/{t}/{id}/commit/{branch}``: apply an NDJSON commit payload to a branch."""
    identity = require_writer(req.identity)
    branch = check_revision(revision)
    create_pr = req.flag("create_pr")  # opens refs/pr/N on top of the branch (pull_requests.py)
    repo = open_commit_target(ctx, req, key, branch, create_pr=create_pr)
    limits = ctx.limits
    req.body.limit = limits.max_commit_body
    req.body.check_declared_size()
    # Fail early (before storing blobs) if the branch does not exist.
    repo.resolve(branch)

    header: dict[str, Any] | None = None
    operations: list[CommitOperation] = []
    lineno = 0
    while True:
        line = req.body.readline(limits.max_commit_line)
        lineno += 1
        if not line:
            break
        if not line.strip():
            continue
        kind, value = _parse_commit_line(line, lineno)
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
    new, pr_num = commit_operations(
        repo,
        branch,
        operations,
        create_pr=create_pr,
        title=summary.strip().splitlines()[0][:1000],
        message=description,
        author=identity.name,
        parent_commit=parent,
    )
    # after the commit: a crash here loses only the statistics, never the commit
    record_commit(ctx.xet, key, new, operations)
    return json_response(
        {
            "success": True,
            "commitOid": new.id,
            # must contain "/commit/"; the part before it is parsed as the repo URL
            "commitUrl": f"{repo_url(req.base_url, key)}/commit/{new.id}",
            "commitMessage": new.title,
            "hookOutput": "",
            "pullRequestUrl": pull_request_url(req.base_url, key, pr_num),
        }
    )


def _commit_operation(repo: Repo, kind: str, value: dict[str, Any], limit: int) -> CommitOperation:
    path_raw = value.get("path")
    if kind == "file":
        path = check_repo_path(path_raw, error=UnprocessableError)
        if value.get("encoding", "base64") != "base64":
            raise BadRequestError(f"Unsupported encoding for {path}: only base64.")
        content = decode_base64_content(value.get("content"), path, limit)
        if path == "README.md":
            _check_card(content, repo.key.repo_type)
        # Blobs are stored before the commit exists; unreferenced ones are harmless.
        return AddFile(path, repo.store_blob_bytes(content, lfs=False))
    if kind == "lfsFile":
        path = check_repo_path(path_raw, error=UnprocessableError)
        if value.get("algo", "sha256") != "sha256":
            raise BadRequestError(f"Unsupported LFS hash algorithm for {path}.")
        return AddFile(path, _lfs_entry(repo, path, value))
    if kind == "deletedFile":
        return DeleteFile(check_repo_path(path_raw, error=UnprocessableError))
    if kind == "deletedFolder":
        return DeleteFolder(check_repo_path(path_raw, error=UnprocessableError))
    raise BadRequestError(f"Unknown commit operation {kind!r}.")


def _check_card(content: bytes, repo_type: str) -> None:
    """The Hub refuses a commit whose README.md metadata it would not accept (the rules of
    ``/api/validate-yaml``), so a card the Hub would refuse is refused here too."""
    errors = validate_readme(content.decode("utf-8", "replace"), repo_type)
    if errors:
        raise BadRequestError(
            "Invalid metadata in README.md.\n" + "\n".join(f"- {e}" for e in errors)
        )


def _lfs_entry(repo: Repo, path: str, value: dict[str, Any]) -> FileEntry:
    """The entry of an ``lfsFile`` line whose bytes are stored, as an LFS blob or a Xet file.

    Xet files are registered by a verified shard (their SHA-256 checked by rebuilding them).
    """
    oid = check_lfs_oid(value.get("oid"), path)
    size = value.get("size")
    if size is not None and (not isinstance(size, int) or isinstance(size, bool) or size < 0):
        raise BadRequestError(f"Invalid LFS size for {path}.")
    xet = repo.store.xet.lookup_sha256(repo.key, oid, size)
    if size is None:  # copies of LFS files omit the size
        with contextlib.suppress(FileNotFoundError):
            size = repo.blob_path(oid).stat().st_size
        size = xet.size if size is None and xet is not None else size
    if size is None or not (repo.has_blob(oid, size) or xet is not None):
        raise UnprocessableError(
            f"The content of {path} (sha256 {oid}"
            + (f", {size} bytes" if size is not None else "")
            + ") was not uploaded: neither an LFS object nor a Xet file of this repo has it."
        )
    return FileEntry.for_lfs(oid, size)


def create_branch(ctx: HubContext, req: Request, key: RepoKey, name: str) -> Response:
    """``POST /api/{t}/{id}/branch/{name}``: branch at ``startingPoint`` (default ``main``)."""
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
    """``DELETE /api/{t}/{id}/branch/{name}``."""
    repo = open_repo(ctx, req, key, write=True)
    repo.delete_branch(check_revision(name))
    return json_response({})


def create_tag(ctx: HubContext, req: Request, key: RepoKey, revision: str) -> Response:
    """``POST /api/{t}/{id}/tag/{rev}``: tag ``rev`` with the body's ``tag`` name."""
    repo = open_repo(ctx, req, key, write=True)
    body = req.json_object()
    # huggingface.co checks the revision first: a missing one is RevisionNotFound even when
    # the tag name is invalid too (huggingface_hub test_create_tag_on_missing_revision)
    target = repo.resolve(check_revision(revision))
    repo.create_tag(check_ref_name(body.get("tag"), "tag"), target)
    return json_response({})


def delete_tag(ctx: HubContext, req: Request, key: RepoKey, name: str) -> Response:
    """``DELETE /api/{t}/{id}/tag/{name}``."""
    repo = open_repo(ctx, req, key, write=True)
    repo.delete_tag(check_revision(name))
    return json_response({})


def decode_base64_content(content: object, path: str, limit: int) -> bytes:
    """Decode the base64 ``content`` of a regular file in a commit payload."""
    if not isinstance(content, str):
        raise BadRequestError(f"Missing base64 content for {path}.")
    if len(content) > (limit // 3 + 1) * 4:
        raise PayloadTooLargeError(f"{path} is too large for a regular file; use LFS.")
    try:
        return base64.b64decode(content, validate=True)
    except (ValueError, binascii.Error):
        raise BadRequestError(f"Invalid base64 content for {path}.") from None


def check_lfs_oid(oid: object, path: str) -> str:
    """Validate an LFS object id from a commit payload."""
    if not is_sha256(oid):
        raise BadRequestError(f"Invalid LFS oid for {path}: expected 64 lowercase hex characters.")
    return str(oid)
