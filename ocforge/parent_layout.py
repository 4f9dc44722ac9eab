"""The layout of a parent release, which the next release's Parquet files follow.

Xet (huggingface.co's storage, and the local Hub's) keeps files as content-defined chunks, and a
client uploads only the chunks the server lacks. A Parquet shard keeps its bytes only where its
row groups do: the same rows, in the same order, cut into the same row groups (the pages inside a
row group are content-defined too, ``use_content_defined_chunking``). The default layout
(:mod:`ocforge.layout`: shards by a hash of the id, rows sorted by id, row groups of a fixed
size) moves every row after the first new one into another row group, so a release with 5% new
rows rewrites nearly every byte. Following the parent instead:

* the shard count of each split is the parent's (as long as the shards stay within twice the
  recipe's ``max_shard_rows`` on average; past that the split is laid out afresh);
* a row the parent holds stays in the parent's shard and row group, in the parent's order; a
  parent row group that lost rows keeps the rest (the rows removed since are gone);
* new rows go to the shard their id hashes to and follow the parent's rows, sorted by id, in row
  groups of ``row_group_rows`` of their own.

So a shard's bytes stay the same up to its first changed row group; only that group, the new ones
and the footer are new. The layout is a function of the rows and the parent's files only (no
time, no order of arrival): a rebuild from scratch against the same parent release gives the same
bytes, and laying out a parent's own rows again gives the parent's files byte for byte. Each
release may add one short row group per shard; a release laid out without a parent (no release
yet) starts over with full row groups.

A row keeps its place by its id, its bytes only if its whole record is the same: rows whose
``provenance`` moved (lines inserted above them in an input file) rewrite their row groups, so
a corpus that grows by appending to its inputs, or by new input files, keeps the most bytes.

The parent's layout is read from its Parquet files at the parent's commit (the id column, the
row-group sizes and each row's ``provenance`` input and line, which tell verbatim copies apart
for dedup): :func:`read_parent_layout` takes an opener so that the caller chooses where the
bytes come from (the Hub, or a local file with the SHA-256 the parent's ``release.json`` lists,
which is the same bytes).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, BinaryIO

import numpy as np
import pyarrow.parquet as pq

from ocforge.layout import shard_index

#: config kinds whose files can follow the parent (the eval configs, derived from the test split
#: by ``evals/configs.py``, follow it when their writer is given the parent's splits)
FOLLOWED_KINDS = ("characters", "dialogues", "eval")
_SHARD_NAME = re.compile(
    r"^data/(?P<config>[^/]+)/(?P<split>[^/]+)-(?P<i>\d{5})-of-(?P<n>\d{5})\.parquet$"
)
#: a split is laid out afresh once its shards would hold more than this many times
#: ``max_shard_rows`` on average
MAX_GROWTH = 2

Opener = Callable[[str, str], AbstractContextManager[BinaryIO]]


@dataclass(frozen=True)
class LayoutParent:
    """The release a layout follows: repo, version, tag and commit (what ``release.json``'s
    ``layout.parent`` records)."""

    repo: str
    version: str
    tag: str
    commit: str

    def to_dict(self) -> dict[str, str]:
        return {"repo": self.repo, "version": self.version, "tag": self.tag, "commit": self.commit}


@dataclass
class SplitLayout:
    """One split of the parent: per shard (index = shard number), its row groups' ids in order."""

    shards: list[list[list[str]]]
    _where: dict[str, tuple[int, int, int]] | None = field(default=None, repr=False)

    @property
    def n_shards(self) -> int:
        return len(self.shards)

    def where(self) -> dict[str, tuple[int, int, int]]:
        """id -> (shard, row group, position in it); the first place when an id repeats."""
        if self._where is None:
            where: dict[str, tuple[int, int, int]] = {}
            for s, groups in enumerate(self.shards):
                for g, ids in enumerate(groups):
                    for k, row_id in enumerate(ids):
                        where.setdefault(row_id, (s, g, k))
            self._where = where
        return self._where

    def ids(self) -> Iterable[str]:
        return (row_id for groups in self.shards for ids in groups for row_id in ids)


#: where a released row was read from: its ``provenance`` input and line
Origin = tuple[str, int]


def origin_of(provenance: Mapping[str, Any]) -> Origin:
    """A record's ``provenance`` as an :data:`Origin` (``""`` / ``-1`` for what it lacks)."""
    line = provenance.get("line")
    return (provenance.get("input") or "", -1 if line is None else int(line))


@dataclass
class ParentLayout:
    """The parent release and the layout of its followed configs (config -> split -> layout),
    and where each of their rows was read from (config -> id -> origins)."""

    parent: LayoutParent
    configs: dict[str, dict[str, SplitLayout]]
    origins: dict[str, dict[str, set[Origin]]] = field(default_factory=dict)

    def splits(self, config: str) -> dict[str, SplitLayout] | None:
        return self.configs.get(config)

    def released_ids(self, config: str) -> list[str]:
        """Every id the parent holds in ``config`` (any split), sorted."""
        return sorted({i for split in self.configs.get(config, {}).values() for i in split.ids()})

    def released_rows(self, config: str) -> list[tuple[str, str, int]]:
        """``(id, input, line)`` of every row of ``config`` in the parent, sorted: two input
        lines can hold the same row (a verbatim copy, one id), and dedup must keep the copy
        the parent released, or the row's ``provenance`` (and its row group) would change."""
        origins = self.origins.get(config, {})
        rows = []
        for row_id in self.released_ids(config):
            rows += [(row_id, *o) for o in sorted(origins.get(row_id, ()))] or [(row_id, "", -1)]
        return rows

    def record(self) -> dict[str, Any]:
        """The ``layout`` section of ``release.json``."""
        return {"parent": self.parent.to_dict()}


def _shard_ids(fh: BinaryIO) -> tuple[list[list[str]], list[Origin | None]]:
    """The id column (the schema's first field) of one Parquet file, per row group; and each
    row's ``provenance`` input and line (``None`` without a ``provenance`` column)."""
    pf = pq.ParquetFile(fh)
    id_name = pf.schema_arrow.names[0]
    columns = [id_name] + (["provenance"] if "provenance" in pf.schema_arrow.names else [])
    groups: list[list[str]] = []
    origins: list[Origin | None] = []
    for g in range(pf.metadata.num_row_groups):
        table = pf.read_row_group(g, columns=columns)
        groups.append(table.column(0).to_pylist())
        if len(columns) == 1:
            origins += [None] * table.num_rows
            continue
        for prov in table.column(1).to_pylist():
            origins.append(origin_of(prov) if prov else None)
    return groups, origins


def _followed_splits(
    files: Sequence[tuple[str, str, str]],
) -> dict[tuple[str, str], list[tuple[str, str]]]:
    """(config, split) -> its shards' ``(path, sha256)`` in shard order, for the configs whose
    every file is named ``data/<config>/<split>-NNNNN-of-NNNNN.parquet`` with one shard count
    per split and no shard missing; a config laid out otherwise (not by ocforge) is left out,
    so its files are laid out afresh."""
    found: dict[str, dict[str, dict[int, tuple[str, str]]]] = {}
    counts: dict[tuple[str, str], set[int]] = {}
    broken: set[str] = set()
    for kind, path, sha256 in files:
        if kind not in FOLLOWED_KINDS:
            continue
        match = _SHARD_NAME.match(path)
        if match is None:
            broken.add(path.split("/")[1] if path.count("/") >= 2 else path)
            continue
        config, split = match["config"], match["split"]
        found.setdefault(config, {}).setdefault(split, {})[int(match["i"])] = (path, sha256)
        counts.setdefault((config, split), set()).add(int(match["n"]))
    out = {}
    for config, splits in found.items():
        whole = {
            split: [shards[i] for i in sorted(shards)]
            for split, shards in splits.items()
            if len(counts[(config, split)]) == 1
            and sorted(shards) == list(range(next(iter(counts[(config, split)]))))
        }
        if config not in broken and len(whole) == len(splits):
            out.update({(config, split): paths for split, paths in whole.items()})
    return out


def read_parent_layout(
    parent: LayoutParent, files: Sequence[tuple[str, str, str]], open_file: Opener
) -> ParentLayout:
    """The layout of ``parent`` from its data files ``(kind, path, sha256)`` (its
    ``release.json``'s); ``open_file(path, sha256)`` opens one file of the parent's commit.
    Configs whose files ocforge did not lay out are left out (:func:`_followed_splits`)."""
    configs: dict[str, dict[str, SplitLayout]] = {}
    origins: dict[str, dict[str, set[Origin]]] = {}
    for (config, split), paths in _followed_splits(files).items():
        layout = configs.setdefault(config, {})[split] = SplitLayout([])
        known = origins.setdefault(config, {})
        for path, sha256 in paths:
            with open_file(path, sha256) as fh:
                groups, read_from = _shard_ids(fh)
            layout.shards.append(groups)
            ids = (row_id for group in groups for row_id in group)
            for row_id, origin in zip(ids, read_from, strict=True):
                if origin is not None:
                    known.setdefault(row_id, set()).add(origin)
    return ParentLayout(parent, configs, origins)


def follow(
    rows: np.ndarray,
    ids: Sequence[str],
    parent: SplitLayout,
    *,
    max_shard_rows: int,
    row_group_rows: int,
) -> list[tuple[np.ndarray, list[int]]] | None:
    """Shards of one split laid out after ``parent``: per shard, the table rows in file order
    and the sizes of its row groups; ``None`` when the split outgrew the parent's shard count
    (lay it out afresh).

    ``rows`` are the split's table rows in id order, ``ids`` every table row's id.
    """
    n = parent.n_shards
    if n == 0 or len(rows) > MAX_GROWTH * max_shard_rows * n:
        return None
    where = parent.where()
    kept: list[list[list[tuple[int, int]]]] = [[[] for _ in groups] for groups in parent.shards]
    new: list[list[int]] = [[] for _ in range(n)]
    taken: set[str] = set()
    for row in rows.tolist():
        row_id = ids[row]
        place = where.get(row_id) if row_id not in taken else None
        if place is None:
            new[shard_index(row_id, n)].append(row)  # rows come in id order: new rows sorted
            continue
        taken.add(row_id)
        shard, group, position = place
        kept[shard][group].append((position, row))
    out = []
    for shard in range(n):
        order: list[int] = []
        sizes: list[int] = []
        for group in kept[shard]:
            if group:
                group.sort()
                order.extend(row for _, row in group)
                sizes.append(len(group))
        fresh = new[shard]
        for start in range(0, len(fresh), row_group_rows):
            sizes.append(len(fresh[start : start + row_group_rows]))
        order.extend(fresh)
        out.append((np.asarray(order, dtype=np.int64), sizes))
    return out


def layout_files(manifest_configs: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    """``(kind, path, sha256)`` of every data file listed by a manifest's ``configs`` (the typed
    entries or their JSON form)."""
    out = []
    for entry in manifest_configs.values():
        kind = entry["kind"] if isinstance(entry, Mapping) else entry.kind
        splits = entry["splits"] if isinstance(entry, Mapping) else entry.splits
        for split in splits.values():
            for f in split["files"] if isinstance(split, Mapping) else split.files:
                if isinstance(f, Mapping):
                    out.append((kind, f["path"], f["sha256"]))
                else:
                    out.append((kind, f.path, f.sha256))
    return out
