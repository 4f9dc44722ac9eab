"""Shards as clients upload them: parse the file-info section and check it against stored xorbs.

Layout (reference §A6, little-endian, 48-byte records): a 48-byte header (32-byte tag,
``u64`` version 2, ``u64`` footer size, 0 on upload); the file-info section, per file a header
(file hash, ``u32`` flags, ``u32`` term count, 8 reserved), its terms (xorb hash, ``u32``
flags, ``u32`` unpacked bytes, ``u32`` first chunk, ``u32`` end chunk, exclusive), then, when
flag bit 31 is set, one verification record per term (range hash + 16 reserved) and, when bit
30 is set, the metadata extension (SHA-256 + 16 reserved); a bookend (32 x 0xFF, 16 x 0) ends
the section. The CAS-info section that follows is only needed for global dedup and is not read.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass

from .hashing import file_hash, hash_to_str, sha256_from_shard, verification_hash
from .xorb import XorbIndex

SHARD_TAG = b"HFRepoMetaData\0" + bytes(
    [85, 105, 103, 69, 106, 123, 129, 87, 131, 165, 189, 217, 92, 205, 209, 74, 169]
)
SHARD_VERSION = 2
RECORD = 48
BOOKEND_HASH = b"\xff" * 32
FLAG_VERIFICATION = 1 << 31
FLAG_METADATA_EXT = 1 << 30
MAX_SHARD_BYTES = 64 * 1024 * 1024
_HEADER = struct.Struct("<32sQQ")
_FILE_HEADER = struct.Struct("<32sII8x")
_TERM = struct.Struct("<32sIIII")


class ShardFormatError(ValueError):
    """A shard is malformed or disagrees with the stored xorbs (the message says where)."""


@dataclass(frozen=True)
class Term:
    """Chunks ``[start, end)`` of one xorb, ``unpacked`` bytes once decompressed."""

    xorb: str
    start: int
    end: int
    unpacked: int


@dataclass(frozen=True)
class ShardFile:
    """One file of a shard: its Xet hash, terms, verification hashes and SHA-256 (if given)."""

    xet_hash: str
    terms: tuple[Term, ...]
    verification: tuple[bytes, ...] | None
    sha256: str | None

    @property
    def size(self) -> int:
        return sum(t.unpacked for t in self.terms)


def _record(data: bytes, pos: int, what: str) -> int:
    if pos + RECORD > len(data):
        raise ShardFormatError(f"shard ends inside {what} at byte {pos}")
    return pos


def _parse_file(data: bytes, pos: int, index: int) -> tuple[ShardFile, int]:
    raw_hash, flags, n_terms, = _FILE_HEADER.unpack_from(data, pos)  # fmt: skip
    where = f"file {index} ({hash_to_str(raw_hash)})"
    pos += RECORD
    if pos + n_terms * RECORD > len(data):
        raise ShardFormatError(f"{where}: {n_terms} terms run past the end of the shard")
    terms = []
    for _ in range(n_terms):
        xorb, _flags, unpacked, start, end = _TERM.unpack_from(data, pos)
        terms.append(Term(hash_to_str(xorb), start, end, unpacked))
        pos += RECORD
    verification: tuple[bytes, ...] | None = None
    if flags & FLAG_VERIFICATION:
        if pos + n_terms * RECORD > len(data):
            raise ShardFormatError(f"{where}: verification entries run past the end")
        verification = tuple(data[pos + i * RECORD : pos + i * RECORD + 32] for i in range(n_terms))
        pos += n_terms * RECORD
    sha256 = None
    if flags & FLAG_METADATA_EXT:
        _record(data, pos, f"{where} metadata")
        sha256 = sha256_from_shard(data[pos : pos + 32])
        pos += RECORD
    return ShardFile(hash_to_str(raw_hash), tuple(terms), verification, sha256), pos


def parse_shard(data: bytes) -> list[ShardFile]:
    """The files of an uploaded shard (header and file-info section checked)."""
    if len(data) > MAX_SHARD_BYTES:
        raise ShardFormatError(f"shard of {len(data)} bytes exceeds {MAX_SHARD_BYTES}")
    if len(data) < _HEADER.size:
        raise ShardFormatError("shard shorter than its header")
    tag, version, footer_size = _HEADER.unpack_from(data, 0)
    if tag != SHARD_TAG:
        raise ShardFormatError("not a Xet shard (wrong header tag)")
    if version != SHARD_VERSION:
        raise ShardFormatError(f"shard header version {version}, expected {SHARD_VERSION}")
    if footer_size != 0:
        raise ShardFormatError("an uploaded shard must have footer_size 0 (no footer)")
    pos = _HEADER.size
    files: list[ShardFile] = []
    while True:
        _record(data, pos, "the file-info section")
        if data[pos : pos + 32] == BOOKEND_HASH:
            return files
        entry, pos = _parse_file(data, pos, len(files))
        files.append(entry)


def check_file(entry: ShardFile, load_index: Callable[[str], XorbIndex | None]) -> None:
    """Check every term against its stored xorb, the verification hashes and the file hash."""
    where = f"file {entry.xet_hash}"
    if entry.verification is None and entry.terms:
        raise ShardFormatError(f"{where}: verification entries are required on upload")
    if entry.sha256 is None:
        raise ShardFormatError(f"{where}: the SHA-256 metadata extension is required")
    nodes: list[tuple[bytes, int]] = []
    for i, term in enumerate(entry.terms):
        index = load_index(term.xorb)
        if index is None:
            raise ShardFormatError(f"{where} term {i}: xorb {term.xorb} was not uploaded")
        if not 0 <= term.start < term.end <= index.n_chunks:
            raise ShardFormatError(
                f"{where} term {i}: chunks {term.start}-{term.end} outside xorb {term.xorb} "
                f"({index.n_chunks} chunks)"
            )
        sizes = index.sizes[term.start : term.end]
        hashes = index.hashes[term.start : term.end]
        if sum(sizes) != term.unpacked:
            raise ShardFormatError(
                f"{where} term {i}: unpacked_bytes {term.unpacked}, chunks hold {sum(sizes)}"
            )
        assert entry.verification is not None
        if verification_hash(hashes) != entry.verification[i]:
            raise ShardFormatError(f"{where} term {i}: verification hash does not match")
        nodes.extend(zip(hashes, sizes, strict=True))
    actual = hash_to_str(file_hash(nodes))
    if actual != entry.xet_hash:
        raise ShardFormatError(f"{where}: its terms hash to {actual}")
