"""File reconstruction: which chunks of which xorbs hold a byte range, and the bytes themselves.

Used three ways: the CAS reconstruction answers (v1 ``fetch_info``, v2 ``xorbs``), ``resolve``
GETs of clients without Xet (the chunks are decompressed and streamed), and the SHA-256 check of
a shard's files before a commit may reference them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from .store import XetFile, XetStore
from .xorb import XorbIndex, iter_records

READ_BLOCK = 8 * 1024 * 1024


class MissingXorbError(RuntimeError):
    """A file record names a xorb that is not stored (storage damaged outside the server)."""


@dataclass(frozen=True)
class Piece:
    """Chunks ``[start, end)`` of ``xorb``, needed for a byte range of a file."""

    xorb: str
    start: int
    end: int
    unpacked: int
    index: XorbIndex

    @property
    def byte_start(self) -> int:
        return self.index.offsets[self.start]

    @property
    def byte_end(self) -> int:
        """Exclusive end of the pieces' bytes in the stored xorb."""
        return self.index.offsets[self.end]


def plan(store: XetStore, record: XetFile, first: int, last: int) -> tuple[int, list[Piece]]:
    """Pieces covering file bytes ``first..last`` (inclusive) and the offset into the first."""
    pieces: list[Piece] = []
    offset_into_first = 0
    pos = 0  # file position of the current term's first byte
    for term in record.terms:
        term_end = pos + term.unpacked
        if term_end <= first:
            pos = term_end
            continue
        if pos > last:
            break
        index = store.xorb_index(term.xorb)
        if index is None:
            raise MissingXorbError(f"xorb {term.xorb} of file {record.xet_hash} is missing")
        start, end, chunk_pos = term.start, term.end, pos
        # trim chunks wholly before ``first`` and after ``last``
        while start < end - 1 and chunk_pos + index.sizes[start] <= first:
            chunk_pos += index.sizes[start]
            start += 1
        if not pieces:
            offset_into_first = first - chunk_pos
        kept_end, cursor = start, chunk_pos
        while kept_end < end and cursor <= last:
            cursor += index.sizes[kept_end]
            kept_end += 1
        unpacked = sum(index.sizes[start:kept_end])
        pieces.append(Piece(term.xorb, start, kept_end, unpacked, index))
        pos = term_end
    return offset_into_first, pieces


def _piece_bytes(store: XetStore, piece: Piece) -> Iterator[bytes]:
    try:
        with open(store.xorb_path(piece.xorb), "rb") as fh:
            fh.seek(piece.byte_start)
            data = fh.read(piece.byte_end - piece.byte_start)
    except FileNotFoundError:
        raise MissingXorbError(f"xorb {piece.xorb} is missing") from None
    for _, _, raw in iter_records(data):
        yield raw


def iter_file_bytes(store: XetStore, record: XetFile, first: int, last: int) -> Iterator[bytes]:
    """The file's bytes ``first..last`` (inclusive), decompressed chunk by chunk."""
    if record.size == 0 or first > last:
        return
    skip, pieces = plan(store, record, first, last)
    remaining = last - first + 1
    for piece in pieces:
        for raw in _piece_bytes(store, piece):
            if skip:
                if skip >= len(raw):
                    skip -= len(raw)
                    continue
                raw, skip = raw[skip:], 0
            if len(raw) >= remaining:
                yield raw[:remaining]
                return
            remaining -= len(raw)
            yield raw


def sha256_of(store: XetStore, record: XetFile) -> str:
    """SHA-256 of the whole file, rebuilt from its xorbs."""
    digest = hashlib.sha256()
    for raw in iter_file_bytes(store, record, 0, record.size - 1):
        digest.update(raw)
    return digest.hexdigest()


def _fetch_ranges(pieces: list[Piece]) -> dict[str, list[tuple[int, int, XorbIndex]]]:
    """Per xorb, the merged chunk ranges the pieces need (sorted, overlaps joined)."""
    by_xorb: dict[str, list[tuple[int, int, XorbIndex]]] = {}
    for piece in sorted(pieces, key=lambda p: (p.xorb, p.start)):
        ranges = by_xorb.setdefault(piece.xorb, [])
        if ranges and piece.start <= ranges[-1][1]:
            start, end, index = ranges[-1]
            ranges[-1] = (start, max(end, piece.end), index)
        else:
            ranges.append((piece.start, piece.end, piece.index))
    return by_xorb


def reconstruction(
    offset: int, pieces: list[Piece], url_for: Callable[[str], str], version: int
) -> dict[str, object]:
    """The v1 or v2 reconstruction answer for ``plan``'s result."""
    terms = [
        {"hash": p.xorb, "unpacked_length": p.unpacked, "range": {"start": p.start, "end": p.end}}
        for p in pieces
    ]
    fetch: dict[str, list[dict[str, object]]] = {}
    for xorb, ranges in _fetch_ranges(pieces).items():
        url = url_for(xorb)
        entries: list[dict[str, object]] = []
        for start, end, index in ranges:
            chunks = {"start": start, "end": end}
            byte_range = {"start": index.offsets[start], "end": index.offsets[end] - 1}
            if version == 1:
                entries.append({"range": chunks, "url": url, "url_range": byte_range})
            else:  # one range per URL: the client never needs a multipart answer
                entries.append({"url": url, "ranges": [{"chunks": chunks, "bytes": byte_range}]})
        fetch[xorb] = entries
    key = "fetch_info" if version == 1 else "xorbs"
    return {"offset_into_first_range": offset, "terms": terms, key: fetch}
