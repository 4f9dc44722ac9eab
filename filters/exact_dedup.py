"""Exact deduplication on a normalised-text key, with datatrove's three-stage exact dedup.

The key is set by earlier steps in ``metadata["dedup_key"]``: the normalised profile for
characters; character, normalised question and normalised answer for dialogues. The stages
spread over tasks like every datatrove dedup: signatures per task, one finder, filter per task.
"""

from __future__ import annotations

from datatrove.data import Document
from datatrove.pipeline.dedup.exact_dedup import (
    ExactDedupConfig,
    ExactDedupFilter,
    ExactDedupSignature,
    ExactFindDedups,
)
from datatrove.pipeline.writers.disk_base import DiskWriter


def dedup_key(doc: Document) -> str:
    return doc.metadata["dedup_key"]


def exact_dedup_config() -> ExactDedupConfig:
    return ExactDedupConfig(content_getter=dedup_key)


def signature_step(sig_folder: str) -> ExactDedupSignature:
    return ExactDedupSignature(output_folder=sig_folder, config=exact_dedup_config())


def finder_step(sig_folder: str, dup_folder: str) -> ExactFindDedups:
    return ExactFindDedups(
        data_folder=sig_folder, output_folder=dup_folder, config=exact_dedup_config()
    )


def filter_step(dup_folder: str, exclusion_writer: DiskWriter | None) -> ExactDedupFilter:
    return ExactDedupFilter(
        data_folder=dup_folder, config=exact_dedup_config(), exclusion_writer=exclusion_writer
    )
