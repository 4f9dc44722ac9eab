"""Read recipe inputs (local JSONL/Parquet files or Hub datasets) into datatrove Documents.

Unlike datatrove's stock readers, nothing is skipped here: a line that is not valid JSON, not
UTF-8 or not an object still becomes a Document (carrying its error) so that the validation step
can quarantine it with its file and line, and the ledger can account for it.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from datatrove.data import Document, DocumentsPipeline
from datatrove.pipeline.base import PipelineStep
from ocforge.builders.importers import RowImportError, import_row

from ocforge.recipe import InputSpec


def map_fields(raw: dict[str, Any], spec: InputSpec, fields: tuple[str, ...]) -> dict[str, Any]:
    """Rename input columns to record fields; keys absent from the input stay absent.

    Inputs with an ``importer`` are converted by it instead (see :mod:`ocforge.builders.importers`).
    """
    if spec.importer is not None:
        return import_row(raw, spec)
    record: dict[str, Any] = {}
    for field in fields:
        column = spec.fields.get(field, field)
        if column in raw:
            record[field] = raw[column]
        elif field in spec.defaults:
            record[field] = spec.defaults[field]
    return record


def _part_start(fh, offset: int) -> tuple[int, int]:
    """The first line starting at or after byte ``offset`` of an open file: its byte position and
    its 1-based line number (newlines before it are counted in blocks, not parsed)."""
    if offset <= 0:
        return 0, 1
    fh.seek(offset - 1)
    fh.readline()  # finish the line holding byte offset - 1: the next one starts the part
    start = fh.tell()
    fh.seek(0)
    newlines, remaining = 0, start
    while remaining:
        block = fh.read(min(remaining, 1 << 22))
        newlines += block.count(b"\n")
        remaining -= len(block)
    return start, newlines + 1


def _iter_jsonl(
    path: Path, part: int = 0, parts: int = 1
) -> Iterator[tuple[int, dict[str, Any] | None, str, str | None]]:
    """Yield ``(line_number, object_or_None, raw_text, error)`` for every non-blank line.

    With ``parts > 1`` only the lines that start in byte range ``part`` of ``parts`` equal ranges
    are read, so that several tasks share one big file; line numbers stay the file's own.
    """
    size = path.stat().st_size
    begin, end = size * part // parts, size * (part + 1) // parts
    with path.open("rb") as fh:
        position, first = _part_start(fh, begin)
        fh.seek(position)
        for number, raw_line in enumerate(fh, start=first):
            if position >= end:
                break
            position += len(raw_line)
            if not raw_line.strip():
                continue
            try:
                text = raw_line.decode("utf-8").rstrip("\r\n")
            except UnicodeDecodeError as exc:
                text = raw_line.decode("utf-8", errors="replace").rstrip("\r\n")
                yield number, None, text, f"invalid_utf8: {exc.reason} at byte {exc.start}"
                continue
            try:
                obj = json.loads(text)
            except json.JSONDecodeError as exc:
                yield number, None, text, f"malformed_json: {exc.msg} (column {exc.colno})"
                continue
            if not isinstance(obj, dict):
                yield (
                    number,
                    None,
                    text,
                    f"not_an_object: expected a JSON object, got {type(obj).__name__}",
                )
                continue
            yield number, obj, text, None


def _iter_parquet(path: Path) -> Iterator[tuple[int, dict[str, Any] | None, str, str | None]]:
    import pyarrow.parquet as pq

    number = 0
    for batch in pq.ParquetFile(path).iter_batches(batch_size=4096):
        for row in batch.to_pylist():
            number += 1
            yield number, row, "", None


def _iter_hub(spec: InputSpec) -> Iterator[tuple[int, dict[str, Any] | None, str, str | None]]:
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
    return spec.hub is None and spec.resolved_format != "parquet" and not spec.limit


def iter_input(
    spec: InputSpec, part: int = 0, parts: int = 1
) -> Iterator[tuple[int, dict[str, Any] | None, str, str | None]]:
    """Iterate one input's records as ``(line, object_or_None, raw_text, error)``.

    At most ``spec.limit`` records are read (the first ones, in file order). ``part`` of
    ``parts`` reads one byte range of a :func:`splittable` input.
    """
    if parts > 1:
        if not splittable(spec):
            raise ValueError(f"input {spec.label} cannot be read in parts")
        assert spec.path is not None
        return _iter_jsonl(spec.path, part, parts)
    if spec.hub is not None:
        records = _iter_hub(spec)
    else:
        assert spec.path is not None
        is_parquet = spec.resolved_format == "parquet"
        records = _iter_parquet(spec.path) if is_parquet else _iter_jsonl(spec.path)
    return itertools.islice(records, spec.limit) if spec.limit else records


def count_input_records(spec: InputSpec) -> int:
    """Number of records an input holds, counted independently of the pipeline (for the ledger)."""
    if spec.hub is not None:
        n = sum(1 for _ in _iter_hub(spec))
    else:
        assert spec.path is not None
        if spec.resolved_format == "parquet":
            import pyarrow.parquet as pq

            n = pq.ParquetFile(spec.path).metadata.num_rows
        else:
            with spec.path.open("rb") as fh:
                n = sum(1 for line in fh if line.strip())
    return min(n, spec.limit) if spec.limit else n


def input_fingerprint(spec: InputSpec) -> dict[str, Any]:
    """What identifies an input's content: a file's sha256, or a Hub dataset's id and revision.

    A synthesized input also carries how it was generated (backend, model, sampling parameters,
    prompt ids/versions/hashes), from the ``synthesis.json`` written next to it.
    """
    if spec.hub is not None:
        return {"hub": spec.hub.repo, "revision": spec.hub.revision or "unpinned"}
    assert spec.path is not None
    digest = hashlib.sha256()
    with spec.path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    out: dict[str, Any] = {"sha256": digest.hexdigest()}
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


class RecordReader(PipelineStep):
    """Read a config's inputs into Documents, spread over the tasks: every task reads its byte
    range of each local JSONL input (one big file keeps all tasks busy), and other inputs
    (Parquet, Hub, ``limit``) whole, input ``i`` by task ``i % world_size``.

    Each Document's metadata holds ``input`` (the label shown in errors and provenance), ``line``,
    ``record`` (the row renamed to record fields by the recipe's field mapping), ``raw`` (the row
    as read) and ``error`` when the line could not be parsed at all.
    """

    name = "📖 ocforge records"
    type = "📖 - READER"

    def __init__(self, inputs: list[tuple[str, InputSpec]], fields: tuple[str, ...]):
        super().__init__()
        self.inputs = inputs
        self.fields = fields

    def run(
        self, data: DocumentsPipeline = None, rank: int = 0, world_size: int = 1
    ) -> DocumentsPipeline:
        if data:
            yield from data
        for index, (label, spec) in enumerate(self.inputs):
            if splittable(spec) and world_size > 1:
                records = iter_input(spec, rank, world_size)
            elif index % world_size == rank:
                records = iter_input(spec)
            else:
                continue
            self.stat_update("input_files")
            for line, obj, raw_text, error in records:
                self.stat_update("records_read")
                metadata: dict[str, Any] = {"input": label, "line": line, "source": spec.label}
                if error is not None:
                    metadata["error"] = error
                    metadata["raw"] = raw_text
                else:
                    metadata["raw"] = obj
                    try:
                        metadata["record"] = map_fields(obj, spec, self.fields)
                    except RowImportError as exc:
                        metadata["error"] = f"{exc.reason}: {exc.detail}"
                yield Document(text=raw_text or "", id=f"{label}:{line}", metadata=metadata)
