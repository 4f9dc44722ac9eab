"""Write a config's rows as Parquet in the layout ``datasets.push_to_hub`` produces:
``data/<config>/<split>-NNNNN-of-NNNNN.parquet``.

Rows are split by a stable hash of ``character_id``, assigned to a shard by a stable hash of
their id and sorted by id within it, so the same rows always give the same files, byte for byte,
and changing a few rows rewrites only the shards that hold them.

A split with no rows is left out: no file, no entry in the config. ``datasets.load_dataset``
cannot load a split of 0 rows in any file layout (a row group of 0 rows fails with ``BatchSize
must be greater than 0``; a file without row groups gives a split that ``as_dataset`` refuses as
"corresponds to no data"), and one such split makes the whole config unloadable.
"""

from __future__ import annotations

import itertools
import math
import os
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ocforge.hashing import file_sha256
from ocforge.outputs import ShardFile, SplitOutput
from ocforge.records import content_id, id_column

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
    table: pa.Table, rows: np.ndarray, path: Path, row_group_rows: int
) -> tuple[int, int, str]:
    """Write ``table``'s ``rows`` (in that order) to ``path``; (Arrow bytes, file size, SHA-256).

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
        for start in range(0, len(rows), step):
            piece = table.take(rows[start : start + step])
            nbytes += piece.nbytes
            writer.write_table(piece, row_group_size=row_group_rows)
    return nbytes, path.stat().st_size, file_sha256(path)


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
) -> dict[str, SplitOutput]:
    """Write ``rows`` (a table in ``schema``, or dicts matching it: any iterable, consumed once)
    under ``root/data/<config>/``, each shard sorted by id.

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
    jobs: list[tuple[str, str, np.ndarray]] = []  # (split, file, row numbers in id order)
    sizes: dict[str, int] = {}
    for split in wanted:
        in_split = order[split_names == split]
        sizes[split] = len(in_split)
        n_shards = shard_count(len(in_split), max_shard_rows)
        shard_of = np.array([shard_index(ids[i], n_shards) for i in in_split], dtype=np.int64)
        for i in range(n_shards):
            rel = f"data/{config}/{split}-{i:05d}-of-{n_shards:05d}.parquet"
            jobs.append((split, rel, in_split[shard_of == i] if n_shards > 1 else in_split))
    del ids
    workers = threads or min(4, os.cpu_count() or 1)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        written = list(
            pool.map(
                _write_shard,
                itertools.repeat(table),
                [rows for _, _, rows in jobs],
                [root / rel for _, rel, _ in jobs],
                itertools.repeat(row_group_rows),
            )
        )
    outputs = SplitOutputs(
        {split: SplitOutput(name=split, rows=sizes[split], num_bytes=0) for split in wanted},
        left_out=[split for split in asked if split not in wanted],
    )
    for (split, rel, shard_rows), (nbytes, size, digest) in zip(jobs, written, strict=True):
        outputs[split].num_bytes += nbytes
        outputs[split].files.append(ShardFile(rel, len(shard_rows), size, digest))
    del table
    # Arrow keeps freed buffers in its allocator's pools: hand them back before the next step
    pa.default_memory_pool().release_unused()
    return outputs
