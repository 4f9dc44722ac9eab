"""On-disk Xet storage: xorbs and file records shared by the server, registrations per repo.

Layout::

    ROOT/xet/xorbs/<aa>/<hash>        a xorb exactly as uploaded (fetch URLs serve these bytes)
    ROOT/xet/xorbs/<aa>/<hash>.idx    its chunk index, written last: the xorb exists iff this does
    ROOT/xet/files/<aa>/<xet hash>    a verified file: size, SHA-256 and terms (JSON)
    ROOT/xet/shards/<aa>/<sha256>     a verified shard as received (for inspection only)
    <repo dir>/xet/files/<aa>/<sha256>  the repo may reference this content: {xetHash, size}
    <repo dir>/xet/hashes/<aa>/<xet hash>  ... and reconstruct this file (empty marker)
    <repo dir>/xet/pending/<xorb hash>  a xorb this repo uploaded that no commit has counted yet
    <repo dir>/xet/commits/<commit id>.json  what a commit uploaded (see accounting.py)

Every file goes through the Hub store's temp folder, fsync and rename, and is written only
after what it points to is durable (xorb bytes before the index, xorbs before the file record,
the file record before the repo registration, the registration before a commit may reference
it), so a SIGKILL at any point leaves nothing referenced but missing.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..hashing import canonical_json
from ..objects import LRUCache
from ..validation import RepoKey
from .shard import ShardFile, Term
from .xorb import XorbIndex

if TYPE_CHECKING:  # storage.py creates the XetStore: a runtime import would be circular
    from ..storage import HubStore


@dataclass(frozen=True)
class XetFile:
    """A verified file: Xet hash, size, SHA-256 and the terms that rebuild it."""

    xet_hash: str
    size: int
    sha256: str
    terms: tuple[Term, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "size": self.size,
            "sha256": self.sha256,
            "terms": [[t.xorb, t.start, t.end, t.unpacked] for t in self.terms],
        }


class XetStore:
    """Xorbs, file records and per-repo registrations under a :class:`HubStore` root."""

    def __init__(self, hub: HubStore):
        self.hub = hub
        self.root = hub.root / "xet"
        for sub in ("xorbs", "files", "shards"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        self._indexes = LRUCache(512)
        self._files = LRUCache(1024)

    @staticmethod
    def _fanout(base: Path, name: str, suffix: str = "") -> Path:
        return base / name[:2] / (name + suffix)

    # -- xorbs ---------------------------------------------------------------------------------

    def xorb_path(self, xorb: str) -> Path:
        return self._fanout(self.root / "xorbs", xorb)

    def has_xorb(self, xorb: str) -> bool:
        return self._fanout(self.root / "xorbs", xorb, ".idx").exists()

    def put_xorb(self, xorb: str, data: bytes, index: XorbIndex) -> bool:
        """Store a verified xorb; False if it was already stored."""
        if self.has_xorb(xorb):
            return False
        self.hub.write_atomic(self.xorb_path(xorb), data, sync_dir=False)
        self.hub.write_atomic(self._fanout(self.root / "xorbs", xorb, ".idx"), index.to_bytes())
        return True

    def xorb_index(self, xorb: str) -> XorbIndex | None:
        """The chunk index of a stored xorb, or ``None``."""
        index = self._indexes.get(xorb)
        if index is None:
            try:
                raw = self._fanout(self.root / "xorbs", xorb, ".idx").read_bytes()
            except FileNotFoundError:
                return None
            index = XorbIndex.from_bytes(raw)
            self._indexes.put(xorb, index)
        return index

    def put_shard(self, data: bytes) -> None:
        """Keep a verified shard as received (named by its SHA-256), for inspection."""
        path = self._fanout(self.root / "shards", hashlib.sha256(data).hexdigest())
        if not path.exists():
            self.hub.write_atomic(path, data)

    # -- files ---------------------------------------------------------------------------------

    def put_file(self, entry: ShardFile) -> XetFile:
        """Record a verified shard file (idempotent)."""
        assert entry.sha256 is not None
        record = XetFile(entry.xet_hash, entry.size, entry.sha256, entry.terms)
        path = self._fanout(self.root / "files", entry.xet_hash)
        if not path.exists():
            self.hub.write_atomic(path, canonical_json(record.to_json()))
        return record

    def get_file(self, xet_hash: str) -> XetFile | None:
        """A stored file record by Xet hash, or ``None``."""
        record = self._files.get(xet_hash)
        if record is None:
            try:
                data = json.loads(self._fanout(self.root / "files", xet_hash).read_bytes())
            except FileNotFoundError:
                return None
            terms = tuple(Term(x, s, e, u) for x, s, e, u in data["terms"])
            record = XetFile(xet_hash, int(data["size"]), data["sha256"], terms)
            self._files.put(xet_hash, record)
        return record

    # -- per-repo registrations ----------------------------------------------------------------

    def _repo_xet(self, key: RepoKey) -> Path:
        return self.hub.repo_dir(key) / "xet"

    def register(self, key: RepoKey, record: XetFile) -> None:
        """Let ``key`` reconstruct ``record`` and reference its SHA-256 in commits."""
        base = self._repo_xet(key)
        marker = self._fanout(base / "hashes", record.xet_hash)
        if not marker.exists():
            self.hub.write_atomic(marker, b"")
        link = self._fanout(base / "files", record.sha256)
        value = {"xetHash": record.xet_hash, "size": record.size}
        if self._read_json(link) != value:
            self.hub.write_atomic(link, canonical_json(value))

    def may_read(self, key: RepoKey, xet_hash: str) -> bool:
        """True if a shard registered this file for the repo."""
        return self._fanout(self._repo_xet(key) / "hashes", xet_hash).exists()

    def lookup_sha256(self, key: RepoKey, sha256: str, size: int | None = None) -> XetFile | None:
        """The Xet file the repo may use for this content (and size), or ``None``."""
        link = self._read_json(self._fanout(self._repo_xet(key) / "files", sha256))
        if link is None or (size is not None and link.get("size") != size):
            return None
        return self.get_file(str(link.get("xetHash")))

    # -- pending uploads (for per-commit accounting) -------------------------------------------

    def mark_pending(self, key: RepoKey, name: str, nbytes: int, kind: str = "pending") -> None:
        """Remember that this repo uploaded ``nbytes`` new bytes under ``name`` (a xorb/blob)."""
        self.hub.write_atomic(self._repo_xet(key) / kind / name, str(nbytes).encode())

    def pending_bytes(self, key: RepoKey, name: str, kind: str = "pending") -> int | None:
        try:
            return int((self._repo_xet(key) / kind / name).read_text())
        except (FileNotFoundError, ValueError):
            return None

    def clear_pending(self, key: RepoKey, name: str, kind: str = "pending") -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self._repo_xet(key) / kind / name)

    def commit_stats_path(self, key: RepoKey, commit_id: str) -> Path:
        return self._repo_xet(key) / "commits" / f"{commit_id}.json"

    @staticmethod
    def _read_json(path: Path) -> dict[str, Any] | None:
        try:
            value = json.loads(path.read_bytes())
        except (FileNotFoundError, ValueError):
            return None
        return value if isinstance(value, dict) else None
