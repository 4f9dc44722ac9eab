"""Request routing: raw path segments -> endpoint handler."""

from __future__ import annotations

from urllib.parse import quote

from .commit_api import (
    commit,
    create_branch,
    create_tag,
    delete_branch,
    delete_tag,
    preupload,
)
from .context import HubContext
from .discussions_api import route_discussions
from .errors import MethodNotAllowedError, RouteNotFoundError
from .files import resolve_file
from .history_api import delete_lfs_files, list_lfs_files, super_squash
from .lfs import UPLOAD_ROUTE, batch, route_lfs_action
from .protocol import Request, Response
from .repo_api import (
    agent_harnesses,
    create_repo,
    delete_repo,
    list_commits,
    list_refs,
    list_repos,
    list_tree,
    paths_info,
    repo_info,
    validate_yaml,
    whoami,
)
from .repo_ids import bare_api_route, bare_file_route, lookup_key
from .settings_api import auth_check, check_content_access, move_repo, update_settings
from .validation import API_REPO_TYPES, URL_PREFIX_TYPES
from .viewer.service import hub_parquet, is_viewer_host, route_viewer
from .web.routing import route_page
from .xet.cas_api import CAS_ROUTE, route_cas
from .xet.hub_api import upload_stats, xet_token


def route_api(ctx: HubContext, req: Request, seg: list[str]) -> Response:
    """Dispatch ``/api/...``; ``seg`` are the decoded segments after ``api``."""
    method = req.method
    fixed = {
        ("whoami-v2",): {"GET": whoami},
        ("agent-harnesses",): {"GET": agent_harnesses},
        ("validate-yaml",): {"POST": validate_yaml},
        ("repos", "create"): {"POST": create_repo},
        ("repos", "delete"): {"DELETE": delete_repo},
        ("repos", "move"): {"POST": move_repo},
    }
    handlers = fixed.get(tuple(seg))
    if handlers is not None:
        handler = handlers.get(method)
        if handler is None:
            raise MethodNotAllowedError(f"{method} is not allowed here.")
        return handler(ctx, req)
    if len(seg) == 1 and seg[0] in API_REPO_TYPES and method in ("GET", "HEAD"):
        return list_repos(ctx, req, API_REPO_TYPES[seg[0]])
    if len(seg) < 3 or seg[0] not in API_REPO_TYPES:
        bare_api_route(seg)  # /api/{type}s/{name}: 404 RepoNotFound (repo_ids.py)
        raise RouteNotFoundError("No such API endpoint.")
    # ids are case-insensitive: the key carries the stored casing (repo_ids.py)
    key = lookup_key(ctx.store, API_REPO_TYPES[seg[0]], seg[1], seg[2])
    rest = seg[3:]
    action = rest[0] if rest else ""
    arg = rest[1] if len(rest) > 1 else None
    if action == "discussions":
        return route_discussions(ctx, req, key, rest[1:])
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
        if action == "auth-check" and rest[1:] in ([], ["write"]):
            return auth_check(ctx, req, key, write=rest[1:] == ["write"])
        if action == "lfs-files" and len(rest) == 1:
            return list_lfs_files(ctx, req, key)
        if action in ("xet-read-token", "xet-write-token") and len(rest) == 2:
            if action == "xet-read-token":
                check_content_access(ctx, req, key)  # gated repos (settings_api.py)
            return xet_token(ctx, req, key, rest[1], write=action == "xet-write-token")
        if action == "localhub-upload-stats" and len(rest) == 2:
            return upload_stats(ctx, req, key, rest[1])
        if action == "parquet" and key.repo_type == "dataset":
            return hub_parquet(ctx, req, key.namespace, key.name, rest[1:])
    elif method == "PUT" and rest == ["settings"]:
        return update_settings(ctx, req, key)
    elif method == "POST" and rest == ["lfs-files", "batch"]:
        return delete_lfs_files(ctx, req, key)
    elif method == "POST" and len(rest) == 2:
        post = {
            "paths-info": paths_info,
            "preupload": preupload,
            "commit": commit,
            "branch": create_branch,
            "tag": create_tag,
            "super-squash": super_squash,
        }.get(action)
        if post is not None:
            return post(ctx, req, key, rest[1])
    elif method == "DELETE" and len(rest) == 2:
        delete = {"branch": delete_branch, "tag": delete_tag}.get(action)
        if delete is not None:
            return delete(ctx, req, key, rest[1])
    bare_api_route(seg)  # e.g. /api/models/my-ds/revision/main (repo_ids.py)
    raise RouteNotFoundError(f"No such API endpoint: {method} {quote(action)}.")


def route(ctx: HubContext, req: Request) -> Response:
    """Dispatch a request to its endpoint handler."""
    seg = req.segments
    if seg[:1] == ["datasets-server"] or is_viewer_host(req):  # the Dataset Viewer API
        return route_viewer(ctx, req, seg[1:] if seg[:1] == ["datasets-server"] else seg)
    page = route_page(ctx, req)  # web pages (hub/web/); None for API, resolve and LFS URLs
    if page is not None:
        return page
    if not seg or seg == [""]:
        raise RouteNotFoundError("This is an ocforge local Hub; see /api/whoami-v2.")
    if seg[0] == "api":
        if len(seg) > 1 and seg[1] == UPLOAD_ROUTE:
            return route_lfs_action(ctx, req, seg[2:])
        if len(seg) > 1 and seg[1] == CAS_ROUTE:
            return route_cas(ctx, req, seg[2:])
        return route_api(ctx, req, seg[1:])
    # Model URLs have no type prefix; "datasets"/"spaces" are reserved namespaces.
    repo_type = URL_PREFIX_TYPES.get(seg[0], "model")
    rest = seg[1:] if seg[0] in URL_PREFIX_TYPES else seg
    lfs_tail = ["info", "lfs", "objects", "batch"]
    if len(rest) == 6 and rest[1].endswith(".git") and rest[2:] == lfs_tail:
        if req.method != "POST":
            raise MethodNotAllowedError("The LFS batch endpoint takes POST.")
        return batch(ctx, req, lookup_key(ctx.store, repo_type, rest[0], rest[1][: -len(".git")]))
    if len(rest) >= 5 and rest[2] == "resolve":
        if req.method not in ("GET", "HEAD"):
            raise MethodNotAllowedError("Files are read with GET or HEAD.")
        key = lookup_key(ctx.store, repo_type, rest[0], rest[1])
        check_content_access(ctx, req, key)  # gated repos (settings_api.py)
        return resolve_file(ctx, req, key, rest[3], rest[4:])
    bare_file_route(rest)  # {name}/resolve/...: 404 RepoNotFound (repo_ids.py)
    raise RouteNotFoundError("No such endpoint.")
