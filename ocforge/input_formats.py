"""Local input files read defensively: JSON Lines, one JSON array, and the declared-format check.

One hostile record must never stop a build or exhaust memory, so every record the decoder
cannot turn into an object comes back with an error ``"reason: detail"`` (the validation step
quarantines it with its file and line). Reason codes besides ``malformed_json``,
``invalid_utf8`` and ``not_an_object``:

- ``too_large``: a JSONL line (bytes, without its newline) or a JSON array element (decoded
  characters) longer than :data:`MAX_RECORD_BYTES` (16 MiB). The record is skipped in blocks,
  never held in memory whole; its ``raw`` keeps the first :data:`PREVIEW_CHARS` characters.
- ``too_deep``: objects and arrays nested more than :data:`MAX_DEPTH` levels. Python's decoder
  recurses (1,000 levels raise RecursionError) and the build's intermediate files are written
  with orjson, which refuses more than 255 levels; real records nest a few levels.
- ``nul_byte``: a raw NUL byte in the record (JSON text never holds one; ``\\u0000`` is fine).

``format: json`` files are one top-level array of objects (Alpaca's ``alpaca_data.json``),
streamed in blocks: each element's "line" is the 1-based line of the file where it starts. A
malformed element is quarantined and the reader goes on after it; elements are delimited by
their brackets and quotes, so that counting them (for the ledger) agrees with reading them.
"""

from __future__ import annotations

import codecs
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO, NamedTuple

from ocforge.errors import InputError

MAX_RECORD_BYTES = 16 << 20
MAX_DEPTH = 64
PREVIEW_CHARS = 1024
_CHUNK = 1 << 20

Row = tuple[int, dict[str, Any] | None, str, str | None]  # line, object, raw text, error


class RawLine(NamedTuple):
    data: bytes  # the line, or its first bytes when ``oversize``
    size: int  # bytes the line takes in the file, newline included
    blank: bool
    oversize: bool


def read_lines(fh: BinaryIO, limit: int = MAX_RECORD_BYTES) -> Iterator[RawLine]:
    """Yield the file's lines from the current position, reading at most ``limit`` + 1 bytes of
    any line at once: a longer line is skipped in blocks and reported as ``oversize``."""
    while True:
        line = fh.readline(limit + 1)
        if not line:
            return
        if len(line) <= limit or line.endswith(b"\n"):
            yield RawLine(line, len(line), not line.strip(), False)
            continue
        head, size, blank = line[:PREVIEW_CHARS], len(line), not line.strip()
        while not line.endswith(b"\n"):
            line = fh.readline(_CHUNK)
            if not line:
                break
            size += len(line)
            blank = blank and not line.strip()
        yield RawLine(head, size, blank, not blank)


def _too_deep(value: Any, limit: int = MAX_DEPTH) -> bool:
    stack = [(value, 1)]
    while stack:  # iterative: the point is to survive what recursion would not
        item, depth = stack.pop()
        if depth > limit:
            return True
        children = item.values() if isinstance(item, dict) else item
        stack.extend((c, depth + 1) for c in children if isinstance(c, dict | list))
    return False


# a lone surrogate can only come from a \u escape: the text itself was decoded from UTF-8
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_SURROGATE = re.compile("[\ud800-\udfff]")


def _has_lone_surrogate(value: Any) -> bool:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if _SURROGATE.search(item):
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def _to_record(text: str, first_line: int | None) -> tuple[dict[str, Any] | None, str | None]:
    """Decode one record's JSON text; ``first_line`` is the file line where an array element's
    text starts (None for a JSONL line), to say where a decoding error is."""
    nul = text.find("\x00")
    if nul >= 0:
        return (
            None,
            f"nul_byte: a NUL byte at character {nul + 1} of the record (JSON text cannot hold one)",
        )
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        where = f"column {exc.colno}"
        if first_line is not None:  # an array element: say where in the file
            of = " of the element" if exc.lineno == 1 else ""
            where = f"line {first_line + exc.lineno - 1}, {where}{of}"
        return None, f"malformed_json: {exc.msg} ({where})"
    except RecursionError:
        return None, f"too_deep: nested more than {MAX_DEPTH} levels"
    if isinstance(obj, dict | list) and _too_deep(obj):
        return None, f"too_deep: nested more than {MAX_DEPTH} levels"
    if _SURROGATE_ESCAPE.search(text) and _has_lone_surrogate(obj):
        return None, (
            "invalid_unicode: a \\u escape of a lone UTF-16 surrogate (\\ud800-\\udfff without "
            "its pair) is not a character and cannot be stored as UTF-8"
        )
    if not isinstance(obj, dict):
        return None, f"not_an_object: expected a JSON object, got {type(obj).__name__}"
    return obj, None


_ARRAY_HINT = (
    " (a line starting with '[' is a JSON array: if the whole file is one JSON array, use "
    "'format: json' or rename it to .json)"
)


def decode_line(line: RawLine) -> tuple[dict[str, Any] | None, str, str | None]:
    """One JSONL line as ``(object_or_None, raw_text, error)``."""
    if line.oversize:
        preview = line.data.decode("utf-8", errors="replace")
        return (
            None,
            preview,
            (f"too_large: the line has {line.size} bytes, over the limit of {MAX_RECORD_BYTES}"),
        )
    try:
        text = line.data.decode("utf-8").rstrip("\r\n")
    except UnicodeDecodeError as exc:
        text = line.data.decode("utf-8", errors="replace").rstrip("\r\n")
        return None, text, f"invalid_utf8: {exc.reason} at byte {exc.start}"
    obj, error = _to_record(text, None)
    if error is not None and text.lstrip().startswith("["):
        error += _ARRAY_HINT
    return obj, text, error


# --- one JSON array, streamed -------------------------------------------------------------

_STRUCT = re.compile(r'["\[\]{}]')
_STRING_END = re.compile(r'["\\]')
_SCALAR_END = re.compile(r"[,\]\s]")
_NOT_SPACE = re.compile(r"[^ \t\r\n]")
_BAD_BYTE = re.compile("[\udc80-\udcff]")  # undecodable bytes, kept by surrogateescape


class _ArrayReader:
    """Splits a JSON array's text into its top-level elements by brackets and quotes, block by
    block. Invalid UTF-8 is decoded with ``surrogateescape`` so that one bad element does not
    hide the others; it is reported on that element."""

    def __init__(self, fh: BinaryIO):
        self.fh = fh
        self.decoder = codecs.getincrementaldecoder("utf-8-sig")(errors="surrogateescape")
        self.buf, self.eof = "", False
        self.line, self.counted = 1, 0  # line number of buf[counted]

    def _more(self, keep: int) -> bool:
        """Read the next block, dropping ``buf[:keep]``; False at the end of the file."""
        if self.eof:
            return False
        self.line += self.buf.count("\n", self.counted, keep)
        self.buf, self.counted = self.buf[keep:], 0
        data = self.fh.read(_CHUNK)
        self.buf += self.decoder.decode(data, final=not data)
        self.eof = not data
        return True

    def _line_at(self, pos: int) -> int:
        self.line += self.buf.count("\n", self.counted, pos)
        self.counted = pos
        return self.line

    def _skip_space(self, pos: int) -> int:
        """Position of the next non-space character (``len(buf)`` at the end of the file)."""
        while True:
            match = _NOT_SPACE.search(self.buf, pos)
            if match:
                return match.start()
            if not self._more(len(self.buf)):
                return len(self.buf)
            pos = 0

    def _element(self, start: int) -> tuple[str, int, int]:
        """Scan the element at ``buf[start]``: ``(text or preview, size, end)``; the buffer
        may have been refilled, ``end`` indexes the current one (``-1``: the file ended first)."""
        depth, in_string, pos, size, head = 0, False, start, 0, ""
        scalar = self.buf[start] not in '"[{'
        while True:
            end = self._scan_block(pos, scalar, depth, in_string)
            if isinstance(end, int):
                size += end - start
                text = head + self.buf[start:end] if size <= MAX_RECORD_BYTES else head
                return text, size, end
            pos, depth, in_string = end
            if size + pos - start > MAX_RECORD_BYTES:  # over the limit: stop keeping its text
                if not head:
                    head = self.buf[start : start + PREVIEW_CHARS]
                size += pos - start
                keep, start = pos, pos
            else:
                keep = start
            if not self._more(keep):
                size += len(self.buf) - start
                return head or self.buf[start:], size, -1
            pos, start = pos - keep, start - keep

    def _scan_block(self, pos: int, scalar: bool, depth: int, in_string: bool):
        """The element's end in the buffer, or the state to resume from with more text."""
        buf = self.buf
        if scalar:
            match = _SCALAR_END.search(buf, pos)
            return match.start() if match else (len(buf), depth, in_string)
        while True:
            if in_string:
                match = _STRING_END.search(buf, pos)
                if match is None:
                    return len(buf), depth, in_string
                if match.group() == "\\":
                    if match.end() >= len(buf):  # the escaped character is in the next block
                        return match.start(), depth, in_string
                    pos = match.end() + 1
                    continue
                in_string, pos = False, match.end()
                if depth == 0:
                    return pos
                continue
            match = _STRUCT.search(buf, pos)
            if match is None:
                return len(buf), depth, in_string
            char, pos = match.group(), match.end()
            if char == '"':
                in_string = True
            elif char in "[{":
                depth += 1
            else:
                depth -= 1
                if depth <= 0:
                    return pos

    def rows(self, path: Path, decode: bool) -> Iterator[Row]:
        pos = self._skip_space(0)
        if pos >= len(self.buf):
            return  # an empty file holds no records
        if self.buf[pos] != "[":
            raise InputError(
                f"{path}: format json expects one JSON array, but the file does not "
                f"start with '[' (it starts with {self.buf[pos]!r})"
            )
        pos, separated = pos + 1, True
        while True:
            pos = self._skip_space(pos)
            if pos >= len(self.buf):
                return  # a missing final ']' loses nothing: every element was read
            char = self.buf[pos]
            if char == "]":
                yield from self._trailing(pos + 1)
                return
            if char == ",":
                pos, separated = pos + 1, True
                continue
            line = self._line_at(pos)
            text, size, end = self._element(pos)
            yield self._row(line, text, size, end < 0, separated, decode)
            if end < 0:
                return
            pos, separated = end, False

    def _trailing(self, pos: int) -> Iterator[Row]:
        pos = self._skip_space(pos)
        if pos < len(self.buf):
            line = self._line_at(pos)
            preview = self.buf[pos : pos + PREVIEW_CHARS]
            yield (
                line,
                None,
                _printable(preview),
                "malformed_json: data after the array's closing ']'",
            )

    def _row(
        self, line: int, text: str, size: int, cut: bool, separated: bool, decode: bool
    ) -> Row:
        raw, error = _printable(text), None
        if size > MAX_RECORD_BYTES:
            error = f"too_large: the element has {size} characters, over the limit of "
            error += str(MAX_RECORD_BYTES)
        elif cut:
            error = "malformed_json: the element is cut short by the end of the file"
        elif not separated:
            error = "malformed_json: expected ',' before this element"
        elif not decode:
            return line, None, raw, None
        elif bad := _BAD_BYTE.search(text):
            error = (
                f"invalid_utf8: an undecodable byte at character {bad.start() + 1} of the element"
            )
        if error is not None:
            return line, None, raw, error
        obj, error = _to_record(text, line)
        return line, obj, raw, error


def _printable(text: str) -> str:
    return text.encode("utf-8", errors="surrogateescape").decode("utf-8", errors="replace")


def iter_json_array(path: Path, decode: bool = True) -> Iterator[Row]:
    """Yield ``(line, object_or_None, raw_text, error)`` for each element of the file's array.

    With ``decode=False`` elements are only delimited (the error is then set only for what the
    delimiting finds), which is how records are counted.
    """
    with path.open("rb") as fh:
        yield from _ArrayReader(fh).rows(path, decode)
