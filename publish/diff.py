"""Row-level differences between two releases (by id), the changelog text, and card diffs."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq

from ocforge.manifest import FileEntry, ReleaseManifest, SplitEntry

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


def row_keys(frame: pl.DataFrame, id_column: str) -> pl.DataFrame:
    """``(id, h)`` of each row of ``frame``: its id as text and a hash of the whole row's JSON
    form, so that a row kept as it was has the same ``h`` in both releases."""
    return frame.select(
        pl.col(id_column).cast(pl.String).alias("id"),
        pl.struct(pl.all()).struct.json_encode().hash(seed=0).alias("h"),
    )


def read_keys(files: Sequence[Path], id_column: str) -> pl.DataFrame:
    """:func:`row_keys` of every row of ``files``, read with polars in one go."""
    if not files:
        return pl.DataFrame(schema={"id": pl.String, "h": pl.UInt64})
    return row_keys(pl.read_parquet(list(files)), id_column)


@dataclass(frozen=True)
class KeyedFile:
    """The :func:`row_keys` of one file, computed by whoever read it already (the release's
    file pass), and the id column they are keyed by."""

    id_column: str
    keys: pl.DataFrame


def split_diff(config: str, split: str, old: pl.DataFrame, new: pl.DataFrame) -> SplitDiff:
    """Ids added, removed and changed between the :func:`row_keys` of two versions of one
    split."""
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


def _split_files(splits: dict[str, SplitEntry], split: str) -> list[FileEntry]:
    return splits[split].files if split in splits else []


def _compared(
    old: ReleaseManifest, new: ReleaseManifest
) -> Iterator[tuple[str, str, list[FileEntry], list[FileEntry]]]:
    """``(config, split, old files, new files)`` of every split of a config in both manifests."""
    for name, new_cfg in new.configs.items():
        if name not in old.configs:
            continue
        old_splits, new_splits = old.configs[name].splits, new_cfg.splits
        for split in sorted(set(old_splits) | set(new_splits)):
            yield name, split, _split_files(old_splits, split), _split_files(new_splits, split)


def _same_files(o: list[FileEntry], n: list[FileEntry]) -> bool:
    return [f.sha256 for f in o] == [f.sha256 for f in n]


def keyed_files(old: ReleaseManifest | None, new: ReleaseManifest) -> set[str]:
    """The sha256 of every file, old or new, whose rows :func:`diff_manifests` keys: the files
    of the splits whose files changed (a split with the same files is not read)."""
    if old is None:
        return set()
    return {
        f.sha256 for _c, _s, o, n in _compared(old, new) if not _same_files(o, n) for f in (*o, *n)
    }


class _Side:
    """One version's files: keys the caller holds already (by sha256), the others read."""

    def __init__(self, path_of: Callable[[FileEntry], Path], keyed: Mapping[str, KeyedFile]):
        self.path_of, self.keyed = path_of, keyed

    def id_column(self, f: FileEntry) -> str:
        held = self.keyed.get(f.sha256)
        return held.id_column if held else pq.read_schema(self.path_of(f)).names[0]

    def keys(self, files: list[FileEntry], id_column: str) -> pl.DataFrame:
        def held(f: FileEntry) -> KeyedFile | None:
            k = self.keyed.get(f.sha256)
            return k if k is not None and k.id_column == id_column else None

        read = read_keys([self.path_of(f) for f in files if held(f) is None], id_column)
        frames = [k.keys for f in files if (k := held(f)) is not None]
        return pl.concat([*frames, read]) if frames else read


def diff_manifests(
    old: ReleaseManifest | None,
    new: ReleaseManifest,
    old_file: Callable[[FileEntry], Path],
    new_file: Callable[[FileEntry], Path],
    old_label: str | None,
    new_label: str,
    keyed: Mapping[str, KeyedFile] | None = None,
) -> ReleaseDiff:
    """Row diff of two ``release.json`` manifests.

    Splits whose files have the same hashes are not read; for the others ``old_file`` and
    ``new_file`` give a local path for a manifest file entry (a download, or a local file with
    the same sha256), called only for the files whose keys ``keyed`` (sha256 -> keys) does
    not hold already.
    """
    result = ReleaseDiff(old=old_label, new=new_label, splits=[])
    if old is None:
        return result
    old_cfg, new_cfg = old.configs, new.configs
    result.configs_added = sorted(set(new_cfg) - set(old_cfg))
    result.configs_removed = sorted(set(old_cfg) - set(new_cfg))
    result.schema_changed = [
        name
        for name in new_cfg
        if name in old_cfg and old_cfg[name].schema_sha256 != new_cfg[name].schema_sha256
    ]
    before, after = _Side(old_file, keyed or {}), _Side(new_file, keyed or {})
    for name, split, o, n in _compared(old, new):
        if _same_files(o, n):
            rows = new_cfg[name].splits[split].rows
            result.splits.append(SplitDiff(name, split, rows_before=rows, rows_after=rows))
            continue
        # the id column of the new files (the old ones' when the split is gone)
        id_col = after.id_column(n[0]) if n else before.id_column(o[0]) if o else "id"
        old_keys, new_keys = before.keys(o, id_col), after.keys(n, id_col)
        result.splits.append(split_diff(name, split, old_keys, new_keys))
    return result
