"""Which requests are web pages, and their dispatch.

:func:`route_page` answers the page URLs of the Hub (``/``, ``/login``, ``/datasets/NS/NAME``
with ``tree``/``blob``/``commits``/``commit``/``viewer`` below it, models at ``/NS/NAME``) and
returns ``None`` for everything else, so the API, ``resolve`` and LFS routes keep their own
handling. A page's errors are HTML pages with the same status (404 for a private repo the
caller may not see, with a login link).
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import quote, urlencode

from ..context import HubContext
from ..errors import BadRequestError, HubError, MethodNotAllowedError
from ..protocol import Request, Response
from ..repo_ids import lookup_key
from ..validation import RESERVED_NAMESPACES, URL_PREFIX_TYPES, RepoKey
from .files_pages import blob_page, tree_page
from .front import front_page, login_form, login_submit, logout
from .history_pages import commit_page, commits_page
from .render import STATIC_PREFIX, html_response, static_file
from .repo_pages import dataset_page, model_page, viewer_page

Handler = Callable[[], Response]
_READ = ("GET", "HEAD")
# the Dataset Viewer API's path prefix and host (hub/viewer/service.py): never pages
VIEWER_API_PREFIX = "datasets-server"


def _repo_handler(ctx: HubContext, req: Request, key: RepoKey, rest: list[str]) -> Handler | None:
    """The page handler for ``rest`` (the segments after ``NS/NAME``), or ``None``."""
    action, args = (rest[0], rest[1:]) if rest else ("", [])
    dataset = key.repo_type == "dataset"
    if not rest:
        return lambda: (dataset_page if dataset else model_page)(ctx, req, key)
    if action == "tree" and args:
        return lambda: tree_page(ctx, req, key, args[0], args[1:])
    if action == "blob" and len(args) >= 2:
        return lambda: blob_page(ctx, req, key, args[0], args[1:])
    if action == "commits" and len(args) == 1:
        return lambda: commits_page(ctx, req, key, args[0])
    if action == "commit" and len(args) == 1:
        return lambda: commit_page(ctx, req, key, args[0])
    if action == "viewer" and dataset and len(args) <= 2:
        return lambda: viewer_page(ctx, req, key, args)
    return None


def _repo_key(ctx: HubContext, seg: list[str]) -> tuple[RepoKey, list[str]] | None:
    if seg[0] == "datasets" and len(seg) >= 3:
        repo_type, ns, name, rest = "dataset", seg[1], seg[2], seg[3:]
    elif len(seg) >= 2 and seg[0] not in URL_PREFIX_TYPES:
        if seg[0].lower() in RESERVED_NAMESPACES:
            return None
        repo_type, ns, name, rest = "model", seg[0], seg[1], seg[2:]
    else:
        return None
    try:
        # ids are case-insensitive, as on the Hub: the key carries the stored casing
        return lookup_key(ctx.store, repo_type, ns, name), rest
    except BadRequestError:
        return None  # not a repo name (e.g. "x.git"): the API routes decide


def _handler(ctx: HubContext, req: Request) -> Handler | None:
    seg, method = req.segments, req.method
    host = (req.headers.get("Host") or "").lower()
    if seg[:1] == [VIEWER_API_PREFIX] or host.startswith(VIEWER_API_PREFIX + "."):
        return None
    if seg == ["login"]:
        if method == "POST":
            return lambda: login_submit(ctx, req)
        return (lambda: login_form(ctx, req)) if method in _READ else None
    if seg == ["logout"] and method == "POST":
        return lambda: logout(ctx, req)
    if method not in _READ:
        return None
    if seg in ([], [""]):
        return lambda: front_page(ctx, req)
    if seg in (["datasets"], ["models"]):
        return lambda: front_page(ctx, req, seg[0][:-1])
    if len(seg) == 2 and seg[0] == STATIC_PREFIX:
        return lambda: static_file(seg[1])
    found = _repo_key(ctx, seg)
    return _repo_handler(ctx, req, *found) if found is not None else None


def _this_path(req: Request) -> str:
    path = "/" + "/".join(quote(s, safe="") for s in req.segments)
    return path + ("?" + urlencode(req.query, doseq=True) if req.query else "")


def error_page(req: Request, error: HubError) -> Response:
    """An HTML error page with the error's status and message."""
    return html_response(
        "error.j2",
        status=error.status,
        user=req.identity.name if req.identity is not None else None,
        error=error,
        login_url="/login?" + urlencode({"next": _this_path(req)}),
        title=f"{error.status} · {error.code}",
    )


def route_page(ctx: HubContext, req: Request) -> Response | None:
    """The page for ``req``, or ``None`` when it is not a page URL (the API answers it)."""
    handler = _handler(ctx, req)
    if handler is None:
        if req.segments == ["logout"]:
            return error_page(req, MethodNotAllowedError("Log out with the form's button."))
        return None
    try:
        return handler()
    except HubError as exc:
        return error_page(req, exc)
