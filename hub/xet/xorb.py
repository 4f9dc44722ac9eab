"""Xorbs: parse and verify an uploaded xorb, index its chunks, decompress chunk ranges.

A xorb is a sequence of ``[8-byte header][payload]`` records (reference §A5). Header: ``u8``
version (0), ``u24le`` compressed length, ``u8`` scheme, ``u24le`` uncompressed length. Schemes:
0 none, 1 LZ4 frame, 2 byte-grouping by 4 then LZ4 frame. Clients send no footer. The server
decompresses and hashes every chunk and recomputes the xorb hash; the body is stored as received
(fetch URLs serve exactly those bytes) next to a chunk index.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass

import lz4.frame

from .hashing import HASH_LEN, chunk_hash, hash_to_str, xorb_hash

HEADER = struct.Struct("<B3sB3s")
HEADER_LEN = HEADER.size
MAX_CHUNK_RAW = 128 * 1024
MAX_CHUNK_COMPRESSED = 256 * 1024
MAX_CHUNKS = 8192
# hf_xet caps a xorb's *chunk data* at 64 MiB; the serialized body adds a header per chunk and
# may end with one chunk past the cap
MAX_XORB_BYTES = 64 * 1024 * 1024 + MAX_CHUNKS * HEADER_LEN + MAX_CHUNK_COMPRESSED
SCHEMES = {0: "none", 1: "lz4", 2: "bg4-lz4"}

_INDEX_MAGIC = b"OCXIDX1\0"
_INDEX_ENTRY = struct.Struct(f"<II{HASH_LEN}s")


class XorbFormatError(ValueError):
    """An uploaded xorb is malformed or does not match its hash (the message says where)."""


@dataclass(frozen=True)
class XorbIndex:
    """Where each chunk of a stored xorb starts, its uncompressed size and its hash.

    ``offsets`` has one more element than ``sizes``: the end of the last record.
    """

    offsets: tuple[int, ...]
    sizes: tuple[int, ...]
    hashes: tuple[bytes, ...]

    @property
    def n_chunks(self) -> int:
        return len(self.sizes)

    @property
    def stored_bytes(self) -> int:
        return self.offsets[-1]

    def to_bytes(self) -> bytes:
        parts = [_INDEX_MAGIC, struct.pack("<II", self.n_chunks, self.offsets[-1])]
        parts.extend(
            _INDEX_ENTRY.pack(o, s, h)
            for o, s, h in zip(self.offsets, self.sizes, self.hashes, strict=False)
        )
        return b"".join(parts)

    @classmethod
    def from_bytes(cls, data: bytes) -> XorbIndex:
        if not data.startswith(_INDEX_MAGIC):
            raise XorbFormatError("stored xorb index is corrupt")
        n, end = struct.unpack_from("<II", data, len(_INDEX_MAGIC))
        base = len(_INDEX_MAGIC) + 8
        entries = [_INDEX_ENTRY.unpack_from(data, base + i * _INDEX_ENTRY.size) for i in range(n)]
        return cls(
            tuple(e[0] for e in entries) + (end,),
            tuple(e[1] for e in entries),
            tuple(e[2] for e in entries),
        )


def _u24(raw: bytes) -> int:
    return int.from_bytes(raw, "little")


def ungroup_bg4(data: bytes) -> bytes:
    """Undo the byte grouping of scheme 2 (plane k holds bytes k, k+4, ...)."""
    n = len(data)
    out = bytearray(n)
    pos = 0
    for k in range(4):
        length = n // 4 + (1 if k < n % 4 else 0)
        out[k::4] = data[pos : pos + length]
        pos += length
    return bytes(out)


def decompress_payload(
    scheme: int, payload: bytes | memoryview, raw_len: int
) -> bytes | memoryview:
    """Uncompressed bytes of one chunk record's payload."""
    if scheme == 0:
        data = payload
    elif scheme in (1, 2):
        try:
            data = lz4.frame.decompress(payload)
        except RuntimeError as exc:
            raise XorbFormatError(f"LZ4 data does not decompress ({exc})") from None
        if scheme == 2:
            data = ungroup_bg4(data)
    else:
        raise XorbFormatError(f"unknown compression scheme {scheme}")
    if len(data) != raw_len:
        raise XorbFormatError(f"decompressed to {len(data)} bytes, header says {raw_len}")
    return data


def iter_records(
    data: bytes | memoryview, start: int = 0
) -> Iterator[tuple[int, int, bytes | memoryview]]:
    """``(offset, raw_len, uncompressed bytes)`` of each record from ``start`` to the end."""
    view = memoryview(data)
    pos = start
    while pos < len(view):
        if len(view) - pos < HEADER_LEN:
            raise XorbFormatError(f"truncated chunk header at byte {pos}")
        version, comp_raw, scheme, raw_raw = HEADER.unpack_from(view, pos)
        comp_len, raw_len = _u24(comp_raw), _u24(raw_raw)
        if version != 0:
            raise XorbFormatError(f"chunk at byte {pos}: header version {version}, expected 0")
        if raw_len > MAX_CHUNK_RAW or comp_len > MAX_CHUNK_COMPRESSED:
            raise XorbFormatError(f"chunk at byte {pos} exceeds the chunk size limits")
        body_end = pos + HEADER_LEN + comp_len
        if body_end > len(view):
            raise XorbFormatError(f"chunk at byte {pos} runs past the end of the xorb")
        try:
            # a view, not a copy: stored (scheme 0) chunks are hashed in place
            raw = decompress_payload(scheme, view[pos + HEADER_LEN : body_end], raw_len)
        except XorbFormatError as exc:
            raise XorbFormatError(f"chunk at byte {pos}: {exc}") from None
        yield pos, raw_len, raw
        pos = body_end


def verify_xorb(data: bytes, expected_hash: str) -> XorbIndex:
    """Parse, decompress and hash every chunk; the index if the xorb hash is ``expected_hash``."""
    if len(data) > MAX_XORB_BYTES:
        raise XorbFormatError(f"xorb of {len(data)} bytes exceeds {MAX_XORB_BYTES}")
    offsets: list[int] = []
    sizes: list[int] = []
    hashes: list[bytes] = []
    for offset, raw_len, raw in iter_records(data):
        if len(offsets) == MAX_CHUNKS:
            raise XorbFormatError(f"xorb has more than {MAX_CHUNKS} chunks")
        offsets.append(offset)
        sizes.append(raw_len)
        hashes.append(chunk_hash(raw))
    if not offsets:
        raise XorbFormatError("xorb has no chunks")
    actual = hash_to_str(xorb_hash(list(zip(hashes, sizes, strict=True))))
    if actual != expected_hash:
        raise XorbFormatError(f"xorb content hashes to {actual}, not {expected_hash}")
    return XorbIndex((*offsets, len(data)), tuple(sizes), tuple(hashes))
