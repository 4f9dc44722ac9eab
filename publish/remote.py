"""The state of a dataset repo on the target, read through ``HfApi``: head of ``main``, release
tags, the file tree with hashes, the card and ``release.json``."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ocforge.manifest import MANIFEST_NAME
from ocforge.publish.hub_client import HubConnection
from ocforge.publish.plan import RemoteFile
from ocforge.publish.versions import Version, version_tags

README = "README.md"
REPO_TYPE = "dataset"


@dataclass
class RemoteState:
    exists: bool
    head: str | None = None
    tags: dict[Version, str] = field(default_factory=dict)
    tag_commits: dict[str, str] = field(default_factory=dict)
    tree: dict[str, RemoteFile] = field(default_factory=dict)
    readme: str | None = None
    head_manifest: dict[str, Any] | None = None

    @property
    def latest(self) -> tuple[Version, str] | None:
        if not self.tags:
            return None
        v = max(self.tags)
        return v, self.tags[v]


def download(conn: HubConnection, repo_id: str, path: str, revision: str, cache: Path) -> Path:
    return Path(
        conn.api.hf_hub_download(  # type: ignore[attr-defined]
            repo_id, path, repo_type=REPO_TYPE, revision=revision, cache_dir=str(cache)
        )
    )


def remote_state(conn: HubConnection, repo_id: str, cache: Path) -> RemoteState:
    from huggingface_hub.errors import RepositoryNotFoundError

    api: Any = conn.api
    try:
        info = api.repo_info(repo_id, repo_type=REPO_TYPE, revision="main")
    except RepositoryNotFoundError:
        return RemoteState(exists=False)
    refs = api.list_repo_refs(repo_id, repo_type=REPO_TYPE)
    remote = RemoteState(exists=True, head=info.sha)
    remote.tags = version_tags([t.name for t in refs.tags])
    remote.tag_commits = {t.name: t.target_commit for t in refs.tags}
    for entry in api.list_repo_tree(
        repo_id, recursive=True, revision=info.sha, repo_type=REPO_TYPE
    ):
        if hasattr(entry, "blob_id"):
            remote.tree[entry.path] = RemoteFile(
                entry.path, entry.size, entry.blob_id, entry.lfs.sha256 if entry.lfs else None
            )
    if README in remote.tree:
        remote.readme = download(conn, repo_id, README, info.sha, cache).read_text("utf-8")
    if MANIFEST_NAME in remote.tree:
        remote.head_manifest = json.loads(
            download(conn, repo_id, MANIFEST_NAME, info.sha, cache).read_text("utf-8")
        )
    return remote


def manifest_at(conn: HubConnection, repo_id: str, tag: str, cache: Path) -> dict[str, Any]:
    return json.loads(download(conn, repo_id, MANIFEST_NAME, tag, cache).read_text("utf-8"))
