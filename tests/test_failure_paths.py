"""Outcomes that used to crash or mislabel: a config that keeps nothing, ``min_rows``, dialogues
of a quarantined character, and a recipe with several mistakes reported at once."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import datasets
import pytest
import yaml
from test_bad_input import _answer  # English answers that no filter drops

from ocforge.errors import BuildError, RecipeError
from ocforge.flows.build import build
from ocforge.recipe import load_recipe

PROFILE = (
    "Name: {name}\nAge: 41\nGender: female\nRace: Welsh\nBirth Place: Cardiff\n"
    "Appearance: Tall, in a green raincoat.\nGeneral Experience: {past}\n"
    "Personality: Warm and blunt."
)
PASTS = [
    "Ran a bakery on the harbour for twelve years.",
    "Taught chemistry before she retired to a farm.",
    "Plays the harp in a folk band and mends bicycles.",
]


def _corpus(tmp_path: Path, dialogues: list[dict], characters: list[dict] | None = None, **extra):
    data = tmp_path / "data"
    data.mkdir(exist_ok=True)
    if characters is None:
        characters = [
            {
                "character_id": i + 1,  # numeric source ids, as many releases have them
                "persona": f"A person number {i}.",
                "character": PROFILE.format(name=name, past=PASTS[i]),
            }
            for i, name in enumerate(["Ann Baker", "Bea Morgan", "Cy Price"])
        ]
    (data / "characters.jsonl").write_text("".join(json.dumps(c) + "\n" for c in characters))
    (data / "dialogues.jsonl").write_text("".join(json.dumps(d) + "\n" for d in dialogues))
    recipe = {
        "name": "failure-paths",
        "characters": {
            "inputs": [{"path": "data/characters.jsonl", "fields": {"profile": "character"}}]
        },
        "dialogues": [{"strategy": "generate", "inputs": [{"path": "data/dialogues.jsonl"}]}],
        "splits": {"test_fraction": 0.0},
        **extra,
    }
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe, sort_keys=False))
    return path


def test_a_dialogue_config_with_no_input_rows_is_an_outcome_not_a_crash(tmp_path):
    result = build(load_recipe(_corpus(tmp_path, [])), tmp_path / "out")
    ledger = result.ledger.configs["generate"]
    assert (ledger.input, ledger.kept) == (0, 0)
    assert result.ledger.configs["characters"].kept == 3
    manifest = json.loads((result.out_dir / "release.json").read_text())
    assert manifest["ledger"]["configs"]["generate"]["kept"] == 0
    assert (result.out_dir / "README.md").is_file()


def test_a_config_whose_rows_are_all_filtered_finishes_and_says_why(tmp_path):
    dialogues = [
        {"character_id": 1, "question": f"Q{i}?", "response": "Too short."} for i in range(4)
    ]
    result = build(load_recipe(_corpus(tmp_path, dialogues)), tmp_path / "out")
    ledger = result.ledger.configs["generate"]
    assert ledger.kept == 0
    assert ledger.reasons["dropped"] == {"too_short": 4}
    assert ledger.balanced


def test_min_rows_fails_the_build_naming_the_config_and_counts(tmp_path):
    dialogues = [
        {"character_id": 1, "question": f"Q{i}?", "response": _answer(i)} for i in range(3)
    ]
    dialogues.append({"character_id": 1, "question": "Short?", "response": "No."})
    path = _corpus(tmp_path, dialogues)
    recipe = yaml.safe_load(path.read_text())
    recipe["dialogues"][0]["min_rows"] = 10
    path.write_text(yaml.safe_dump(recipe, sort_keys=False))
    with pytest.raises(BuildError) as err:
        build(load_recipe(path), tmp_path / "out")
    message = str(err.value)
    assert "config 'generate' kept 3 of 4 input rows" in message
    assert "dropped 1" in message and "min_rows 10" in message
    # the CLI gives the same message on one line, without a traceback, and exits non-zero
    run = subprocess.run(
        [sys.executable, "-m", "ocforge", "build", str(path), "--out", str(tmp_path / "cli")],
        capture_output=True,
        text=True,
    )
    assert run.returncode != 0
    assert "config 'generate' kept 3 of 4" in run.stderr + run.stdout
    assert "Traceback" not in run.stderr


def test_dialogues_of_a_quarantined_character_are_dropped_as_character_removed(tmp_path):
    characters = [
        {
            "character_id": 1,
            "persona": "A baker.",
            "character": PROFILE.format(name="Ann", past=PASTS[0]),
        },
        # no Name: line: the character is quarantined (unparseable_profile)
        {"character_id": 5, "persona": "A ghost.", "character": "Age: 300\nPersonality: eerie"},
    ]
    dialogues = [
        {"character_id": 1, "question": "How do you bake?", "response": _answer(1)},
        {"character_id": 5, "question": "Who are you?", "response": _answer(2)},
        {"character_id": 7, "question": "Anyone there?", "response": _answer(3)},
    ]
    result = build(load_recipe(_corpus(tmp_path, dialogues, characters)), tmp_path / "out")
    ledger = result.ledger.configs["generate"]
    assert ledger.reasons["dropped"] == {"character_removed": 1}
    assert ledger.reasons["quarantined"] == {"unknown_character": 1}
    removed = datasets.load_dataset(
        "parquet",
        data_files=str(result.out_dir / "removed" / "generate" / "*" / "*.parquet"),
        split="train",
    )
    (row,) = [r for r in removed if r["reason"] == "character_removed"]
    assert "character '5'" in row["detail"]
    assert "quarantined as unparseable_profile" in row["detail"]
    assert "no 'Name:' line" in row["detail"]


def test_a_recipe_with_several_mistakes_reports_all_of_them(tmp_path):
    recipe = {
        "name": "two-mistakes",
        "synthesis": {
            "backend": {"type": "endpoint", "endpoint_url": "http://127.0.0.1:9", "model": "m"},
            "characters": {"inputs": [{"path": "chars.jsonl"}]},
            "questions": [
                {"corpus": "lima", "inputs": [{"path": "lima.jsonl", "importer": "LIMA"}]}
            ],
            "dialogues": [{"strategy": "generate", "corpora": ["lmia"]}],
        },
        "characters": {"inputs": [{"synthesis": "characters"}]},
        "dialogues": [{"strategy": "generate", "inputs": [{"synthesis": "generate"}]}],
    }
    for name in ("chars.jsonl", "lima.jsonl"):
        (tmp_path / name).write_text("")
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe, sort_keys=False))
    with pytest.raises(RecipeError) as err:
        load_recipe(path)
    problems = err.value.problems
    assert any("importer" in p and "'LIMA'" in p for p in problems), problems
    assert any("unknown corpora lmia" in p and "recipe.yaml:" in p for p in problems), problems
