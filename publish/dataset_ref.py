"""``ORG/NAME@REVISION`` references to a dataset release, resolved to the commit on the Hub."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ocforge.errors import ReleaseRefError
from ocforge.manifest import MANIFEST_NAME, ReleaseManifest, parse_manifest

_REF = re.compile(r"^(?P<repo>[A-Za-z0-9][\w.-]*/[\w.-]+)@(?P<rev>[^\s@]+)$")


@dataclass(frozen=True)
class DatasetRelease:
    """A dataset release as found on the Hub: the revision asked for and the commit it names."""

    repo_id: str
    revision: str  # as given: a tag such as v1.0.0, a branch or a commit
    sha: str  # the commit the revision pointed to when resolved
    manifest: ReleaseManifest  # release.json at that commit

    @property
    def version(self) -> str | None:
        return self.manifest.version

    @property
    def ref(self) -> str:
        return f"{self.repo_id}@{self.revision}"


def parse_dataset_ref(ref: str) -> tuple[str, str]:
    """Split ``ORG/NAME@REVISION`` into repo id and revision.

    Raises:
        ReleaseRefError: no ``@REVISION`` (a release must be pinned) or not ``ORG/NAME``.
    """
    match = _REF.match(ref.strip())
    if not match:
        raise ReleaseRefError(
            f"dataset reference {ref!r}: expected ORG/NAME@REVISION, e.g. ocforge/demo@v1.0.0 "
            "(a release must be pinned to a tag or commit)"
        )
    return match["repo"], match["rev"]


def download_text(
    api: Any, repo_id: str, path: str, revision: str, *, repo_type: str = "model"
) -> str:
    """One small file at ``revision``, read through a throw-away cache (the user's Hub cache is
    keyed by repo name, not by endpoint, so a local Hub's files stay out of it)."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix="ocforge-dl-") as tmp:
        local = api.hf_hub_download(
            repo_id, path, repo_type=repo_type, revision=revision, cache_dir=tmp
        )
        with open(local, encoding="utf-8") as fh:
            return fh.read()


def resolve_release(api: Any, ref: str) -> DatasetRelease:
    """Resolve ``ORG/NAME@REVISION`` with ``api`` (an ``HfApi``) and read its ``release.json``.

    Raises:
        ReleaseRefError: unknown repo or revision, or no ``release.json`` at that commit.
        ManifestError: the commit's ``release.json`` is not a manifest.
    """
    from huggingface_hub.errors import (
        EntryNotFoundError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    repo_id, revision = parse_dataset_ref(ref)
    try:
        sha = api.dataset_info(repo_id, revision=revision).sha
    except RevisionNotFoundError:
        raise ReleaseRefError(
            f"dataset {repo_id} has no revision {revision!r} (list its tags with "
            f"HfApi().list_repo_refs({repo_id!r}, repo_type='dataset'))"
        ) from None
    except RepositoryNotFoundError:
        raise ReleaseRefError(
            f"dataset repo {repo_id} not found on {api.endpoint} (or it is private and the token "
            "cannot read it)"
        ) from None
    try:
        text = download_text(api, repo_id, MANIFEST_NAME, sha, repo_type="dataset")
    except EntryNotFoundError:
        raise ReleaseRefError(
            f"{repo_id}@{revision} ({sha[:12]}) has no release.json: not an ocforge release"
        ) from None
    manifest = parse_manifest(text, f"{repo_id}@{revision} ({sha[:12]})")
    return DatasetRelease(repo_id=repo_id, revision=revision, sha=sha, manifest=manifest)
