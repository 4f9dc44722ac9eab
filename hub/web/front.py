"""The front page (repos listed and searched), the login form and logout."""

from __future__ import annotations

from dataclasses import dataclass

from ..context import HubContext
from ..errors import HubError
from ..protocol import Request, Response
from ..repo_api import open_repo
from .render import html_response, redirect
from .session import login_cookie, logout_cookie

LISTED_TYPES = ("dataset", "model")
MAX_LISTED = 500


@dataclass
class RepoItem:
    repo_id: str
    kind: str
    url: str
    private: bool
    last_modified: str


def _user(req: Request) -> str | None:
    return req.identity.name if req.identity is not None else None


def front_page(ctx: HubContext, req: Request, kind: str | None = None) -> Response:
    """``/`` (``/datasets``, ``/models``): the repos the caller may see, ``?search=`` filters."""
    search = (req.param("search") or "").strip()
    kind = kind or (req.param("type") if req.param("type") in LISTED_TYPES else None)
    items: list[RepoItem] = []
    for key in ctx.store.list_repos():
        if key.repo_type not in LISTED_TYPES or (kind and key.repo_type != kind):
            continue
        if search and search.lower() not in key.repo_id.lower():
            continue
        try:
            repo = open_repo(ctx, req, key)  # private repos only inside the caller's namespaces
            head = repo.resolve("main")
        except HubError:
            continue
        url = f"/{key.url_prefix}{key.repo_id}"
        items.append(RepoItem(key.repo_id, key.repo_type, url, repo.private, head.date))
        if len(items) >= MAX_LISTED:
            break
    items.sort(key=lambda i: i.last_modified, reverse=True)
    return html_response(
        "front.j2",
        user=_user(req),
        search=search,
        kind=kind,
        datasets=[i for i in items if i.kind == "dataset"],
        models=[i for i in items if i.kind == "model"],
        title="ocforge local Hub",
    )


def _next_path(value: str | None) -> str:
    # only a path on this server: never an open redirect to another host
    if value and value.startswith("/") and not value.startswith(("//", "/\\")):
        return value
    return "/"


def login_form(ctx: HubContext, req: Request) -> Response:
    """``GET /login``: the token form."""
    return html_response(
        "login.j2", user=_user(req), next=_next_path(req.param("next")), error=None, title="Log in"
    )


def login_submit(ctx: HubContext, req: Request) -> Response:
    """``POST /login``: check the token, set the session cookie, go back to ``next``."""
    form = req.form()
    token = (form.get("token") or [""])[0].strip()
    target = _next_path((form.get("next") or ["/"])[0])
    identity = ctx.tokens.lookup(token) if token else None
    if identity is None:
        return html_response(
            "login.j2",
            status=401,
            user=None,
            next=target,
            error="Unknown token: paste a token this server was started with.",
            title="Log in",
        )
    return redirect(target, {"Set-Cookie": login_cookie(ctx, identity)})


def logout(ctx: HubContext, req: Request) -> Response:
    """``POST /logout``: remove the session cookie."""
    return redirect("/", {"Set-Cookie": logout_cookie()})
