"""Seeded fuzzing of whole builds: small corpora with hostile and malformed lines.

For every corpus the build either succeeds or fails with a one-line error naming a file and
line; the ledger balances; every non-blank input line ends in exactly one of kept, removed and
quarantine (by its file and line); and every config and split loads with ``load_dataset``.
``OCFORGE_FUZZ_CORPORA`` sets how many corpora are built (default 48, about 40 s here; 200 passed in 3.5 minutes).
"""

from __future__ import annotations

import json
import os
import random
import re
from pathlib import Path

import datasets
import pyarrow.parquet as pq
import pytest
import yaml
from test_bad_input import _answer

from ocforge.errors import OcforgeError
from ocforge.flows.build import build
from ocforge.recipe import load_recipe

CORPORA = int(os.environ.get("OCFORGE_FUZZ_CORPORA", "48"))
NAMES = ["Ann Baker", "Bea Morgan", "Cy Price", "Dai Evans", "Eli Rhys", "Fran Lloyd"]
PAST = [
    "Ran a bakery on the harbour for twelve years.",
    "Taught chemistry before she retired to a mountain farm.",
    "Plays the harp in a folk band and repairs old bicycles.",
    "Keeps bees on a hillside above the estuary.",
    "Drove the night bus between two valleys for a decade.",
    "Restores stained glass windows in old chapels.",
]


def _profile(i: int, age: str = "40", name: str | None = None) -> str:
    return (
        f"Name: {name or NAMES[i]}\nAge: {age}\nGender: female\nRace: Welsh\n"
        f"Birth Place: Cardiff\nAppearance: Tall, in a green coat number {i}.\n"
        f"General Experience: {PAST[i]}\nPersonality: Warm and blunt."
    )


def _j(obj) -> bytes:
    return json.dumps(obj).encode()


def _character_line(rng: random.Random, i: int) -> bytes:
    kind = rng.choice(["ok"] * 6 + ["no_name", "spelled_age", "placeholder", "bad_age", "int_id"])
    row = {"character_id": f"c{i}", "persona": f"A person number {i}.", "character": _profile(i)}
    if kind == "no_name":
        row["character"] = row["character"].split("\n", 1)[1]
    elif kind == "spelled_age":
        row["character"] = _profile(i, age=rng.choice(["forty-six", "mid-30s", "about 52"]))
    elif kind == "placeholder":
        row["character"] = _profile(i, name="[Name]")
    elif kind == "bad_age":
        row["character"] = _profile(i, age="99999")
    elif kind == "int_id":
        row["character_id"] = i
    return _j(row)


def _hostile_line(rng: random.Random, good: dict) -> bytes:
    """One malformed or hostile variant of a good dialogue row."""
    depth = rng.choice([50, 1000, 5000])
    choices = [
        lambda: _j(good)[: rng.randrange(1, len(_j(good)))],  # truncated
        lambda: b"[" * depth + b"]" * depth,  # deeply nested array
        lambda: b'{"a": ' * depth + b"1" + b"}" * depth,  # deeply nested object
        lambda: _j(good).replace(b'"response": "', b'"response": "\xff\xfe', 1),  # bad UTF-8
        lambda: _j(good).replace(b'"question": "', b'"question": "\x00', 1),  # raw NUL byte
        lambda: _j({**good, "response": good["response"] + "\u0000 end"}),  # escaped NUL
        lambda: _j(good).replace(b'"response": "', b'"response": "\\ud800', 1),  # lone surrogate
        lambda: _j({**good, "response": 42}),
        lambda: _j({**good, "response": ["a", "b"]}),
        lambda: _j({**good, "question": {"nested": "object"}}),
        lambda: _j({k: v for k, v in good.items() if k != "question"}),
        lambda: _j({**good, "character_id": "nobody"}),
        lambda: _j({**good, "response": "   "}),
        lambda: _j({**good, "response": " ".join(["word"] * 700)}),
        lambda: b'["not", "an", "object"]',
        lambda: b"12345",
        lambda: b'{"character_id": "c0", "question": 1e999, "response": "x"}',
        lambda: b"\xef\xbb\xbf" + _j(good),  # a BOM in the middle of the file
    ]
    return rng.choice(choices)()


def _dialogue_lines(rng: random.Random, n_chars: int, start: int) -> list[bytes]:
    lines: list[bytes] = []
    for k in range(rng.randint(4, 14)):
        cid = rng.randrange(n_chars)
        good = {
            "character_id": rng.choice([f"c{cid}", cid]) if rng.random() < 0.2 else f"c{cid}",
            "question": f"Question number {start + k} about baking?",
            "response": _answer(start + k),
        }
        roll = rng.random()
        if roll < 0.45:
            lines.append(_hostile_line(rng, good))
        elif roll < 0.55 and lines:
            lines.append(rng.choice(lines))  # an exact repeat of an earlier line
        else:
            lines.append(_j(good))
        if rng.random() < 0.1:
            lines.append(b"   ")  # blank lines are not records
    return lines


def _write_corpus(root: Path, seed: int) -> Path:
    rng = random.Random(seed)
    data = root / "data"
    data.mkdir(parents=True)
    n_chars = rng.randint(2, len(NAMES))
    newline = b"\r\n" if rng.random() < 0.2 else b"\n"
    chars = [_character_line(rng, i) for i in range(n_chars)]
    (data / "characters.jsonl").write_bytes(newline.join(chars) + newline)
    dialogues = {}
    for strategy in rng.sample(["generate", "rewrite"], rng.randint(1, 2)):
        lines = _dialogue_lines(rng, n_chars, seed * 100)
        if strategy == "rewrite":
            lines = [_with_original(line) for line in lines]
        if rng.random() < 0.1:
            lines = []  # an empty input file
        (data / f"{strategy}.jsonl").write_bytes(b"".join(line + newline for line in lines))
        dialogues[strategy] = f"data/{strategy}.jsonl"
    recipe = {
        "name": f"fuzz-{seed}",
        "characters": {
            "inputs": [{"path": "data/characters.jsonl", "fields": {"profile": "character"}}]
        },
        "dialogues": [{"strategy": s, "inputs": [{"path": p}]} for s, p in dialogues.items()],
        "splits": {"test_fraction": rng.choice([0.0, 0.3, 0.5]), "seed": seed},
    }
    path = root / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe, sort_keys=False))
    return path


def _with_original(line: bytes) -> bytes:
    try:
        row = json.loads(line)
    except (ValueError, RecursionError):
        return line
    if isinstance(row, dict):
        row["original_response"] = "The plain answer, before it was rewritten in character."
        return _j(row)
    return line


def _input_lines(path: Path) -> set[int]:
    return {n for n, line in enumerate(path.read_bytes().split(b"\n"), 1) if line.strip()}


def _placed(out: Path, config: str) -> list[tuple[str, int]]:
    """(input, line) of every kept, removed and quarantined row of a config."""
    placed = []
    for parquet in sorted((out / "data" / config).glob("*.parquet")):
        for prov in pq.read_table(parquet, columns=["provenance"]).column(0).to_pylist():
            placed.append((prov["input"], prov["line"]))
    for base in ("removed", "quarantine"):
        for parquet in sorted((out / base / config).glob("*/*.parquet")):
            rows = pq.read_table(parquet, columns=["input", "line"]).to_pylist()
            placed += [(r["input"], r["line"]) for r in rows]
    return placed


@pytest.mark.parametrize("seed", range(CORPORA))
def test_fuzzed_corpus_builds_balances_and_loads(tmp_path, seed):
    recipe_path = _write_corpus(tmp_path / "corpus", seed)
    try:
        result = build(load_recipe(recipe_path), tmp_path / "out")
    except OcforgeError as exc:
        message = str(exc)
        assert "\n" not in message.strip() and "Traceback" not in message, message
        assert re.search(r"\S+\.jsonl?:\d+", message), f"no file and line in: {message}"
        return
    ledger = result.ledger
    assert all(c.balanced for c in ledger.configs.values()), ledger.to_dict()
    recipe = yaml.safe_load(recipe_path.read_text())
    configs = {"characters": recipe["characters"]["inputs"]}
    configs |= {d["strategy"]: d["inputs"] for d in recipe["dialogues"]}
    for config, inputs in configs.items():
        expected = {
            (spec["path"], n)
            for spec in inputs
            for n in _input_lines(recipe_path.parent / spec["path"])
        }
        placed = _placed(result.out_dir, config)
        assert len(placed) == len(set(placed)), f"{config}: a line is in two places"
        assert set(placed) == expected, f"{config}: lost {expected - set(placed)}"
        assert ledger.configs[config].input == len(expected)
    manifest = json.loads((result.out_dir / "release.json").read_text())
    offered = {c["config_name"] for c in yaml.safe_load(
        (result.out_dir / "README.md").read_text().split("---")[1])["configs"]}  # fmt: skip
    for config, info in manifest["configs"].items():
        rows = {split: meta["rows"] for split, meta in info["splits"].items() if meta["rows"]}
        # a split of 0 rows is left out (datasets cannot load one), and so is a config of none
        assert (config in offered) == bool(rows), (config, info["splits"])
        if rows:
            loaded = datasets.load_dataset(str(result.out_dir), config)
            assert {s: d.num_rows for s, d in loaded.items()} == rows, config
