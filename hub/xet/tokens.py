"""Xet access tokens and signed xorb fetch URLs.

A CAS access token is a capability, like the LFS upload URLs: ``xet1.<payload>.<signature>``
where the payload (base64url JSON) names the repo, the revision it was issued for, whether it
may write and its expiry, and the signature is an HMAC-SHA256 with the server's per-process key.
It carries no Hub token. Xorb fetch URLs are signed the same way (the client sends them without
any ``Authorization``). A restarted server has a new key: the clients refresh their token (401)
and their fetch URLs (403) as they do with huggingface.co.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import time
from dataclasses import dataclass

from ..errors import ForbiddenError, UnauthorizedError
from ..validation import RepoKey

TOKEN_PREFIX = "xet1"
TOKEN_TTL_S = 3600
FETCH_URL_TTL_S = 3600


@dataclass(frozen=True)
class XetScope:
    """What a CAS access token allows: one repo, read (and maybe write), until ``exp``."""

    key: RepoKey
    revision: str
    write: bool
    exp: int


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class XetSigner:
    """Issues and checks CAS tokens and fetch-URL signatures with one secret key."""

    def __init__(self, key: bytes):
        self._key = hashlib.sha256(b"ocforge-xet\0" + key).digest()

    def _mac(self, message: bytes) -> str:
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()

    def issue(self, key: RepoKey, revision: str, *, write: bool) -> tuple[str, int]:
        """A new token for ``key`` and its expiry (unix seconds)."""
        exp = int(time.time()) + TOKEN_TTL_S
        body = {
            "t": key.repo_type,
            "ns": key.namespace,
            "n": key.name,
            "rev": revision,
            "w": write,
            "exp": exp,
        }
        payload = _b64(json.dumps(body, sort_keys=True, separators=(",", ":")).encode())
        return f"{TOKEN_PREFIX}.{payload}.{self._mac(payload.encode())}", exp

    def check(self, authorization: str | None, *, write: bool) -> XetScope:
        """The scope of a ``Bearer`` CAS token; 401 when missing, forged or expired."""
        scheme, _, token = (authorization or "").strip().partition(" ")
        prefix, _, rest = token.strip().partition(".")
        payload, _, signature = rest.partition(".")
        if scheme.lower() != "bearer" or prefix != TOKEN_PREFIX or not signature:
            raise UnauthorizedError("A Xet access token is required (from xet-*-token).")
        if not hmac.compare_digest(self._mac(payload.encode()), signature):
            raise UnauthorizedError("Invalid or expired Xet access token.")
        try:
            body = json.loads(_unb64(payload))
            scope = XetScope(
                RepoKey(str(body["t"]), str(body["ns"]), str(body["n"])),
                str(body["rev"]),
                bool(body["w"]),
                int(body["exp"]),
            )
        except (ValueError, KeyError, TypeError, binascii.Error):
            raise UnauthorizedError("Invalid or expired Xet access token.") from None
        if scope.exp < time.time():
            raise UnauthorizedError("Invalid or expired Xet access token.")
        if write and not scope.write:
            raise ForbiddenError("This Xet access token is read-only; uploads need a write token.")
        return scope

    def sign_fetch(self, xorb: str) -> tuple[int, str]:
        """Expiry and signature of a fetch URL for ``xorb``."""
        exp = int(time.time()) + FETCH_URL_TTL_S
        return exp, self._mac(f"fetch|{xorb}|{exp}".encode())

    def check_fetch(self, xorb: str, exp: str | None, signature: str | None) -> None:
        """403 unless the fetch URL's signature is valid and unexpired."""
        try:
            expires = int(exp or "")
        except ValueError:
            raise ForbiddenError("Invalid or expired fetch URL.") from None
        expected = self._mac(f"fetch|{xorb}|{expires}".encode())
        if expires < time.time() or not hmac.compare_digest(expected, signature or ""):
            raise ForbiddenError("Invalid or expired fetch URL.")
