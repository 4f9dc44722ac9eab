"""Bad input is quarantined with its file, line and error; nothing else is lost."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from ocforge.build import build
from ocforge.errors import BuildError, LedgerError
from ocforge.ledger import ConfigLedger, Ledger
from ocforge.recipe import load_recipe

PROFILE = (
    "Name: {name}\nAge: 40\nGender: female\nRace: Welsh\nBirth Place: Cardiff\n"
    "Appearance: Tall, with a green raincoat.\nGeneral Experience: Ran a bakery for {years} years.\n"
    "Personality: Warm and blunt; says 'right then' a lot."
)


def _answer(i: int) -> str:
    return f"Right then, love, here is what I learned at the bakery about problem {i}: " + " ".join(
        ["knead", "patience", "butter", "oven", "morning", "flour"][j % 6] for j in range(i, i + 25)
    )


def _corpus(tmp_path: Path, dialogue_lines: list[str]) -> Path:
    data = tmp_path / "data"
    data.mkdir()
    chars = [
        {
            "character_id": f"c{i}",
            "persona": f"A baker number {i}.",
            "character": PROFILE.format(name=f"Baker {w}", years=i),
        }
        for i, w in enumerate(["Ann", "Bea", "Cy"])
    ]
    (data / "characters.jsonl").write_text("".join(json.dumps(c) + "\n" for c in chars))
    (data / "dialogues.jsonl").write_text("".join(line + "\n" for line in dialogue_lines))
    recipe = {
        "name": "bad-input",
        "characters": {
            "inputs": [{"path": "data/characters.jsonl", "fields": {"profile": "character"}}]
        },
        "dialogues": [{"strategy": "generate", "inputs": [{"path": "data/dialogues.jsonl"}]}],
        "splits": {"test_fraction": 0.0},
    }
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe))
    return path


def _dialogue(i: int, character: str = "c0") -> str:
    return json.dumps(
        {"character_id": character, "question": f"Question {i}?", "response": _answer(i)}
    )


def _removed(out: Path, config: str) -> list[dict]:
    rows = []
    for base in ("removed", "quarantine"):
        for p in sorted((out / base / config).glob("*/*.jsonl")):
            rows += [json.loads(x) for x in p.read_text().splitlines()]
    return rows


def test_corrupt_line_in_the_middle_is_quarantined_and_the_rest_processed(tmp_path):
    lines = [_dialogue(i, f"c{i % 3}") for i in range(10)]
    lines.insert(5, '{"character_id": "c1", "question": "Half a line')
    lines.insert(8, '["not", "an", "object"]')
    lines.insert(9, json.dumps({"character_id": "c2", "question": "Where is the answer?"}))
    lines.insert(
        10, json.dumps({"character_id": "c2", "question": "Wrong type?", "response": 42.5})
    )
    lines.insert(11, json.dumps({"character_id": "c2", "question": "Bad type?", "response": ["a"]}))
    lines.append(_dialogue(99, "ghost"))
    result = build(load_recipe(_corpus(tmp_path, lines)), tmp_path / "out")
    ledger = result.ledger.configs["generate"]
    assert ledger.input == 16
    assert ledger.kept == 10
    assert ledger.reasons["quarantined"] == {
        "malformed_json": 1,
        "not_an_object": 1,
        "missing_field": 1,
        "wrong_type": 2,
        "unknown_character": 1,
    }
    assert ledger.balanced
    by_line = {r["line"]: r for r in _removed(result.out_dir, "generate")}
    assert by_line[6]["reason"] == "malformed_json"
    assert by_line[6]["detail"].startswith("data/dialogues.jsonl:6: ")
    assert by_line[6]["raw"] == lines[5]
    assert by_line[10]["detail"] == (
        "data/dialogues.jsonl:10: field 'response': required field is missing (expected a string)"
    )
    assert "field 'response': expected a string, got float" in by_line[11]["detail"]
    assert "field 'response': expected a string, got list" in by_line[12]["detail"]
    assert "no character 'ghost'" in by_line[16]["detail"]


def test_empty_and_break_answers_are_dropped_with_reasons(tmp_path):
    lines = [_dialogue(i) for i in range(3)]
    lines.append(json.dumps({"character_id": "c1", "question": "Q?", "response": "   "}))
    lines.append(json.dumps({"character_id": "c1", "question": "Q2?", "response": "Fine."}))
    lines.append(
        json.dumps(
            {
                "character_id": "c1",
                "question": "Q3?",
                "response": "Well... AS AN A.I. LANGUAGE-MODEL, I'd say " + _answer(3),
            }
        )
    )
    lines.append(lines[0])  # exact duplicate
    lines.append(
        json.dumps(
            {"character_id": "c0", "question": "question 1?", "response": "  " + _answer(1).upper()}
        )
    )
    result = build(load_recipe(_corpus(tmp_path, lines)), tmp_path / "out")
    ledger = result.ledger.configs["generate"]
    assert ledger.reasons["dropped"] == {"empty_response": 1, "too_short": 1, "character_break": 1}
    assert ledger.reasons["duplicates"] == {"exact_duplicate": 2}
    assert ledger.kept == 3 and ledger.balanced


def test_ledger_violation_fails_the_run():
    ledger = Ledger(
        {
            "x": ConfigLedger(
                input=5,
                kept=3,
                reasons={"dropped": {"too_short": 1}, "duplicates": {}, "quarantined": {}},
            )
        }
    )
    with pytest.raises(
        LedgerError, match=r"x: input 5 != kept 3 \+ dropped 1 \+ duplicates 0 \+ quarantined 0"
    ):
        ledger.check()


def test_refuses_to_overwrite_a_foreign_folder(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "thesis.tex").write_text("precious")
    recipe = load_recipe(_corpus(tmp_path, [_dialogue(0)]))
    with pytest.raises(BuildError, match="thesis.tex"):
        build(recipe, out)
    assert (out / "thesis.tex").read_text() == "precious"
