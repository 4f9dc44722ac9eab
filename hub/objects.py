"""Value types of the local Hub's storage: file entries, commits, refs, operations, trees."""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from .hashing import git_blob_sha1, lfs_pointer, object_id


def utc_now_iso() -> str:
    """Current time in the Hub's format, e.g. ``2026-11-02T10:11:12.123Z``."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


@dataclass(frozen=True, slots=True)
class FileEntry:
    """One file of a snapshot.

    ``oid`` is the git blob SHA-1 the clients compare against: of the content for regular files,
    of the LFS pointer for LFS files. ``sha256`` names the blob on disk in both cases.
    """

    sha256: str
    size: int
    oid: str
    lfs: bool

    @property
    def etag(self) -> str:
        """Content hash used as ETag: SHA-256 for LFS files, git SHA-1 for regular ones."""
        return self.sha256 if self.lfs else self.oid

    @property
    def pointer_size(self) -> int:
        """Length of the LFS pointer file (only meaningful for LFS files)."""
        return len(lfs_pointer(self.sha256, self.size))

    def to_json(self) -> dict[str, Any]:
        return {"sha256": self.sha256, "size": self.size, "oid": self.oid, "lfs": self.lfs}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FileEntry:
        return cls(data["sha256"], int(data["size"]), data["oid"], bool(data["lfs"]))

    @classmethod
    def for_lfs(cls, sha256: str, size: int) -> FileEntry:
        return cls(sha256, size, git_blob_sha1(lfs_pointer(sha256, size)), True)


@dataclass(frozen=True, slots=True)
class Commit:
    """A stored commit. ``parents`` is empty only for a repo's initial commit."""

    id: str
    tree: str
    parents: tuple[str, ...]
    title: str
    message: str
    authors: tuple[str, ...]
    date: str

    def body(self) -> dict[str, Any]:
        return {
            "tree": self.tree,
            "parents": list(self.parents),
            "title": self.title,
            "message": self.message,
            "authors": list(self.authors),
            "date": self.date,
        }


@dataclass
class Refs:
    """Branch and tag tables of a repo (name -> commit id)."""

    heads: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"heads": self.heads, "tags": self.tags}


@dataclass(frozen=True, slots=True)
class AddFile:
    """Commit operation: add or replace ``path`` with ``entry`` (blob already stored)."""

    path: str
    entry: FileEntry


@dataclass(frozen=True, slots=True)
class DeleteFile:
    """Commit operation: delete the file ``path`` (must exist)."""

    path: str


@dataclass(frozen=True, slots=True)
class DeleteFolder:
    """Commit operation: delete every file under folder ``path`` (must not be empty)."""

    path: str


CommitOperation = AddFile | DeleteFile | DeleteFolder


class TreeView:
    """Read-only view of a snapshot with a directory index for listings."""

    def __init__(self, tree_id: str, files: dict[str, FileEntry]):
        self.id = tree_id
        self.files = files
        children: dict[str, tuple[set[str], set[str]]] = {"": (set(), set())}
        for path in files:
            parts = path.split("/")
            for depth in range(len(parts) - 1):
                parent = "/".join(parts[:depth])
                child = "/".join(parts[: depth + 1])
                children.setdefault(parent, (set(), set()))[1].add(child)
                children.setdefault(child, (set(), set()))
            children["/".join(parts[:-1])][0].add(path)
        self._children = children
        self._dir_oids: dict[str, str] | None = None

    def is_dir(self, path: str) -> bool:
        return path in self._children

    def children(self, directory: str) -> tuple[list[str], list[str]]:
        """Direct (sub-folders, files) of ``directory`` (``""`` = root), sorted."""
        files, dirs = self._children[directory]
        return sorted(dirs), sorted(files)

    def walk(self, directory: str) -> Iterator[tuple[str, bool]]:
        """All descendants of ``directory`` as (path, is_dir), depth first, folders first."""
        dirs, files = self.children(directory)
        for sub in dirs:
            yield sub, True
            yield from self.walk(sub)
        for path in files:
            yield path, False

    def dir_oid(self, directory: str) -> str:
        """Deterministic 40-hex id of a folder's content (stands in for git's tree SHA-1).

        SHA-1 over ``path NUL oid LF`` of every file below the folder, in path order; computed
        for all folders in one pass over the files on first use.
        """
        if self._dir_oids is None:
            hashers: dict[str, Any] = {}
            for path in sorted(self.files):
                line = f"{path}\0{self.files[path].oid}\n".encode()
                parts = path.split("/")
                for depth in range(len(parts)):
                    folder = "/".join(parts[:depth])
                    hasher = hashers.get(folder)
                    if hasher is None:
                        hasher = hashers[folder] = hashlib.sha1(b"dir\0", usedforsecurity=False)
                    hasher.update(line)
            self._dir_oids = {folder: h.hexdigest() for folder, h in hashers.items()}
        return self._dir_oids.get(directory) or object_id("dir", [])


class LRUCache:
    """Small thread-safe LRU for immutable objects (commits and trees never change)."""

    def __init__(self, size: int):
        self._size = size
        self._data: OrderedDict[Any, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Any) -> Any:
        with self._lock:
            value = self._data.get(key)
            if value is not None:
                self._data.move_to_end(key)
            return value

    def put(self, key: Any, value: Any) -> None:
        with self._lock:
            self._data[key] = value
            self._data.move_to_end(key)
            while len(self._data) > self._size:
                self._data.popitem(last=False)
