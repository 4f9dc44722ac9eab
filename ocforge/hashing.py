"""File digests as the Hub names them: SHA-256 for LFS files, the git blob id for the rest."""

from __future__ import annotations

import hashlib
from pathlib import Path


def file_sha256(path: Path) -> str:
    """SHA-256 of a file, read 1 MiB at a time (the LFS object id)."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def git_blob_id(data: bytes) -> str:
    """The git blob id of ``data``: what the Hub lists as ``blob_id`` for a regular file."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()
