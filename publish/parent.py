"""The parent release a build follows, read from the Hub: the latest release tag of the repo and
the layout of its Parquet files at the tag's commit (:mod:`ocforge.parent_layout`).

Where the parent's row order comes from: its Parquet files **at its commit** (the id and
``provenance`` columns and the row-group sizes), read with range requests through
``HfFileSystem``, so only the file footers and those two columns travel. A commit is immutable, so a rebuild from scratch, on any
machine, reads the same layout and writes the same bytes. A file of the local build folder is
read instead only when its SHA-256 is the one the parent's ``release.json`` lists for that path:
the same bytes, hence the same layout, without the download. A build folder is never trusted by
its name or its own ``release.json`` alone (it may hold a later, unreleased build).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from ocforge.errors import HubAccessError
from ocforge.hashing import file_sha256
from ocforge.manifest import MANIFEST_NAME, ReleaseManifest, parse_manifest, read_manifest
from ocforge.parent_layout import (
    FOLLOWED_KINDS,
    LayoutParent,
    ParentLayout,
    layout_files,
    read_parent_layout,
)
from ocforge.publish.hub_client import HubConnection
from ocforge.publish.protocol import describe, hub_errors, read_refs
from ocforge.publish.remote import REPO_TYPE, download


def latest_release(conn: HubConnection, repo_id: str) -> LayoutParent | None:
    """The latest ``vX.Y.Z`` tag of ``repo_id`` and its commit; ``None`` before the first release.

    Raises:
        HubAccessError: the Hub cannot be reached or refused the read.
    """
    refs = read_refs(conn.api, repo_id, REPO_TYPE, conn.display)
    latest = refs.latest if refs.exists else None
    if latest is None:
        return None
    version, tag = latest
    return LayoutParent(repo=repo_id, version=str(version), tag=tag, commit=refs.tags[tag])


def _parent_manifest(conn: HubConnection, parent: LayoutParent, cache: Path) -> ReleaseManifest:
    text = download(conn, parent.repo, MANIFEST_NAME, parent.commit, cache).read_bytes()
    return parse_manifest(text, f"{parent.repo}@{parent.tag}")


def read_layout(
    conn: HubConnection, parent: LayoutParent, cache: Path, local: Path | None = None
) -> ParentLayout:
    """The layout of ``parent`` (see the module docstring for where the bytes come from).

    Raises:
        HubAccessError: a file of the parent cannot be read.
        ManifestError: the parent's ``release.json`` is not a manifest.
    """
    fs = conn.filesystem()

    @contextlib.contextmanager
    def open_file(path: str, sha256: str) -> Iterator[BinaryIO]:
        mine = local / path if local is not None else None
        if mine is not None and mine.is_file() and file_sha256(mine) == sha256:
            with mine.open("rb") as fh:
                yield fh
            return
        remote = f"datasets/{parent.repo}@{parent.commit}/{path}"
        # small blocks: pyarrow asks for each column chunk's range, and a bigger block would
        # fetch the columns around it too (311 MB of files: 17 MB read at 64 KiB, 210 MB at
        # 1 MiB, in the same 224 requests)
        with fs.open(remote, "rb", block_size=64 * 1024) as fh:
            yield fh  # type: ignore[misc]

    try:
        manifest = _parent_manifest(conn, parent, cache)
        return read_parent_layout(parent, layout_files(manifest.configs), open_file)
    except hub_errors() as exc:
        where = f"{parent.repo}@{parent.tag}"
        raise HubAccessError(f"cannot read {where} on {conn.display}: {describe(exc)}") from exc


def recorded_parent(manifest: ReleaseManifest) -> dict[str, str] | None:
    """The parent a build's layout followed, as its ``release.json`` records it."""
    return manifest.layout.parent.to_dict() if manifest.layout is not None else None


def layout_is_current(
    conn: HubConnection, build_dir: Path, parent: LayoutParent | None, cache: Path
) -> bool:
    """True when the build in ``build_dir`` is laid out as a build against ``parent`` would be:
    it followed that very release (or none, and there is none), or its data files are the
    parent's own (following a layout of the same rows gives the same bytes: the release is up
    to date, and rebuilding would only write them again).

    Raises:
        HubAccessError: the parent's ``release.json`` cannot be read.
    """
    try:
        manifest = read_manifest(Path(build_dir))
    except (OSError, ValueError):
        return False
    if recorded_parent(manifest) == (parent.to_dict() if parent is not None else None):
        return True
    if parent is None:
        return False
    try:
        released = _parent_manifest(conn, parent, cache)
    except hub_errors() as exc:
        where = f"{parent.repo}@{parent.tag}"
        raise HubAccessError(f"cannot read {where} on {conn.display}: {describe(exc)}") from exc
    return _followed_files(released) == _followed_files(manifest)


def _followed_files(manifest: ReleaseManifest) -> set[tuple[str, str]]:
    return {
        (path, sha) for kind, path, sha in layout_files(manifest.configs) if kind in FOLLOWED_KINDS
    }
