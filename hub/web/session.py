"""The login cookie of the web pages: a signed session naming the user, never the token.

``POST /login`` checks a token against the server's token store and answers with an HttpOnly,
``SameSite=Strict`` cookie ``v1.<payload>.<HMAC>`` whose payload is the user, its orgs and an
expiry; the token itself is not stored in the browser, a URL or a page. The server accepts the
cookie only on ``GET``/``HEAD`` and only as a *read* identity, so a browser session can see the
user's private repos (pages, card images, downloads) but never write: writes still need the
``Authorization`` header of a client. The key is derived from the server's per-process signing
key, so a restart logs everyone out.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from email.message import Message
from http.cookies import CookieError, SimpleCookie

from ..auth import Identity
from ..context import HubContext

COOKIE_NAME = "ocforge_session"
SESSION_TTL_S = 12 * 3600
_READ_METHODS = ("GET", "HEAD")


def _key(ctx: HubContext) -> bytes:
    # a key of its own, so a session value can never pass as an upload or Xet signature
    return hmac.new(ctx.signing_key, b"ocforge web session v1", hashlib.sha256).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def session_value(ctx: HubContext, identity: Identity, now: float | None = None) -> str:
    """The signed cookie value for ``identity``, valid for :data:`SESSION_TTL_S`."""
    expires = int((now if now is not None else time.time()) + SESSION_TTL_S)
    payload = {"u": identity.name, "o": sorted(identity.orgs), "exp": expires}
    body = _b64(json.dumps(payload, separators=(",", ":")).encode())
    signature = _b64(hmac.new(_key(ctx), body.encode(), hashlib.sha256).digest())
    return f"v1.{body}.{signature}"


def login_cookie(ctx: HubContext, identity: Identity) -> str:
    """``Set-Cookie`` value that logs ``identity`` in."""
    value = session_value(ctx, identity)
    return f"{COOKIE_NAME}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={SESSION_TTL_S}"


def logout_cookie() -> str:
    """``Set-Cookie`` value that removes the session."""
    return f"{COOKIE_NAME}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0"


def identity_from_value(ctx: HubContext, value: str, now: float | None = None) -> Identity | None:
    """The read identity a cookie value names, or ``None`` if it is forged, stale or malformed."""
    version, _, rest = value.partition(".")
    body, _, signature = rest.partition(".")
    if version != "v1" or not body or not signature:
        return None
    expected = _b64(hmac.new(_key(ctx), body.encode(), hashlib.sha256).digest())
    if not hmac.compare_digest(expected, signature):
        return None
    try:
        payload = json.loads(_unb64(body))
        name, orgs, expires = str(payload["u"]), frozenset(payload["o"]), int(payload["exp"])
    except (ValueError, KeyError, TypeError):
        return None
    if expires < (now if now is not None else time.time()):
        return None
    return Identity(name, "read", orgs)


def session_identity(ctx: HubContext, method: str, headers: Message) -> Identity | None:
    """Identity of the request's login cookie: only for reads, only when it verifies.

    A stale or unknown cookie is treated as no login (not 401): the page then offers the login
    form instead of an error.
    """
    if method not in _READ_METHODS:
        return None
    raw = headers.get("Cookie")
    if not raw:
        return None
    try:
        morsel = SimpleCookie(raw).get(COOKIE_NAME)
    except CookieError:
        return None
    return identity_from_value(ctx, morsel.value) if morsel is not None else None
