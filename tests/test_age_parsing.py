"""Ages as people write them (issue 13): ``age`` stays as written, ``age_years`` is parsed, and a
spelled-out age no longer drops the character (``invalid_age``) with all its dialogues."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from datatrove.data import Document

from ocforge.cards.statistics import config_stats
from ocforge.filters.profile_quality import ProfileCompletenessFilter, age_problem
from ocforge.filters.validation import ValidateCharacters
from ocforge.flows.build import build
from ocforge.profiles import parse_age
from ocforge.recipe import DEMO_RECIPE, load_recipe
from ocforge.records import CHARACTERS_SCHEMA


@pytest.mark.parametrize(
    ("age", "years"),
    [
        ("46", 46),
        ("forty-six", 46),
        ("Forty Six", 46),
        ("twenty", 20),
        ("Ninety-Nine", 99),
        ("one hundred and two", 102),
        ("two thousand and five", 2005),
        ("thirty-something", 34),
        ("40s", 44),
        ("in her 40's", 44),
        ("mid-40s", 45),
        ("Mid Thirties", 35),
        ("early thirties", 31),
        ("late twenties", 28),
        ("late teens", 18),
        ("about 35", 35),
        ("35 years old", 35),
        ("3 (in dog years)", 3),
        ("30-35", 32),  # a range gives its midpoint, rounded down
        ("300 to 400 years", 350),
        ("35.9", 35),
        ("1,000 years", 1000),
        ("3 centuries", 300),
        ("6 months", 0),
        ("35 (looks in his 50s)", 35),  # the first age stated counts
        ("500", 500),  # plausibility is the filter's job (max_age), not the parser's
        ("ageless", None),
        ("Unknown", None),
        ("immortal", None),
        ("no one knows", None),
        ("blue", None),
        ("-4", None),
        ("9" * 40, None),  # does not fit the int32 column
        ("", None),
        (None, None),
    ],
)
def test_parse_age(age, years):
    assert parse_age(age) == years


@pytest.mark.parametrize(
    "age",
    ["forty-six", "Forty Six", "one hundred and two", "late twenties", "mid-40s", "30-35",
     "thirty-something", "about 35", "3 (in dog years)", "500", "ageless", "unknown"],
)  # fmt: skip
def test_number_words_ranges_and_descriptions_are_ages(age):
    assert age_problem(age, 10_000) is None


@pytest.mark.parametrize(
    ("age", "max_age"),
    [("blue", 10_000), ("-4", 10_000), ("99999", 10_000), ("forty thousand", 10_000),
     ("five hundred", 150), ("200-300", 150)],
)  # fmt: skip
def test_impossible_ages_stay_invalid(age, max_age):
    problem = age_problem(age, max_age)
    assert problem is not None and repr(age) in problem


def _character(age: str) -> Document:
    profile = f"Name: Mara Voss\nAge: {age}\nGender: female\nPersonality: patient"
    record = {"character_id": "c-1", "persona": "A ferry pilot.", "profile": profile}
    meta = {"record": record, "input": "chars.jsonl", "line": 7, "source": "test"}
    return Document(text="", id="c-1", metadata=meta)


def test_validation_keeps_age_as_written_and_adds_age_years():
    doc = _character("forty-six")
    record = ValidateCharacters().check(doc, doc.metadata["record"])
    assert (record["age"], record["age_years"]) == ("forty-six", 46)
    assert set(record) == set(CHARACTERS_SCHEMA.names)
    doc = _character("ageless")
    assert ValidateCharacters().check(doc, doc.metadata["record"])["age_years"] is None
    # the completeness filter keeps the spelled-out age
    doc = _character("forty-six")
    doc.metadata["record"] = ValidateCharacters().check(doc, doc.metadata["record"])
    step = ProfileCompletenessFilter(required=["name", "age"])
    assert step.filter(doc) is True


def _write_characters(root: Path, rows: list[dict], schema: pa.Schema) -> None:
    folder = root / "data" / "characters"
    folder.mkdir(parents=True)
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), folder / "train-00000.parquet")


def _row(i: int, age: str, years: int | None) -> dict:
    return {"character_id": f"c{i}", "profile": f"Name: C{i}", "age": age, "age_years": years}


def test_card_age_statistics_use_age_years(tmp_path):
    rows = [_row(1, "forty-six", 46), _row(2, "late twenties", 28), _row(3, "ageless", None)]
    _write_characters(tmp_path / "new", rows, CHARACTERS_SCHEMA)
    stats = config_stats(tmp_path / "new", "characters", "characters", ["train"])
    assert dict(stats.age_buckets) == {"40-49": 1, "20-29": 1, "unknown": 1}
    # a build written before age_years existed: its ages are parsed the same way
    old_schema = CHARACTERS_SCHEMA.remove(CHARACTERS_SCHEMA.get_field_index("age_years"))
    old_rows = [{k: v for k, v in r.items() if k != "age_years"} for r in rows]
    _write_characters(tmp_path / "old", old_rows, old_schema)
    old = config_stats(tmp_path / "old", "characters", "characters", ["train"])
    assert old.age_buckets == stats.age_buckets


def test_spelled_out_ages_keep_the_character_and_its_dialogues(demo_build, tmp_path):
    folder = tmp_path / "demo"
    shutil.copytree(DEMO_RECIPE.parent, folder)
    chars_file = folder / "data" / "characters.jsonl"
    rows = [json.loads(line) for line in chars_file.read_text().splitlines()]
    written = {"oc-0001": ("34", "Thirty-Four"), "oc-0002": ("58", "late fifties")}
    written["oc-0003"] = ("16", "sixteen (nearly seventeen)")
    for row in rows:
        if row["character_id"] in written:
            digits, words = written[row["character_id"]]
            assert f"Age: {digits}\n" in row["character"]
            row["character"] = row["character"].replace(f"Age: {digits}\n", f"Age: {words}\n")
    chars_file.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    out = build(load_recipe(folder / "recipe.yaml"), tmp_path / "out").out_dir

    assert "invalid_age" not in json.dumps(json.loads((out / "release.json").read_text()))
    kept = {
        r["provenance"]["record"]: r
        for p in sorted((out / "data" / "characters").glob("*.parquet"))
        for r in pq.read_table(p).to_pylist()
    }
    for source_id, (digits, words) in written.items():
        assert (kept[source_id]["age"], kept[source_id]["age_years"]) == (words, int(digits))
    dialogue_chars = {
        r["character_id"]
        for config in ("rewrite", "generate")
        for p in sorted((out / "data" / config).glob("*.parquet"))
        for r in pq.read_table(p, columns=["character_id"]).to_pylist()
    }
    assert {kept[s]["character_id"] for s in written} <= dialogue_chars
    # the same ages in words give the demo's age statistics
    splits = ["train", "test"]
    ours = config_stats(out, "characters", "characters", splits)
    demo = config_stats(demo_build.out_dir, "characters", "characters", splits)
    assert ours.age_buckets == demo.age_buckets
