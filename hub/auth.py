"""Tokens, identities and namespace permissions of the local Hub.

Tokens come from a token file and/or the ``OCFORGE_HUB_TOKENS`` environment variable. Format of
both: one entry per line (the variable also accepts commas between entries); blank lines and
lines starting with ``#`` are ignored; an entry is whitespace-separated columns
``TOKEN [USERNAME [ROLE [ORG ...]]]``: the role is ``read`` or ``write`` (default ``write``) and
every further column names an organization the user belongs to (``*`` = every namespace)::

    hf_localwritetoken	alice
    hf_localreadtoken	bob	read
    hf_teamtoken	carol	write	demo	research
    hf_citoken	__DUMMY_HUB_USER__	write	fullname=Dummy%20User	valid_org_hub=Dummy%20Hub%20Org

Files of earlier versions (one to three columns) keep their meaning; the org columns are new.
A column ``fullname=...`` gives the user's display name and ``ORG=...`` an org's, both
percent-encoded (whoami reports them as ``fullname``).

Permissions follow huggingface.co: a user acts in its own namespace and in its orgs' namespaces.
It may create repos there (elsewhere 403), write there (a public repo elsewhere: 403), and read
private repos there (a private repo elsewhere is 404 ``RepoNotFound``, as if it did not exist).
Public repos are readable by everyone, anonymous callers included. A token without a username
belongs to user ``local``, the local Hub's administrator, which acts in every namespace: the
token that ``ocforge release`` and ``ocforge hub serve`` generate is ``TOKEN<TAB>local``, so the
default setup publishes ``demo/...`` or any other namespace as before.

Only SHA-256 digests of the tokens are kept in memory after loading, lookups hash the presented
token first (no timing side channel on the token text), and nothing in this module ever formats
a token into a message.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote

from ocforge.errors import TokenConfigError

from .errors import BadRequestError, ForbiddenError, UnauthorizedError
from .validation import check_name_part

TOKENS_ENV_VAR = "OCFORGE_HUB_TOKENS"
DEFAULT_USERNAME = "local"
#: the user of bare tokens; it acts in every namespace (see the module docstring)
ADMIN_USERNAME = DEFAULT_USERNAME
#: org column meaning "every namespace"
ALL_NAMESPACES = "*"
ROLES = ("read", "write")


@dataclass(frozen=True)
class Identity:
    """Who a request acts as: a username, its role (``read``/``write``) and its orgs.

    ``fullname`` and ``org_fullnames`` (org -> display name) only decorate whoami.
    """

    name: str
    role: str = "write"
    orgs: frozenset[str] = frozenset()
    fullname: str | None = None
    org_fullnames: tuple[tuple[str, str], ...] = ()

    @property
    def can_write(self) -> bool:
        return self.role == "write"

    @property
    def is_admin(self) -> bool:
        return self.name == ADMIN_USERNAME or ALL_NAMESPACES in self.orgs

    def acts_in(self, namespace: str) -> bool:
        """True if ``namespace`` is this user's own, one of its orgs', or it is the admin.

        Names compare without case, as repo ids do on huggingface.co (repo_ids.py).
        """
        wanted = namespace.casefold()
        return self.is_admin or any(own.casefold() == wanted for own in (self.name, *self.orgs))

    @property
    def org_names(self) -> list[str]:
        """The orgs as whoami lists them (``*`` is not an org)."""
        return sorted(self.orgs - {ALL_NAMESPACES})

    def org_fullname(self, org: str) -> str:
        """An org's display name for whoami (its name unless the token file gave one)."""
        return dict(self.org_fullnames).get(org, org)


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
        extra: Mapping[str, str | Identity] | Iterable[str] | None = None,
    ) -> TokenStore:
        """Merge tokens from ``token_file``, the ``OCFORGE_HUB_TOKENS`` variable and ``extra``.

        ``extra`` is a mapping token -> username (write role, no orgs) or -> :class:`Identity`,
        or an iterable of tokens (user ``local``).
        """
        entries: dict[str, Identity] = {}
        if token_file is not None:
            entries.update(_parse_entries(Path(token_file).read_text(), source=str(token_file)))
        env_text = (os.environ if env is None else env).get(TOKENS_ENV_VAR, "")
        if env_text.strip():
            entries.update(_parse_entries(env_text.replace(",", "\n"), source=TOKENS_ENV_VAR))
        if isinstance(extra, Mapping):
            for token, user in extra.items():
                if not isinstance(user, Identity):
                    user = Identity(_check_user(user, "tokens argument"))
                entries[_check_token(token, "tokens argument")] = user
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


def _check_user(user: object, source: str, what: str = "username") -> str:
    try:
        return check_name_part(user, what)
    except BadRequestError as exc:
        raise TokenConfigError(f"{source}: {exc.message}") from None


def _parse_entries(text: str, *, source: str) -> Iterable[tuple[str, Identity]]:
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        fields = line.split()
        where = f"{source} entry {lineno}"
        token = _check_token(fields[0], where)
        user = _check_user(fields[1], where) if len(fields) > 1 else DEFAULT_USERNAME
        role = fields[2] if len(fields) > 2 else "write"
        if role not in ROLES:
            raise TokenConfigError(
                f"{where}: the third column (role) must be 'read' or 'write'; "
                "expected TOKEN [USERNAME [read|write [ORG ...]]]."
            )
        yield token, _identity(user, role, fields[3:], where)


def _identity(user: str, role: str, columns: list[str], where: str) -> Identity:
    """An identity from the columns after the role: ``ORG``, ``ORG=Display%20Name`` or
    ``fullname=Display%20Name`` (the user's; percent-encoded because columns split on blanks)."""
    orgs: set[str] = set()
    fullname: str | None = None
    org_fullnames: list[tuple[str, str]] = []
    for column in columns:
        name, eq, display = column.partition("=")
        if eq and not display:
            raise TokenConfigError(f"{where}: {column!r} needs a display name after '='.")
        if name == "fullname" and eq:
            fullname = unquote(display)
            continue
        org = name if name == ALL_NAMESPACES else _check_user(name, where, "org name")
        orgs.add(org)
        if eq:
            org_fullnames.append((org, unquote(display)))
    return Identity(user, role, frozenset(orgs), fullname, tuple(sorted(org_fullnames)))


def _hub_id(kind: str, name: str) -> str:
    # huggingface.co ids are 24 hex digits; derive a stable one so reruns agree
    return hashlib.sha256(f"{kind}\0{name.casefold()}".encode()).hexdigest()[:24]


def whoami_payload(identity: Identity) -> dict[str, object]:
    """``GET /api/whoami-v2`` for ``identity``, shaped like huggingface.co's answer.

    Callers read ``name``, ``fullname``, ``orgs[].name`` and ``auth.accessToken.role``; the
    billing and e-mail fields exist with their "nothing configured" values.
    """
    orgs = [
        {
            "type": "org",
            "id": _hub_id("org", org),
            "name": org,
            "fullname": identity.org_fullname(org),
            "email": None,
            "canPay": False,
            "periodEnd": None,
            "avatarUrl": "",
            "roleInOrg": identity.role,
            "isEnterprise": False,
        }
        for org in identity.org_names
    ]
    return {
        "type": "user",
        "id": _hub_id("user", identity.name),
        "name": identity.name,
        "fullname": identity.fullname or identity.name,
        "email": None,
        "emailVerified": False,
        "canPay": False,
        "isPro": False,
        "periodEnd": None,
        "avatarUrl": "",
        "orgs": orgs,
        "auth": {
            "type": "access_token",
            "accessToken": {"displayName": "ocforge-localhub", "role": identity.role},
        },
    }


def generate_token() -> str:
    """A fresh random token in the Hub's ``hf_...`` style."""
    return "hf_" + secrets.token_urlsafe(30).replace("-", "A").replace("_", "b")


def namespace_forbidden(identity: Identity, namespace: str, what: str) -> ForbiddenError:
    """The 403 for acting outside the caller's namespaces (wording close to huggingface.co's)."""
    return ForbiddenError(
        f"You don't have the rights to {what} under the namespace {namespace!r}: "
        f"user {identity.name!r} acts only in its own namespace and its orgs."
    )


def require_writer(identity: Identity | None) -> Identity:
    """Return ``identity`` if it may write, else raise 401 (anonymous) or 403 (read-only)."""
    if identity is None:
        raise UnauthorizedError("You must be authenticated to perform this operation.")
    if not identity.can_write:
        raise ForbiddenError("Your token has a read role; this operation needs write access.")
    return identity
