"""JSON shapes shared by several endpoints (reference/hub-api.md §4)."""

from __future__ import annotations

import html
from typing import Any

from .objects import Commit, FileEntry, TreeView
from .validation import RepoKey


def repo_url(base_url: str, key: RepoKey) -> str:
    """Web URL of a repo; clients parse ``namespace/name`` out of it."""
    return f"{base_url}/{key.url_prefix}{key.repo_id}"


def file_json(path: str, entry: FileEntry, xet_hash: str | None = None) -> dict[str, Any]:
    """Tree / paths-info entry of a file; ``xetHash`` only for content stored through Xet.

    With ``xetHash`` (and ``lfs``) snapshot_download skips the HEAD and downloads through Xet.
    """
    data: dict[str, Any] = {"type": "file", "path": path, "oid": entry.oid, "size": entry.size}
    if entry.lfs:
        data["lfs"] = {"oid": entry.sha256, "size": entry.size, "pointerSize": entry.pointer_size}
    if xet_hash is not None:
        data["xetHash"] = xet_hash
    return data


def dir_json(path: str, tree: TreeView) -> dict[str, Any]:
    """Tree / paths-info entry of a folder."""
    return {"type": "directory", "path": path, "oid": tree.dir_oid(path), "size": 0}


def commit_json(commit: Commit, *, formatted: bool = False) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": commit.id,
        "title": commit.title,
        "message": commit.message,
        "date": commit.date,
        "authors": [{"user": name} for name in commit.authors],
    }
    if formatted:
        data["formatted"] = {
            "title": html.escape(commit.title),
            "message": html.escape(commit.message),
        }
    return data
