"""The state of a dataset repo on the target, read through ``HfApi``: head of ``main``, release
tags (:class:`~ocforge.publish.protocol.Refs`), the file tree with hashes, the card and
``release.json`` at the head and at the latest release."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ocforge.errors import HubAccessError
from ocforge.manifest import MANIFEST_NAME, ReleaseManifest, parse_manifest
from ocforge.publish.hub_client import HubConnection
from ocforge.publish.plan import RemoteFile
from ocforge.publish.protocol import Refs, describe, hub_errors, read_refs
from ocforge.publish.versions import Version

README = "README.md"
REPO_TYPE = "dataset"


@dataclass
class RemoteState:
    refs: Refs
    tree: dict[str, RemoteFile] = field(default_factory=dict)
    readme: str | None = None
    head_manifest: ReleaseManifest | None = None
    previous: ReleaseManifest | None = None  # release.json at the latest release tag

    @property
    def exists(self) -> bool:
        return self.refs.exists

    @property
    def head(self) -> str | None:
        return self.refs.head

    @property
    def tags(self) -> dict[Version, str]:
        return self.refs.versions

    @property
    def tag_commits(self) -> dict[str, str]:
        return dict(self.refs.tags)

    @property
    def latest(self) -> tuple[Version, str] | None:
        return self.refs.latest


def download(conn: HubConnection, repo_id: str, path: str, revision: str, cache: Path) -> Path:
    return Path(
        conn.api.hf_hub_download(
            repo_id, path, repo_type=REPO_TYPE, revision=revision, cache_dir=str(cache)
        )
    )


def remote_state(conn: HubConnection, repo_id: str, cache: Path) -> RemoteState:
    """Everything a release needs to know of ``repo_id``.

    Raises:
        HubAccessError: the Hub cannot be reached or refused a read (the token is never shown).
        ManifestError: the ``release.json`` at the head or the latest tag is not a manifest.
    """
    refs = read_refs(conn.api, repo_id, REPO_TYPE, conn.display)
    remote = RemoteState(refs)
    if not refs.exists or refs.head is None:
        return remote
    try:
        _read_head(conn, repo_id, remote, cache)
        latest = refs.latest
        if latest is not None:
            remote.previous = manifest_at(conn, repo_id, latest[1], cache)
    except hub_errors() as exc:
        raise HubAccessError(f"cannot read {repo_id} on {conn.display}: {describe(exc)}") from exc
    return remote


def _read_head(conn: HubConnection, repo_id: str, remote: RemoteState, cache: Path) -> None:
    head = remote.head or "main"
    for entry in conn.api.list_repo_tree(
        repo_id, recursive=True, revision=head, repo_type=REPO_TYPE
    ):
        if hasattr(entry, "blob_id"):
            lfs = getattr(entry, "lfs", None)
            remote.tree[entry.path] = RemoteFile(
                entry.path, entry.size, entry.blob_id, lfs.sha256 if lfs else None
            )
    if README in remote.tree:
        remote.readme = download(conn, repo_id, README, head, cache).read_text("utf-8")
    if MANIFEST_NAME in remote.tree:
        remote.head_manifest = manifest_at(conn, repo_id, head, cache)


def manifest_at(conn: HubConnection, repo_id: str, revision: str, cache: Path) -> ReleaseManifest:
    """``release.json`` of ``repo_id`` at ``revision`` (a tag or commit).

    Raises:
        ManifestError: it is not a manifest (named as ``repo_id@revision``).
    """
    path = download(conn, repo_id, MANIFEST_NAME, revision, cache)
    return parse_manifest(path.read_bytes(), f"{repo_id}@{revision}")
