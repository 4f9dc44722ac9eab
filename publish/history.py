"""Reading releases back: list versions, diff two versions, download a card with its plots."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ocforge.errors import HubAccessError, ReleaseNotFoundError
from ocforge.publish.diff import ReleaseDiff, card_diff, diff_manifests
from ocforge.publish.hub_client import HubConnection, Target, connect
from ocforge.publish.protocol import describe, hub_errors
from ocforge.publish.remote import README, REPO_TYPE, download, manifest_at
from ocforge.publish.versions import Version, version_tags


@dataclass(frozen=True)
class ReleaseInfo:
    version: str
    tag: str
    commit: str
    date: str
    rows: dict[str, int]


@contextmanager
def _session(
    target: Target, endpoint: str | None, token: str | None, hub_root: Path | None, repo_id: str
) -> Iterator[tuple[HubConnection, Path]]:
    from huggingface_hub.errors import (
        EntryNotFoundError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    with (
        tempfile.TemporaryDirectory(prefix="ocforge-hub-") as tmp,
        connect(target, endpoint=endpoint, token=token, hub_root=hub_root) as conn,
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


def list_releases(
    repo_id: str,
    *,
    target: Target = "local",
    endpoint: str | None = None,
    token: str | None = None,
    hub_root: Path | None = None,
) -> list[ReleaseInfo]:
    """Every ``vX.Y.Z`` tag of ``repo_id``, newest first, with commit date and row counts."""
    with _session(target, endpoint, token, hub_root, repo_id) as (conn, cache):
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
                    {c: info["rows"] for c, info in manifest["configs"].items()},
                )
            )
        return out


def diff_releases(
    repo_id: str,
    old: str,
    new: str,
    *,
    target: Target = "local",
    endpoint: str | None = None,
    token: str | None = None,
    hub_root: Path | None = None,
) -> ReleaseDiff:
    """Rows added, removed and changed per config and split (by id) and the card diff."""
    old_tag, new_tag = Version.parse(old).tag, Version.parse(new).tag
    with _session(target, endpoint, token, hub_root, repo_id) as (conn, cache):
        old_m = manifest_at(conn, repo_id, old_tag, cache)
        new_m = manifest_at(conn, repo_id, new_tag, cache)
        result = diff_manifests(
            old_m,
            new_m,
            lambda f: download(conn, repo_id, f["path"], old_tag, cache),
            lambda f: download(conn, repo_id, f["path"], new_tag, cache),
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


def download_card(
    repo_id: str,
    tag: str,
    out_dir: Path,
    *,
    target: Target = "local",
    endpoint: str | None = None,
    token: str | None = None,
    hub_root: Path | None = None,
) -> str:
    """Download the card (``README.md``) and its plots at ``tag`` into ``out_dir``; the card's
    text."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    with _session(target, endpoint, token, hub_root, repo_id) as (conn, cache):
        readme = download(conn, repo_id, README, tag, cache).read_text("utf-8")
        files = conn.api.list_repo_files(repo_id, repo_type=REPO_TYPE, revision=tag)
        for rel in files:
            if rel.startswith("plots/"):
                dest = out_dir / rel
                dest.parent.mkdir(parents=True, exist_ok=True)
                dest.write_bytes(download(conn, repo_id, rel, tag, cache).read_bytes())
    (out_dir / README).write_text(readme, encoding="utf-8")
    return readme
