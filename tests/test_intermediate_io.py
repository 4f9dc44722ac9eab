"""Documents handed between stages come back exactly as they were written, in fewer bytes."""

from __future__ import annotations

import copy

import orjson
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
