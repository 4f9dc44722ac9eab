"""Digests, one helper each: files and bytes as the Hub names them (SHA-256 for LFS files, the git
blob id for the rest; both from huggingface_hub, so ours agree with what the client computes) and
the canonical-JSON hash of a value (ids, recorded settings).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Literal

from huggingface_hub.utils.sha import git_hash, sha_fileobj

JsonStyle = Literal["compact", "spaced"]


def file_sha256(path: Path) -> str:
    """SHA-256 of a file, read 1 MiB at a time (the LFS object id)."""
    with Path(path).open("rb") as fh:
        return sha_fileobj(fh).hex()


def bytes_sha256(data: bytes) -> str:
    """SHA-256 of ``data``, hex."""
    return hashlib.sha256(data).hexdigest()


def git_blob_id(data: bytes) -> str:
    """The git blob id of ``data`` (``sha1(b"blob <size>\\0" + data)``): what the Hub lists as
    ``blob_id`` for a regular file and uses as its ETag."""
    return git_hash(data)


def canonical_json(value: Any, *, style: JsonStyle = "compact") -> bytes:
    """The one JSON encoding of ``value`` that is hashed: keys sorted, UTF-8.

    ``compact`` (no spaces, non-ASCII as is) is the form of new hashes. ``spaced`` is
    ``json.dumps``' default form (``", "`` and ``": "``, non-ASCII escaped, other objects as
    ``str()``): the form release-state and synthesis-run digests were first recorded in, kept so
    that those recorded digests still match.
    """
    if style == "spaced":
        return json.dumps(value, sort_keys=True, default=str).encode()
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def json_sha256(value: Any, *, style: JsonStyle = "compact") -> str:
    """SHA-256 (hex) of :func:`canonical_json`."""
    return hashlib.sha256(canonical_json(value, style=style)).hexdigest()
