"""Write a config's rows as Parquet in the layout ``datasets.push_to_hub`` produces:
``data/<config>/<split>-NNNNN-of-NNNNN.parquet``.

Rows are split by a stable hash of ``character_id``, assigned to a shard by a stable hash of
their id and sorted by id within it, so the same rows always give the same files, byte for byte,
and changing a few rows rewrites only the shards that hold them.
"""

from __future__ import annotations

import hashlib
import math
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ocforge.outputs import ShardFile, SplitOutput
from ocforge.records import content_id, id_column

SPLITS = ("train", "test")


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


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_config(
    rows: list[dict[str, Any]],
    schema: pa.Schema,
    config: str,
    root: Path,
    *,
    test_fraction: float,
    seed: int,
    max_shard_rows: int,
    row_group_rows: int,
) -> dict[str, SplitOutput]:
    """Write ``rows`` (dicts matching ``schema``) under ``root/data/<config>/``.

    The ``test`` split exists whenever ``test_fraction > 0``, even if empty, so that consumers see
    the same splits in every version.
    """
    table = pa.Table.from_pylist(rows, schema=schema)
    table = table.sort_by([(id_column(schema), "ascending")])
    split_names = [
        split_of(c, test_fraction, seed) for c in table.column("character_id").to_pylist()
    ]
    split_array = pa.array(split_names, pa.string())
    wanted = SPLITS if test_fraction > 0 else ("train",)
    folder = root / "data" / config
    folder.mkdir(parents=True, exist_ok=True)
    outputs: dict[str, SplitOutput] = {}
    id_name = id_column(schema)
    for split in wanted:
        part = table.filter(pc.equal(split_array, split))
        n_shards = shard_count(part.num_rows, max_shard_rows)
        shard_of = pa.array(
            [shard_index(i, n_shards) for i in part.column(id_name).to_pylist()], pa.int32()
        )
        out = SplitOutput(name=split, rows=part.num_rows, num_bytes=part.nbytes)
        for i in range(n_shards):
            shard = part.filter(pc.equal(shard_of, i)) if n_shards > 1 else part
            rel = f"data/{config}/{split}-{i:05d}-of-{n_shards:05d}.parquet"
            path = root / rel
            pq.write_table(
                shard,
                path,
                row_group_size=row_group_rows,
                compression="zstd",
                use_content_defined_chunking=True,
                write_page_index=True,
            )
            out.files.append(ShardFile(rel, shard.num_rows, path.stat().st_size, _sha256(path)))
        outputs[split] = out
    return outputs
