"""Write a config's rows as Parquet in the layout ``datasets.push_to_hub`` produces:
``data/<config>/<split>-NNNNN-of-NNNNN.parquet``.

Rows are split by a stable hash of ``character_id``, assigned to a shard by a stable hash of
their id and sorted by id within it, so the same rows always give the same files, byte for byte,
and changing a few rows rewrites only the shards that hold them. A build that follows a parent
release (``parent``) keeps the parent's shard count, shards, row order and row groups for the
rows it still holds and puts new rows after them (:mod:`ocforge.parent_layout`), so that Xet
uploads only the row groups that changed.

A split with no rows is left out: no file, no entry in the config. ``datasets.load_dataset``
cannot load a split of 0 rows in any file layout (a row group of 0 rows fails with ``BatchSize
must be greater than 0``; a file without row groups gives a split that ``as_dataset`` refuses as
"corresponds to no data"), and one such split makes the whole config unloadable.
"""

from __future__ import annotations

import itertools
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ocforge.hashing import file_sha256
from ocforge.outputs import ShardFile, SplitOutput
from ocforge.records import content_id, id_column

if TYPE_CHECKING:
    from ocforge.parent_layout import SplitLayout

SPLITS = ("train", "test")


class SplitOutputs(dict[str, SplitOutput]):
    """:func:`write_config`'s result: split name -> what was written, for every split that has
    rows, and ``left_out``: the splits the recipe asks for that had no rows (nothing written)."""

    def __init__(self, splits: dict[str, SplitOutput], left_out: Iterable[str] = ()) -> None:
        super().__init__(splits)
        self.left_out: tuple[str, ...] = tuple(left_out)


def wanted_splits(test_fraction: float, kind: str = "dialogues") -> tuple[str, ...]:
    """The splits a config of ``kind`` has when none is empty (eval configs hold only test rows)."""
    if kind == "eval":
        return ("test",) if test_fraction > 0 else ()
    return SPLITS if test_fraction > 0 else ("train",)


def left_out_splits(configs: dict[str, Any], test_fraction: float) -> dict[str, list[str]]:
    """config -> the splits a build left out because they had no rows, from ``release.json``'s
    ``configs`` (a config with no rows at all lists every split it would have had)."""
    out = {}
    for name, info in configs.items():
        missing = [
            split
            for split in wanted_splits(test_fraction, info.get("kind", "dialogues"))
            if split not in info["splits"]
        ]
        if missing or not info["splits"]:
            out[name] = missing
    return out


def split_of(character_id: str, test_fraction: float, seed: int) -> str:
    """``test`` for a stable ``test_fraction`` of characters, chosen by hash; ``train`` otherwise."""
    bucket = int(content_id("split", str(seed), character_id), 16) / float(1 << 64)
    return "test" if bucket < test_fraction else "train"


def shard_count(rows: int, max_shard_rows: int) -> int:
    """Shards of a split: enough for ``max_shard_rows`` each, rounded up to a power of two.

    The rounding keeps the count (and so every row's shard) unchanged while a split grows or
    shrinks by less than a factor of two, so a small change rewrites only the shards it touches.
    """
    needed = max(1, math.ceil(rows / max_shard_rows))
    return 1 << (needed - 1).bit_length()


def shard_index(row_id: str, n_shards: int) -> int:
    """Shard of a row: a stable hash of its id (ids are already hex content hashes)."""
    return int(content_id("shard", row_id), 16) % n_shards


def _arrow_table(rows: Iterable[dict[str, Any]], schema: pa.Schema, batch: int = 8192) -> pa.Table:
    """Rows to Arrow a batch at a time: only the Arrow copy of the rows is held, never a list
    of Python dicts for the whole config (about three times its size)."""
    rows = iter(rows)
    batches = []
    while chunk := list(itertools.islice(rows, batch)):
        batches.append(pa.RecordBatch.from_pylist(chunk, schema=schema))
    return pa.Table.from_batches(batches, schema=schema)


def _split_names(table: pa.Table, test_fraction: float, seed: int) -> np.ndarray:
    """Split of every row, worked out once per character (a character has many rows)."""
    characters = table.column("character_id")
    distinct = pc.unique(characters)
    names = np.array([split_of(c, test_fraction, seed) for c in distinct.to_pylist()] or ["train"])
    return names[np.asarray(pc.index_in(characters, value_set=distinct), dtype=np.int64)]


def _write_shard(
    table: pa.Table,
    rows: np.ndarray,
    path: Path,
    row_group_rows: int,
    groups: Sequence[int] | None = None,
) -> tuple[int, int, str]:
    """Write ``table``'s ``rows`` (in that order) to ``path``; (Arrow bytes, file size, SHA-256).

    Row groups hold ``row_group_rows`` rows (the last one the rest), or the sizes ``groups``
    lists (a layout that follows a parent release); one write per row group gives the same
    bytes as one write of many, so both kinds of shard are the same file for the same groups.
    The shard is taken and written a few row groups at a time: the file is the same as from one
    write of the whole shard, without a second copy of it in memory. An empty shard has the
    schema and no row group at all: ``datasets`` reads a row group of 0 rows with batch size 0
    and fails (``ArrowInvalid: BatchSize must be greater than 0``), but loads a file without row
    groups as 0 rows with the schema's features."""
    step = row_group_rows * max(1, 8192 // row_group_rows)
    nbytes = 0
    with pq.ParquetWriter(
        path,
        table.schema,
        compression="zstd",
        use_content_defined_chunking=True,
        write_page_index=True,
    ) as writer:
        if groups is None:
            for start in range(0, len(rows), step):
                piece = table.take(rows[start : start + step])
                nbytes += piece.nbytes
                writer.write_table(piece, row_group_size=row_group_rows)
        else:
            for start, sizes in _group_batches(groups, step):
                piece = table.take(rows[start : start + sum(sizes)])
                nbytes += piece.nbytes
                offset = 0
                for size in sizes:
                    writer.write_table(piece.slice(offset, size), row_group_size=size)
                    offset += size
    return nbytes, path.stat().st_size, file_sha256(path)


def _group_batches(groups: Sequence[int], step: int) -> Iterable[tuple[int, list[int]]]:
    """(first row, group sizes) of consecutive row groups of about ``step`` rows together."""
    start, batch = 0, []
    for size in groups:
        batch.append(size)
        if sum(batch) >= step:
            yield start, batch
            start, batch = start + sum(batch), []
    if batch:
        yield start, batch


def _split_shards(
    rows: np.ndarray,
    ids: Sequence[str],
    parent: SplitLayout | None,
    max_shard_rows: int,
    row_group_rows: int,
) -> list[tuple[np.ndarray, list[int] | None]]:
    """A split's shards: (its ``rows``, which come in id order, in file order; the sizes of its
    row groups, or ``None`` for ``row_group_rows`` each), after the parent's layout if given."""
    if parent is not None:
        from ocforge.parent_layout import follow  # it imports this module

        followed = follow(
            rows, ids, parent, max_shard_rows=max_shard_rows, row_group_rows=row_group_rows
        )
        if followed is not None:
            return [(r, list(g)) for r, g in followed]
    n_shards = shard_count(len(rows), max_shard_rows)
    shard_of = np.array([shard_index(ids[i], n_shards) for i in rows], dtype=np.int64)
    return [(rows[shard_of == i] if n_shards > 1 else rows, None) for i in range(n_shards)]


def write_config(
    rows: Iterable[dict[str, Any]] | pa.Table,
    schema: pa.Schema,
    config: str,
    root: Path,
    *,
    test_fraction: float,
    seed: int,
    max_shard_rows: int,
    row_group_rows: int,
    threads: int | None = None,
    parent: Mapping[str, SplitLayout] | None = None,
) -> dict[str, SplitOutput]:
    """Write ``rows`` (a table in ``schema``, or dicts matching it: any iterable, consumed once)
    under ``root/data/<config>/``, each shard sorted by id; or, for the splits ``parent`` (the
    config's splits in the parent release) has, in the parent's shards and order with new rows
    after them (:func:`ocforge.parent_layout.follow`). Without ``parent`` the files are exactly
    those of a build that never heard of one.

    The ``test`` split is asked for whenever ``test_fraction > 0``; a split that gets no rows is
    left out (no file; named in the result's ``left_out``), since ``load_dataset`` cannot read a
    split of 0 rows. A config with no rows at all gives an empty result. Shards are written by
    ``threads`` threads (default: one per core, at most 4; Arrow encodes and compresses without
    holding the GIL); the files do not depend on it. Memory: the rows in Arrow form plus a few
    row groups per thread.
    """
    table = rows if isinstance(rows, pa.Table) else _arrow_table(rows, schema)
    if any(column.num_chunks > 1 for column in table.columns):
        # Arrow's take concatenates a chunked column on every call: once here instead
        table = table.combine_chunks()
    id_name = id_column(schema)
    ids = table.column(id_name).to_pylist()
    order = np.asarray(pc.sort_indices(table, [(id_name, "ascending")]))
    split_names = _split_names(table, test_fraction, seed)[order]
    asked = wanted_splits(test_fraction)
    wanted = tuple(split for split in asked if (split_names == split).any())
    folder = root / "data" / config
    folder.mkdir(parents=True, exist_ok=True)
    # (split, file, row numbers in file order, row group sizes or None for the fixed size)
    jobs: list[tuple[str, str, np.ndarray, list[int] | None]] = []
    sizes: dict[str, int] = {}
    for split in wanted:
        in_split = order[split_names == split]
        sizes[split] = len(in_split)
        shards = _split_shards(
            in_split, ids, (parent or {}).get(split), max_shard_rows, row_group_rows
        )
        for i, (shard_rows, groups) in enumerate(shards):
            rel = f"data/{config}/{split}-{i:05d}-of-{len(shards):05d}.parquet"
            jobs.append((split, rel, shard_rows, groups))
    del ids
    workers = threads or min(4, os.cpu_count() or 1)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        written = list(
            pool.map(
                _write_shard,
                itertools.repeat(table),
                [rows for _, _, rows, _ in jobs],
                [root / rel for _, rel, _, _ in jobs],
                itertools.repeat(row_group_rows),
                [groups for _, _, _, groups in jobs],
            )
        )
    outputs = SplitOutputs(
        {split: SplitOutput(name=split, rows=sizes[split], num_bytes=0) for split in wanted},
        left_out=[split for split in asked if split not in wanted],
    )
    for (split, rel, shard_rows, _), (nbytes, size, digest) in zip(jobs, written, strict=True):
        outputs[split].num_bytes += nbytes
        outputs[split].files.append(ShardFile(rel, len(shard_rows), size, digest))
    del table
    # Arrow keeps freed buffers in its allocator's pools: hand them back before the next step
    pa.default_memory_pool().release_unused()
    return outputs
