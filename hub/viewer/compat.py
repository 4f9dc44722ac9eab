"""Will the Hub's Dataset Viewer show these Parquet files? The rules it applies (reference
xet-and-dataset-viewer.md §C2, dataset-viewer ``parquet_utils.py``, ``viewer_utils/rows.py``):

- every file must be a readable Parquet file, and the files of a split must share one schema;
- a page of rows is read under a 300 MB scan limit: a row group over it can only be read with a
  page index (``write_page_index=True``), else ``/rows`` fails with ``TooBigRows``; without a
  page index every page read loads whole row groups (slow, and refused past the limit);
- ``/first-rows`` must fit in 1 MB: cells are cut to 100 bytes first, and a split whose features
  plus 10 cut rows still do not fit fails with ``TooBigContentError``; at most 1,000 columns.

Used by ``ocforge release --dry-run`` over the local build (``publish/viewer_report.py``) and by
the local Hub (``/datasets-server/compatibility``) over a commit's files.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import pyarrow as pa
import pyarrow.parquet as pq

from ..objects import LRUCache
from . import rows

MB = 1_000_000
#: a Parquet file: its path, or a seekable reader (a Xet file read by ranges)
Source = Path | BinaryIO


@dataclass(frozen=True)
class ViewerLimits:
    """The Hub viewer's limits (datasets-server defaults)."""

    max_row_group_bytes: int = 300 * MB  # ROWS_INDEX_MAX_ARROW_DATA_IN_MEMORY
    first_rows_max_bytes: int = rows.FIRST_ROWS_MAX_BYTES
    max_columns: int = 1000  # FIRST_ROWS_COLUMNS_MAX_NUMBER


@dataclass(frozen=True)
class Finding:
    """One thing the viewer would refuse (``error``) or handle badly (``warning``)."""

    level: str
    rule: str
    message: str
    config: str | None = None
    split: str | None = None
    path: str | None = None

    def line(self) -> str:
        where = self.path or "/".join(p for p in (self.config, self.split) if p)
        return (
            f"{self.level}: {where}: {self.message}" if where else f"{self.level}: {self.message}"
        )


@dataclass
class CompatReport:
    """The findings over a release's files; ``ok`` when the viewer would show every split."""

    findings: list[Finding] = field(default_factory=list)
    files: int = 0
    splits: int = 0

    @property
    def ok(self) -> bool:
        return not any(f.level == "error" for f in self.findings)

    def lines(self) -> list[str]:
        return [f.line() for f in self.findings]

    def to_dict(self) -> dict[str, Any]:
        return {
            "compatible": self.ok,
            "files_checked": self.files,
            "splits_checked": self.splits,
            "errors": [asdict(f) for f in self.findings if f.level == "error"],
            "warnings": [asdict(f) for f in self.findings if f.level == "warning"],
        }


def _has_page_index(meta: pq.FileMetaData) -> bool:
    return all(
        meta.row_group(g).column(c).has_offset_index
        for g in range(meta.num_row_groups)
        for c in range(meta.num_columns)
    )


@dataclass
class ParquetFacts:
    """What the rules read of one file: its footer and its first rows. ``meta`` is ``None``
    when the file cannot be read (``error`` says why); ``head`` (the first up to 100 rows) is
    read from ``source`` only when the rules get that far, unless the caller read it already
    (the release's one pass over the build: :mod:`ocforge.publish.file_pass`)."""

    name: str
    meta: pq.FileMetaData | None
    source: Source | None = None
    head: pa.Table | None = None
    error: str = ""


def read_facts(name: str, path: Source) -> ParquetFacts:
    """The footer of one file (its first rows stay unread until needed)."""
    try:
        meta = pq.ParquetFile(path).metadata
        meta.schema.to_arrow_schema()
    except (pa.ArrowException, OSError) as exc:
        return ParquetFacts(name, None, error=str(exc))
    return ParquetFacts(name, meta, source=path)


def file_findings(facts: ParquetFacts, limits: ViewerLimits) -> list[Finding]:
    """The rules of one file's footer: readable, row-group size, page index."""
    name, meta = facts.name, facts.meta
    if meta is None:
        message = f"not a readable Parquet file ({facts.error})"
        return [Finding("error", "readable", message, path=name)]
    found = []
    index = _has_page_index(meta)
    biggest = max(
        (meta.row_group(g).total_byte_size for g in range(meta.num_row_groups)), default=0
    )
    if biggest > limits.max_row_group_bytes:
        size = f"a row group of {biggest / MB:.0f} MB uncompressed"
        limit = f"the viewer's {limits.max_row_group_bytes / MB:.0f} MB scan limit"
        if index:
            message = f"{size}, over {limit}: pages are read through the page index only"
            found.append(Finding("warning", "row-group-size", message, path=name))
        else:
            message = f"{size}, over {limit}, and no page index: /rows fails (TooBigRows)"
            found.append(Finding("error", "row-group-size", message, path=name))
    if not index and meta.num_row_groups:
        message = "no page index (write_page_index=True): each page of rows reads whole row groups"
        found.append(Finding("warning", "page-index", message, path=name))
    return found


def read_head(parquet: pq.ParquetFile) -> pa.Table:
    """The first up to 100 rows of a file, reading only the row groups that hold them: without
    ``row_groups`` the reader reads ahead through the file (0.2-0.5 s for a 100k-row shard
    instead of a few ms)."""
    need, groups, held = rows.FIRST_ROWS_MAX_NUMBER, [], 0
    for g in range(parquet.metadata.num_row_groups):
        if held >= need:
            break
        groups.append(g)
        held += parquet.metadata.row_group(g).num_rows
    for batch in parquet.iter_batches(batch_size=need, row_groups=groups):
        return pa.Table.from_batches([batch])
    return parquet.schema_arrow.empty_table()


def _first_rows(files: Sequence[ParquetFacts]) -> pa.Table | None:
    pieces, need = [], rows.FIRST_ROWS_MAX_NUMBER
    for facts in files:
        head = facts.head if facts.head is not None else read_head(pq.ParquetFile(facts.source))
        if head.num_rows:
            pieces.append(head.slice(0, need))
            need -= pieces[-1].num_rows
        if need <= 0:
            break
    return pa.concat_tables(pieces) if pieces else None


def check_first_rows(
    config: str,
    split: str,
    schema: pa.Schema,
    files: Sequence[ParquetFacts],
    limits: ViewerLimits,
) -> list[Finding]:
    """The ``/first-rows`` rules: columns, and 1 MB after the viewer's truncation."""
    where = {"config": config, "split": split}
    if len(schema) > limits.max_columns:
        message = (
            f"{len(schema)} columns, over the viewer's {limits.max_columns} (TooManyColumnsError)"
        )
        return [Finding("error", "columns", message, **where)]
    surrounding = {"features": rows.features_list(schema), "rows": [], "truncated": False}
    budget = limits.first_rows_max_bytes - rows.json_size({**where, **surrounding})
    table = _first_rows(files)
    if table is None:
        return []
    items = rows.row_items(table, list(range(table.num_rows)))
    full = rows.json_size(items)
    kept = rows.first_rows_items(items, max_bytes=budget)
    size = rows.json_size(kept)
    if size >= budget and len(kept) <= rows.FIRST_ROWS_MIN_NUMBER:
        message = (
            f"the first rows take {size / MB:.1f} MB even with cells cut to "
            f"{rows.MIN_CELL_BYTES} bytes, over the viewer's 1 MB (TooBigContentError)"
        )
        return [Finding("error", "first-rows", message, **where)]
    if any(item["truncated_cells"] for item in kept):
        message = (
            f"the first {len(kept)} rows take {full / MB:.1f} MB, over 1 MB: the viewer's "
            "preview shows them with cells cut"
        )
        return [Finding("warning", "first-rows", message, **where)]
    return []


def check_split_facts(
    config: str, split: str, files: Sequence[ParquetFacts], limits: ViewerLimits | None = None
) -> list[Finding]:
    """Every rule over one split's files, in order."""
    limits = limits or ViewerLimits()
    findings: list[Finding] = []
    schema, first, readable = None, None, True
    for facts in files:
        found = file_findings(facts, limits)
        findings.extend(Finding(**{**asdict(f), "config": config, "split": split}) for f in found)
        if facts.meta is None:
            readable = False
            continue
        file_schema = facts.meta.schema.to_arrow_schema().remove_metadata()
        if schema is None:
            schema, first = file_schema, facts.name
        elif not file_schema.equals(schema):
            message = (
                f"{facts.name} has another schema than {first} (SplitParquetSchemaMismatchError)"
            )
            findings.append(Finding("error", "schema", message, config, split, facts.name))
            readable = False
    blocked = any(f.level == "error" and f.rule == "row-group-size" for f in findings)
    if schema is not None and readable and not blocked:
        findings.extend(check_first_rows(config, split, schema, files, limits))
    return findings


def check_split(
    config: str, split: str, files: Sequence[tuple[str, Source]], limits: ViewerLimits | None = None
) -> list[Finding]:
    """Every rule over one split's files (``(name in the repo, path or reader)`` in order)."""
    return check_split_facts(config, split, [read_facts(n, p) for n, p in files], limits)


def check_facts(
    configs: Mapping[str, Mapping[str, Sequence[ParquetFacts]]],
    limits: ViewerLimits | None = None,
) -> CompatReport:
    """The report over ``{config: {split: [facts, ...]}}``."""
    report = CompatReport()
    for config, splits in configs.items():
        for split, files in splits.items():
            report.findings.extend(check_split_facts(config, split, files, limits))
            report.files += len(files)
            report.splits += 1
    return report


def check_configs(
    configs: Mapping[str, Mapping[str, Sequence[tuple[str, Source]]]],
    limits: ViewerLimits | None = None,
) -> CompatReport:
    """The report over ``{config: {split: [(name, path or reader), ...]}}``."""
    facts = {
        config: {split: [read_facts(n, p) for n, p in files] for split, files in splits.items()}
        for config, splits in configs.items()
    }
    return check_facts(facts, limits)


_REPORTS = LRUCache(64)


def repo_compatibility(ds: Any) -> dict[str, Any]:
    """``/datasets-server/compatibility``: the report over a commit's data files (kept per
    commit, whose files never change: every view of a dataset page shows it)."""
    from .snapshot import data_source

    snapshot = ds.snapshot
    cache_key = (str(ds.store_root), ds.key, snapshot.commit_id)
    cached = _REPORTS.get(cache_key)
    if cached is not None:
        return cached
    if snapshot.config_error is not None:
        finding = Finding("error", "configs", f"the card's configs: {snapshot.config_error}")
        report = CompatReport([finding])
    else:
        configs = {
            config: {
                split: [
                    (p, data_source(ds.store_root, ds.xet, ds.key, ds.repo, snapshot.entries[p]))
                    for p in paths
                ]
                for split, paths in spec.splits.items()
            }
            for config, spec in snapshot.configs.items()
        }
        report = check_configs(configs)
    body = {"dataset": ds.name, "revision": snapshot.commit_id, **report.to_dict()}
    _REPORTS.put(cache_key, body)
    return body
