"""Row-level differences between two releases (by id), the changelog text, and card diffs."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow.parquet as pq

#: ids named per config/split and kind of change in changelogs and diff output
NAMED_IDS = 10


@dataclass
class SplitDiff:
    config: str
    split: str
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)  # same id, other content
    rows_before: int = 0
    rows_after: int = 0

    @property
    def empty(self) -> bool:
        return not (self.added or self.removed or self.changed)


@dataclass
class ReleaseDiff:
    old: str | None  # version label
    new: str
    splits: list[SplitDiff]
    schema_changed: list[str] = field(default_factory=list)
    configs_added: list[str] = field(default_factory=list)
    configs_removed: list[str] = field(default_factory=list)
    card_diff: str = ""

    @property
    def rows_changed(self) -> bool:
        return any(not s.empty for s in self.splits)


def _keyed(files: Sequence[Path], id_column: str) -> pl.DataFrame:
    if not files:
        return pl.DataFrame(schema={"id": pl.String, "h": pl.UInt64})
    frame = pl.read_parquet(list(files))
    return frame.select(
        pl.col(id_column).cast(pl.String).alias("id"),
        pl.struct(pl.all()).struct.json_encode().hash(seed=0).alias("h"),
    )


def split_diff(
    config: str, split: str, old_files: Sequence[Path], new_files: Sequence[Path], id_column: str
) -> SplitDiff:
    """Ids added, removed and changed between two sets of Parquet files of one split."""
    old, new = _keyed(old_files, id_column), _keyed(new_files, id_column)
    joined = old.join(new, on="id", how="full", suffix="_new", coalesce=True)
    added = joined.filter(pl.col("h").is_null()).get_column("id").sort().to_list()
    removed = joined.filter(pl.col("h_new").is_null()).get_column("id").sort().to_list()
    changed = (
        joined.filter(pl.col("h").is_not_null() & pl.col("h_new").is_not_null())
        .filter(pl.col("h") != pl.col("h_new"))
        .get_column("id")
        .sort()
        .to_list()
    )
    return SplitDiff(config, split, added, removed, changed, old.height, new.height)


def card_diff(
    old: str | None, new: str, old_label: str = "previous", new_label: str = "new"
) -> str:
    """Unified diff of two README texts ('' when identical)."""
    return "".join(
        difflib.unified_diff(
            (old or "").splitlines(keepends=True),
            new.splitlines(keepends=True),
            fromfile=f"README.md ({old_label})",
            tofile=f"README.md ({new_label})",
        )
    )


def _ids(ids: list[str]) -> str:
    shown = ", ".join(f"`{i}`" for i in ids[:NAMED_IDS])
    return shown + (f" and {len(ids) - NAMED_IDS} more" if len(ids) > NAMED_IDS else "")


def changelog_markdown(diff: ReleaseDiff, notes: Mapping[str, str] | None = None) -> str:
    """The card's changelog entry for ``diff.new`` against ``diff.old``."""
    if diff.old is None:
        return f"### {diff.new}\n\nFirst release."
    lines = [f"### {diff.new} (from {diff.old})", ""]
    for cfg in diff.configs_added:
        lines.append(f"- config `{cfg}` added")
    for cfg in diff.configs_removed:
        lines.append(f"- config `{cfg}` removed")
    for cfg in diff.schema_changed:
        lines.append(f"- config `{cfg}`: schema changed")
    for s in diff.splits:
        if s.empty:
            continue
        parts = []
        if s.added:
            parts.append(f"{len(s.added)} added ({_ids(s.added)})")
        if s.removed:
            parts.append(f"{len(s.removed)} removed ({_ids(s.removed)})")
        if s.changed:
            parts.append(f"{len(s.changed)} changed ({_ids(s.changed)})")
        lines.append(
            f"- `{s.config}/{s.split}`: {s.rows_before} → {s.rows_after} rows; " + "; ".join(parts)
        )
    if len(lines) == 2:
        lines.append("- rows unchanged; card updated")
    for key, text in (notes or {}).items():
        lines.append(f"- {key}: {text}")
    return "\n".join(lines)


def _id_column(files: list[Path]) -> str:
    return pq.read_schema(files[0]).names[0] if files else "id"


def diff_manifests(
    old: dict[str, Any] | None,
    new: dict[str, Any],
    old_file: Callable[[dict[str, Any]], Path],
    new_file: Callable[[dict[str, Any]], Path],
    old_label: str | None,
    new_label: str,
) -> ReleaseDiff:
    """Row diff of two ``release.json`` manifests.

    Splits whose files have the same hashes are not read; for the others ``old_file`` and
    ``new_file`` give a local path for a manifest file entry (a download, or a local file with
    the same sha256).
    """
    result = ReleaseDiff(old=old_label, new=new_label, splits=[])
    if old is None:
        return result
    old_cfg, new_cfg = old["configs"], new["configs"]
    result.configs_added = sorted(set(new_cfg) - set(old_cfg))
    result.configs_removed = sorted(set(old_cfg) - set(new_cfg))
    for name in new_cfg:
        if name not in old_cfg:
            continue
        if old_cfg[name]["schema_sha256"] != new_cfg[name]["schema_sha256"]:
            result.schema_changed.append(name)
        for split in sorted(set(old_cfg[name]["splits"]) | set(new_cfg[name]["splits"])):
            o = old_cfg[name]["splits"].get(split, {"files": []})["files"]
            n = new_cfg[name]["splits"].get(split, {"files": []})["files"]
            if [f["sha256"] for f in o] == [f["sha256"] for f in n]:
                rows = new_cfg[name]["splits"][split]["rows"]
                result.splits.append(SplitDiff(name, split, rows_before=rows, rows_after=rows))
                continue
            old_paths = [old_file(f) for f in o]
            new_paths = [new_file(f) for f in n]
            id_col = _id_column(new_paths or old_paths)
            result.splits.append(split_diff(name, split, old_paths, new_paths, id_col))
    return result
