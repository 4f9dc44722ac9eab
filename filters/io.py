"""Where rows go between steps: intermediate JSONL shards and the removed/quarantined row files.

Removed and quarantined rows are kept on disk as Parquet, one file per reason, step and task::

    OUT/removed/<config>/<reason>/<step>-<rank>.parquet      dropped rows and duplicates
    OUT/quarantine/<config>/<reason>/<step>-<rank>.parquet   invalid rows

Each row names the step that removed it, the outcome (dropped, duplicates, quarantined), the
reason code and the detail; duplicates also name the kept row they duplicate (``duplicate_of``,
filled in by :func:`link_duplicates` once the kept rows are known). The ledger is counted from
these files.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
from datatrove.data import Document, DocumentsPipeline
from datatrove.io import get_datafolder
from datatrove.pipeline.base import PipelineStep
from datatrove.pipeline.readers.base import BaseDiskReader
from datatrove.pipeline.writers.jsonl import JsonlWriter
from datatrove.pipeline.writers.parquet import ParquetWriter

from ocforge.filters.tally import Tally

OUTCOMES = ("dropped", "duplicates", "quarantined")

REMOVED_SCHEMA = pa.schema(
    [
        pa.field("id", pa.string()),
        pa.field("outcome", pa.string()),
        pa.field("step", pa.string()),
        pa.field("reason", pa.string()),
        pa.field("detail", pa.string()),
        pa.field("input", pa.string()),
        pa.field("line", pa.int64()),
        # duplicates only: the id of the kept row, and the key the build matches it by
        pa.field("duplicate_of", pa.string()),
        pa.field("dedup_group", pa.string()),
        pa.field("record", pa.string()),  # the validated record as JSON (absent if invalid)
        pa.field("raw", pa.string()),  # the input row as read, for rows that never validated
    ]
)


def _json_or_none(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()


class RemovedRowWriter(ParquetWriter):
    """A datatrove writer for the rows a step removes, one Parquet file per reason and task."""

    name = "🗑️ removed rows"

    def __init__(
        self,
        folder: str,
        outcome: str,
        step: str,
        default_reason: str = "",
        group_key: str | None = None,
    ):
        if outcome not in OUTCOMES:
            raise ValueError(f"unknown outcome {outcome!r}: expected one of {', '.join(OUTCOMES)}")
        super().__init__(
            folder,
            output_filename="${rank}.parquet",
            compression="zstd",
            adapter=self._row,
            schema=REMOVED_SCHEMA,
            max_file_size=-1,
            use_content_defined_chunking=False,
            write_page_index=False,
        )
        self.outcome = outcome
        self.step = step
        self.default_reason = default_reason
        self.group_key = group_key

    def _reason(self, document: Document) -> str:
        return document.metadata.get("filter_reason") or self.default_reason

    def _get_output_filename(self, document: Document, rank: int | str = 0, **kwargs) -> str:
        task = f"{rank:05d}" if isinstance(rank, int) else str(rank)
        return f"{self._reason(document)}/{self.step}-{task}.parquet"

    @staticmethod
    def _row(writer: RemovedRowWriter, document: Document) -> dict[str, Any]:
        meta = document.metadata
        group = meta.get(writer.group_key) if writer.group_key else None
        line = meta.get("line")
        return {
            "id": document.id,
            "outcome": writer.outcome,
            "step": writer.step,
            "reason": writer._reason(document),
            "detail": meta.get("detail") or meta.get("error") or "",
            "input": meta.get("input"),
            "line": line if isinstance(line, int) else None,
            "duplicate_of": None,
            "dedup_group": None if group is None else str(group),
            "record": _json_or_none(meta.get("record")),
            # validation drops ``raw`` from the rows it passes: rows that never validated keep
            # the input row as read, next to the fields it was renamed to
            "raw": _json_or_none(meta.get("raw")),
        }


def removed_writer(
    folder: str,
    outcome: str,
    step: str,
    default_reason: str = "",
    group_key: str | None = None,
) -> RemovedRowWriter:
    """The writer for rows ``step`` removes under ``folder`` (``OUT/removed/<config>``).

    ``group_key`` names the metadata key that identifies a duplicate's group (the exact-dedup
    key, the MinHash cluster id), so :func:`link_duplicates` can find the kept row."""
    return RemovedRowWriter(folder, outcome, step, default_reason, group_key)


def removed_files(*folders: Path) -> list[Path]:
    """Every removed-row file under the given ``OUT/removed/<config>`` style folders."""
    return sorted(p for folder in folders for p in folder.glob("*/*.parquet"))


def read_removed_rows(files: list[Path], columns: list[str] | None = None) -> list[dict[str, Any]]:
    """Rows of removed-row files, ``record`` decoded from JSON."""
    rows: list[dict[str, Any]] = []
    for path in files:
        for row in pq.read_table(path, columns=columns).to_pylist():
            if row.get("record"):
                row["record"] = orjson.loads(row["record"])
            rows.append(row)
    return rows


def _compact(document: Document) -> dict[str, Any]:
    """A Document as one intermediate JSON line, without the copies a dialogue carries: the text
    when it is the record's ``response``, and the chat ``messages`` when they are the profile,
    question and response (only the profile is kept). :func:`_expand` restores them. About half
    of a dialogue's bytes, read and written again by every stage."""
    metadata = document.metadata
    record = metadata.get("record")
    row: dict[str, Any] = {"id": document.id, "metadata": metadata}
    if isinstance(record, dict):
        messages = record.get("messages")
        if (
            isinstance(messages, list)
            and len(messages) == 3
            and [m.get("role") for m in messages] == ["system", "user", "assistant"]
            and messages[1].get("content") == record.get("question")
            and messages[2].get("content") == record.get("response")
            and all(len(m) == 2 for m in messages)
        ):
            record = {k: v for k, v in record.items() if k != "messages"}
            record["\x00system"] = messages[0]["content"]
            metadata = {**metadata, "record": record}
            row["metadata"] = metadata
        if document.text == record.get("response"):
            row["text_is_response"] = True
            return row
    row["text"] = document.text
    return row


def _expand(row: dict[str, Any]) -> dict[str, Any]:
    record = row["metadata"].get("record")
    if isinstance(record, dict) and "\x00system" in record:
        record["messages"] = [
            {"role": "system", "content": record.pop("\x00system")},
            {"role": "user", "content": record["question"]},
            {"role": "assistant", "content": record["response"]},
        ]
    if row.pop("text_is_response", False):
        row["text"] = record["response"]
    return row


def iter_file_docs(path: Path) -> Iterator[dict[str, Any]]:
    """Stream the documents of one intermediate JSONL shard, in the order a reader numbers them."""
    with path.open("rb") as fh:
        for line in fh:
            if line.strip():
                yield _expand(orjson.loads(line))


def iter_docs(folder: Path) -> Iterator[dict[str, Any]]:
    """Stream the documents of intermediate JSONL shards in file order."""
    for path in sorted(folder.glob("*.jsonl")):
        yield from iter_file_docs(path)


class GroupRecorder(PipelineStep):
    """Passes every document on and records, per task (``${rank}.jsonl``), the id and ``group_key``
    of those that carry one: what :func:`link_duplicates` reads from a kept folder, for a stage
    that keeps its documents without writing them as intermediate shards."""

    name = "🔖 duplicate groups"
    type = "💽 - WRITER"

    def __init__(self, folder: str, group_key: str):
        super().__init__()
        self.folder = get_datafolder(folder)
        self.group_key = group_key

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        key, recorded = self.group_key, 0
        with self.folder.open(f"{rank:05d}.jsonl", "wb") as out:
            for doc in data:
                group = doc.metadata.get(key)
                if group is not None:
                    line = {"id": doc.id, "text": "", "metadata": {key: group}}
                    out.write(orjson.dumps(line, option=orjson.OPT_APPEND_NEWLINE))
                    recorded += 1
                yield doc
        self.stat_update("recorded", value=recorded)


def link_duplicates(kept_folder: Path, removed_folder: Path, step: str, group_key: str) -> int:
    """Fill ``duplicate_of`` in the rows ``step`` removed: the kept row of the same group.

    Idempotent (a resumed build may run it twice). Returns the number of rows linked."""
    files = sorted(removed_folder.glob(f"*/{step}-*.parquet"))
    if not files:
        return 0
    wanted = set()
    for path in files:
        wanted.update(
            g for g in pq.read_table(path, columns=["dedup_group"]).column(0).to_pylist() if g
        )
    kept_by_group: dict[str, str] = {}
    for doc in iter_docs(kept_folder):
        group = doc["metadata"].get(group_key)
        if group is not None and str(group) in wanted:
            kept_by_group.setdefault(str(group), doc["id"])
    linked = 0
    for path in files:
        table = pq.read_table(path)
        groups = table.column("dedup_group").to_pylist()
        current = table.column("duplicate_of").to_pylist()
        filled = [
            c or kept_by_group.get(g) if g else c for c, g in zip(current, groups, strict=True)
        ]
        linked += sum(1 for f in filled if f)
        if filled != current:
            idx = table.schema.get_field_index("duplicate_of")
            table = table.set_column(idx, "duplicate_of", pa.array(filled, pa.string()))
            tmp = path.with_suffix(".tmp")
            pq.write_table(table, tmp, compression="zstd")
            tmp.replace(path)
    return linked


def _intermediate_adapter(_writer: JsonlWriter, document: Document) -> dict[str, Any]:
    # Unlike datatrove's default adapter, keep empty text and every metadata key.
    return _compact(document)


class IntermediateWriter(JsonlWriter):
    """datatrove's JsonlWriter for documents handed from one stage to the next, one file per task
    (``${rank}.jsonl``), compact lines (:func:`_compact`).

    ``DiskWriter.write`` works out the file name per document twice, from a copy of all its
    metadata, and updates four statistics: most of the cost of writing a compact line. Here the
    name is worked out once per task and the statistics are tallied (the same figures)."""

    name = "🐿 Jsonl (intermediate)"

    def __init__(self, folder: str):
        super().__init__(
            folder, output_filename="${rank}.jsonl", compression=None, adapter=_intermediate_adapter
        )

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        tally, clock = Tally(), time.perf_counter
        filename = self.output_filename.substitute({"rank": str(rank).zfill(5)})
        label = self.output_filename.substitute({"rank": "XXXXX"})
        with self:
            try:
                out = None
                for document in data:
                    started = clock()
                    if out is None:
                        out = self._get_output_file_with_retry(filename)
                    self._write(self.adapter(document), out, filename)
                    tally.document(document)
                    tally.times.add(clock() - started)
                    yield document
            finally:
                tally.counts[label] = tally.times.n
                tally.merge_into(self, total=tally.times.n)


def intermediate_writer(folder: str) -> IntermediateWriter:
    """Writer for Documents handed from one stage to the next (read back by IntermediateReader)."""
    return IntermediateWriter(folder)


class IntermediateReader(BaseDiskReader):
    """Reads IntermediateWriter shards back, keeping documents whose text is empty.

    ``by_rank``: task ``r`` reads the shard task ``r`` of the previous stage wrote, and only it
    (none if that task kept nothing). Dedup signatures written while the shard was written number
    its documents by position, so the task that filters on them must read exactly that shard;
    datatrove's usual split of the folder's files would shift when a task wrote no shard. Both
    stages must run with the same number of tasks."""

    name = "📖 ocforge intermediate"

    def __init__(self, data_folder: str, by_rank: bool = False):
        super().__init__(data_folder, glob_pattern="*.jsonl", add_file_path=False)
        self.by_rank = by_rank

    def run(
        self, data: DocumentsPipeline = None, rank: int = 0, world_size: int = 1
    ) -> DocumentsPipeline:
        if not self.by_rank:
            # a stage that kept nothing wrote no shard: that is an outcome (every row removed),
            # not an error, but datatrove's reader raises on an empty folder
            if not self.data_folder.list_files(glob_pattern=self.glob_pattern):
                if data:
                    yield from data
                return
            yield from super().run(data, rank, world_size)
            return
        if data:
            yield from data
        shard = f"{rank:05d}.jsonl"
        if not self.data_folder.exists(shard):
            return
        # datatrove's loop would update the statistics per document: tallied instead
        tally = Tally()
        self.stat_update("input_files")
        try:
            for doc in self.read_file(shard):
                tally.document(doc)
                yield doc
        finally:
            self.stat_update("documents", value=tally.lengths.n, unit="input_file")
            tally.merge_into(self)

    def read_file(self, filepath: str) -> DocumentsPipeline:
        with self.data_folder.open(filepath, "rb") as fh:
            for line in fh:
                if line.strip():
                    row = _expand(orjson.loads(line))
                    yield Document(text=row["text"], id=row["id"], metadata=row["metadata"])
