"""The build's reader step: a config's recipe inputs as datatrove Documents.

Rows are read by :mod:`ocforge.inputs` (local JSONL, JSON-array or Parquet files, or Hub
datasets), which skips nothing: a line that cannot be decoded still becomes a Document carrying
its error, so that the validation step can quarantine it with its file and line and the ledger
can account for it.
"""

from __future__ import annotations

from typing import Any

from datatrove.data import Document, DocumentsPipeline
from datatrove.pipeline.base import PipelineStep

from ocforge.builders.importers import import_row
from ocforge.errors import FieldError
from ocforge.inputs import check_recipe_inputs, input_fingerprint, iter_input, splittable
from ocforge.recipe import InputSpec

# check_recipe_inputs and input_fingerprint live in ocforge.inputs; publish/release.py and
# `ocforge validate` (cli/curate.py) still import them from here until they import them there
__all__ = ["RecordReader", "check_recipe_inputs", "input_fingerprint", "map_fields"]


def map_fields(raw: dict[str, Any], spec: InputSpec, fields: tuple[str, ...]) -> dict[str, Any]:
    """Rename input columns to record fields; keys absent from the input stay absent.

    Inputs with an ``importer`` are converted by it instead (see :mod:`ocforge.builders.importers`).

    Raises:
        FieldError: an importer's column is missing or has the wrong type.
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
                    except FieldError as exc:
                        metadata["error"] = f"{exc.reason}: {exc.detail}"
                yield Document(text=raw_text or "", id=f"{label}:{line}", metadata=metadata)
