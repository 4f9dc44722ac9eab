"""Xet content hashes: chunk hashes, the Merkle aggregation, file and verification hashes.

All hashes are keyed BLAKE3 over 32-byte values (reference/xet-and-dataset-viewer.md §A4). The
keys below are constants of the Xet protocol (docs/xet/hashing.md), not secrets. Hashes travel as
their *string form*: each 8-byte group read as a little-endian u64 and printed as 16 hex digits,
so the string is not the plain hex of the 32 bytes.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Sequence

from blake3 import blake3

DATA_KEY = bytes(
    [102, 151, 245, 119, 91, 149, 80, 222, 49, 53, 203, 172, 165, 151, 24, 28,
     157, 228, 33, 16, 155, 235, 43, 88, 180, 208, 176, 75, 147, 173, 242, 41]
)  # fmt: skip
INTERNAL_NODE_KEY = bytes(
    [1, 126, 197, 199, 165, 71, 41, 150, 253, 148, 102, 102, 180, 138, 2, 230,
     93, 221, 83, 111, 55, 199, 109, 210, 248, 99, 82, 230, 74, 83, 113, 63]
)  # fmt: skip
VERIFICATION_KEY = bytes(
    [127, 24, 87, 214, 206, 86, 237, 102, 18, 127, 249, 19, 231, 165, 195, 243,
     164, 205, 38, 213, 181, 219, 73, 230, 65, 36, 152, 127, 40, 251, 148, 195]
)  # fmt: skip
ZERO_KEY = bytes(32)
HASH_LEN = 32
# The Merkle groups of the aggregation: at least 2 and at most 9 nodes (mean fan-out 4).
_MAX_GROUP = 9
_HASH_STR_RE = re.compile(r"^[0-9a-f]{64}$")

Node = tuple[bytes, int]


def chunk_hash(data: bytes) -> bytes:
    """Hash of one chunk's uncompressed bytes."""
    return blake3(data, key=DATA_KEY).digest()


def hash_to_str(raw: bytes) -> str:
    """String form of a 32-byte hash (each u64 little-endian, printed as 16 hex digits)."""
    return "".join(f"{word:016x}" for word in struct.unpack("<4Q", raw))


def str_to_hash(text: str) -> bytes:
    """Inverse of :func:`hash_to_str`; ``ValueError`` for anything but 64 lowercase hex."""
    if not isinstance(text, str) or not _HASH_STR_RE.match(text):
        raise ValueError("a Xet hash is 64 lowercase hex characters")
    return struct.pack("<4Q", *(int(text[i : i + 16], 16) for i in range(0, 64, 16)))


def is_hash_str(text: object) -> bool:
    """True for the string form of a hash."""
    return isinstance(text, str) and bool(_HASH_STR_RE.match(text))


def _next_cut(nodes: Sequence[Node], start: int) -> int:
    remaining = len(nodes) - start
    if remaining <= 2:
        return len(nodes)
    end = min(_MAX_GROUP, remaining)
    for i in range(2, end):
        (low,) = struct.unpack_from("<Q", nodes[start + i][0], 24)
        if low % 4 == 0:
            return start + i + 1
    return start + end


def _merge(group: Sequence[Node]) -> Node:
    text = "".join(f"{hash_to_str(h)} : {size}\n" for h, size in group)
    return blake3(text.encode(), key=INTERNAL_NODE_KEY).digest(), sum(size for _, size in group)


def merkle_root(nodes: Sequence[Node]) -> bytes:
    """Aggregated hash of ``(hash, size)`` nodes; 32 zero bytes for none."""
    if not nodes:
        return ZERO_KEY
    level = list(nodes)
    while len(level) > 1:
        merged: list[Node] = []
        start = 0
        while start < len(level):
            cut = _next_cut(level, start)
            merged.append(_merge(level[start:cut]))
            start = cut
        level = merged
    return level[0][0]


def xorb_hash(chunks: Sequence[Node]) -> bytes:
    """Hash of a xorb: the Merkle root over its chunks."""
    return merkle_root(chunks)


def file_hash(chunks: Sequence[Node]) -> bytes:
    """Hash of a file from its chunks in order (32 zero bytes for an empty file)."""
    if not chunks:
        return ZERO_KEY
    return blake3(merkle_root(chunks), key=ZERO_KEY).digest()


def verification_hash(chunk_hashes: Sequence[bytes]) -> bytes:
    """Hash a shard's term must carry for the chunk range it references."""
    return blake3(b"".join(chunk_hashes), key=VERIFICATION_KEY).digest()


def sha256_from_shard(raw: bytes) -> str:
    """The usual SHA-256 hex of a shard's stored SHA-256 (bytes reversed per 8-byte group)."""
    return hash_to_str(raw)
