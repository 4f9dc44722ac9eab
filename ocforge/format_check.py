"""Does a local input file hold what its format says? Checked before it is read (by
``validate``, ``build`` and ``synth``), so that a JSONL file declared Parquet, a JSON array named
``.jsonl`` or a gzip file is one clear error naming the file, the format and what the file starts
with, instead of a reader's traceback or every row quarantined.
"""

from __future__ import annotations

import codecs
import json
from pathlib import Path

from ocforge.input_formats import read_lines

_MAGIC = {
    b"PAR1": "a Parquet file",
    b"\x1f\x8b": "gzip-compressed data (decompress it first)",
    b"\x28\xb5\x2f\xfd": "zstd-compressed data (decompress it first)",
    b"PK\x03\x04": "a zip archive (extract it first)",
}


def _found_text(char: str) -> str:
    if char == "{":
        return "it starts like JSON Lines, with '{'"
    if char == "[":
        return "it starts like one JSON array, with '['"
    if char.isascii() and char.isprintable():
        return f"it starts with {char!r}"
    return f"it starts with the byte 0x{ord(char):02x}, not JSON text"


def _sniff(path: Path) -> tuple[str | None, str]:
    """``(magic description or None, first non-space character or '')``."""
    with path.open("rb") as fh:
        head = fh.read(8)
        for magic, what in _MAGIC.items():
            if head.startswith(magic):
                return what, ""
        fh.seek(3 if head.startswith(codecs.BOM_UTF8) else 0)
        while block := fh.read(1 << 16):
            stripped = block.lstrip()
            if stripped:
                return None, chr(stripped[0])
    return None, ""


def format_problem(path: Path, fmt: str, how: str) -> str | None:
    """Why ``path`` cannot be read as ``fmt`` (``how``: "declared format parquet" or "format
    jsonl (from the .jsonl suffix)"), or None. Reads the first bytes (a Parquet file's footer)."""
    magic, first = _sniff(path)
    prefix = f"{path}: {how}, but"
    if fmt == "parquet":
        if magic != "a Parquet file":
            found = magic or (
                _found_text(first) + " (not a Parquet file)" if first else "the file is empty"
            )
            return f"{prefix} {found}"
        import pyarrow as pa
        import pyarrow.parquet as pq

        try:
            pq.ParquetFile(path).metadata  # noqa: B018  (reading the footer is the check)
        except (pa.ArrowException, OSError) as exc:  # ArrowInvalid, or OSError from thrift
            return f"{prefix} its Parquet footer cannot be read ({exc}); is the file cut short?"
        return None
    if magic is not None:
        return f"{prefix} the file is {magic}" + (
            " (use 'format: parquet' or name it .parquet)" if magic == "a Parquet file" else ""
        )
    if fmt == "json" and first not in ("", "["):
        hint = " (use 'format: jsonl' or rename it to .jsonl)" if first == "{" else ""
        return f"{prefix} {_found_text(first)} (expected one JSON array of objects){hint}"
    if fmt == "jsonl" and first == "[" and _looks_like_array(path):
        return f"{prefix} {_found_text(first)}: use 'format: json' or rename it to .json"
    return None


def _looks_like_array(path: Path) -> bool:
    """Whether a JSONL file starting with '[' is one JSON array: pretty-printed (its first line
    is ``[`` alone, as Alpaca's ``alpaca_data.json``) or on one line (an array holding objects,
    with no other line). Otherwise it is JSON Lines with a bad first line, which is quarantined
    with a hint like any other line."""
    with path.open("rb") as fh:
        lines = [line for line, _ in zip(_non_blank(read_lines(fh)), range(2), strict=False)]
    first = lines[0]
    text = first.data.strip().removeprefix(codecs.BOM_UTF8).strip()
    if text == b"[" or (text.startswith(b"[{") and first.oversize):
        return True
    if len(lines) > 1 or first.oversize:
        return False
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        return text.startswith(b"[{")  # one array cut short, or malformed inside
    return isinstance(value, list) and any(isinstance(v, dict) for v in value)


def _non_blank(lines):
    return (line for line in lines if not line.blank)
