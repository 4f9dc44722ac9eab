"""Validation of names that arrive from clients: repo ids, file paths and ref names.

Everything a client sends ends up in a file-system path or in a ref table, so each piece is
checked before it is used: no ``..`` or empty components, no absolute paths, no control
characters, bounded lengths. The rules are close to the Hub's own, slightly stricter where the
Hub's are undocumented.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .errors import BadRequestError, HubError

#: URL segment of the JSON API (``/api/<plural>/...``) -> repo type, and back.
API_REPO_TYPES: dict[str, str] = {"models": "model", "datasets": "dataset", "spaces": "space"}
REPO_TYPE_PLURAL: dict[str, str] = {v: k for k, v in API_REPO_TYPES.items()}
#: First path segment of resolve / LFS URLs for the non-model repo types (models have none).
URL_PREFIX_TYPES: dict[str, str] = {"datasets": "dataset", "spaces": "space"}

# First URL segments that can never be a model namespace because they name other routes.
RESERVED_NAMESPACES = frozenset({"api", "datasets", "spaces", "models", "kernels", "buckets"})

# huggingface.co's rule, mirrored by huggingface_hub's validate_repo_id (utils/_validators.py
# REPO_ID_REGEX: ``\b[\w\-.]{1,96}\b`` in ASCII mode): ASCII letters, digits, "_", "-" and ".",
# not starting or ending with "-" or "." ("_" is a word character, so "__DUMMY_HUB_USER__", the
# user of the clients' own test suites, is valid). "." / ".." alone cannot match.
_NAME_RE = re.compile(r"^[A-Za-z0-9_](?:[A-Za-z0-9._-]{0,94}[A-Za-z0-9_])?$")
_HEX40_RE = re.compile(r"^[0-9a-f]{40}$")
_SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")
# Characters git refuses in ref names; refusing them keeps names printable and unambiguous.
_BAD_REF_CHARS_RE = re.compile(r"[\x00-\x20\x7f~^:?*\[\\]")

MAX_PATH_LENGTH = 1024
MAX_REF_LENGTH = 255


@dataclass(frozen=True)
class RepoKey:
    """A repository: its type (``model``/``dataset``/``space``) and ``namespace/name``."""

    repo_type: str
    namespace: str
    name: str

    @property
    def repo_id(self) -> str:
        """The ``namespace/name`` form clients use."""
        return f"{self.namespace}/{self.name}"

    @property
    def url_prefix(self) -> str:
        """Prefix of resolve URLs: ``""`` for models, ``"datasets/"`` for datasets, ..."""
        return "" if self.repo_type == "model" else REPO_TYPE_PLURAL[self.repo_type] + "/"

    def __str__(self) -> str:
        return f"{self.repo_type}:{self.repo_id}"


def check_repo_type(repo_type: str | None) -> str:
    """Return the repo type named by a create/delete body (``None`` means model)."""
    value = repo_type or "model"
    if value not in REPO_TYPE_PLURAL:
        raise BadRequestError(f"Invalid repo type {value!r}: expected model, dataset or space.")
    return value


def check_name_part(value: object, what: str) -> str:
    """Validate a namespace or repo name (letters, digits, ``-_.``; no ``--``/``..``; <= 96)."""
    if not isinstance(value, str) or not _NAME_RE.fullmatch(value):
        raise BadRequestError(
            f"Invalid {what}: it must be 1-96 characters of letters, digits, '-', '_' or '.', "
            "not starting or ending with '-' or '.'."
        )
    if "--" in value or ".." in value or value.endswith(".git"):
        raise BadRequestError(f"Invalid {what}: '--', '..' and a '.git' suffix are not allowed.")
    return value


def make_repo_key(repo_type: str, namespace: object, name: object) -> RepoKey:
    """Build a validated :class:`RepoKey`."""
    ns = check_name_part(namespace, "namespace")
    if ns.lower() in RESERVED_NAMESPACES:
        raise BadRequestError(f"Invalid namespace: {ns!r} is reserved.")
    return RepoKey(check_repo_type(repo_type), ns, check_name_part(name, "repo name"))


def check_repo_path(
    path: object, *, allow_root: bool = False, error: type[HubError] = BadRequestError
) -> str:
    """Validate a file or folder path inside a repo and return it without surrounding slashes.

    Rejects absolute paths, ``.``/``..``/empty components, backslashes, control characters, any
    ``.git`` component and paths longer than :data:`MAX_PATH_LENGTH`. With ``allow_root`` the empty
    path (repo root) is accepted. ``error`` is the exception raised: the Hub answers 400 for a
    bad path in a URL and 422 (:class:`UnprocessableError`) for one in a commit or preupload body.
    """
    if not isinstance(path, str):
        raise error("Invalid path: expected a string.")
    if path.startswith("/"):
        raise error("Invalid path: absolute paths are not allowed.")
    stripped = path.rstrip("/")
    if stripped == "":
        if allow_root:
            return ""
        raise error("Invalid path: empty.")
    if len(stripped) > MAX_PATH_LENGTH:
        raise error(f"Invalid path: longer than {MAX_PATH_LENGTH} characters.")
    if _CONTROL_RE.search(stripped) or "\\" in stripped:
        raise error("Invalid path: control characters and backslashes are not allowed.")
    for part in stripped.split("/"):
        if part in ("", ".", ".."):
            raise error("Invalid path: empty, '.' and '..' components are not allowed.")
        if part == ".git":
            raise error("Invalid path: '.git' components are not allowed.")
    return stripped


def check_ref_name(name: object, what: str = "branch") -> str:
    """Validate a new branch or tag name (``/`` allowed, git ref rules otherwise).

    Names that look like a commit id (40 hex characters) are refused because revisions are
    resolved by name, and the clients treat 40-hex revisions as immutable commits.
    """
    if not isinstance(name, str) or not name:
        raise BadRequestError(f"Invalid {what} name: empty.")
    if len(name) > MAX_REF_LENGTH:
        raise BadRequestError(f"Invalid {what} name: longer than {MAX_REF_LENGTH} characters.")
    if _BAD_REF_CHARS_RE.search(name):
        raise BadRequestError(f"Invalid {what} name: spaces, control and ~^:?*[\\ are not allowed.")
    if name.startswith(("/", "refs/")) or name.endswith(("/", ".lock", ".")) or "//" in name:
        raise BadRequestError(f"Invalid {what} name: bad use of '/', '.lock' or a 'refs/' prefix.")
    if ".." in name or "@{" in name or name == "@" or name == "HEAD":
        raise BadRequestError(f"Invalid {what} name: '..', '@{{', '@' and 'HEAD' are not allowed.")
    if any(part.startswith(".") for part in name.split("/")):
        raise BadRequestError(f"Invalid {what} name: components may not start with '.'.")
    if is_commit_id(name):
        raise BadRequestError(f"Invalid {what} name: 40 hex characters look like a commit id.")
    return name


def check_revision(value: str) -> str:
    """Validate a revision as given in a URL (branch, tag or commit id); no lookup is done."""
    if not value or len(value) > MAX_REF_LENGTH or _CONTROL_RE.search(value):
        raise BadRequestError("Invalid revision.")
    return value


def is_commit_id(value: str) -> bool:
    """True for a full 40-character lowercase hex commit id."""
    return bool(_HEX40_RE.fullmatch(value))


def is_sha256(value: object) -> bool:
    """True for a 64-character lowercase hex SHA-256 digest."""
    return isinstance(value, str) and bool(_SHA256_RE.fullmatch(value))
