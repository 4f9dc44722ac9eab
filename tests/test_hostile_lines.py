"""Hostile input lines (deep nesting, invalid UTF-8, NUL bytes, a line over the size limit) are
quarantined with their file, line and reason by a real build; the rest of the file is built."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import yaml

from ocforge.flows.build import build
from ocforge.input_formats import MAX_DEPTH, MAX_RECORD_BYTES
from ocforge.inputs import count_input_records, iter_input
from ocforge.recipe import InputSpec, load_recipe

PROFILE = (
    "Name: {name}\nAge: 40\nGender: female\nRace: Welsh\nBirth Place: Cardiff\n"
    "Appearance: Tall, with a green raincoat.\nGeneral Experience: {past}\n"
    "Personality: Warm and blunt."
)
PASTS = [
    "Ran a bakery on the harbour for twelve years.",
    "Taught chemistry before she retired to a mountain farm.",
]
SENTENCES = [
    "Right then, the first thing to know is that patience matters more than talent.",
    "When the oven is too hot the crust burns before the middle is done.",
    "My grandmother kept her recipes in a tin box with a broken lid.",
    "You should always taste the dough, because it tells you what it needs.",
    "On cold mornings the yeast sleeps longer and you have to wait for it.",
    "A good loaf sounds hollow when you knock on the bottom of it.",
    "People ask me for secrets, but the only secret is doing it every day.",
    "Butter from the farm up the valley makes the pastry flake like leaves.",
]

DEEP = b'{"character_id": "c0", "question": "Deep?", "response": ' + b"[" * 1000 + b"]" * 1000
DEEP += b"}"
# valid JSON Python decodes, but deeper than the limit (orjson, used for intermediate files,
# refuses more than 255 levels)
MIDDLE = json.dumps({"character_id": "c0", "question": "Q?", "response": "x", "n": [[[[1]]]]})
MIDDLE = MIDDLE.replace("[[[[1]]]]", "[" * (MAX_DEPTH + 5) + "]" * (MAX_DEPTH + 5)).encode()
HOSTILE = {
    "deep": (DEEP, "too_deep"),
    "middle": (MIDDLE, "too_deep"),
    "utf8": (b'{"character_id": "c0", "question": "Caf\xe9?", "response": "x"}', "invalid_utf8"),
    "nul": (b'{"character_id": "c0", "question": "Q\x00?", "response": "x"}', "nul_byte"),
    "nul_outside": (b'{"character_id": "c0",\x00 "question": "Q"}', "nul_byte"),
    "huge": (
        b'{"character_id": "c0", "question": "Huge?", "response": "'
        + b"y" * (MAX_RECORD_BYTES + 10)
        + b'"}',
        "too_large",
    ),
}


def _answer(i: int) -> str:
    return f"About problem {i}: " + " ".join(random.Random(i).sample(SENTENCES, 4))


def _good(i: int) -> bytes:
    row = {"character_id": f"c{i % 2}", "question": f"Question {i}?", "response": _answer(i)}
    return json.dumps(row).encode()


def _recipe(tmp_path: Path, dialogues: bytes, name: str = "dialogues.jsonl") -> Path:
    data = tmp_path / "data"
    data.mkdir(exist_ok=True)
    chars = [
        {"character_id": f"c{i}", "persona": f"Baker {i}.", "character": PROFILE.format(**f)}
        for i, f in enumerate(
            [{"name": "Ann Bell", "past": PASTS[0]}, {"name": "Bea", "past": PASTS[1]}]
        )
    ]
    (data / "characters.jsonl").write_text("".join(json.dumps(c) + "\n" for c in chars))
    (data / name).write_bytes(dialogues)
    recipe = {
        "name": "hostile",
        "characters": {
            "inputs": [{"path": "data/characters.jsonl", "fields": {"profile": "character"}}]
        },
        "dialogues": [{"strategy": "generate", "inputs": [{"path": f"data/{name}"}]}],
        "splits": {"test_fraction": 0.0},
    }
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe))
    return path


def _quarantine(out: Path, config: str) -> list[dict]:
    return [
        row
        for p in sorted((out / "quarantine" / config).glob("*/*.parquet"))
        for row in pq.read_table(p).to_pylist()
    ]


def test_hostile_lines_are_quarantined_with_file_line_and_reason(tmp_path):
    lines, expected = [], {}
    for i, (kind, (line, reason)) in enumerate(HOSTILE.items()):
        lines += [_good(2 * i), line]
        expected[len(lines)] = (kind, reason)
    lines.append(_good(99))
    result = build(load_recipe(_recipe(tmp_path, b"\n".join(lines) + b"\n")), tmp_path / "out")

    ledger = result.ledger.configs["generate"]
    assert ledger.balanced
    assert ledger.input == len(lines)
    assert ledger.kept == len(lines) - len(HOSTILE)
    counts: dict[str, int] = {}
    for _kind, reason in expected.values():
        counts[reason] = counts.get(reason, 0) + 1
    assert ledger.reasons["quarantined"] == counts
    by_line = {row["line"]: row for row in _quarantine(result.out_dir, "generate")}
    assert set(by_line) == set(expected)
    for number, (kind, reason) in expected.items():
        row = by_line[number]
        assert row["reason"] == reason, kind
        assert row["detail"].startswith(f"data/dialogues.jsonl:{number}: "), row["detail"]
        assert row["raw"], kind  # what was read, for the user to look at
    huge = by_line[next(n for n, (k, _) in expected.items() if k == "huge")]
    assert len(huge["raw"]) <= 1024  # a preview: the 16 MiB line is not carried along
    assert str(MAX_RECORD_BYTES) in huge["detail"]


def test_the_cli_build_exits_0_with_a_too_deep_line(tmp_path):
    import subprocess
    import sys

    recipe = _recipe(tmp_path, b"\n".join([_good(0), DEEP, _good(1)]) + b"\n")
    out = tmp_path / "out"
    exe = Path(sys.executable).parent / "ocforge"
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "ocforge"]
    done = subprocess.run(
        [*cmd, "build", str(recipe), "--out", str(out)], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stdout + done.stderr
    ledger = json.loads((out / "release.json").read_text())["ledger"]["configs"]["generate"]
    assert ledger["reasons"]["quarantined"] == {"too_deep": 1}


@pytest.mark.parametrize("parts", [1, 2, 5])
def test_hostile_lines_are_read_once_by_every_split_and_counted(tmp_path, parts):
    lines = [line for line, _ in HOSTILE.values()]
    body = b"\n\n".join([_good(0), *lines, b"   ", _good(1)]) + b"\n"
    path = tmp_path / "d.jsonl"
    path.write_bytes(body)
    spec = InputSpec(path=path)
    rows = [row for part in range(parts) for row in iter_input(spec, part, parts)]
    assert [n for n, *_ in rows] == [1, 3, 5, 7, 9, 11, 13, 17]
    errors = [e.partition(":")[0] for _, _, _, e in rows if e]
    assert errors == [reason for _, reason in HOSTILE.values()]
    assert count_input_records(spec) == len(rows)
