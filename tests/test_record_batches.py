"""Records handed to the Parquet writer as Arrow IPC files, and the threaded shard writer."""

from __future__ import annotations

import random

import pyarrow as pa
import pytest
from datatrove.data import Document

from ocforge.filters.record_batches import RecordBatchWriter, read_record_table
from ocforge.layout import write_config
from ocforge.records import content_id, dialogue_schema

SCHEMA = dialogue_schema("generate")


def _records(n: int, seed: int = 0) -> list[dict]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        answer = " ".join(rng.choice(["well", "yes", "the", "sea", "I", "ship"]) for _ in range(9))
        out.append(
            {
                "dialogue_id": content_id("d", str(i), str(seed)),
                "character_id": f"c{rng.randrange(40)}",
                "strategy": "generate",
                "source_corpus": None if i % 7 == 0 else "lima",
                "question_id": f"q{i}",
                "question": f"question {i}?",
                "response": answer,
                "messages": [
                    {"role": "user", "content": f"question {i}?"},
                    {"role": "assistant", "content": answer},
                ],
                "quality": {"response_words": 9},
                "provenance": None if i % 5 == 0 else {"record": f"r{i}", "line": i + 1},
            }
        )
    return out


def _docs(records: list[dict]) -> list[Document]:
    return [
        Document(text=r["response"], id=r["dialogue_id"], metadata={"record": r}) for r in records
    ]


def test_writer_files_read_back_as_the_records_in_rank_order(tmp_path):
    records = _records(50)
    # batches smaller than a task's rows, and a task that receives nothing
    writer = RecordBatchWriter(str(tmp_path), SCHEMA, batch_rows=8)
    list(writer.run(iter(_docs(records[:30])), rank=0, world_size=3))
    list(writer.run(iter(_docs(records[30:])), rank=1, world_size=3))
    list(writer.run(iter([]), rank=2, world_size=3))
    assert sorted(p.name for p in tmp_path.glob("*.arrow")) == [
        "00000.arrow",
        "00001.arrow",
        "00002.arrow",
    ]
    table = read_record_table(tmp_path, SCHEMA)
    assert table.schema.equals(SCHEMA)
    assert table.to_pylist() == pa.Table.from_pylist(records, schema=SCHEMA).to_pylist()
    assert writer.stats["rows"].total == 50


def test_an_empty_folder_reads_as_an_empty_table(tmp_path):
    table = read_record_table(tmp_path, SCHEMA)
    assert table.num_rows == 0 and table.schema.equals(SCHEMA)


def test_a_file_of_another_schema_is_refused_by_name(tmp_path):
    writer = RecordBatchWriter(str(tmp_path), dialogue_schema("rewrite"))
    rows = [dict(r, original_response="old") for r in _records(3)]
    list(writer.run(iter(_docs(rows)), rank=0, world_size=1))
    with pytest.raises(ValueError, match="00000.arrow"):
        read_record_table(tmp_path, SCHEMA)


@pytest.mark.parametrize("test_fraction", [0.0, 0.3])
def test_write_config_gives_the_same_files_from_a_table_and_any_thread_count(
    tmp_path, test_fraction
):
    records = _records(300, seed=3)
    kwargs = dict(test_fraction=test_fraction, seed=1, max_shard_rows=40, row_group_rows=16)
    results = {}
    for name, rows, threads in [
        ("dicts-1", iter(records), 1),
        ("table-1", pa.Table.from_pylist(records, schema=SCHEMA), 1),
        ("table-4", pa.Table.from_pylist(records[::-1], schema=SCHEMA), 4),
    ]:
        root = tmp_path / name
        splits = write_config(rows, SCHEMA, "generate", root, threads=threads, **kwargs)
        files = {
            f.path: (root / f.path).read_bytes() for split in splits.values() for f in split.files
        }
        sizes = {
            s: (out.rows, out.num_bytes, [f.sha256 for f in out.files]) for s, out in splits.items()
        }
        results[name] = (files, sizes)
    assert len(results["dicts-1"][0]) > 2  # several shards, written concurrently below
    assert results["table-1"] == results["dicts-1"]
    assert results["table-4"] == results["dicts-1"]
