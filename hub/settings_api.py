"""Repo settings and access checks: visibility and gating, ``auth-check``, ``move_repo``.

Endpoints (huggingface_hub 2.4.0, hf_api.py):

* ``PUT /api/{t}s/{id}/settings`` (``update_repo_settings``): JSON ``{"gated": "auto" |
  "manual" | false, "visibility": "public" | "private"}`` (``"private": bool`` of older clients
  too). Kept in the repo's ``repo.json``; ``repo_info`` reports ``private`` and ``gated``.
  2.4.0 has no ``update_repo_visibility`` any more: visibility goes through this endpoint.
* ``GET /api/{t}s/{id}/auth-check[/write]`` (``auth_check``): 200 when the token may read (or
  write) the repo; 404 ``RepoNotFound`` for missing repos and private ones it cannot see,
  401/403 ``GatedRepo`` for a gated repo without access, 401/403 for writes as elsewhere.
* ``POST /api/repos/move`` (``move_repo``): JSON ``{"fromRepo", "toRepo", "type"}``.

**Gating, the local Hub's rule.** There are no access requests on the local Hub, so "accepted
access" is the repo's namespace: its owner, its orgs' members and the administrator read a
gated repo's files; anyone else gets ``GatedRepo`` (401 when anonymous, 403 with a token) on
file content (``resolve``, ``xet-read-token``) and ``auth-check``. Metadata, file listings and
refs stay visible, as on huggingface.co, where a gated repo's page and file list are public.
"""

from __future__ import annotations

import json
import os
import shutil
from contextlib import ExitStack
from typing import Any

from .auth import Identity, namespace_forbidden, require_writer
from .context import HubContext
from .durable import fsync_dir
from .errors import BadRequestError, ConflictError, GatedRepoError, RepoNotFoundError
from .hashing import canonical_json
from .protocol import Request, Response, json_response
from .redirects import record_redirect
from .repo_api import open_repo
from .repo_ids import REPO_NOT_FOUND, find_stored, lookup_key, new_repo_key
from .shapes import repo_url
from .storage import Repo
from .validation import RepoKey, check_repo_type, make_repo_key

GATED_MODES = ("auto", "manual")
_SETTINGS_KEYS = ("gated", "visibility", "private")


def gated_mode(meta: dict[str, Any]) -> str | bool:
    """``"auto"``, ``"manual"`` or ``False`` from a repo's metadata, as ``repo_info`` reports it."""
    value = meta.get("gated")
    return value if value in GATED_MODES else False


def require_content_access(repo: Repo, identity: Identity | None) -> None:
    """Raise ``GatedRepo`` if ``repo`` is gated and ``identity`` has no access (module doc)."""
    if not gated_mode(repo.meta) or (identity is not None and identity.acts_in(repo.key.namespace)):
        return
    what = f"{repo.key.repo_type} {repo.key.repo_id}"
    if identity is None:
        raise GatedRepoError(
            f"Access to {what} is restricted. You must have access to it and be authenticated "
            "to access it. Please log in.",
            status=401,
        )
    raise GatedRepoError(
        f"Access to {what} is restricted and you are not in the authorized list: on the local "
        "Hub only the repo's namespace (its owner and its orgs' members) has access."
    )


def check_content_access(ctx: HubContext, req: Request, key: RepoKey) -> None:
    """The gate in front of file content: 404 for invisible repos, then ``GatedRepo``."""
    require_content_access(open_repo(ctx, req, key), req.identity)


def auth_check(ctx: HubContext, req: Request, key: RepoKey, *, write: bool) -> Response:
    """``GET /api/{t}s/{id}/auth-check[/write]``."""
    repo = open_repo(ctx, req, key, write=write)
    require_content_access(repo, req.identity)
    return json_response({})


def _settings_changes(body: dict[str, Any], repo_type: str) -> dict[str, Any]:
    unknown = sorted(set(body) - set(_SETTINGS_KEYS))
    if unknown:
        raise BadRequestError(
            f"Unsupported setting(s) {', '.join(map(repr, unknown))}: the local Hub supports "
            '"gated" and "visibility".'
        )
    changes: dict[str, Any] = {}
    if "gated" in body:
        gated = body["gated"]
        if gated is not False and gated not in GATED_MODES:
            raise BadRequestError('"gated" must be "auto", "manual" or false.')
        changes["gated"] = gated
    if "visibility" in body:
        visibility = body["visibility"]
        if visibility == "protected":
            raise BadRequestError(
                f'Visibility "protected" is for Spaces on huggingface.co; the local Hub has no '
                f"protected {repo_type}s. Use 'public' or 'private'."
            )
        if visibility not in ("public", "private"):
            raise BadRequestError('"visibility" must be "public" or "private".')
        changes["private"] = visibility == "private"
    if "private" in body:
        private = body["private"]
        if not isinstance(private, bool) or changes.get("private", private) != private:
            raise BadRequestError('"private" must be true or false and agree with "visibility".')
        changes["private"] = private
    if not changes:
        raise BadRequestError("At least one setting must be updated.")
    return changes


def write_meta(ctx: HubContext, repo: Repo, changes: dict[str, Any]) -> dict[str, Any]:
    """Merge ``changes`` into the repo's ``repo.json`` under its lock; the new metadata."""
    path = repo.dir / "repo.json"
    with ctx.store.lock(repo.key):
        try:
            meta = json.loads(path.read_bytes())
        except FileNotFoundError:
            raise RepoNotFoundError(REPO_NOT_FOUND) from None
        meta.update(changes)
        ctx.store.write_atomic(path, canonical_json(meta))
    return meta


def update_settings(ctx: HubContext, req: Request, key: RepoKey) -> Response:
    """``PUT /api/{t}s/{id}/settings``: visibility and gating."""
    repo = open_repo(ctx, req, key, write=True)
    changes = _settings_changes(req.json_object(), key.repo_type)
    meta = write_meta(ctx, repo, changes)
    return json_response({"private": bool(meta.get("private")), "gated": gated_mode(meta)})


def _split_id(value: object, field: str) -> tuple[str, str]:
    if not isinstance(value, str) or value.count("/") != 1:
        raise BadRequestError(f'"{field}" must be a repo id "namespace/name".')
    namespace, name = value.split("/")
    return namespace, name


def move_repo(ctx: HubContext, req: Request) -> Response:
    """``POST /api/repos/move``: rename a repo or move it to another namespace (same type)."""
    identity = require_writer(req.identity)
    body = req.json_object()
    repo_type = check_repo_type(body.get("type"))
    source_key = lookup_key(ctx.store, repo_type, *_split_id(body.get("fromRepo"), "fromRepo"))
    source = open_repo(ctx, req, source_key, write=True).key
    target = make_repo_key(repo_type, *_split_id(body.get("toRepo"), "toRepo"))
    if not identity.acts_in(target.namespace):
        raise namespace_forbidden(identity, target.namespace, f"move a {repo_type} repo")
    target = new_repo_key(ctx.store, target, identity)
    if target == source:
        raise BadRequestError("fromRepo and toRepo name the same repo.")
    _rename(ctx, source, target)
    return json_response({"name": target.repo_id, "url": repo_url(req.base_url, target)})


def _rename(ctx: HubContext, source: RepoKey, target: RepoKey) -> None:
    """Move the repo folder under both repos' locks (one lock when they differ only in case)."""
    store = ctx.store
    keys = sorted({str(k).lower(): k for k in (source, target)}.items())
    with ExitStack() as stack:
        for _, lock_key in keys:  # sorted: two opposite moves cannot deadlock
            stack.enter_context(store.lock(lock_key))
        clash = find_stored(store.root, target)
        if clash is not None and clash != source:
            raise ConflictError(
                f"A {target.repo_type} repository called {clash.repo_id} already exists."
            )
        src, dst = store.repo_dir(source), store.repo_dir(target)
        try:
            meta = json.loads((src / "repo.json").read_bytes())
        except FileNotFoundError:
            raise RepoNotFoundError(REPO_NOT_FOUND) from None
        meta["id"] = target.repo_id
        store.write_atomic(src / "repo.json", canonical_json(meta))
        dst.parent.mkdir(parents=True, exist_ok=True)
        if dst.exists() and not os.path.samefile(src, dst):
            shutil.rmtree(dst)  # a leftover folder without repo.json (find_stored found none)
        os.rename(src, dst)
        fsync_dir(src.parent)
        fsync_dir(dst.parent)
        record_redirect(store, source, target)
