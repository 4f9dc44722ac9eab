"""Tasks share one big JSONL input by byte ranges: every line read exactly once, with its own
line number, whatever the number of parts and wherever the range boundaries fall."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from ocforge.builders.sources import RecordReader
from ocforge.inputs import iter_input, splittable
from ocforge.recipe import InputSpec


def _jsonl(path: Path, seed: int = 0) -> list[tuple[int, str]]:
    """A file with long and short lines, blank lines, CRLF ends, bad JSON and non-UTF-8 bytes;
    returns the (line number, kind) of every non-blank line."""
    rng = random.Random(seed)
    lines, expected = [], []
    for number in range(1, 401):
        roll = rng.random()
        if roll < 0.05:
            lines.append(b"   ")
            continue
        if roll < 0.08:
            lines.append(b'{"broken": ')
            expected.append((number, "bad"))
        elif roll < 0.1:
            lines.append(b'{"response": "caf\xe9"}')
            expected.append((number, "bad"))
        else:
            body = "x" * rng.choice([0, 3, 80, 2000])
            end = "\r" if roll < 0.2 else ""
            lines.append(f'{{"n": {number}, "body": "{body}"}}{end}'.encode())
            expected.append((number, "ok"))
    path.write_bytes(b"\n".join(lines) + (b"\n" if seed % 2 else b""))
    return expected


def _read(spec: InputSpec, part: int, parts: int) -> list[tuple[int, str]]:
    out = []
    for line, obj, _raw, error in iter_input(spec, part, parts):
        assert (error is None) == (obj is not None)
        if obj is not None:
            assert obj["n"] == line  # the record really is the one on that line
        out.append((line, "ok" if error is None else "bad"))
    return out


@pytest.mark.parametrize("parts", [1, 2, 3, 7, 64])
@pytest.mark.parametrize("seed", [0, 1])
def test_parts_cover_every_line_once_with_file_line_numbers(tmp_path, parts, seed):
    path = tmp_path / "in.jsonl"
    expected = _jsonl(path, seed)
    spec = InputSpec(path=path)
    assert splittable(spec)
    got = [record for part in range(parts) for record in _read(spec, part, parts)]
    assert got == expected  # in file order, part after part


def test_reader_spreads_one_file_over_tasks_and_keeps_other_inputs_whole(tmp_path):
    big = tmp_path / "big.jsonl"
    _jsonl(big)
    limited = tmp_path / "limited.jsonl"
    _jsonl(limited, seed=3)
    inputs = [("big", InputSpec(path=big)), ("limited", InputSpec(path=limited, limit=5))]
    assert not splittable(inputs[1][1])
    seen = {}
    for rank in range(3):
        docs = list(RecordReader(inputs, ("response",)).run(rank=rank, world_size=3))
        seen[rank] = [(d.metadata["input"], d.metadata["line"]) for d in docs]
    big_lines = [line for rank in range(3) for label, line in seen[rank] if label == "big"]
    assert big_lines == [n for n, _ in _jsonl(tmp_path / "again.jsonl")]
    assert all(any(label == "big" for label, _ in seen[rank]) for rank in range(3))
    # the input with a limit is read whole by one task (its first 5 records)
    assert [rank for rank in range(3) if any(lab == "limited" for lab, _ in seen[rank])] == [1]
    assert len([1 for lab, _ in seen[1] if lab == "limited"]) == 5
