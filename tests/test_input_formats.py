"""Inputs as people have them: Alpaca's one-array ``.json``, files whose bytes do not match their
declared format, LIMA's multi-turn rows, and quarantined rows that keep what was read."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from ocforge.builders.importers import import_row
from ocforge.builders.synthesis.inputs import Inputs, read_characters, read_personas, read_questions
from ocforge.errors import InputError
from ocforge.flows.build import build
from ocforge.inputs import count_input_records, iter_input, splittable
from ocforge.recipe import InputSpec, load_recipe

DEMO = Path(__file__).resolve().parent.parent / "configs" / "demo"
PROFILE = (
    "Name: {name}\nAge: 40\nGender: female\nRace: Welsh\nBirth Place: Cardiff\n"
    "Appearance: Tall, with a green raincoat.\nGeneral Experience: {past}\n"
    "Personality: Warm and blunt."
)


def _cli(*args: str) -> subprocess.CompletedProcess:
    exe = Path(sys.executable).parent / "ocforge"
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "ocforge"]
    return subprocess.run([*cmd, *args], capture_output=True, text=True, timeout=300)


def _alpaca(n: int) -> list[dict]:
    return [
        {"instruction": f"Name thing {i}.", "input": "" if i % 3 else f"ctx {i}", "output": f"A{i}"}
        for i in range(n)
    ]


def _spec(path: Path, **kw) -> InputSpec:
    return InputSpec.model_validate({"path": str(path), **kw})


def _build_recipe(tmp_path: Path, dialogue_input: dict, chars: list | None = None) -> Path:
    data = tmp_path / "data"
    data.mkdir(exist_ok=True)
    chars = chars or [
        {
            "character_id": "c0",
            "persona": "A baker.",
            "character": PROFILE.format(name="Ann", past="Baked."),
        }
    ]
    (data / "characters.jsonl").write_text("".join(json.dumps(c) + "\n" for c in chars))
    recipe = {
        "name": "formats",
        "characters": {"inputs": [{"path": "data/characters.jsonl", "importer": "opencharacter"}]},
        "dialogues": [{"strategy": "generate", "inputs": [dialogue_input]}],
        "splits": {"test_fraction": 0.0},
        "filters": {
            "language": {"enabled": False},
            "quality": {"gopher_quality": False, "gopher_repetition": False},
        },
    }
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe))
    return path


# --- one JSON array (Alpaca's alpaca_data.json) ---------------------------------------------


def test_a_json_array_file_is_streamed_with_the_line_of_each_element(tmp_path):
    rows = _alpaca(20_000)  # ~3 MB: elements straddle the reader's 1 MiB blocks
    text = json.dumps(rows, indent=4)
    broken = text.replace('"Name thing 7001."', '"Name thing 7001." oops', 1)
    path = tmp_path / "alpaca_data.json"
    path.write_text(broken)
    spec = _spec(path, importer="alpaca")
    assert spec.resolved_format == "json" and not splittable(spec)

    out = Inputs()
    read_questions("alpaca", [("alpaca_data.json", spec)], out)
    assert out.tallies["questions:alpaca"].as_dict() == {
        "read": 20_000,
        "valid": 19_999,
        "duplicates": 0,
        "quarantined": 1,
    }
    starts = [i + 1 for i, line in enumerate(text.splitlines()) if line == "    {"]
    where = {q["question"].split("\n")[0]: q["where"] for q in out.questions["alpaca"]}
    assert where["Name thing 0."] == f"alpaca_data.json:{starts[0]}" == "alpaca_data.json:2"
    assert where["Name thing 19999."] == f"alpaca_data.json:{starts[19_999]}"
    (bad,) = out.quarantine
    assert (bad["reason"], bad["line"]) == ("malformed_json", starts[7001])
    assert bad["detail"].startswith(f"alpaca_data.json:{starts[7001]}: ")
    assert f"line {starts[7001] + 1}" in bad["detail"]  # the line inside the element at fault
    assert "oops" in bad["raw"]
    assert count_input_records(spec) == sum(1 for _ in iter_input(spec)) == 20_000


def test_a_json_array_input_builds_and_the_ledger_balances(tmp_path):
    answers = [
        "Most mornings I am up before the sun, kneading dough while the street sleeps.",
        "The harbour wind gets into everything, so I keep the flour sealed tight.",
    ]
    rows = [
        {"character_id": "c0", "question": f"Q{i}?", "response": a} for i, a in enumerate(answers)
    ]
    text = json.dumps(rows[:1], indent=2)[:-2] + ',\n  {"character_id": "c0", "question": 5 6},\n'
    text += json.dumps(rows[1:], indent=2)[2:]
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "dialogues.json").write_text(text)
    recipe = _build_recipe(tmp_path, {"path": "data/dialogues.json"})
    result = build(load_recipe(recipe), tmp_path / "out")
    ledger = result.ledger.configs["generate"]
    assert ledger.balanced and (ledger.input, ledger.kept) == (3, 2)
    assert ledger.reasons["quarantined"] == {"malformed_json": 1}
    quarantined = pq.read_table(
        next((result.out_dir / "quarantine" / "generate").glob("*/*.parquet"))
    ).to_pylist()
    assert [(r["line"], r["detail"].split(":")[:2]) for r in quarantined] == [
        (7, ["data/dialogues.json", "7"])
    ]


def test_a_jsonl_file_holding_one_array_says_to_use_format_json(tmp_path):
    path = tmp_path / "alpaca.jsonl"
    path.write_text(json.dumps(_alpaca(3), indent=4))
    with pytest.raises(
        InputError,
        match=r"alpaca\.jsonl: format jsonl \(from the \.jsonl suffix\), "
        r"but it starts like one JSON array.*'format: json' or rename it to \.json",
    ):
        count_input_records(_spec(path))
    path.write_text(json.dumps(_alpaca(3)))  # the same, on one line
    with pytest.raises(InputError, match="'format: json'"):
        iter_input(_spec(path))
    # as JSON Lines with an array line further down: that line is quarantined, with the hint
    path.write_text(json.dumps(_alpaca(1)[0]) + "\n" + json.dumps(_alpaca(2)) + "\n")
    errors = [e for *_, e in iter_input(_spec(path))]
    assert errors[0] is None and errors[1].startswith("not_an_object: ")
    assert "use 'format: json' or rename it to .json" in errors[1]


# --- declared format against what the file holds --------------------------------------------


def test_format_mismatch_is_one_clear_error_in_validate_and_build(tmp_path):
    (tmp_path / "data").mkdir()
    jsonl = tmp_path / "data" / "x.jsonl"
    jsonl.write_text('{"character_id": "c0", "question": "Q?", "response": "A."}\n')
    recipe = _build_recipe(tmp_path, {"path": "data/x.jsonl", "format": "parquet"})

    checked = _cli("validate", str(recipe))
    assert checked.returncode != 0
    said = checked.stdout + checked.stderr
    assert "dialogues[0].inputs[0]" in said
    assert "x.jsonl: declared format parquet, but it starts like JSON Lines" in said
    assert "(not a Parquet file)" in said and "Traceback" not in said

    built = _cli("build", str(recipe), "--out", str(tmp_path / "out"))
    assert built.returncode != 0
    said = built.stdout + built.stderr
    assert "x.jsonl: declared format parquet" in said and "Traceback" not in said

    # the reverse: a Parquet file read as JSON Lines
    parquet = tmp_path / "data" / "y.jsonl"
    pq.write_table(
        pa.table({"character_id": ["c0"], "question": ["Q?"], "response": ["A."]}), parquet
    )
    with pytest.raises(InputError, match=r"y\.jsonl: format jsonl .* the file is a Parquet file"):
        build(load_recipe(_build_recipe(tmp_path, {"path": "data/y.jsonl"})), tmp_path / "out2")


def test_validate_lists_every_input_in_the_wrong_format(tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "d.json").write_text('{"a": 1}\n{"a": 2}\n')  # JSON Lines named .json
    recipe = _build_recipe(tmp_path, {"path": "data/d.json"})
    (tmp_path / "data" / "characters.jsonl").write_bytes(b"\x1f\x8b\x08\x00 gzip")
    checked = _cli("validate", str(recipe))
    said = checked.stdout + checked.stderr
    assert checked.returncode != 0
    assert "characters.inputs[0]" in said and "gzip-compressed" in said
    assert "d.json: format json (from the .json suffix)" in said
    assert "use 'format: jsonl' or rename it to .jsonl" in said


def test_synth_names_the_file_declared_in_the_wrong_format(tmp_path):
    data = yaml.safe_load((DEMO / "synth.yaml").read_text())
    for node in [
        *data["synthesis"]["characters"]["personas"]["inputs"],
        *data["synthesis"]["characters"]["inputs"],
        *(i for q in data["synthesis"]["questions"] for i in q["inputs"]),
    ]:
        node["path"] = str(DEMO / node["path"])
    alpaca = data["synthesis"]["questions"][1]["inputs"][0]
    alpaca["format"] = "parquet"
    path = tmp_path / "synth.yaml"
    path.write_text(yaml.safe_dump(data))
    done = _cli("synth", str(path), "--out", str(tmp_path / "out"))
    said = done.stdout + done.stderr
    assert done.returncode != 0
    assert "alpaca.jsonl: declared format parquet, but it starts like JSON Lines" in said
    assert "Traceback" not in said and "ArrowInvalid" not in said


# --- importers: source columns, original rows, LIMA's turns ---------------------------------


def test_quarantined_rows_keep_the_row_as_read_and_name_the_column(tmp_path):
    personas = tmp_path / "personas.jsonl"
    rows = [
        {"text": "no persona column"},
        {"persona": 7},
        {"persona": "   "},
        {"persona": "A potter."},
    ]
    personas.write_text("".join(json.dumps(r) + "\n" for r in rows))
    ph = tmp_path / "ph.jsonl"
    ph.write_text(json.dumps({"input persona": "a chef", "prompt": "wrong column"}) + "\n")
    chars = tmp_path / "chars.jsonl"
    chars.write_text(json.dumps({"character_id": "x", "persona": "p", "character": 5}) + "\n")
    out = Inputs()
    read_personas([("personas.jsonl", _spec(personas, importer="personahub"))], out)
    read_questions("ph", [("ph.jsonl", _spec(ph, importer="ph-instruct"))], out)
    read_characters([("chars.jsonl", _spec(chars, importer="opencharacter"))], out)
    by_where = {q["detail"].split(": ")[0]: q for q in out.quarantine}
    assert [by_where[f"personas.jsonl:{n}"]["raw"] for n in (1, 2, 3)] == rows[:3]
    assert by_where["personas.jsonl:1"]["detail"] == (
        "personas.jsonl:1: column 'persona' (persona): required column is missing"
    )
    assert by_where["personas.jsonl:2"]["detail"] == (
        "personas.jsonl:2: column 'persona' (persona): expected a string, got int"
    )
    assert by_where["ph.jsonl:1"]["detail"] == (
        "ph.jsonl:1: column 'synthesized text' (question): required column is missing"
    )
    assert by_where["chars.jsonl:1"]["detail"] == (
        "chars.jsonl:1: column 'character' (profile): expected a string, got int"
    )
    assert all("__source" not in json.dumps(q["raw"]) for q in out.quarantine)


def test_a_build_quarantines_an_importer_row_with_its_column_and_raw_row(tmp_path):
    bad = {"character_id": "c9", "persona": "A ghost.", "character": ["not", "text"]}
    chars = [
        {
            "character_id": "c0",
            "persona": "A baker.",
            "character": PROFILE.format(name="Ann", past="Baked."),
        },
        bad,
    ]
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "d.jsonl").write_text(
        json.dumps({"character_id": "c0", "question": "Q?", "response": "I bake bread at dawn."})
        + "\n"
    )
    result = build(
        load_recipe(_build_recipe(tmp_path, {"path": "data/d.jsonl"}, chars)), tmp_path / "out"
    )
    (row,) = pq.read_table(
        next((result.out_dir / "quarantine" / "characters").glob("*/*.parquet"))
    ).to_pylist()
    assert row["detail"] == (
        "data/characters.jsonl:2: column 'character' (profile): expected a string, got list"
    )
    assert json.loads(row["raw"]) == bad


def test_lima_rows_count_the_turns_left_out(tmp_path):
    spec = InputSpec.model_validate({"hub": {"repo": "GAIR/lima"}, "importer": "lima"})
    four = import_row({"conversations": ["Q?", "A.", "More?", "Yes."]}, spec)
    assert four == {"question": "Q?", "original_response": "A.", "dropped_turns": 2}
    assert "dropped_turns" not in import_row({"conversations": ["Q?", "A."]}, spec)
    assert "dropped_turns" not in import_row({"conversations": ["Q?"]}, spec)
    # the extra key does not disturb reading the questions
    lima = tmp_path / "lima.jsonl"
    lima.write_text(json.dumps({"conversations": ["Q?", "A.", "More?"]}) + "\n")
    out = Inputs()
    read_questions("lima", [("lima.jsonl", _spec(lima, importer="lima"))], out)
    assert [(q["question"], q["original_response"]) for q in out.questions["lima"]] == [
        ("Q?", "A.")
    ]
