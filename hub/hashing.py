"""Content hashes the Hub protocol is built on.

* git blob SHA-1 (``sha1(b"blob <size>\\0" + content)``): the ``oid`` of regular files in tree
  listings, preupload answers and ETags.
* SHA-256 of the content: the LFS object id, used for LFS files' ``lfs.oid`` and ETags.
* the LFS pointer file: what git stores in place of an LFS file; its blob SHA-1 is the tree
  ``oid`` of an LFS file and its length the ``pointerSize``.
"""

from __future__ import annotations

import hashlib
from typing import Any

from ocforge.hashing import canonical_json, git_blob_id

LFS_POINTER_VERSION = "https://git-lfs.github.com/spec/v1"

__all__ = ["LFS_POINTER_VERSION", "canonical_json", "git_blob_sha1", "lfs_pointer", "object_id"]

#: the git blob id of a regular file (:func:`ocforge.hashing.git_blob_id`)
git_blob_sha1 = git_blob_id


def lfs_pointer(sha256: str, size: int) -> bytes:
    """The git-LFS pointer file for an object."""
    return f"version {LFS_POINTER_VERSION}\noid sha256:{sha256}\nsize {size}\n".encode()


def object_id(kind: str, value: Any) -> str:
    """40-hex id of a stored tree or commit object: SHA-1 over its kind and canonical JSON."""
    h = hashlib.sha1(usedforsecurity=False)
    h.update(kind.encode() + b"\0")
    h.update(canonical_json(value))
    return h.hexdigest()
