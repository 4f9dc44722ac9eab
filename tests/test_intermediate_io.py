"""Documents handed between stages come back exactly as they were written, in fewer bytes."""

from __future__ import annotations

import copy

import orjson
import pytest
from datatrove.data import Document

from ocforge.filters.io import IntermediateReader, intermediate_writer, iter_docs


def _dialogue(i: int) -> Document:
    record = {
        "dialogue_id": f"d{i}",
        "question": f"What would you do, number {i}?",
        "response": f"I would sail north, as I did {i} times. " * 20,
        "original_response": "Sail north.",
        "messages": [
            {"role": "system", "content": "Name: Ingrid\nAge: 40\n" * 10},
            {"role": "user", "content": f"What would you do, number {i}?"},
            {"role": "assistant", "content": f"I would sail north, as I did {i} times. " * 20},
        ],
    }
    return Document(
        text=record["response"], id=f"d{i}", metadata={"record": record, "line": i, "input": "x"}
    )


def test_documents_round_trip_through_compact_intermediate_files(tmp_path):
    odd = _dialogue(3)
    odd.metadata["record"]["messages"][2]["content"] = "edited elsewhere"  # not derivable
    odd_text = Document(text="masked text", id="t", metadata=copy.deepcopy(_dialogue(4).metadata))
    character = Document(text="Name: A", id="c0", metadata={"record": {"profile": "Name: A"}})
    empty = Document(text="", id="q", metadata={"error": "malformed_json", "raw": "{"})
    docs = [_dialogue(0), _dialogue(1), odd, odd_text, character, empty]
    expected = [(d.id, d.text, copy.deepcopy(d.metadata)) for d in docs]

    writer = intermediate_writer(str(tmp_path))
    list(writer.run(iter(docs)))
    writer.close()
    assert [(d.id, d.text, d.metadata) for d in docs] == expected  # not changed by writing
    back = [(d.id, d.text, d.metadata) for d in IntermediateReader(str(tmp_path)).run()]
    assert back == expected
    assert [(d["id"], d["text"], d["metadata"]) for d in iter_docs(tmp_path)] == expected
    # written without the copies: the dialogue's text and derivable messages are not on disk
    (shard,) = tmp_path.glob("*.jsonl")
    first = orjson.loads(shard.read_bytes().splitlines()[0])
    assert "text" not in first and "messages" not in first["metadata"]["record"]
    full = len(orjson.dumps({"id": "d0", "text": docs[0].text, "metadata": expected[0][2]}))
    assert len(shard.read_bytes().splitlines()[0]) < 0.6 * full


def _write_shard(folder, rank: int, docs: list[Document]) -> None:
    writer = intermediate_writer(str(folder))
    list(writer.run(iter(docs), rank=rank))
    writer.close()


def test_reader_by_rank_reads_the_shard_of_its_own_task(tmp_path):
    # task 0 kept nothing and wrote no shard: datatrove's split of the folder would hand task
    # 1's shard to task 0, whose signatures number other documents
    _write_shard(tmp_path, 1, [_dialogue(i) for i in range(3)])
    _write_shard(tmp_path, 2, [_dialogue(9)])
    by_rank = IntermediateReader(str(tmp_path), by_rank=True)
    assert [d.id for d in by_rank.run(rank=0, world_size=3)] == []
    assert [d.id for d in by_rank.run(rank=1, world_size=3)] == ["d0", "d1", "d2"]
    assert [d.id for d in by_rank.run(rank=2, world_size=3)] == ["d9"]
    split = IntermediateReader(str(tmp_path))
    assert [d.id for d in split.run(rank=0, world_size=3)] == ["d0", "d1", "d2"]


def test_forwarding_signature_steps_write_what_the_stage_one_passes_write(tmp_path):
    from ocforge.filters.exact_dedup import signature_step
    from ocforge.filters.minhash import FastMinhashSignature, minhash_config

    docs = [_dialogue(i) for i in range(40)] + [_dialogue(3), _dialogue(7)]
    for doc in docs:
        doc.metadata["dedup_key"] = doc.id
    cfg = minhash_config(5, 14, 8, 1)
    outputs = {}
    for forward in (False, True):
        base = tmp_path / str(forward)
        exact = signature_step(str(base / "exact"), forward=forward)
        near = FastMinhashSignature(str(base / "minhash"), cfg, batch_size=16, forward=forward)
        if forward:  # one pass: the documents flow through both steps
            passed = [d.id for d in near.run(exact.run(iter(docs), rank=1), rank=1)]
            assert passed == [d.id for d in docs]
        else:  # datatrove's way: a pass over the documents per stage-1 step
            exact.run(iter(docs), rank=1)
            assert list(near.run(iter(docs), rank=1)) == []
        outputs[forward] = {
            p.relative_to(base): p.read_bytes() for p in sorted(base.rglob("*")) if p.is_file()
        }
    assert outputs[True] == outputs[False]
    assert len(outputs[True]) == 1 + 14  # one exact file and a file per MinHash bucket
    assert all(outputs[True].values())


def test_intermediate_writer_writes_and_counts_what_datatrove_writer_writes(tmp_path):
    from datatrove.pipeline.writers.jsonl import JsonlWriter

    from ocforge.filters.io import _intermediate_adapter

    docs = [_dialogue(i) for i in range(30)]
    stock = JsonlWriter(
        str(tmp_path / "stock"),
        output_filename="${rank}.jsonl",
        compression=None,
        adapter=_intermediate_adapter,
    )
    ours = intermediate_writer(str(tmp_path / "ours"))
    for writer in (stock, ours):
        assert [d.id for d in writer.run(iter(docs), rank=3)] == [d.id for d in docs]
    assert (tmp_path / "ours" / "00003.jsonl").read_bytes() == (
        tmp_path / "stock" / "00003.jsonl"
    ).read_bytes()
    theirs, mine = stock.stats.to_dict(), ours.stats.to_dict()
    assert mine["time_stats"]["n"] == theirs["time_stats"]["n"] == 30
    # the same figures (the variance up to float rounding)
    assert mine["stats"].pop("doc_len") == pytest.approx(theirs["stats"].pop("doc_len"))
    assert mine["stats"] == theirs["stats"]
    # and the stage after reads them back by rank, counting what datatrove's reader counts
    reader = IntermediateReader(str(tmp_path / "ours"), by_rank=True)
    assert [d.id for d in reader.run(rank=3, world_size=4)] == [d.id for d in docs]
    stock_reader = IntermediateReader(str(tmp_path / "stock"))
    assert len(list(stock_reader.run(rank=0, world_size=1))) == 30
    mine, theirs = reader.stats.to_dict()["stats"], stock_reader.stats.to_dict()["stats"]
    assert mine.pop("doc_len") == pytest.approx(theirs.pop("doc_len"))
    assert mine == theirs


def test_near_kept_documents_are_those_minhash_stage_4_keeps(tmp_path):
    """The decontamination index reads the curated documents without running MinHash stage 4
    (the config's last stage runs it): the documents it skips must be those stage 4 removes."""
    import numpy as np
    from datatrove.pipeline.dedup.minhash import MinhashDedupFilter

    from ocforge.filters.minhash import iter_near_kept, removed_positions

    shards, clusters = tmp_path / "kept-exact", tmp_path / "clusters"
    clusters.mkdir()
    docs = [_dialogue(i) for i in range(12)]
    by_rank = {0: docs[:5], 1: docs[5:], 2: []}
    for rank, part in by_rank.items():
        list(intermediate_writer(str(shards)).run(iter(part), rank=rank))
    # rank 0 loses its 2nd and 5th documents, rank 1 its 1st; rank 2 has no .remove file
    np.array([1, 4], dtype="<u4").tofile(clusters / "000000.remove")
    np.array([0], dtype="<u4").tofile(clusters / "000001.remove")
    assert removed_positions(clusters, 2).size == 0

    stage_4 = []
    for rank in by_rank:
        step = MinhashDedupFilter(input_folder=str(clusters))
        reader = IntermediateReader(str(shards), by_rank=True)
        stage_4 += [d.id for d in step.run(reader.run(rank=rank), rank=rank)]
    kept = [d["id"] for d in iter_near_kept(shards, clusters)]
    assert kept == stage_4 == [d.id for i, d in enumerate(docs) if i not in (1, 4, 5)]


def test_group_recorder_passes_documents_and_feeds_link_duplicates(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    from ocforge.filters.io import GroupRecorder, link_duplicates

    docs = [_dialogue(i) for i in range(4)]
    docs[1].metadata["minhash_cluster_id"] = 7
    docs[3].metadata["minhash_cluster_id"] = 9
    recorder = GroupRecorder(str(tmp_path / "groups"), "minhash_cluster_id")
    assert [d.id for d in recorder.run(iter(docs), rank=1)] == ["d0", "d1", "d2", "d3"]
    lines = [
        orjson.loads(x) for x in (tmp_path / "groups" / "00001.jsonl").read_bytes().splitlines()
    ]
    assert [(x["id"], x["metadata"]["minhash_cluster_id"]) for x in lines] == [("d1", 7), ("d3", 9)]

    # a removed near duplicate of cluster 7 gets d1, the kept member, as duplicate_of
    removed = tmp_path / "removed" / "duplicates"
    removed.mkdir(parents=True)
    table = pa.table(
        {
            "id": ["x", "y"],
            "dedup_group": ["7", None],
            "duplicate_of": pa.array([None, None], pa.string()),
        }
    )
    pq.write_table(table, removed / "near-dedup-00000.parquet")
    assert (
        link_duplicates(
            tmp_path / "groups", tmp_path / "removed", "near-dedup", "minhash_cluster_id"
        )
        == 1
    )
    linked = pq.read_table(removed / "near-dedup-00000.parquet").column("duplicate_of").to_pylist()
    assert linked == ["d1", None]
