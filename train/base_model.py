"""``--base-model``: a local model folder, or ``ORG/NAME[@REV]`` on the target Hub, pinned to the
commit it resolves to (recorded in the training manifest)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ocforge.errors import TrainError

_HUB_ID = re.compile(r"^(?P<repo>[A-Za-z0-9][\w.-]*/[\w.-]+)(@(?P<rev>[^\s@]+))?$")


@dataclass(frozen=True)
class BaseModel:
    ref: str  # as given
    path: Path  # the local folder transformers loads
    repo_id: str | None = None
    sha: str | None = None

    def as_dict(self) -> dict[str, Any]:
        if self.repo_id is None:
            return {"ref": self.ref, "local": True}
        return {"ref": self.ref, "repo_id": self.repo_id, "sha": self.sha}


def resolve_base_model(conn: Any, ref: str, work: Path) -> BaseModel:
    """A folder as is; a Hub id downloaded at the commit its revision names (into ``work`` on a
    local Hub, whose files must stay out of the user's cache; the usual cache on huggingface.co).

    Raises:
        TrainError: neither a folder nor a Hub id, or not found on the target.
    """
    from huggingface_hub.errors import RepositoryNotFoundError, RevisionNotFoundError

    folder = Path(ref)
    if folder.is_dir():
        if not (folder / "config.json").is_file():
            raise TrainError(f"--base-model {ref}: the folder has no config.json")
        return BaseModel(ref=ref, path=folder.resolve())
    match = _HUB_ID.match(ref)
    if not match:
        raise TrainError(f"--base-model {ref!r}: not a folder, and not ORG/NAME[@REVISION]")
    repo, rev = match["repo"], match["rev"]
    try:
        sha = conn.api.model_info(repo, revision=rev).sha
    except (RepositoryNotFoundError, RevisionNotFoundError):
        raise TrainError(
            f"--base-model {ref}: not found on {conn.api.endpoint} (download it first and pass "
            "the folder, or use --target hf)"
        ) from None
    cache = work / "hub-cache" if conn.is_local else None
    path = conn.api.snapshot_download(repo, revision=sha, cache_dir=cache)
    return BaseModel(ref=ref, path=Path(path), repo_id=repo, sha=sha)
