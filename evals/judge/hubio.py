"""Hub side of a prepared set: the release's held-out characters in, the frozen set out.

:func:`publish_prepared` is the one place that commits and tags a prepared set (``HfApi`` on the
connection: one commit with ``parent_commit``, then the tag; a tag never moves), so it can be
switched to the release protocol of ``ocforge.publish`` in one edit.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from ocforge.errors import JudgeError
from ocforge.evals.judge.prepare import MANIFEST
from ocforge.hashing import git_blob_id
from ocforge.publish.dataset_ref import DatasetRelease, download_text, parse_dataset_ref

REPO_TYPE = "dataset"


def held_out_characters(api: Any, release: DatasetRelease) -> list[dict[str, Any]]:
    """``character_id`` and ``profile`` of the release's ``test`` characters, read at its commit,
    in id order."""
    files = [
        f.path
        for info in release.manifest.configs.values()
        if info.kind == "characters" and "test" in info.splits
        for f in info.splits["test"].files
    ]
    if not files:
        raise JudgeError(
            f"{release.ref} ({release.sha[:12]}) has no 'test' split in a characters config: "
            "there are no held-out characters to evaluate on"
        )
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="ocforge-judge-") as tmp:
        for path in files:
            local = api.hf_hub_download(
                release.repo_id, path, repo_type=REPO_TYPE, revision=release.sha, cache_dir=tmp
            )
            rows += pq.read_table(local, columns=["character_id", "profile"]).to_pylist()
    return sorted(rows, key=lambda r: r["character_id"])


def _local_files(folder: Path) -> dict[str, Path]:
    manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    paths = ["README.md", MANIFEST, *(c["path"] for c in manifest["configs"].values())]
    return {p: folder / p for p in paths}


def _same(local: Path, remote: Any) -> bool:
    if remote is None:
        return False
    if getattr(remote, "lfs", None) is not None:
        return hashlib.sha256(local.read_bytes()).hexdigest() == remote.lfs.sha256
    return git_blob_id(local.read_bytes()) == remote.blob_id


def _remote(api: Any, repo_id: str, revision: str) -> dict[str, Any]:
    tree = api.list_repo_tree(repo_id, repo_type=REPO_TYPE, revision=revision, recursive=True)
    return {e.path: e for e in tree if hasattr(e, "blob_id")}


@dataclass(frozen=True)
class PublishedSet:
    repo_id: str
    tag: str
    commit: str
    created_commit: bool
    created_tag: bool


def publish_prepared(api: Any, folder: Path, repo_id: str, tag: str) -> PublishedSet:
    """Commit ``folder``'s prepared set to the dataset repo ``repo_id`` and tag it ``tag``.

    Publishing the same set again does nothing. Raises JudgeError when ``tag`` already names
    other content (a version never moves: prepare into a new repo instead).
    """
    from huggingface_hub import CommitOperationAdd, CommitOperationDelete

    local = _local_files(Path(folder))
    api.create_repo(repo_id, repo_type=REPO_TYPE, exist_ok=True)
    tags = {t.name: t.target_commit for t in api.list_repo_refs(repo_id, repo_type=REPO_TYPE).tags}
    if tag in tags:
        remote = _remote(api, repo_id, tags[tag])
        if set(remote) - {".gitattributes"} == set(local) and all(
            _same(p, remote.get(k)) for k, p in local.items()
        ):
            return PublishedSet(repo_id, tag, tags[tag], False, False)
        raise JudgeError(
            f"{repo_id}: tag {tag} already holds a different prepared set (commit "
            f"{tags[tag][:12]}); versions never move: publish to another --repo"
        )
    head = api.dataset_info(repo_id).sha
    remote = _remote(api, repo_id, head)
    ops: list[Any] = [
        CommitOperationAdd(k, p) for k, p in local.items() if not _same(p, remote.get(k))
    ]
    ops += [CommitOperationDelete(k) for k in remote if k not in local and k != ".gitattributes"]
    commit = head
    if ops:
        info = api.create_commit(
            repo_id,
            ops,
            repo_type=REPO_TYPE,
            commit_message=f"Prepared set {tag}",
            parent_commit=head,
        )
        commit = info.oid
    api.create_tag(
        repo_id, tag=tag, revision=commit, repo_type=REPO_TYPE, tag_message=f"ocforge {tag}"
    )
    return PublishedSet(repo_id, tag, commit, commit != head, True)


@dataclass(frozen=True)
class PreparedSet:
    """A prepared set as read for a run: its manifest and one config's items."""

    manifest: dict[str, Any]
    config: str
    items: list[dict[str, Any]]
    repo_id: str | None  # None: read from a folder
    revision: str | None
    sha: str | None
    path: str | None

    @property
    def display(self) -> str:
        return self.path or f"{self.repo_id}@{self.revision}"


def _resolve(api: Any, repo_id: str, revision: str) -> str:
    from huggingface_hub.errors import RepositoryNotFoundError, RevisionNotFoundError

    try:
        return api.dataset_info(repo_id, revision=revision).sha
    except RevisionNotFoundError:
        raise JudgeError(f"prepared set {repo_id} has no revision {revision!r}") from None
    except RepositoryNotFoundError:
        raise JudgeError(
            f"prepared set {repo_id} not found on {api.endpoint}: prepare it with "
            "'ocforge eval judge prepare --push', or pass its folder"
        ) from None


def _remote_manifest(api: Any, repo_id: str, sha: str, where: str) -> dict[str, Any]:
    from huggingface_hub.errors import EntryNotFoundError

    try:
        return json.loads(download_text(api, repo_id, MANIFEST, sha, repo_type=REPO_TYPE))
    except EntryNotFoundError:
        raise JudgeError(
            f"{where} ({sha[:12]}) has no {MANIFEST}: not a set written by "
            "'ocforge eval judge prepare'"
        ) from None


def _check_config(manifest: dict[str, Any], config: str, where: str) -> dict[str, Any]:
    if manifest.get("kind") != "ocforge-personagym":
        raise JudgeError(f"{where}: {MANIFEST} is not a prepared set's manifest")
    if config not in manifest.get("configs", {}):
        have = ", ".join(manifest.get("configs", {})) or "none"
        raise JudgeError(f"{where}: no {config!r} config in this prepared set (it holds: {have})")
    return manifest["configs"][config]


def load_prepared(api: Any, prepared: str, config: str) -> PreparedSet:
    """A prepared set from a folder (``prepare`` output) or ``ORG/NAME@REVISION`` on the Hub.

    Raises:
        JudgeError: not a prepared set, no such config, or a data file whose sha256 differs.
    """
    folder = Path(prepared)
    if folder.is_dir():
        if not (folder / MANIFEST).is_file():
            raise JudgeError(
                f"{folder} has no {MANIFEST}: not written by 'ocforge eval judge prepare'"
            )
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
        entry = _check_config(manifest, config, str(folder))
        data = (folder / entry["path"]).read_bytes()
        repo_id = revision = sha = None
    else:
        repo_id, revision = parse_dataset_ref(prepared)
        sha = _resolve(api, repo_id, revision)
        manifest = _remote_manifest(api, repo_id, sha, prepared)
        entry = _check_config(manifest, config, prepared)
        with tempfile.TemporaryDirectory(prefix="ocforge-judge-") as tmp:
            local = api.hf_hub_download(
                repo_id, entry["path"], repo_type=REPO_TYPE, revision=sha, cache_dir=tmp
            )
            data = Path(local).read_bytes()
    if hashlib.sha256(data).hexdigest() != entry["sha256"]:
        raise JudgeError(f"{prepared}: {entry['path']} does not match its sha256 in {MANIFEST}")
    items = pq.read_table(pa.BufferReader(data)).to_pylist()
    path = str(folder.resolve()) if repo_id is None else None
    return PreparedSet(manifest, config, items, repo_id, revision, sha, path)
