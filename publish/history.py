"""Reading releases back: list versions, diff two versions (or a build against the latest
release: its changelog), download a card with its plots."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypedDict, Unpack

from ocforge.errors import HubAccessError, ReleaseNotFoundError
from ocforge.manifest import FileEntry
from ocforge.publish.diff import (
    KeyedFile,
    ReleaseDiff,
    card_diff,
    changelog_markdown,
    diff_manifests,
)
from ocforge.publish.hub_client import HubConnection, Target, connect
from ocforge.publish.local_build import LocalBuild
from ocforge.publish.protocol import describe, hub_errors
from ocforge.publish.remote import README, REPO_TYPE, RemoteState, download, manifest_at
from ocforge.publish.versions import Version, version_tags


class HubWhere(TypedDict, total=False):
    """Which Hub, where and with which token: the keyword arguments of
    :func:`~ocforge.publish.hub_client.connect` (``target`` ``local`` by default)."""

    target: Target
    endpoint: str | None
    token: str | None
    hub_root: Path | None


@dataclass(frozen=True)
class ReleaseInfo:
    version: str
    tag: str
    commit: str
    date: str
    rows: dict[str, int]


@contextmanager
def _session(where: HubWhere, repo_id: str) -> Iterator[tuple[HubConnection, Path]]:
    from huggingface_hub.errors import (
        EntryNotFoundError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    with (
        tempfile.TemporaryDirectory(prefix="ocforge-hub-") as tmp,
        connect(**where) as conn,
    ):
        try:
            yield conn, Path(tmp)
        except RepositoryNotFoundError:
            raise ReleaseNotFoundError(
                f"dataset repo {repo_id} not found on {conn.display} (or no access with this token)"
            ) from None
        except RevisionNotFoundError as exc:
            raise ReleaseNotFoundError(
                f"{repo_id}: release not found on {conn.display}: {exc}"
            ) from None
        except EntryNotFoundError as exc:
            raise ReleaseNotFoundError(
                f"{repo_id}: not an ocforge release (no release.json or README.md): {exc}"
            ) from None
        except hub_errors() as exc:
            raise HubAccessError(
                f"cannot read {repo_id} on {conn.display}: {describe(exc)}"
            ) from exc


def list_releases(repo_id: str, **where: Unpack[HubWhere]) -> list[ReleaseInfo]:
    """Every ``vX.Y.Z`` tag of ``repo_id``, newest first, with commit date and row counts."""
    with _session(where, repo_id) as (conn, cache):
        api: Any = conn.api
        refs = api.list_repo_refs(repo_id, repo_type=REPO_TYPE)
        commits = {t.name: t.target_commit for t in refs.tags}
        out = []
        for v, tag in sorted(version_tags(list(commits)).items(), reverse=True):
            manifest = manifest_at(conn, repo_id, tag, cache)
            history = api.list_repo_commits(repo_id, repo_type=REPO_TYPE, revision=commits[tag])
            out.append(
                ReleaseInfo(
                    str(v),
                    tag,
                    commits[tag],
                    history[0].created_at.isoformat() if history else "",
                    {c: info.rows for c, info in manifest.configs.items()},
                )
            )
        return out


def diff_releases(repo_id: str, old: str, new: str, **where: Unpack[HubWhere]) -> ReleaseDiff:
    """Rows added, removed and changed per config and split (by id) and the card diff."""
    old_tag, new_tag = Version.parse(old).tag, Version.parse(new).tag
    with _session(where, repo_id) as (conn, cache):
        old_m = manifest_at(conn, repo_id, old_tag, cache)
        new_m = manifest_at(conn, repo_id, new_tag, cache)
        result = diff_manifests(
            old_m,
            new_m,
            lambda f: download(conn, repo_id, f.path, old_tag, cache),
            lambda f: download(conn, repo_id, f.path, new_tag, cache),
            old_tag,
            new_tag,
        )
        result.card_diff = card_diff(
            download(conn, repo_id, README, old_tag, cache).read_text("utf-8"),
            download(conn, repo_id, README, new_tag, cache).read_text("utf-8"),
            old_tag,
            new_tag,
        )
        return result


def download_card(repo_id: str, tag: str, out_dir: Path, **where: Unpack[HubWhere]) -> str:
    """Download the card (``README.md``) and its plots at ``tag`` into ``out_dir``; the card's
    text."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    with _session(where, repo_id) as (conn, cache):
        readme = download(conn, repo_id, README, tag, cache).read_text("utf-8")
        files = conn.api.list_repo_files(repo_id, repo_type=REPO_TYPE, revision=tag)
        for rel in files:
            if rel.startswith("plots/"):
                dest = out_dir / rel
                dest.parent.mkdir(parents=True, exist_ok=True)
                dest.write_bytes(download(conn, repo_id, rel, tag, cache).read_bytes())
    (out_dir / README).write_text(readme, encoding="utf-8")
    return readme


def build_changelog(
    conn: HubConnection,
    repo_id: str,
    build: LocalBuild,
    remote: RemoteState,
    tag: str,
    cache: Path,
    keyed: Mapping[str, KeyedFile] | None = None,
) -> str:
    """The changelog of release ``tag`` of ``build`` against the latest release (rows added,
    removed and changed by id).

    ``keyed``: row keys by sha256 that the release's file pass computed
    (:mod:`ocforge.publish.file_pass`): the build's files, and the latest release's files the
    build keeps byte for byte, are not read again; the others are downloaded.
    """
    old_rev = remote.latest[1] if remote.latest else None
    local_by_sha = {sha: build.root / path for path, sha in build.data_sha.items()}

    def old_file(f: FileEntry) -> Path:
        # files a release keeps are byte-identical to the build's: read them locally
        if f.sha256 in local_by_sha:
            return local_by_sha[f.sha256]
        return download(conn, repo_id, f.path, old_rev or "main", cache)

    def new_file(f: FileEntry) -> Path:
        return build.root / f.path

    try:
        diff = diff_manifests(
            remote.previous, build.manifest, old_file, new_file, old_rev, tag, keyed
        )
    except hub_errors() as exc:
        raise HubAccessError(f"cannot read {repo_id} on {conn.display}: {describe(exc)}") from exc
    return changelog_markdown(diff)
