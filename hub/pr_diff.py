"""The ``diff`` of a pull request's details: a git-style unified diff of its changes.

From the commit the pull request started from to its head. LFS files appear as their pointer
files (as ``git diff`` shows them); regular files that are binary, not UTF-8 or large are
summarised as "Binary files ... differ".
"""

from __future__ import annotations

import difflib

from .hashing import lfs_pointer
from .objects import FileEntry
from .storage import Repo

#: regular files above this size are not diffed line by line
MAX_TEXT_DIFF = 1024 * 1024


def _text(repo: Repo, entry: FileEntry) -> str | None:
    """The lines git would diff for ``entry`` (an LFS file's pointer), or ``None`` for binary."""
    if entry.lfs:
        return lfs_pointer(entry.sha256, entry.size).decode()
    return repo.blob_text(entry, MAX_TEXT_DIFF)


def _file_diff(repo: Repo, path: str, old: FileEntry | None, new: FileEntry | None) -> str:
    header = [f"diff --git a/{path} b/{path}"]
    if old is None:
        header.append("new file mode 100644")
    elif new is None:
        header.append("deleted file mode 100644")
    header.append(f"index {old.oid[:7] if old else '0000000'}..{new.oid[:7] if new else '0000000'}")
    old_text = _text(repo, old) if old else ""
    new_text = _text(repo, new) if new else ""
    a_name = f"a/{path}" if old else "/dev/null"
    b_name = f"b/{path}" if new else "/dev/null"
    if old_text is None or new_text is None:
        return "\n".join([*header, f"Binary files {a_name} and {b_name} differ"]) + "\n"
    lines = difflib.unified_diff(
        old_text.splitlines(keepends=True),
        new_text.splitlines(keepends=True),
        fromfile=a_name,
        tofile=b_name,
    )
    body = "".join(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n"
                   for line in lines)  # fmt: skip
    return "\n".join(header) + "\n" + body


def tree_diff(repo: Repo, old_tree: str, new_tree: str) -> str:
    """Unified diff of two snapshots of ``repo``, file by file in path order."""
    old = repo.get_tree(old_tree).files
    new = repo.get_tree(new_tree).files
    parts = [
        _file_diff(repo, path, old.get(path), new.get(path))
        for path in sorted(set(old) | set(new))
        if old.get(path) != new.get(path)
    ]
    return "".join(parts)
