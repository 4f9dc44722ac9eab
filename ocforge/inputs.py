"""Read one recipe input (a local JSONL, JSON-array or Parquet file, or a Hub dataset) as rows
``(line, object_or_None, raw_text, error)``; count its records and fingerprint its content.

Unlike datatrove's stock readers, nothing is skipped here: a line that is not valid JSON, not
UTF-8, not an object, too large or too deeply nested still becomes a row (carrying its error, see
:mod:`ocforge.input_formats`) so that the validation step can quarantine it with its file and
line, and the ledger can account for it. A file that does not hold its declared format at all is
an :class:`~ocforge.errors.InputError` naming the file, the format and what the file starts with.

Every reader of inputs uses this module: the build's ``RecordReader`` step, synthesis and the
eval sets of decontamination.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from ocforge.errors import InputError, RecipeError
from ocforge.format_check import format_problem
from ocforge.hashing import file_sha256
from ocforge.input_formats import Row, decode_line, iter_json_array, read_lines
from ocforge.recipe import EvalSetSpec, InputSpec, Recipe


def _part_start(fh, offset: int) -> tuple[int, int]:
    """The first line starting at or after byte ``offset`` of an open file: its byte position and
    its 1-based line number (newlines before it are counted in blocks, not parsed)."""
    if offset <= 0:
        return 0, 1
    fh.seek(offset - 1)
    # finish the line holding byte offset - 1 (the next one starts the part), in blocks: it may
    # be a hostile line of any length
    while (block := fh.readline(1 << 20)) and not block.endswith(b"\n"):
        pass
    start = fh.tell()
    fh.seek(0)
    newlines, remaining = 0, start
    while remaining:
        block = fh.read(min(remaining, 1 << 22))
        newlines += block.count(b"\n")
        remaining -= len(block)
    return start, newlines + 1


def _iter_jsonl(path: Path, part: int = 0, parts: int = 1) -> Iterator[Row]:
    """Yield ``(line_number, object_or_None, raw_text, error)`` for every non-blank line.

    With ``parts > 1`` only the lines that start in byte range ``part`` of ``parts`` equal ranges
    are read, so that several tasks share one big file; line numbers stay the file's own.
    """
    size = path.stat().st_size
    begin, end = size * part // parts, size * (part + 1) // parts
    with path.open("rb") as fh:
        position, first = _part_start(fh, begin)
        fh.seek(position)
        for number, line in enumerate(read_lines(fh), start=first):
            if position >= end:
                break
            position += line.size
            if line.blank:
                continue
            obj, text, error = decode_line(line)
            yield number, obj, text, error


def _iter_parquet(path: Path) -> Iterator[Row]:
    import pyarrow.parquet as pq

    number = 0
    for batch in pq.ParquetFile(path).iter_batches(batch_size=4096):
        for row in batch.to_pylist():
            number += 1
            yield number, row, "", None


def _iter_hub(spec: InputSpec) -> Iterator[Row]:
    import datasets

    hub = spec.hub
    assert hub is not None
    ds = datasets.load_dataset(
        hub.repo, hub.config, revision=hub.revision, split=hub.split, data_files=hub.data_files
    )
    for number, row in enumerate(ds, start=1):
        yield number, dict(row), "", None


def splittable(spec: InputSpec) -> bool:
    """Whether tasks can share the input by byte ranges: local JSONL read to the end."""
    return spec.hub is None and spec.resolved_format == "jsonl" and not spec.limit


def _how(spec: InputSpec) -> str:
    """How the input's format was chosen, for messages."""
    if spec.format is not None:
        return f"declared format {spec.format}"
    suffix = spec.path.suffix.lower() if spec.path is not None else ""
    if suffix in (".json", ".jsonl", ".parquet", ".pq"):
        return f"format {spec.resolved_format} (from the {suffix} suffix)"
    return f"format {spec.resolved_format} (the default, no 'format:' given)"


def input_problem(spec: InputSpec) -> str | None:
    """Why a local input cannot be read in its format (naming the file, the format and what the
    file starts with), or None; Hub inputs are read by ``datasets`` and not checked here."""
    if spec.path is None or spec.hub is not None:
        return None
    return format_problem(spec.path, spec.resolved_format, _how(spec))


def check_input(spec: InputSpec) -> None:
    """Raise :class:`~ocforge.errors.InputError` when a local input does not hold its format (see
    :func:`input_problem`): a clear message rather than a reader's traceback or every row
    quarantined."""
    problem = input_problem(spec)
    if problem is not None:
        raise InputError(problem)


def _specs(node: Any, where: str) -> Iterator[tuple[str, InputSpec]]:
    if isinstance(node, InputSpec):
        yield where, node
    elif isinstance(node, BaseModel):
        for name in type(node).model_fields:
            yield from _specs(getattr(node, name), f"{where}.{name}" if where else name)
    elif isinstance(node, list):
        for i, item in enumerate(node):
            yield from _specs(item, f"{where}[{i}]")


def recipe_input_problems(recipe: Recipe) -> list[str]:
    """Every local input of ``recipe`` (configs and synthesis) opened in its format: one line per
    input that does not hold it, naming its YAML path (for ``ocforge validate``)."""
    problems = []
    for where, spec in _specs(recipe, ""):
        problem = input_problem(spec)
        if problem is not None:
            problems.append(f"{where}: {problem}")
    return problems


def check_recipe_inputs(recipe: Recipe) -> None:
    """Raise :class:`RecipeError` listing every local input that does not hold its format."""
    problems = recipe_input_problems(recipe)
    if problems:
        raise RecipeError(str(recipe.path or "recipe"), problems)


def iter_input(spec: InputSpec, part: int = 0, parts: int = 1) -> Iterator[Row]:
    """Iterate one input's records as ``(line, object_or_None, raw_text, error)``.

    At most ``spec.limit`` records are read (the first ones, in file order). ``part`` of
    ``parts`` reads one byte range of a :func:`splittable` input.

    Raises:
        InputError: a local file does not hold its format (see :func:`check_input`).
    """
    check_input(spec)
    if parts > 1:
        if not splittable(spec):
            raise ValueError(f"input {spec.label} cannot be read in parts")
        assert spec.path is not None
        return _iter_jsonl(spec.path, part, parts)
    if spec.hub is not None:
        records = _iter_hub(spec)
    else:
        assert spec.path is not None
        readers = {"parquet": _iter_parquet, "json": iter_json_array}
        records = readers.get(spec.resolved_format, _iter_jsonl)(spec.path)
    return itertools.islice(records, spec.limit) if spec.limit else records


def count_input_records(spec: InputSpec) -> int:
    """Number of records an input holds, counted independently of the pipeline (for the ledger).

    Raises:
        InputError: a local file does not hold its format (see :func:`check_input`).
    """
    check_input(spec)
    if spec.hub is not None:
        n = sum(1 for _ in _iter_hub(spec))
    else:
        assert spec.path is not None
        if spec.resolved_format == "parquet":
            import pyarrow.parquet as pq

            n = pq.ParquetFile(spec.path).metadata.num_rows
        elif spec.resolved_format == "json":
            n = sum(1 for _ in iter_json_array(spec.path, decode=False))
        else:
            with spec.path.open("rb") as fh:
                n = sum(1 for line in read_lines(fh) if not line.blank)
    return min(n, spec.limit) if spec.limit else n


def input_fingerprint(spec: InputSpec) -> dict[str, Any]:
    """What identifies an input's content: a file's sha256, or a Hub dataset's id and revision.

    A synthesized input also carries how it was generated (backend, model, sampling parameters,
    prompt ids/versions/hashes), from the ``synthesis.json`` written next to it.
    """
    if spec.hub is not None:
        return {"hub": spec.hub.repo, "revision": spec.hub.revision or "unpinned"}
    assert spec.path is not None
    out: dict[str, Any] = {"sha256": file_sha256(spec.path)}
    manifest = spec.path.parent / "synthesis.json"
    if spec.synthesis is not None and manifest.is_file():
        generated = json.loads(manifest.read_text(encoding="utf-8"))
        out["synthesis"] = {
            "backend": generated["backend"]["type"],
            "model": generated["backend"]["model"],
            "generation": generated["generation"],
            "prompts": generated["prompts"],
        }
    return out


def eval_set_input(spec: EvalSetSpec) -> InputSpec:
    """An eval set as an input, read like any other: its file's suffix decides the format
    (``.parquet``/``.pq``: Parquet, ``.json``: one JSON array, anything else: JSON Lines)."""
    return InputSpec.model_construct(path=spec.path, hub=spec.hub)
