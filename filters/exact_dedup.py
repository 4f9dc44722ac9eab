"""Exact deduplication on a normalised-text key, with datatrove's three-stage exact dedup.

The key is set by earlier steps in ``metadata["dedup_key"]``: the normalised profile for
characters; character, normalised question and normalised answer for dialogues. The stages
spread over tasks like every datatrove dedup: signatures per task, one finder, filter per task.
Of a group of duplicates the finder keeps the one with the highest priority, then the first in
task and document order: a row of the parent release (``metadata["released"]``, set by
:class:`~ocforge.filters.released.MarkReleased`) has priority 3 (the released copy itself) or 2
(its id), every other row 1, so a build that follows a parent keeps the released row; without a
parent every row has priority 1, as datatrove's default, and the signature files are the same.
"""

from __future__ import annotations

from datatrove.data import Document, DocumentsPipeline
from datatrove.pipeline.dedup.exact_dedup import (
    ExactDedupConfig,
    ExactDedupFilter,
    ExactDedupSignature,
    ExactFindDedups,
)
from datatrove.pipeline.writers.disk_base import DiskWriter
from datatrove.utils.typeshelper import StatHints

from ocforge.filters.released import released_level


def dedup_key(doc: Document) -> str:
    return doc.metadata["dedup_key"]


def released_priority(doc: Document) -> int:
    """1 + the row's released level (the finder keeps the highest priority)."""
    return 1 + released_level(doc)


def exact_dedup_config() -> ExactDedupConfig:
    return ExactDedupConfig(content_getter=dedup_key, document_priority=released_priority)


class ForwardingExactDedupSignature(ExactDedupSignature):
    """Stage 1 that passes every document on after hashing it: placed before the writer of the
    stage that produces the documents, it spares the pass that would read them back only to
    hash them. Positions count the documents in the order the writer receives them."""

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        signatures = []
        for doc_idx, doc in enumerate(data):
            with self.track_time():
                self.stat_update(StatHints.total)
                signatures.extend(self.get_hashes(doc, doc_idx))
            yield doc
        self.save_hashes(rank, signatures)


def signature_step(sig_folder: str, forward: bool = False) -> ExactDedupSignature:
    """Stage 1 into ``sig_folder``; ``forward`` passes the documents on to the next step."""
    cls = ForwardingExactDedupSignature if forward else ExactDedupSignature
    return cls(output_folder=sig_folder, config=exact_dedup_config())


def finder_step(sig_folder: str, dup_folder: str) -> ExactFindDedups:
    return ExactFindDedups(
        data_folder=sig_folder, output_folder=dup_folder, config=exact_dedup_config()
    )


def filter_step(dup_folder: str, exclusion_writer: DiskWriter | None) -> ExactDedupFilter:
    return ExactDedupFilter(
        data_folder=dup_folder, config=exact_dedup_config(), exclusion_writer=exclusion_writer
    )
