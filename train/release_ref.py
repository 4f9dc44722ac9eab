"""``ORG/NAME@vX.Y.Z`` resolved to the commit it names and that commit's ``release.json``.

The same rules as ``ocforge eval register`` (evals/dataset_ref.py), which train/ may not import:
once that resolver lives in publish/, this module becomes an import of it.
"""

from __future__ import annotations

import json
import re
import tempfile
from dataclasses import dataclass
from typing import Any

from ocforge.train.errors import TrainError

_REF = re.compile(r"^(?P<repo>[A-Za-z0-9][\w.-]*/[\w.-]+)@(?P<rev>[^\s@]+)$")


class DatasetRefError(TrainError, ValueError):
    """``--dataset`` is malformed, or its repo or revision is not on the target Hub."""


@dataclass(frozen=True)
class ResolvedRelease:
    repo_id: str
    revision: str  # as given (a tag such as v1.0.0)
    sha: str  # the commit it named when resolved
    manifest: dict[str, Any]  # release.json at that commit

    @property
    def version(self) -> str | None:
        return self.manifest.get("version")


def split_ref(ref: str) -> tuple[str, str]:
    """``ORG/NAME@REVISION`` -> (repo id, revision); a release must be pinned."""
    match = _REF.match(ref.strip())
    if not match:
        raise DatasetRefError(
            f"--dataset {ref!r}: expected ORG/NAME@REVISION, e.g. ocforge/demo@v1.0.0 (training "
            "data must be pinned to a release tag or commit)"
        )
    return match["repo"], match["rev"]


def resolve(api: Any, ref: str) -> ResolvedRelease:
    """Resolve ``ref`` with ``api`` (an ``HfApi`` bound to the target) to its commit.

    Raises:
        DatasetRefError: unknown repo or revision, or no ``release.json`` at the commit.
    """
    from huggingface_hub.errors import (
        EntryNotFoundError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    repo_id, revision = split_ref(ref)
    try:
        sha = api.dataset_info(repo_id, revision=revision).sha
    except RevisionNotFoundError:
        raise DatasetRefError(
            f"--dataset {ref}: {repo_id} has no tag or revision {revision!r} on {api.endpoint} "
            f"(its releases: ocforge releases {repo_id})"
        ) from None
    except RepositoryNotFoundError:
        raise DatasetRefError(
            f"--dataset {ref}: no dataset repo {repo_id} on {api.endpoint} (or the token "
            "cannot read it)"
        ) from None
    try:
        # a throw-away cache: the user's Hub cache is keyed by repo name, not by endpoint
        with tempfile.TemporaryDirectory(prefix="ocforge-train-") as tmp:
            local = api.hf_hub_download(
                repo_id, "release.json", repo_type="dataset", revision=sha, cache_dir=tmp
            )
            with open(local, encoding="utf-8") as fh:
                manifest = json.load(fh)
    except EntryNotFoundError:
        raise DatasetRefError(
            f"--dataset {ref}: commit {sha[:12]} has no release.json: not an ocforge release"
        ) from None
    return ResolvedRelease(repo_id=repo_id, revision=revision, sha=sha, manifest=manifest)
