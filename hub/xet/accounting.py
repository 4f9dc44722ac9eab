"""Per-commit upload accounting: how many new bytes each commit made the client send.

Every xorb a repo's write token inserts (new to the server) and every LFS object PUT to it is
remembered as *pending* for that repo. When a commit lands, the Xet files and LFS objects it
adds claim the pending entries they use; those bytes are the commit's new bytes, anything else
they use was already stored (deduplicated). The result is written to
``<repo>/xet/commits/<commit id>.json`` and served by ``GET .../localhub-upload-stats/{rev}``:

``new_xorb_bytes`` / ``new_xorbs``: xorb bytes (as uploaded, i.e. compressed) first stored for
this commit; ``reused_xorbs``: xorbs its Xet files use that were stored before;
``xet_files`` / ``xet_file_bytes``: files added through Xet and their size; ``new_lfs_bytes`` /
``lfs_files``: LFS objects first uploaded for this commit; ``inline_bytes``: regular files sent
in the commit payload; ``files``: per path, its Xet hash or ``"lfs"``, size and new bytes.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..hashing import canonical_json
from ..objects import AddFile, Commit, CommitOperation
from ..validation import RepoKey
from .store import XetStore

PENDING_LFS = "pending-lfs"


def _xet_file_stats(
    store: XetStore, key: RepoKey, record_terms: Iterable[str], seen: set[str], claims: list[str]
) -> tuple[int, int, int]:
    """(new bytes, new xorbs, reused xorbs) of one file's xorbs not counted for the commit yet."""
    new_bytes = new_xorbs = reused = 0
    for xorb in dict.fromkeys(record_terms):
        if xorb in seen:
            continue
        seen.add(xorb)
        pending = store.pending_bytes(key, xorb)
        if pending is None:
            reused += 1
            continue
        new_bytes += pending
        new_xorbs += 1
        claims.append(xorb)
    return new_bytes, new_xorbs, reused


def commit_stats(
    store: XetStore, key: RepoKey, commit: Commit, operations: Iterable[CommitOperation]
) -> tuple[dict[str, Any], list[str], list[str]]:
    """The statistics of ``commit`` plus the pending xorbs and LFS objects it claims."""
    totals = dict.fromkeys(
        ("new_xorb_bytes", "new_xorbs", "reused_xorbs", "xet_files", "xet_file_bytes",
         "new_lfs_bytes", "lfs_files", "inline_bytes"), 0,
    )  # fmt: skip
    files: dict[str, dict[str, Any]] = {}
    seen: set[str] = set()
    xorb_claims: list[str] = []
    lfs_claims: list[str] = []
    for op in operations:
        if not isinstance(op, AddFile):
            continue
        entry = op.entry
        if not entry.lfs:
            totals["inline_bytes"] += entry.size
            continue
        record = store.lookup_sha256(key, entry.sha256, entry.size)
        if record is not None:
            new, n_new, reused = _xet_file_stats(
                store, key, (t.xorb for t in record.terms), seen, xorb_claims
            )
            totals["new_xorb_bytes"] += new
            totals["new_xorbs"] += n_new
            totals["reused_xorbs"] += reused
            totals["xet_files"] += 1
            totals["xet_file_bytes"] += entry.size
            files[op.path] = {"xetHash": record.xet_hash, "size": entry.size, "new_bytes": new}
            continue
        pending = store.pending_bytes(key, entry.sha256, PENDING_LFS)
        new = 0
        if pending is not None and entry.sha256 not in lfs_claims:
            lfs_claims.append(entry.sha256)
            new = pending
            totals["new_lfs_bytes"] += new
        totals["lfs_files"] += 1
        files[op.path] = {"storage": "lfs", "size": entry.size, "new_bytes": new}
    stats = {"commit": commit.id, **totals, "files": files}
    return stats, xorb_claims, lfs_claims


def record_commit(
    store: XetStore, key: RepoKey, commit: Commit, operations: Iterable[CommitOperation]
) -> dict[str, Any]:
    """Compute and store the statistics of a commit that just landed, then drop its claims."""
    stats, xorb_claims, lfs_claims = commit_stats(store, key, commit, operations)
    store.hub.write_atomic(store.commit_stats_path(key, commit.id), canonical_json(stats))
    for xorb in xorb_claims:
        store.clear_pending(key, xorb)
    for sha256 in lfs_claims:
        store.clear_pending(key, sha256, PENDING_LFS)
    return stats
