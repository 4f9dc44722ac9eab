"""One read of a build's Parquet files for everything a release computes from their rows.

Each data file is read once, in batches, and every batch feeds:

- the secret scan (:func:`ocforge.publish.secrets.scan_batch`: every string leaf);
- ``select``: per-row polars expressions whose results are kept (the card statistics pass
  theirs, :func:`ocforge.cards.statistics.stat_columns`: a few narrow columns, never the
  messages or profiles);
- the footer and the first 100 rows, for the Hub viewer's rules
  (:func:`ocforge.publish.viewer_report.viewer_compatibility`);
- the row keys of the changelog (:func:`ocforge.publish.diff.row_keys`: id and row hash), only
  for the files whose sha256 is in ``key_sha256``, the ones the diff against the latest release
  will read (:func:`ocforge.publish.diff.keyed_files`): hashing every column's JSON form makes
  the pass about 27% slower (benchmarks/release/FILE_PASS.md), so a first release or an
  unchanged split does not pay for it.

Memory is what the scan alone needed, a batch of every column per thread at a time, plus the
selected columns and the keys; no file is held whole.

Not here, on purpose: verification (:mod:`ocforge.publish.verify`) loads every config back from
the Hub with ``datasets.load_dataset`` in a child process at the new commit. It must stay a
separate read: it checks what a consumer gets from the Hub, not what this process has read.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Collection, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from ocforge.manifest import FileEntry, ReleaseManifest
from ocforge.publish.diff import KeyedFile, row_keys
from ocforge.publish.secrets import Finding, active_patterns, in_report_order, scan_batch

#: rows kept of each file's start: what the Hub viewer's ``/first-rows`` shows
HEAD_ROWS = 100
#: (config, column names of its files) -> the per-row expressions to keep of each batch
Select = Callable[[str, Sequence[str]], Sequence[pl.Expr]]


@dataclass
class FileRead:
    """What the pass got from one file."""

    config: str
    split: str
    entry: FileEntry
    schema: pa.Schema  # the file's Arrow schema without its metadata
    findings: list[Finding] = field(default_factory=list)
    selected: pl.DataFrame | None = None  # ``select``'s columns for every row (None: not asked)
    keys: pl.DataFrame | None = None  # row keys (None: not asked)
    metadata: pq.FileMetaData | None = None  # the footer, for the Hub viewer's rules
    head: pa.Table | None = None  # the first up to ``HEAD_ROWS`` rows, every column


@dataclass
class BuildRead:
    """What the pass got from every data file of a build, in the manifest's order."""

    files: list[FileRead]

    @property
    def findings(self) -> list[Finding]:
        return [f for read in self.files for f in read.findings]

    def schemas(self) -> dict[str, pa.Schema]:
        """Each config's schema, as its first file has it."""
        out: dict[str, pa.Schema] = {}
        for read in self.files:
            out.setdefault(read.config, read.schema)
        return out

    def selected(self, config: str) -> pl.DataFrame:
        """``select``'s columns of every row of ``config`` and a ``split`` column, in split and
        file order."""
        frames = [
            read.selected.with_columns(pl.lit(read.split).alias("split"))
            for read in self.files
            if read.config == config and read.selected is not None
        ]
        return pl.concat(frames, how="vertical_relaxed") if frames else pl.DataFrame()

    def keyed(self) -> dict[str, KeyedFile]:
        """sha256 -> row keys of every file that was keyed."""
        return {
            read.entry.sha256: KeyedFile(read.schema.names[0], read.keys)
            for read in self.files
            if read.keys is not None
        }


def _empty(schema: pa.Schema) -> pa.RecordBatch:
    return pa.RecordBatch.from_arrays([pa.array([], type=f.type) for f in schema], schema=schema)


def _read_file(
    root: Path,
    read: FileRead,
    patterns: dict[str, str],
    select: Select | None,
    keyed: bool,
    batch_rows: int,
) -> FileRead:
    parquet = pq.ParquetFile(root / read.entry.path)
    read.metadata = parquet.metadata
    schema = parquet.schema_arrow
    read.schema = schema.remove_metadata()
    id_column = schema.names[0]
    exprs = list(select(read.config, schema.names)) if select else None
    roots = {c for e in exprs or () for c in e.meta.root_names()}
    inputs = [c for c in schema.names if c in roots]
    selected, keys, head, held = [], [], [], 0
    batches = parquet.iter_batches(batch_size=batch_rows)
    for batch in batches if parquet.metadata.num_rows else (_empty(schema),):
        if held < HEAD_ROWS:
            head.append(batch.slice(0, HEAD_ROWS - held))
            held += head[-1].num_rows
        if patterns:
            read.findings += scan_batch(batch, read.entry.path, id_column, patterns)
        whole = pl.from_arrow(batch) if keyed else None
        if whole is not None:
            keys.append(row_keys(whole, id_column))
        if exprs is not None:
            # only the columns the expressions read go to polars, unless the keys took all
            part = (
                whole.select(inputs) if whole is not None else pl.from_arrow(batch.select(inputs))
            )
            selected.append(part.select(exprs))
    read.findings = in_report_order(read.findings, patterns)
    read.selected = pl.concat(selected) if exprs is not None else None
    read.keys = pl.concat(keys) if keyed else None
    read.head = pa.Table.from_batches(head, schema=schema)
    return read


def read_build_files(
    root: Path,
    manifest: ReleaseManifest,
    allow: Collection[str] = (),
    *,
    select: Select | None = None,
    key_sha256: Collection[str] = (),
    batch_rows: int = 8192,
) -> BuildRead:
    """Read every data file of the build in ``root`` once (see the module's docstring).

    ``allow``: secret-scan patterns not to look for. Findings are per file by pattern, then in
    row order, the files in the manifest's order (what :func:`~ocforge.publish.secrets.
    scan_parquet` of each file gives). The caller decides what a finding stops.
    """
    patterns = active_patterns(allow)
    keyed = set(key_sha256)
    reads = [
        FileRead(config, split, entry, pa.schema([]))
        for config, cfg in manifest.configs.items()
        for split, info in cfg.splits.items()
        for entry in info.files
    ]

    def one(read: FileRead) -> FileRead:
        return _read_file(root, read, patterns, select, read.entry.sha256 in keyed, batch_rows)

    # Parquet decoding and polars release the GIL: files side by side, results in file order
    with ThreadPoolExecutor(max_workers=min(2, os.cpu_count() or 1)) as pool:
        return BuildRead(list(pool.map(one, reads)))
