"""Jinja rendering of the web pages, their security headers, redirects and the static files.

Autoescaping is on for every template: everything that comes from a repo (card text, file
names, commit messages, cells) is escaped unless Python marked it safe, which only the card
renderer does (markdown-it with raw HTML disabled). The Content-Security-Policy is a second
line: no inline script or style runs even if something slipped through.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import quote

import jinja2

from ..errors import RouteNotFoundError
from ..protocol import FileSlice, Response

HERE = Path(__file__).parent
STATIC_DIR = HERE / "static"
STATIC_PREFIX = "_static"  # "_" cannot start a namespace, so no repo URL collides with it
_STATIC_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9-]*\.(css|js)$")
_STATIC_TYPES = {"css": "text/css; charset=utf-8", "js": "text/javascript; charset=utf-8"}

# 'self' scripts and styles only; images also as data: URLs (cards may embed small ones)
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    # pages of private repos must not stay in shared caches (or the browser's, after logout)
    "Cache-Control": "no-store",
}


def human_size(size: int | None) -> str:
    """``1.2 kB``-style size (decimal units, as the Hub shows them)."""
    if size is None:
        return ""
    value = float(size)
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if value < 1000 or unit == "TB":
            return f"{int(value)} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{size} B"  # unreachable


def path_quote(path: str) -> str:
    """A repo path for a URL: each segment percent-encoded, ``/`` kept."""
    return quote(path, safe="/")


def segment_quote(value: str) -> str:
    """One URL segment: a revision such as ``dev/feature`` becomes ``dev%2Ffeature``."""
    return quote(value, safe="")


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,  # a missing value is a bug, not an empty string
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["size"] = human_size
    env.filters["seg"] = segment_quote
    env.filters["short"] = lambda sha: (sha or "")[:7]
    env.filters["day"] = lambda date: (date or "")[:10]
    env.globals["static"] = lambda name: f"/{STATIC_PREFIX}/{name}"
    return env


ENV = _environment()


def html_response(
    template: str, status: int = 200, headers: dict[str, str] | None = None, **context: Any
) -> Response:
    """Render ``template`` with ``context`` into an HTML response with the security headers."""
    body = ENV.get_template(template).render(**context).encode("utf-8")
    all_headers = {"Content-Type": "text/html; charset=utf-8", **SECURITY_HEADERS}
    return Response(status, {**all_headers, **(headers or {})}, body)


def redirect(location: str, headers: dict[str, str] | None = None) -> Response:
    """A 303 to a local path (callers pass only paths they built or checked)."""
    return Response(303, {"Location": location, **SECURITY_HEADERS, **(headers or {})})


def static_file(name: str) -> Response:
    """One file of ``static/``; only plain names of the kinds the package ships."""
    match = _STATIC_NAME_RE.match(name)
    path = STATIC_DIR / name
    if match is None or not path.is_file():
        raise RouteNotFoundError("No such static file.")
    headers = {
        "Content-Type": _STATIC_TYPES[match.group(1)],
        "X-Content-Type-Options": "nosniff",
        "Cache-Control": "public, max-age=300",
    }
    return Response(200, headers, file=FileSlice(path, 0, path.stat().st_size))
