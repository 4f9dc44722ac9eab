"""Refs, commits, branches and tags of a stored repo: the part of :class:`~.storage.Repo` that
moves refs. A commit becomes visible only when ``refs.json`` is replaced, its last step, under
the repo's lock (see ``storage.py`` for the crash-safety rules)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

from .discussions import pull_request_head
from .errors import (
    BadRequestError,
    ConflictError,
    EntryNotFoundError,
    PreconditionFailedError,
    RepoNotFoundError,
    RevisionNotFoundError,
    UnprocessableError,
)
from .hashing import canonical_json
from .objects import (
    AddFile,
    Commit,
    CommitOperation,
    DeleteFile,
    DeleteFolder,
    FileEntry,
    Refs,
    utc_now_iso,
)
from .repo_ids import REPO_NOT_FOUND
from .revisions import expand_short_commit_id, is_short_commit_id
from .validation import is_commit_id

if TYPE_CHECKING:
    from .storage import Repo

DEFAULT_BRANCH = "main"


class RefsAndCommits:
    """Mixed into :class:`~.storage.Repo`, whose objects, lock and store it uses."""

    def refs(self) -> Refs:
        """Current branch and tag tables (read fresh; the file is replaced atomically)."""
        try:
            data = json.loads((self.dir / "refs.json").read_bytes())
        except FileNotFoundError:
            raise RepoNotFoundError(REPO_NOT_FOUND) from None
        return Refs(dict(data.get("heads", {})), dict(data.get("tags", {})))

    def _write_refs(self, refs: Refs) -> None:
        self.store.write_atomic(self.dir / "refs.json", canonical_json(refs.to_json()))

    def resolve(self, revision: str) -> Commit:
        """Resolve a branch, tag (optionally ``refs/heads/``/``refs/tags/``) or commit id.

        A branch wins over a tag of the same name; refs win over short commit ids
        (revisions.py documents both rules).
        """
        refs = self.refs()
        commit_id: str | None = None
        if revision in refs.heads:
            commit_id = refs.heads[revision]
        elif revision in refs.tags:
            commit_id = refs.tags[revision]
        elif revision.startswith("refs/heads/"):
            commit_id = refs.heads.get(revision[len("refs/heads/") :])
        elif revision.startswith("refs/tags/"):
            commit_id = refs.tags.get(revision[len("refs/tags/") :])
        elif revision.startswith("refs/pr/"):  # kept in the discussion file
            commit_id = pull_request_head(self, revision)
        elif is_commit_id(revision):
            commit_id = revision
        elif is_short_commit_id(revision):
            commit_id = expand_short_commit_id(self, revision)
        if commit_id is None:
            raise RevisionNotFoundError(f"Invalid rev id: {revision}")
        try:
            return self.get_commit(commit_id)
        except RevisionNotFoundError:
            raise RevisionNotFoundError(f"Invalid rev id: {revision}") from None

    def history(self, commit: Commit) -> Iterator[Commit]:
        """First-parent history starting at ``commit``, newest first."""
        current: Commit | None = commit
        while current is not None:
            yield current
            current = self.get_commit(current.parents[0]) if current.parents else None

    # -- mutations -----------------------------------------------------------------------------

    def commit(
        self,
        branch: str,
        operations: Iterable[CommitOperation],
        *,
        title: str,
        message: str,
        author: str,
        parent_commit: str | None = None,
    ) -> Commit:
        """Apply ``operations`` on top of ``branch`` and move the branch to the new commit.

        Contents referenced by the operations must already be stored (as blobs or Xet files).
        With ``parent_commit`` the commit is made only if the branch still points there
        (optimistic concurrency); otherwise :class:`PreconditionFailedError`.
        """
        ops = list(operations)
        with self.store.lock(self.key):
            self._check_alive()
            refs = self.refs()
            if branch not in refs.heads:
                if branch in refs.tags or is_commit_id(branch):
                    raise BadRequestError(
                        f"Invalid rev id: {branch} is not a branch; commits go to branches only."
                    )
                raise RevisionNotFoundError(f"Invalid rev id: {branch}")
            head = self.get_commit(refs.heads[branch])
            if parent_commit is not None and parent_commit != head.id:
                raise PreconditionFailedError(
                    "The branch was updated since you opened this page. Please refresh and try again. "
                    f"(parent commit {parent_commit} is not the head of {branch})"
                )
            files = dict(self.get_tree(head.tree).files)
            for op in ops:
                _apply(files, op, self)
            _check_no_file_dir_clash(files)
            tree_id = self._write_tree(files)
            new = self._write_commit(tree_id, (head.id,), title, message, (author,), utc_now_iso())
            refs.heads[branch] = new.id
            self._write_refs(refs)
            return new

    def create_branch(self, name: str, start: Commit) -> None:
        """Create branch ``name`` at ``start``; :class:`ConflictError` if the name is taken."""
        with self.store.lock(self.key):
            self._check_alive()
            refs = self.refs()
            if name in refs.heads:  # huggingface.co's wording; a tag of that name is fine
                raise ConflictError(f"Reference refs/heads/{name} already exists.")
            refs.heads[name] = start.id
            self._write_refs(refs)

    def delete_branch(self, name: str) -> None:
        """Delete a branch other than ``main``."""
        with self.store.lock(self.key):
            self._check_alive()
            refs = self.refs()
            if name not in refs.heads:
                raise RevisionNotFoundError(f"Invalid rev id: {name}")
            if name == DEFAULT_BRANCH:
                raise BadRequestError(f"Cannot delete refs/heads/{name}: the default branch.")
            del refs.heads[name]
            self._write_refs(refs)

    def create_tag(self, name: str, target: Commit) -> None:
        """Tag ``target`` as ``name``; :class:`ConflictError` if the name is taken."""
        with self.store.lock(self.key):
            self._check_alive()
            refs = self.refs()
            if name in refs.tags:  # a branch of that name is fine, as on huggingface.co
                raise ConflictError(f"Tag {name} already exists.")
            refs.tags[name] = target.id
            self._write_refs(refs)

    def delete_tag(self, name: str) -> None:
        """Delete a tag."""
        with self.store.lock(self.key):
            self._check_alive()
            refs = self.refs()
            if name not in refs.tags:
                raise RevisionNotFoundError(f"Invalid rev id: {name}")
            del refs.tags[name]
            self._write_refs(refs)


def _apply(files: dict[str, FileEntry], op: CommitOperation, repo: Repo) -> None:
    if isinstance(op, AddFile):
        entry = op.entry
        has_xet = entry.lfs and repo.store.xet.lookup_sha256(repo.key, entry.sha256, entry.size)
        if not (repo.has_blob(entry.sha256, entry.size) or has_xet):
            raise UnprocessableError(f"Content of {op.path} was not uploaded (LFS object missing).")
        files[op.path] = op.entry
    elif isinstance(op, DeleteFile):
        if op.path in files:
            del files[op.path]
        elif any(path.startswith(op.path + "/") for path in files):
            # huggingface_hub sends CommitOperationDelete("dir") (no trailing "/") as a
            # deletedFile; huggingface.co then deletes the folder (_commit_api.py is_folder)
            _apply(files, DeleteFolder(op.path), repo)
        else:
            raise EntryNotFoundError(
                f"Cannot delete {op.path}: A file with this name doesn't exist in the repository."
            )
    else:
        prefix = op.path + "/"
        doomed = [path for path in files if path.startswith(prefix)]
        if not doomed:
            raise EntryNotFoundError(f"Cannot delete folder {op.path}: it does not exist.")
        for path in doomed:
            del files[path]


def _check_no_file_dir_clash(files: dict[str, FileEntry]) -> None:
    for path in files:
        parts = path.split("/")
        for depth in range(1, len(parts)):
            if "/".join(parts[:depth]) in files:
                raise BadRequestError(
                    f"Cannot commit {path}: {'/'.join(parts[:depth])} is a file, not a folder."
                )
