"""On-disk storage of the local Hub: content-addressed blobs, trees, commits and refs.

Layout under the root folder::

    repos/<type>/<namespace>/<name>/
        repo.json                   # id, type, private, createdAt, uuid
        refs.json                   # {"heads": {branch: commit}, "tags": {tag: commit}}
        objects/blobs/<aa>/<sha256> # file contents, named by their SHA-256
        objects/trees/<aa>/<id>     # {path: entry} for every file of a snapshot (JSON)
        objects/commits/<aa>/<id>   # tree id, parent ids, title, message, authors, date (JSON)
        discussions/<num>.json      # discussions and pull requests, refs/pr/N (discussions.py)
    locks/<type>--<ns>--<name>.lock # flock target that serialises ref updates of one repo
    tmp/<pid>-<random>/             # this process' temporary files (same file system: rename)
    trash/                          # deleted repos, removed in the background / at start-up
    redirects/<type>/<ns>--<name>   # old ids of moved repos -> new id (redirects.py)
    orgs/<org>.json                 # org settings: default visibility of new repos (org_settings.py)
    xet/                            # Xet xorbs and file records (xet/store.py)

Crash safety: every file is written to ``tmp/``, fsynced and renamed into place, and its
directory is fsynced. Objects are immutable and named by their content, so a half-finished
operation leaves at most unreferenced objects. A commit becomes visible only when ``refs.json``
is replaced (the last step), so a killed server or upload never exposes a partial commit and a
restart finds every completed one.

The value types (file entries, commits, refs, trees) live in ``objects.py``; refs, commits,
branches and tags of a repo in ``refs.py``.

Concurrency: ref updates of a repo take an in-process lock plus an ``flock`` on its lock file
(two servers may share a root). Readers never lock: they read ``refs.json`` (replaced
atomically) and immutable objects.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import secrets
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

from .durable import fsync_dir, pid_alive
from .errors import (
    BadRequestError,
    ConflictError,
    RepoNotFoundError,
    RevisionNotFoundError,
)
from .gitattributes import DEFAULT_GITATTRIBUTES
from .hashing import canonical_json, git_blob_sha1, object_id
from .objects import (
    Commit,
    FileEntry,
    LRUCache,
    Refs,
    TreeView,
    utc_now_iso,
)
from .redirects import drop_redirect
from .refs import DEFAULT_BRANCH, RefsAndCommits
from .repo_ids import REPO_NOT_FOUND, find_stored
from .validation import RepoKey, is_commit_id
from .xet.store import XetStore

_COPY_CHUNK = 1 << 20


class HubStore:
    """All repositories under one root folder. Thread-safe; several processes may share a root."""

    def __init__(self, root: Path):
        self.root = Path(root).resolve()
        for sub in ("repos", "locks", "tmp", "trash"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        self._cleanup_leftovers()
        self.tmp_dir = self.root / "tmp" / f"{os.getpid()}-{secrets.token_hex(4)}"
        self.tmp_dir.mkdir()
        self._locks: dict[str, threading.Lock] = {}
        self._locks_guard = threading.Lock()
        self._objects = LRUCache(256)
        self._trees = LRUCache(32)
        #: Xet xorbs and files; a commit may reference content stored there instead of a blob
        self.xet = XetStore(self)

    # -- housekeeping --------------------------------------------------------------------------

    def _cleanup_leftovers(self) -> None:
        """Remove temp folders of dead processes and deleted repos left by a crash."""
        for entry in (self.root / "tmp").iterdir():
            pid_text = entry.name.split("-", 1)[0]
            if not pid_text.isdigit() or not pid_alive(int(pid_text)):
                shutil.rmtree(entry, ignore_errors=True)
        for entry in (self.root / "trash").iterdir():
            shutil.rmtree(entry, ignore_errors=True)

    def close(self) -> None:
        """Remove this process' temp folder."""
        shutil.rmtree(self.tmp_dir, ignore_errors=True)

    # -- durable writes ------------------------------------------------------------------------

    @contextlib.contextmanager
    def temp_file(self) -> Iterator[tuple[BinaryIO, Path]]:
        """A new temp file opened for writing; removed on exit unless it was renamed away."""
        path = self.tmp_dir / secrets.token_hex(12)
        with open(path, "xb") as fh:
            try:
                yield fh, path
            finally:
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()

    def write_atomic(self, dest: Path, data: bytes, *, sync_dir: bool = True) -> None:
        """Write ``data`` to ``dest`` so that readers see the old or the new file, never a mix."""
        with self.temp_file() as (fh, tmp):
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
            dest.parent.mkdir(parents=True, exist_ok=True)
            os.replace(tmp, dest)
        if sync_dir:
            fsync_dir(dest.parent)

    # -- repo registry -------------------------------------------------------------------------

    def repo_dir(self, key: RepoKey) -> Path:
        return self.root / "repos" / key.repo_type / key.namespace / key.name

    @contextlib.contextmanager
    def lock(self, key: RepoKey) -> Iterator[None]:
        """Exclusive lock on a repo's refs, across threads and processes."""
        # lower-cased: ids differing only in case are one repo (repo_ids.py), so one lock
        name = f"{key.repo_type}--{key.namespace}--{key.name}".lower()
        with self._locks_guard:
            tlock = self._locks.setdefault(name, threading.Lock())
        with tlock:
            fd = os.open(self.root / "locks" / f"{name}.lock", os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                yield
            finally:
                os.close(fd)  # closing the descriptor releases the flock

    def get_repo(self, key: RepoKey) -> Repo:
        """Open an existing repo or raise :class:`RepoNotFoundError`."""
        directory = self.repo_dir(key)
        try:
            meta = json.loads((directory / "repo.json").read_bytes())
        except FileNotFoundError:
            raise RepoNotFoundError(REPO_NOT_FOUND) from None
        return Repo(self, key, directory, meta)

    def list_repos(self) -> Iterator[RepoKey]:
        """Every repo in the store, sorted by type, namespace and name."""
        base = self.root / "repos"
        for type_dir in sorted(base.iterdir()):
            for ns_dir in sorted(type_dir.iterdir()):
                for repo_dir in sorted(ns_dir.iterdir()):
                    if (repo_dir / "repo.json").exists():
                        yield RepoKey(type_dir.name, ns_dir.name, repo_dir.name)

    def create_repo(self, key: RepoKey, *, private: bool, author: str) -> Repo:
        """Create a repo with an initial commit holding ``.gitattributes`` on ``main``.

        The repo is assembled in a temp folder and renamed into place, so it appears complete or
        not at all. Raises :class:`ConflictError` if it exists.
        """
        with self.lock(key):
            directory = self.repo_dir(key)
            if find_stored(self.root, key) is not None:  # in any casing (repo_ids.py)
                raise ConflictError(f"You already created this {key.repo_type} repo")
            staging = self.tmp_dir / f"repo-{secrets.token_hex(8)}"
            staging.mkdir()
            try:
                now = utc_now_iso()
                meta = {
                    "id": key.repo_id,
                    "type": key.repo_type,
                    "private": private,
                    "createdAt": now,
                    "author": author,
                    "uuid": secrets.token_hex(16),
                }
                repo = Repo(self, key, staging, meta)
                content = DEFAULT_GITATTRIBUTES.encode()
                entry = repo.store_blob_bytes(content, lfs=False, sync_dir=False)
                tree_id = repo._write_tree({".gitattributes": entry})
                commit = repo._write_commit(
                    tree_id, (), "initial commit", "", (author,), now, sync_dir=False
                )
                self.write_atomic(staging / "repo.json", canonical_json(meta), sync_dir=False)
                self.write_atomic(
                    staging / "refs.json",
                    canonical_json(Refs({DEFAULT_BRANCH: commit.id}).to_json()),
                    sync_dir=False,
                )
                for sub in staging.rglob("*"):
                    if sub.is_dir():
                        fsync_dir(sub)
                fsync_dir(staging)
                directory.parent.mkdir(parents=True, exist_ok=True)
                if directory.exists():  # a leftover empty folder, e.g. after a crash
                    shutil.rmtree(directory)
                os.rename(staging, directory)
                fsync_dir(directory.parent)
                drop_redirect(self.root, key)  # a real repo wins over an old id's redirect
            finally:
                shutil.rmtree(staging, ignore_errors=True)
        return self.get_repo(key)

    def delete_repo(self, key: RepoKey) -> None:
        """Delete a repo: renamed into ``trash/`` atomically, then removed."""
        with self.lock(key):
            directory = self.repo_dir(key)
            if not (directory / "repo.json").exists():
                raise RepoNotFoundError(REPO_NOT_FOUND)
            target = self.root / "trash" / secrets.token_hex(8)
            os.rename(directory, target)
            fsync_dir(directory.parent)
        shutil.rmtree(target, ignore_errors=True)


class Repo(RefsAndCommits):
    """One repository. Obtain it from :meth:`HubStore.get_repo`; cheap to create per request."""

    def __init__(self, store: HubStore, key: RepoKey, directory: Path, meta: dict[str, Any]):
        self.store = store
        self.key = key
        self.dir = directory
        self.meta = meta

    @property
    def private(self) -> bool:
        return bool(self.meta.get("private"))

    @property
    def created_at(self) -> str:
        return str(self.meta.get("createdAt", ""))

    def _check_alive(self) -> None:
        if not (self.dir / "repo.json").exists():
            raise RepoNotFoundError(REPO_NOT_FOUND)

    # -- objects -------------------------------------------------------------------------------

    def _object_path(self, kind: str, oid: str) -> Path:
        return self.dir / "objects" / kind / oid[:2] / oid

    def blob_path(self, sha256: str) -> Path:
        """Where the content with this SHA-256 lives (it may not exist)."""
        return self._object_path("blobs", sha256)

    def has_blob(self, sha256: str, size: int | None = None) -> bool:
        """True if the blob is stored (and has ``size`` bytes when given)."""
        try:
            st = self.blob_path(sha256).stat()
        except FileNotFoundError:
            return False
        return size is None or st.st_size == size

    def blob_text(self, entry: FileEntry, max_bytes: int) -> str | None:
        """UTF-8 text of a regular file's blob; ``None`` for LFS/Xet files, content over
        ``max_bytes``, binary (NUL bytes, not UTF-8) or missing content."""
        if entry.lfs or entry.size > max_bytes:
            return None
        try:
            data = self.blob_path(entry.sha256).read_bytes()
        except FileNotFoundError:
            return None
        if b"\0" in data:
            return None
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            return None

    def store_blob_bytes(self, content: bytes, *, lfs: bool, sync_dir: bool = True) -> FileEntry:
        """Store ``content`` (idempotent) and return its entry."""
        sha256 = hashlib.sha256(content).hexdigest()
        dest = self.blob_path(sha256)
        if not dest.exists():
            self.store.write_atomic(dest, content, sync_dir=sync_dir)
        if lfs:
            return FileEntry.for_lfs(sha256, len(content))
        return FileEntry(sha256, len(content), git_blob_sha1(content), False)

    def store_blob_stream(
        self, stream: BinaryIO, size: int, expected_sha256: str, *, chunk: int = _COPY_CHUNK
    ) -> None:
        """Copy exactly ``size`` bytes from ``stream`` into the blob ``expected_sha256``.

        The bytes go to a temp file first; it is renamed into place only if the length and the
        SHA-256 match, so an interrupted or corrupt upload never becomes visible.
        """
        digest = hashlib.sha256()
        remaining = size
        with self.store.temp_file() as (fh, tmp):
            while remaining > 0:
                data = stream.read(min(chunk, remaining))
                if not data:
                    raise BadRequestError("Upload ended before Content-Length bytes were received.")
                digest.update(data)
                fh.write(data)
                remaining -= len(data)
            if digest.hexdigest() != expected_sha256:
                raise BadRequestError("Uploaded content does not match its SHA-256 object id.")
            fh.flush()
            os.fsync(fh.fileno())
            dest = self.blob_path(expected_sha256)
            dest.parent.mkdir(parents=True, exist_ok=True)
            os.replace(tmp, dest)
        fsync_dir(dest.parent)

    def _read_object(self, kind: str, oid: str) -> dict[str, Any] | None:
        cache_key = (self.meta.get("uuid"), kind, oid)
        value = self.store._objects.get(cache_key)
        if value is None:
            try:
                value = json.loads(self._object_path(kind, oid).read_bytes())
            except FileNotFoundError:
                return None
            self.store._objects.put(cache_key, value)
        return value

    def _write_object(self, kind: str, oid: str, value: Any, *, sync_dir: bool = True) -> None:
        path = self._object_path(kind, oid)
        if not path.exists():
            self.store.write_atomic(path, canonical_json(value), sync_dir=sync_dir)

    def _write_tree(self, files: dict[str, FileEntry], *, sync_dir: bool = True) -> str:
        body = {path: entry.to_json() for path, entry in sorted(files.items())}
        tree_id = object_id("tree", body)
        self._write_object("trees", tree_id, body, sync_dir=sync_dir)
        return tree_id

    def _write_commit(
        self,
        tree_id: str,
        parents: tuple[str, ...],
        title: str,
        message: str,
        authors: tuple[str, ...],
        date: str,
        *,
        sync_dir: bool = True,
    ) -> Commit:
        draft = Commit("", tree_id, parents, title, message, authors, date)
        body = draft.body()
        commit_id = object_id("commit", body)
        self._write_object("commits", commit_id, body, sync_dir=sync_dir)
        return Commit(commit_id, tree_id, parents, title, message, authors, date)

    def get_commit(self, commit_id: str) -> Commit:
        """Load a commit by id or raise :class:`RevisionNotFoundError`."""
        body = self._read_object("commits", commit_id) if is_commit_id(commit_id) else None
        if body is None:
            raise RevisionNotFoundError(f"Invalid rev id: {commit_id}")
        return Commit(
            commit_id,
            body["tree"],
            tuple(body["parents"]),
            body["title"],
            body["message"],
            tuple(body["authors"]),
            body["date"],
        )

    def get_tree(self, tree_id: str) -> TreeView:
        """Load a snapshot's file table with its directory index (cached; trees are immutable)."""
        cache_key = (self.meta.get("uuid"), tree_id)
        view = self.store._trees.get(cache_key)
        if view is None:
            body = self._read_object("trees", tree_id)
            if body is None:
                raise RevisionNotFoundError(f"Tree {tree_id} is missing.")
            files = {path: FileEntry.from_json(value) for path, value in body.items()}
            view = TreeView(tree_id, files)
            self.store._trees.put(cache_key, view)
        return view
