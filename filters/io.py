"""Where rows go between steps: intermediate JSONL shards and the removed/quarantined row files.

Removed and quarantined rows are kept on disk, one JSON object per row, with the step that
removed them, the outcome (dropped, duplicate, quarantined), the reason code and the detail.
"""

from __future__ import annotations

from typing import Any

import orjson
from datatrove.data import Document, DocumentsPipeline
from datatrove.pipeline.readers.base import BaseDiskReader
from datatrove.pipeline.writers.jsonl import JsonlWriter

OUTCOMES = ("dropped", "duplicates", "quarantined")


def _removed_row(
    document: Document, outcome: str, step: str, default_reason: str
) -> dict[str, Any]:
    meta = document.metadata
    reason = meta.get("filter_reason") or default_reason
    return {
        "id": document.id,
        "outcome": outcome,
        "step": step,
        "reason": reason,
        "detail": meta.get("detail") or meta.get("error") or "",
        "input": meta.get("input"),
        "line": meta.get("line"),
        "duplicate_of": None,
        # only for duplicates: lets the build look up the kept twin, then it is removed
        **({"dedup_key": meta.get("dedup_key")} if outcome == "duplicates" else {}),
        "record": meta.get("record"),
        "raw": meta.get("raw") if "record" not in meta else None,
    }


def removed_writer(folder: str, outcome: str, step: str, default_reason: str = "") -> JsonlWriter:
    """A datatrove writer for the rows a step removes, tagged with ``outcome`` and ``step``."""
    if outcome not in OUTCOMES:
        raise ValueError(f"unknown outcome {outcome!r}: expected one of {', '.join(OUTCOMES)}")

    def adapter(_writer: JsonlWriter, document: Document) -> dict[str, Any]:
        return _removed_row(document, outcome, step, default_reason)

    return JsonlWriter(folder, output_filename="${rank}.jsonl", compression=None, adapter=adapter)


def _intermediate_adapter(_writer: JsonlWriter, document: Document) -> dict[str, Any]:
    # Unlike datatrove's default adapter, keep empty text and every metadata key.
    return {"id": document.id, "text": document.text, "metadata": document.metadata}


def intermediate_writer(folder: str) -> JsonlWriter:
    """Writer for Documents handed from one stage to the next (read back by IntermediateReader)."""
    return JsonlWriter(
        folder, output_filename="${rank}.jsonl", compression=None, adapter=_intermediate_adapter
    )


class IntermediateReader(BaseDiskReader):
    """Reads IntermediateWriter shards back, keeping documents whose text is empty."""

    name = "📖 ocforge intermediate"

    def __init__(self, data_folder: str):
        super().__init__(data_folder, glob_pattern="*.jsonl", add_file_path=False)

    def read_file(self, filepath: str) -> DocumentsPipeline:
        with self.data_folder.open(filepath, "rb") as fh:
            for line in fh:
                if line.strip():
                    row = orjson.loads(line)
                    yield Document(text=row["text"], id=row["id"], metadata=row["metadata"])
