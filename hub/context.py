"""Shared state of a running local Hub: storage, tokens, limits and the URL/token signing key."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass, field

from .auth import TokenStore
from .storage import HubStore
from .validation import RepoKey
from .xet.store import XetStore
from .xet.tokens import XetSigner

MiB = 1024 * 1024
GiB = 1024 * MiB


@dataclass(frozen=True)
class Limits:
    """Size limits on what clients may send."""

    #: JSON / form bodies (create, preupload, paths-info, LFS batch, ...)
    max_json_body: int = 16 * MiB
    #: whole NDJSON commit body (regular files travel inline as base64)
    max_commit_body: int = 2 * GiB
    #: one NDJSON line of a commit, i.e. one regular file (base64 grows it by 4/3)
    max_commit_line: int = 96 * MiB
    #: one LFS object
    max_lfs_object: int = 100 * GiB
    #: bytes of an unread body the server discards to keep a connection alive after an error
    max_drain: int = 1 * MiB


@dataclass
class HubContext:
    """Everything endpoint handlers need; one per server."""

    store: HubStore
    tokens: TokenStore
    endpoint: str
    limits: Limits = field(default_factory=Limits)
    #: signs LFS upload URLs, which clients PUT to without an Authorization header
    signing_key: bytes = field(default_factory=lambda: secrets.token_bytes(32))
    #: validity of a signed LFS upload URL
    upload_url_ttl_s: int = 24 * 3600
    #: issues and checks Xet CAS tokens and xorb fetch URLs (derived from ``signing_key``)
    xet_signer: XetSigner = field(init=False)

    def __post_init__(self) -> None:
        self.xet_signer = XetSigner(self.signing_key)

    @property
    def xet(self) -> XetStore:
        """The Xet part of the storage (xorbs, file records, per-repo registrations)."""
        return self.store.xet

    def sign_upload(self, key: RepoKey, oid: str, size: int, expires: int) -> str:
        """Capability signature of one LFS upload URL (HMAC-SHA256)."""
        message = f"{key.repo_type}|{key.namespace}|{key.name}|{oid}|{size}|{expires}".encode()
        return hmac.new(self.signing_key, message, hashlib.sha256).hexdigest()

    def check_upload_signature(
        self, key: RepoKey, oid: str, size: int, expires: int, signature: str
    ) -> bool:
        """True if ``signature`` is valid for these values and has not expired."""
        if expires < time.time():
            return False
        return hmac.compare_digest(self.sign_upload(key, oid, size, expires), signature)
