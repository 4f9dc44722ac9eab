"""Rows a parent release already holds: marked so that dedup keeps them over new duplicates.

A build that follows a parent release (:mod:`ocforge.parent_layout`) must not swap a released
row for a new duplicate of it: the released row would leave its place in the Parquet files and
the new one would be uploaded. :class:`MarkReleased`, the last step of a config's filter stage,
sets ``metadata["released"]`` on every document whose id the parent holds: ``2`` when its
``provenance`` input and line are also the released row's (verbatim copies share an id, and
only the released copy keeps the row's bytes), ``1`` for the id alone. Exact dedup keeps the
highest level (:func:`ocforge.filters.exact_dedup.released_priority`) and MinHash keeps the
highest-level member of a cluster (:class:`ocforge.filters.minhash.ReleasedFirstCluster`).
Without a parent the step is not in the pipeline and nothing changes.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import orjson
from datatrove.data import Document, DocumentsPipeline
from datatrove.io import DataFolder
from datatrove.pipeline.base import PipelineStep

from ocforge.parent_layout import origin_of

RELEASED = "released"


def write_released_ids(path: Path, rows: list[tuple[str, str, int]]) -> Path:
    """``(id, input, line)`` rows, one JSON array a line (what :class:`MarkReleased` reads)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"".join(orjson.dumps(list(r)) + b"\n" for r in rows))
    return path


def released_level(doc: Document) -> int:
    """0 for a new row, 1 for a released id, 2 for the released row itself (see the module)."""
    return int(doc.metadata.get(RELEASED) or 0)


class MarkReleased(PipelineStep):
    """Pass every document on; mark those ``rows_file`` (:func:`write_released_ids`) names.

    The rows are read in the task (a file, not a pickled set: the pipeline goes to every task)."""

    name = "🏷 mark released rows"
    type = "🔻 - FILTER"

    def __init__(self, rows_file: str):
        super().__init__()
        self.rows_file = rows_file

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        origins: dict[str, set[tuple[str, int]]] = {}
        with open(self.rows_file, "rb") as fh:
            for line in fh:
                row_id, source, number = orjson.loads(line)
                # one string per input file, not per row (hundreds of thousands of rows)
                origins.setdefault(row_id, set()).add((sys.intern(source), number))
        for doc in data:
            known = origins.get(doc.id)
            if known is not None:
                here = origin_of((doc.metadata.get("record") or {}).get("provenance") or {})
                doc.metadata[RELEASED] = 2 if here in known else 1
                self.stat_update(f"{RELEASED}_{doc.metadata[RELEASED]}")
            yield doc


def released_steps(rows: list[tuple[str, str, int]], rows_file: Path) -> list[PipelineStep]:
    """The marking step over ``rows`` (written to ``rows_file``), or none when there are none."""
    return [MarkReleased(str(write_released_ids(rows_file, rows)))] if rows else []


# --------------------------------------------------------------------------- MinHash

#: subfolder of the MinHash signature (stage 1) and bucket (stage 2) folders holding, per task,
#: the released documents (``RANK.pos``: little-endian u32 pairs of position and level)
POSITIONS = "released"
_U32 = np.dtype("<u4")


def write_released_positions(
    folder: DataFolder, rank: int, positions: list[tuple[int, int]]
) -> None:
    with folder.open(f"{POSITIONS}/{rank:05d}.pos", mode="wb") as fh:
        fh.write(np.asarray(positions, dtype=_U32).reshape(-1, 2).tobytes())


def copy_released_positions(source: DataFolder, target: DataFolder) -> None:
    """Hand stage 1's position files on to the folder stage 3 reads (stage 2's output)."""
    for path in source.list_files(subdirectory=POSITIONS):
        with source.open(path, mode="rb") as src, target.open(path, mode="wb") as dst:
            dst.write(src.read())


def _read_u32(folder: DataFolder, path: str) -> np.ndarray:
    with folder.open(path, mode="rb") as fh:
        return np.frombuffer(fh.read(), dtype=_U32)


def prefer_released(positions: DataFolder, clusters: DataFolder) -> int:
    """Rewrite MinHash stage 3's ``RANK.remove`` files so that a cluster with a released member
    keeps one of the highest level (then the first in task and document order) instead of
    datatrove's pick; returns how many clusters changed their kept member. Without position
    files nothing is read or written.
    """
    released: dict[tuple[int, int], int] = {}
    for path in positions.list_files(subdirectory=POSITIONS):
        rank = int(Path(path).stem)
        for doc, level in _read_u32(positions, path).reshape(-1, 2).tolist():
            released[(rank, doc)] = level
    if not released:
        return 0
    members: dict[int, list[tuple[int, int]]] = {}
    for path in clusters.list_files(glob_pattern="*.clusters"):
        rank = int(Path(path).stem)
        for doc, cluster in _read_u32(clusters, path).reshape(-1, 2).tolist():
            members.setdefault(cluster, []).append((rank, doc))
    removed: dict[int, set[int]] = {
        int(Path(p).stem): set(_read_u32(clusters, p).tolist())
        for p in clusters.list_files(glob_pattern="*.remove")
    }
    changed: set[int] = set()
    swaps = 0
    for nodes in members.values():
        kept = [n for n in nodes if n[1] not in removed.get(n[0], ())]
        candidates = sorted((-released[n], n) for n in nodes if n in released)
        if not candidates or any(released.get(k, 0) == -candidates[0][0] for k in kept):
            continue
        new = candidates[0][1]
        removed[new[0]].discard(new[1])
        for rank, doc in kept:
            removed.setdefault(rank, set()).add(doc)
        changed.update({new[0], *(rank for rank, _ in kept)})
        swaps += 1
    for rank in sorted(changed):  # stage 4 reads each file's positions in ascending order
        with clusters.open(f"{rank:06d}.remove", mode="wb") as fh:
            fh.write(np.asarray(sorted(removed[rank]), dtype=_U32).tobytes())
    return swaps
