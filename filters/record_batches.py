"""Kept records handed to the Parquet writer as Arrow IPC files, one per task.

Turning each row's Python dict into Arrow is most of the cost of writing a config's Parquet
files after the last filter. :class:`RecordBatchWriter` does it as the last step of a datatrove
stage, so it runs in the stage's tasks side by side (and resumes like any stage);
:func:`read_record_table` reads the files back as one table (one chunk per column), for
:func:`ocforge.layout.write_config` to sort and encode.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
from datatrove.data import DocumentsPipeline
from datatrove.io import get_datafolder
from datatrove.pipeline.base import PipelineStep


class RecordBatchWriter(PipelineStep):
    """Terminal step: every document's ``metadata["record"]`` (a dict in ``schema``) written to
    ``FOLDER/RANK.arrow`` (Arrow IPC file format) in batches of ``batch_rows``. A task that
    receives no document still writes a file with the schema and no rows."""

    name = "🏹 Arrow record batches"
    type = "💽 - WRITER"

    def __init__(self, folder: str, schema: pa.Schema, batch_rows: int = 8192):
        super().__init__()
        self.folder = get_datafolder(folder)
        self.schema = schema
        self.batch_rows = batch_rows

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        rows = 0
        with (
            self.folder.open(f"{rank:05d}.arrow", "wb") as fh,
            pa.ipc.new_file(fh, self.schema) as out,
        ):
            chunk: list[dict] = []
            for doc in data or ():
                chunk.append(doc.metadata["record"])
                if len(chunk) == self.batch_rows:
                    rows += self._write(out, chunk)
                    chunk = []
            if chunk:
                rows += self._write(out, chunk)
        self.stat_update("rows", value=rows)
        return
        yield  # a generator, as datatrove expects of a step; nothing goes further

    def _write(self, out: pa.ipc.RecordBatchFileWriter, chunk: list[dict]) -> int:
        with self.track_time(unit="batch"):
            out.write_batch(pa.RecordBatch.from_pylist(chunk, schema=self.schema))
        return len(chunk)


def read_record_table(folder: Path, schema: pa.Schema) -> pa.Table:
    """The rows of every ``*.arrow`` file in ``folder`` (file name order), one chunk per column.

    One chunk, because Arrow's ``take`` over a chunked column concatenates the whole column on
    every call: a shard written a few row groups at a time would copy the config each time. The
    files are memory-mapped while they are combined and unmapped before this returns.

    Raises:
        ValueError: a file's schema is not ``schema`` (written by another recipe or version).
    """
    tables = []
    for path in sorted(folder.glob("*.arrow")):
        table = pa.ipc.open_file(pa.memory_map(str(path))).read_all()
        if not table.schema.equals(schema):
            raise ValueError(f"{path}: record schema {table.schema} is not the config's {schema}")
        tables.append(table)
    if not tables:
        return schema.empty_table()
    return pa.concat_tables(tables).combine_chunks()
