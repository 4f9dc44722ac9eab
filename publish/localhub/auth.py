"""Tokens and identities of the local Hub.

Tokens come from a token file and/or the ``OCFORGE_HUB_TOKENS`` environment variable. Format of
both: one entry per line (the variable also accepts commas between entries); blank lines and
lines starting with ``#`` are ignored; an entry is ``TOKEN`` or ``TOKEN<whitespace>USERNAME``
optionally followed by a role, ``read`` or ``write`` (default ``write``)::

    hf_localwritetoken	alice
    hf_localreadtoken	bob	read

A token without a username belongs to user ``local``. Only SHA-256 digests of the tokens are kept
in memory after loading, lookups hash the presented token first (no timing side channel on the
token text), and nothing in this module ever formats a token into a message.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from .errors import BadRequestError, ForbiddenError, UnauthorizedError
from .validation import check_name_part

TOKENS_ENV_VAR = "OCFORGE_HUB_TOKENS"
DEFAULT_USERNAME = "local"
ROLES = ("read", "write")


class TokenConfigError(ValueError):
    """A token file or token variable is malformed (the message never quotes a token)."""


@dataclass(frozen=True)
class Identity:
    """Who a request acts as: a username and its role (``read`` or ``write``)."""

    name: str
    role: str = "write"

    @property
    def can_write(self) -> bool:
        return self.role == "write"


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class TokenStore:
    """Maps tokens (by digest) to :class:`Identity`. Immutable after construction."""

    def __init__(self, entries: Mapping[str, Identity] | None = None):
        self._by_digest = {_digest(tok): ident for tok, ident in (entries or {}).items()}

    def __len__(self) -> int:
        return len(self._by_digest)

    def lookup(self, token: str) -> Identity | None:
        """Identity of ``token`` or ``None`` if it is unknown."""
        return self._by_digest.get(_digest(token))

    def authenticate(self, authorization: str | None) -> Identity | None:
        """Identity for an ``Authorization`` header; ``None`` when absent.

        A header that is present but malformed or carries an unknown token raises
        :class:`UnauthorizedError` with the message the Hub uses, which huggingface_hub
        recognises as "bad token" rather than "repo not found".
        """
        if authorization is None or not authorization.strip():
            return None
        scheme, _, token = authorization.strip().partition(" ")
        identity = self.lookup(token.strip()) if scheme.lower() == "bearer" else None
        if identity is None:
            raise UnauthorizedError("Invalid credentials in Authorization header")
        return identity

    @classmethod
    def parse(cls, text: str, *, source: str) -> TokenStore:
        """Parse token entries (see module docstring); ``source`` names the origin in errors."""
        return cls(dict(_parse_entries(text, source=source)))

    @classmethod
    def from_sources(
        cls,
        *,
        token_file: Path | None = None,
        env: Mapping[str, str] | None = None,
        extra: Mapping[str, str] | Iterable[str] | None = None,
    ) -> TokenStore:
        """Merge tokens from ``token_file``, the ``OCFORGE_HUB_TOKENS`` variable and ``extra``.

        ``extra`` is a mapping token -> username or an iterable of tokens (user ``local``).
        """
        entries: dict[str, Identity] = {}
        if token_file is not None:
            entries.update(_parse_entries(Path(token_file).read_text(), source=str(token_file)))
        env_text = (os.environ if env is None else env).get(TOKENS_ENV_VAR, "")
        if env_text.strip():
            entries.update(_parse_entries(env_text.replace(",", "\n"), source=TOKENS_ENV_VAR))
        if isinstance(extra, Mapping):
            for token, user in extra.items():
                entries[_check_token(token, "tokens argument")] = Identity(
                    _check_user(user, "tokens argument")
                )
        elif extra is not None:
            for token in extra:
                entries[_check_token(token, "tokens argument")] = Identity(DEFAULT_USERNAME)
        return cls(entries)


def _check_token(token: object, source: str) -> str:
    if not isinstance(token, str) or len(token) < 8 or any(c.isspace() for c in token):
        raise TokenConfigError(
            f"{source}: a token must be at least 8 characters without whitespace."
        )
    return token


def _check_user(user: object, source: str) -> str:
    try:
        return check_name_part(user, "username")
    except BadRequestError as exc:
        raise TokenConfigError(f"{source}: {exc.message}") from None


def _parse_entries(text: str, *, source: str) -> Iterable[tuple[str, Identity]]:
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        fields = line.split()
        where = f"{source} entry {lineno}"
        if len(fields) > 3:
            raise TokenConfigError(f"{where}: expected TOKEN [USERNAME [read|write]].")
        token = _check_token(fields[0], where)
        user = _check_user(fields[1], where) if len(fields) > 1 else DEFAULT_USERNAME
        role = fields[2] if len(fields) > 2 else "write"
        if role not in ROLES:
            raise TokenConfigError(f"{where}: role must be 'read' or 'write'.")
        yield token, Identity(user, role)


def generate_token() -> str:
    """A fresh random token in the Hub's ``hf_...`` style."""
    return "hf_" + secrets.token_urlsafe(30).replace("-", "A").replace("_", "b")


def require_writer(identity: Identity | None) -> Identity:
    """Return ``identity`` if it may write, else raise 401 (anonymous) or 403 (read-only)."""
    if identity is None:
        raise UnauthorizedError("You must be authenticated to perform this operation.")
    if not identity.can_write:
        raise ForbiddenError("Your token has a read role; this operation needs write access.")
    return identity
