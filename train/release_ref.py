"""``--dataset ORG/NAME@vX.Y.Z`` resolved to the commit it names and that commit's ``release.json``.

The rules are those of every dataset reference (:mod:`ocforge.publish.dataset_ref`); this module
only words the error for the ``--dataset`` option.
"""

from __future__ import annotations

from typing import Any

from ocforge.errors import DatasetRefError, ReleaseRefError
from ocforge.publish.dataset_ref import DatasetRelease, resolve_release


def resolve(api: Any, ref: str) -> DatasetRelease:
    """Resolve ``ref`` with ``api`` (an ``HfApi`` bound to the target) to its commit.

    Raises:
        DatasetRefError: malformed, unknown repo or revision, or no ``release.json`` at the commit.
        ManifestError: the commit's ``release.json`` is not a manifest.
    """
    try:
        return resolve_release(api, ref)
    except ReleaseRefError as exc:
        raise DatasetRefError(f"--dataset: {exc}") from None
