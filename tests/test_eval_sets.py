"""Eval sets for decontamination are read by the same reader as recipe inputs."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ocforge.errors import InputError
from ocforge.filters.decontamination import build_eval_index, eval_set_texts
from ocforge.recipe import EvalSetSpec

ROWS = [{"prompt": "Name three causes of the French Revolution.", "id": 1}, {"prompt": None}]


def test_jsonl_json_array_and_parquet_eval_sets_give_the_same_texts(tmp_path):
    (tmp_path / "e.jsonl").write_text("\n".join(json.dumps(r) for r in ROWS) + "\n\n")
    (tmp_path / "e.json").write_text(json.dumps(ROWS, indent=2))
    pq.write_table(pa.Table.from_pylist(ROWS), tmp_path / "e.parquet")
    texts = {
        name: eval_set_texts(EvalSetSpec(path=tmp_path / name, fields=["prompt"]))
        for name in ("e.jsonl", "e.json", "e.parquet")
    }
    assert {label for label, _ in texts.values()} == {"e.jsonl", "e.json", "e.parquet"}
    assert {tuple(t) for _, t in texts.values()} == {(ROWS[0]["prompt"],)}
    index = build_eval_index([EvalSetSpec(path=tmp_path / "e.json", fields=["prompt"])], 3)
    assert index.match("so: name three causes of the french revolution, please") == "e.json"


def test_a_bad_eval_set_names_the_file_line_or_field(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps(ROWS[0]) + '\n{"prompt": "cut\n')
    with pytest.raises(InputError, match=r"bad\.jsonl:2: malformed_json: "):
        eval_set_texts(EvalSetSpec(path=bad, fields=["prompt"]))
    good = tmp_path / "good.jsonl"
    good.write_text(json.dumps(ROWS[0]) + "\n")
    with pytest.raises(
        ValueError, match=r"good\.jsonl: field\(s\) question not found \(has id, prompt\)"
    ):
        eval_set_texts(EvalSetSpec(path=good))
    gz = tmp_path / "gz.jsonl"
    gz.write_bytes(b"\x1f\x8b\x08\x00rest")
    with pytest.raises(InputError, match="gzip-compressed"):
        eval_set_texts(EvalSetSpec(path=gz, fields=["prompt"]))
