"""Secret scan: refuse to publish rows or cards that contain token-like strings.

Rows are scanned as the decoded cell values a reader of the Parquet file gets back: every string
leaf of every column, with structs flattened and lists (maps included) exploded, each value kept
next to the number of the row it came from. Matching JSON text instead would turn a newline
before a token into the two characters ``\\n``, and the ``n`` would hide the token from a word
boundary. Each batch is one vectorised polars pass per pattern. A finding names the file, the row
id and the pattern, never the matched text (it may be a live credential).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ocforge.errors import OcforgeError, SecretFoundError  # noqa: F401  (raised by callers)

# A token starts at the start of a value or after a character that is not an ASCII letter, digit
# or underscore. Not ``\b``: that is Unicode-aware, so a token written right after (or before) a
# CJK or accented letter would pass unnoticed. Both engines read these classes the same way.
_START = r"(?:^|[^A-Za-z0-9_])"
_END = r"(?:$|[^A-Za-z0-9_])"

#: name -> regular expression (Rust regex syntax, also valid for Python's ``re``)
PATTERNS: dict[str, str] = {
    "huggingface-token": _START + r"hf_[A-Za-z0-9]{30,}" + _END,
    "openai-key": _START + r"sk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_\-]{32,}",
    "aws-access-key-id": _START + r"(?:AKIA|ASIA)[0-9A-Z]{16}" + _END,
    # up to 8 separators: ``key = "...``, ``key:\n    ...``, a JSON ``"key": "...``
    "aws-secret-access-key": r"(?i)aws_?secret_?access_?key\W{0,8}[A-Za-z0-9/+=]{40}",
    "private-key": r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----",
}


@dataclass(frozen=True)
class Finding:
    file: str
    row_id: str | None  # None for text files (cards, manifests): ``line`` is set instead
    pattern: str
    line: int | None = None

    def __str__(self) -> str:
        where = f"row {self.row_id}" if self.row_id is not None else f"line {self.line}"
        return f"{self.file}: {where}: matches pattern {self.pattern}"


def active_patterns(allow: Iterable[str]) -> dict[str, str]:
    """The patterns to scan for: all of :data:`PATTERNS` but the allowed ones."""
    allowed = set(allow)
    unknown = allowed - set(PATTERNS)
    if unknown:
        raise OcforgeError(
            f"unknown secret pattern(s) {', '.join(sorted(unknown))} in allow list: "
            f"expected among {', '.join(PATTERNS)}"
        )
    return {k: v for k, v in PATTERNS.items() if k not in allowed}


def _as_text(array: pa.Array) -> pa.Array:
    """Binary values as text: UTF-8 when valid, else decoded with replacement characters."""
    try:
        return array.cast(pa.large_string())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        # rare (non-UTF-8 bytes): a Python pass keeps every decodable token visible
        return pa.array(
            [None if v is None else v.decode("utf-8", "replace") for v in array.to_pylist()],
            type=pa.large_string(),
        )


def _is_text(t: pa.DataType) -> bool:
    return pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t)


def _is_bytes(t: pa.DataType) -> bool:
    return (
        pa.types.is_binary(t)
        or pa.types.is_large_binary(t)
        or pa.types.is_fixed_size_binary(t)
        or pa.types.is_binary_view(t)
    )


def _is_list(t: pa.DataType) -> bool:
    return (
        pa.types.is_list(t)
        or pa.types.is_large_list(t)
        or pa.types.is_fixed_size_list(t)
        or pa.types.is_list_view(t)
        or pa.types.is_large_list_view(t)
    )


def string_leaves(
    array: pa.Array, rows: pa.Array | None = None
) -> Iterator[tuple[pa.Array | None, pa.Array]]:
    """``(rows, values)`` for every string leaf under ``array``: ``values[i]`` is in row
    ``rows[i]`` of the batch (``rows`` is None while positions still are row numbers)."""
    t = array.type
    if isinstance(t, pa.ExtensionType):
        yield from string_leaves(array.storage, rows)
    elif pa.types.is_dictionary(t):
        yield from string_leaves(array.dictionary_decode(), rows)
    elif _is_text(t):
        yield rows, array
    elif _is_bytes(t):
        yield rows, _as_text(array)
    elif pa.types.is_struct(t):
        # flatten() merges the struct's nulls into its children: no stale values under a null
        for child in array.flatten():
            yield from string_leaves(child, rows)
    elif pa.types.is_map(t):
        entries = pa.list_(pa.struct([t.key_field, t.item_field]))
        yield from string_leaves(array.cast(entries), rows)
    elif _is_list(t):
        parents = pc.list_parent_indices(array)
        values = pc.list_flatten(array)
        yield from string_leaves(values, parents if rows is None else rows.take(parents))
    elif pa.types.is_union(t):
        for i in range(t.num_fields):
            yield from string_leaves(array.field(i), rows)  # a superset: no false negatives


def _cells(batch: pa.RecordBatch) -> pl.DataFrame:
    """One row per string value of ``batch``: ``_row`` (its row number) and ``_text``."""
    parts = []
    for column in batch.columns:
        for rows, values in string_leaves(column):
            if len(values) == 0:
                continue
            if rows is None:
                rows = pa.array(range(len(values)), type=pa.int64())
            parts.append(
                pl.DataFrame(
                    [
                        pl.Series("_row", rows.cast(pa.int64())),
                        pl.Series("_text", values.cast(pa.large_string())),
                    ]
                )
            )
    if not parts:
        return pl.DataFrame(schema={"_row": pl.Int64, "_text": pl.String})
    return pl.concat(parts, rechunk=False)


def _hits(cells: pl.DataFrame, patterns: dict[str, str]) -> dict[str, list[int]]:
    """Row numbers (ascending) that hold a match, per pattern."""
    flags = cells.select(
        "_row",
        *(pl.col("_text").str.contains(rx).fill_null(False).alias(n) for n, rx in patterns.items()),
    )
    return {
        name: sorted(flags.filter(pl.col(name)).get_column("_row").unique().to_list())
        for name in patterns
    }


def _row_ids(batch: pa.RecordBatch, id_column: str, patterns: dict[str, str]) -> list[str]:
    """The id of each row, or ``#N (row number)`` where the id itself looks like a token."""
    ids = pl.DataFrame([pl.Series("_id", batch.column(id_column)).cast(pl.String)])
    leaky = pl.any_horizontal(*(pl.col("_id").str.contains(rx) for rx in patterns.values()))
    flagged = ids.select("_id", leaky.fill_null(False).alias("_leaky"))
    return [
        f"#{i} (its id matches a pattern)" if bad else str(v)
        for i, (v, bad) in enumerate(flagged.iter_rows())
    ]


def scan_batch(
    batch: pa.RecordBatch, label: str, id_column: str, patterns: dict[str, str]
) -> list[Finding]:
    """Findings in one batch of rows of the file ``label``, one per (row, pattern), by pattern
    and then row; ``patterns`` as :func:`active_patterns` gives them."""
    hits = _hits(_cells(batch), patterns)
    if not any(hits.values()):
        return []
    ids = _row_ids(batch, id_column, patterns)
    return [Finding(label, ids[r], name) for name, rows in hits.items() for r in rows]


def in_report_order(findings: list[Finding], patterns: dict[str, str]) -> list[Finding]:
    """One file's findings per pattern, then in file order: the same data gives the same
    report."""
    order = list(patterns)
    return sorted(findings, key=lambda f: order.index(f.pattern))


def scan_parquet(
    path: Path, label: str, id_column: str, allow: Iterable[str] = (), batch_rows: int = 8192
) -> list[Finding]:
    """Findings in one Parquet file, one per (row, pattern).

    The file is read in batches of ``batch_rows`` so that memory stays bounded whatever the
    shard size. A release scans its files in :mod:`ocforge.publish.file_pass` instead, in the
    one read that also feeds the card statistics and the changelog.
    """
    patterns = active_patterns(allow)
    if not patterns:
        return []
    out: list[Finding] = []
    for batch in pq.ParquetFile(path).iter_batches(batch_size=batch_rows):
        out += scan_batch(batch, label, id_column, patterns)
    return in_report_order(out, patterns)


def scan_text(text: str, label: str, allow: Iterable[str] = ()) -> list[Finding]:
    """Findings in a text file (card, manifest), by line."""
    out = []
    compiled = {k: re.compile(v) for k, v in active_patterns(allow).items()}
    for lineno, line in enumerate(text.splitlines(), start=1):
        for name, rx in compiled.items():
            if rx.search(line):
                out.append(Finding(label, None, name, lineno))
    return out
