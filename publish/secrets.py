"""Secret scan: refuse to publish rows or cards that contain token-like strings.

Each Parquet row is encoded as one JSON text (nested messages included) and matched against the
patterns with polars, so a scan is a few vectorised passes per file. A finding names the file,
the row id and the pattern, never the matched text (it may be a live credential).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq

from ocforge.errors import OcforgeError

#: name -> regular expression (Rust regex syntax, also valid for Python's ``re``)
PATTERNS: dict[str, str] = {
    "huggingface-token": r"\bhf_[A-Za-z0-9]{30,}\b",
    "openai-key": r"\bsk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_\-]{32,}",
    "aws-access-key-id": r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b",
    "aws-secret-access-key": r"(?i)aws_?secret_?access_?key\W{0,4}[A-Za-z0-9/+=]{40}",
    "private-key": r"-----BEGIN (?:[A-Z]+ )?PRIVATE KEY-----",
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


class SecretFoundError(OcforgeError):
    """Token-like strings were found in data or cards about to be published."""

    def __init__(self, findings: list[Finding]):
        self.findings = findings
        shown = "\n  ".join(str(f) for f in findings[:20])
        more = f"\n  ... and {len(findings) - 20} more" if len(findings) > 20 else ""
        super().__init__(
            f"secret scan found {len(findings)} token-like string(s); nothing was published:\n  "
            f"{shown}{more}\nRemove them, or allow the pattern in the recipe "
            "(publish.allow_secret_patterns) if the data is meant to contain such strings."
        )


def _active(allow: Iterable[str]) -> dict[str, str]:
    allowed = set(allow)
    unknown = allowed - set(PATTERNS)
    if unknown:
        raise OcforgeError(
            f"unknown secret pattern(s) {', '.join(sorted(unknown))} in allow list: "
            f"expected among {', '.join(PATTERNS)}"
        )
    return {k: v for k, v in PATTERNS.items() if k not in allowed}


def scan_parquet(
    path: Path, label: str, id_column: str, allow: Iterable[str] = (), batch_rows: int = 8192
) -> list[Finding]:
    """Findings in one Parquet file, one per (row, pattern).

    The file is read in batches of ``batch_rows`` so that memory stays bounded whatever the
    shard size.
    """
    patterns = _active(allow)
    if not patterns:
        return []
    out = []
    for batch in pq.ParquetFile(path).iter_batches(batch_size=batch_rows):
        frame = pl.from_arrow(batch)
        assert isinstance(frame, pl.DataFrame)
        hits = frame.select(
            pl.col(id_column).cast(pl.String).alias("_id"),
            pl.struct(pl.all()).struct.json_encode().alias("_text"),
        ).select(
            "_id", *(pl.col("_text").str.contains(rx).alias(name) for name, rx in patterns.items())
        )
        for name in patterns:
            for row_id in hits.filter(pl.col(name)).get_column("_id").to_list():
                out.append(Finding(label, row_id, name))
    # per pattern, then file order: the same data gives the same report
    return sorted(out, key=lambda f: (list(patterns).index(f.pattern),))


def scan_text(text: str, label: str, allow: Iterable[str] = ()) -> list[Finding]:
    """Findings in a text file (card, manifest), by line."""
    out = []
    compiled = {k: re.compile(v) for k, v in _active(allow).items()}
    for lineno, line in enumerate(text.splitlines(), start=1):
        for name, rx in compiled.items():
            if rx.search(line):
                out.append(Finding(label, None, name, lineno))
    return out
