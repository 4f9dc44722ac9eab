"""The demo corpus end to end: planted problems land in the ledger with the documented counts,
removed rows are on disk with reasons, and the output loads back with datasets."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import datasets
import pyarrow.parquet as pq
import pytest
import yaml

from ocforge.evals.configs import SCHEMAS as EVAL_SCHEMAS
from ocforge.ledger import OUTCOMES
from ocforge.recipe import DEMO_RECIPE
from ocforge.records import CHARACTERS_SCHEMA, dialogue_schema

PLANTED = yaml.safe_load((DEMO_RECIPE.parent / "planted.yaml").read_text())


def _removed_rows(root: Path, config: str) -> list[dict]:
    """Rows of ``removed/<config>/<reason>/*.parquet`` and ``quarantine/<config>/<reason>/...``."""
    rows = []
    for base in ("removed", "quarantine"):
        for path in sorted((root / base / config).glob("*/*.parquet")):
            assert path.parent.name == path.parent.name.strip()
            for row in pq.read_table(path).to_pylist():
                assert row["reason"] == path.parent.name  # one folder per reason
                rows.append(row)
    return rows


@pytest.mark.parametrize("config", ["characters", "rewrite", "generate"])
def test_ledger_equals_planted_counts(demo_build, config):
    planted = PLANTED[config]
    expected: dict[str, Counter] = {o: Counter() for o in OUTCOMES}
    for problem in planted["problems"]:
        if problem["detected_as"]:
            outcome, reason = problem["detected_as"].split("/")
            expected[outcome][reason] += len(problem["lines"])
    ledger = demo_build.ledger.configs[config]
    assert ledger.input == planted["input"]
    for outcome in OUTCOMES:
        assert ledger.reasons[outcome] == dict(expected[outcome]), outcome
    assert ledger.balanced


@pytest.mark.parametrize("config", ["characters", "rewrite", "generate"])
def test_removed_rows_are_the_planted_lines(demo_build, config):
    """Not only the counts: the exact planted lines are the ones removed, each with its reason."""
    rows = _removed_rows(demo_build.out_dir, config)
    got = sorted((r["line"], f"{r['outcome']}/{r['reason']}") for r in rows)
    want = sorted(
        (line, p["detected_as"])
        for p in PLANTED[config]["problems"]
        if p["detected_as"]
        for line in p["lines"]
    )
    assert got == want
    for row in rows:
        assert row["detail"] or row["outcome"] == "duplicates"
        assert row["input"].startswith("data/")


def test_quarantined_rows_keep_file_line_and_raw_text(demo_build):
    rows = [
        r for r in _removed_rows(demo_build.out_dir, "generate") if r["outcome"] == "quarantined"
    ]
    malformed = [r for r in rows if r["reason"] == "malformed_json"]
    assert len(malformed) == 1
    row = malformed[0]
    assert row["detail"].startswith(f"data/dialogues-generate.jsonl:{row['line']}: ")
    source_lines = (
        (DEMO_RECIPE.parent / "data" / "dialogues-generate.jsonl").read_text().splitlines()
    )
    assert row["raw"] == source_lines[row["line"] - 1]


def test_duplicates_name_the_row_they_duplicate(demo_build):
    for config in ("characters", "rewrite", "generate"):
        kept_ids = set()
        for split in ("train", "test"):
            for f in sorted((demo_build.out_dir / "data" / config).glob(f"{split}-*.parquet")):
                kept_ids.update(pq.read_table(f).column(0).to_pylist())
        dups = [
            r for r in _removed_rows(demo_build.out_dir, config) if r["outcome"] == "duplicates"
        ]
        assert dups
        for row in dups:
            assert row["duplicate_of"] in kept_ids


def test_duplicated_character_dialogues_point_to_the_kept_twin(demo_build):
    chars = {}
    for f in (demo_build.out_dir / "data" / "characters").glob("*.parquet"):
        for row in pq.read_table(f).to_pylist():
            chars[row["character_id"]] = row
    twin = PLANTED["characters"]["duplicate_of_source_id"]
    twin_id = next(cid for cid, r in chars.items() if r["provenance"]["record"] == twin)
    rows = []
    for f in (demo_build.out_dir / "data" / "generate").glob("*.parquet"):
        rows += pq.read_table(f).to_pylist()
    repointed = [
        r for r in rows if r["provenance"]["record"] == PLANTED["characters"]["duplicate_source_id"]
    ]
    assert repointed, "the duplicate character's dialogues must survive, re-pointed"
    assert {r["character_id"] for r in repointed} == {twin_id}
    assert all(r["messages"][0]["content"] == chars[twin_id]["profile"] for r in repointed)


def test_round_trip_with_load_dataset(demo_build):
    manifest = json.loads((demo_build.out_dir / "release.json").read_text())
    schemas = {
        "characters": CHARACTERS_SCHEMA,
        "rewrite": dialogue_schema("rewrite"),
        "generate": dialogue_schema("generate"),
        **EVAL_SCHEMAS,  # eval-ready configs derived from the test split
    }
    assert set(manifest["configs"]) == set(schemas)
    for config, info in manifest["configs"].items():
        loaded = datasets.load_dataset(str(demo_build.out_dir), config)
        expected_splits = {"test"} if info["kind"] == "eval" else {"train", "test"}
        assert set(loaded) == set(info["splits"]) == expected_splits
        for split, split_info in info["splits"].items():
            assert loaded[split].num_rows == split_info["rows"]
            assert loaded[split].features == datasets.Features.from_arrow_schema(schemas[config])
        if info["kind"] != "eval":
            assert (
                sum(s["rows"] for s in info["splits"].values())
                == manifest["ledger"]["configs"][config]["kept"]
            )


def test_test_split_holds_whole_characters(demo_build):
    def characters_in(config, split):
        ids = set()
        for f in (demo_build.out_dir / "data" / config).glob(f"{split}-*.parquet"):
            ids.update(pq.read_table(f, columns=["character_id"]).column(0).to_pylist())
        return ids

    test_chars = characters_in("characters", "test")
    assert test_chars and not (test_chars & characters_in("characters", "train"))
    for config in ("rewrite", "generate"):
        assert characters_in(config, "test") <= test_chars
        assert not (characters_in(config, "train") & test_chars)


def test_chat_messages_are_ready_for_sft(demo_build):
    table = pq.read_table(next((demo_build.out_dir / "data" / "rewrite").glob("train-*.parquet")))
    for row in table.to_pylist():
        roles = [m["role"] for m in row["messages"]]
        assert roles == ["system", "user", "assistant"]
        assert row["messages"][1]["content"] == row["question"]
        assert row["messages"][2]["content"] == row["response"]
        assert row["original_response"]


def test_card_yaml_lists_every_config(demo_build):
    text = (demo_build.out_dir / "README.md").read_text()
    front = yaml.safe_load(text.split("---")[1])
    assert [c["config_name"] for c in front["configs"]] == [
        "characters",
        "rewrite",
        "generate",
        "eval_character_choice",
        "eval_dialogues",
    ]
    infos = {i["config_name"]: i for i in front["dataset_info"]}
    manifest = json.loads((demo_build.out_dir / "release.json").read_text())
    for config, info in manifest["configs"].items():
        split_counts = {s["name"]: s["num_examples"] for s in infos[config]["splits"]}
        assert split_counts == {k: v["rows"] for k, v in info["splits"].items()}
