"""Bad input is quarantined with its file, line and error; nothing else is lost."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import yaml

from ocforge.errors import BuildError, LedgerError
from ocforge.flows.build import build
from ocforge.ledger import ConfigLedger, Ledger
from ocforge.recipe import load_recipe

PROFILE = (
    "Name: {name}\nAge: {age}\nGender: female\nRace: Welsh\nBirth Place: {place}\n"
    "Appearance: {look}\nGeneral Experience: {past}\nPersonality: {mood}"
)
CHARACTERS = [
    dict(
        name="Baker Ann",
        age=40,
        place="Cardiff",
        look="Tall, with a green raincoat.",
        past="Ran a bakery on the harbour for twelve years.",
        mood="Warm and blunt.",
    ),
    dict(
        name="Bea Morgan",
        age=63,
        place="Swansea",
        look="Small and wiry, flour on her sleeves.",
        past="Taught chemistry before she retired to a mountain farm.",
        mood="Dry humour, patient.",
    ),
    dict(
        name="Cy Price",
        age=27,
        place="Aberystwyth",
        look="Red hair tied back, paint-stained boots.",
        past="Plays the harp in a folk band and repairs old bicycles.",
        mood="Restless and curious.",
    ),
]
# distinct sentences, so that generated answers are neither exact nor near duplicates
SENTENCES = [
    "Right then, the first thing to know is that patience matters more than talent.",
    "When the oven is too hot the crust burns before the middle is done.",
    "My grandmother kept her recipes in a tin box with a broken lid.",
    "You should always taste the dough, because it tells you what it needs.",
    "On cold mornings the yeast sleeps longer and you have to wait for it.",
    "A good loaf sounds hollow when you knock on the bottom of it.",
    "People ask me for secrets, but the only secret is doing it every day.",
    "I once forgot the salt and the whole street could taste the difference.",
    "The market opens at six, so the first batch goes in at four.",
    "Butter from the farm up the valley makes the pastry flake like leaves.",
    "If the kitchen is damp, the flour drinks less water than the recipe says.",
    "Children love to shape the rolls, and the crooked ones always sell first.",
]


def _answer(i: int) -> str:
    picks = random.Random(i).sample(SENTENCES, 4)
    return f"About problem {i}: " + " ".join(picks)


def _corpus(tmp_path: Path, dialogue_lines: list[str]) -> Path:
    data = tmp_path / "data"
    data.mkdir()
    chars = [
        {
            "character_id": f"c{i}",
            "persona": f"A baker number {i}.",
            "character": PROFILE.format(**fields),
        }
        for i, fields in enumerate(CHARACTERS)
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
        for p in sorted((out / base / config).glob("*/*.parquet")):
            rows += pq.read_table(p).to_pylist()
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


def test_generator_column_is_kept_and_defaults_to_import(tmp_path):
    """Synthesized characters name their model in `generator`; imported ones say `import`."""
    recipe_path = _corpus(tmp_path, [_dialogue(0)])
    chars_file = tmp_path / "data" / "characters.jsonl"
    rows = [json.loads(line) for line in chars_file.read_text().splitlines()]
    rows[1]["generator"] = "tiny-llama@abc123"
    chars_file.write_text("".join(json.dumps(r) + "\n" for r in rows))
    result = build(load_recipe(recipe_path), tmp_path / "out")
    table = pq.read_table(next((result.out_dir / "data" / "characters").glob("train-*.parquet")))
    by_source = {r["provenance"]["record"]: r["generator"] for r in table.to_pylist()}
    assert by_source == {"c0": "import", "c1": "tiny-llama@abc123", "c2": "import"}
