"""The plan of a release: which files are added, replaced, deleted or kept, compared by hash.

Files whose content is already on the target branch (same SHA-256 for LFS files, same git blob id
for regular ones) are kept and not uploaded again.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from ocforge.hashing import file_sha256, git_blob_id
from ocforge.manifest import ParentRef, ReleaseManifest

Action = Literal["add", "replace", "delete", "keep"]
#: remote folders a release owns: stale files there are deleted; anything else is left alone
OWNED_PREFIXES = ("data/", "plots/")


@dataclass(frozen=True)
class RemoteFile:
    path: str
    size: int
    blob_id: str  # git blob sha1 (of the pointer for LFS files)
    sha256: str | None  # LFS files only


@dataclass(frozen=True)
class FileAction:
    path: str
    action: Action
    size: int
    local: Path | None = None


@dataclass
class ReleasePlan:
    repo_id: str
    target: str
    version: str
    tag: str
    status: Literal["release", "up-to-date", "finish-tag"]
    level: str | None
    base_commit: str | None  # head of main the commit is based on (parent_commit)
    parent: ParentRef | None
    files: list[FileAction] = field(default_factory=list)
    changelog: str = ""
    card_diff: str = ""
    manifest: ReleaseManifest | None = field(default=None, repr=False)

    @property
    def uploads(self) -> list[FileAction]:
        return [f for f in self.files if f.action in ("add", "replace")]

    @property
    def deletions(self) -> list[FileAction]:
        return [f for f in self.files if f.action == "delete"]

    @property
    def bytes_to_upload(self) -> int:
        return sum(f.size for f in self.uploads)

    def summary(self) -> dict[str, int]:
        out = {a: 0 for a in ("add", "replace", "delete", "keep")}
        for f in self.files:
            out[f.action] += 1
        return out

    def format(self, *, show_card_diff: bool = True) -> str:
        """Human-readable plan (for ``--dry-run``)."""
        parent = f"{self.parent.version} ({self.parent.commit[:12]})" if self.parent else "none"
        lines = [
            f"repo: {self.repo_id} on {self.target}",
            f"version: {self.version} (tag {self.tag}, {self.level or 'no'} change; parent {parent})",
        ]
        if self.status == "up-to-date":
            lines.append(f"up to date: identical to {self.tag}; nothing to push")
            return "\n".join(lines)
        counts = self.summary()
        lines.append(
            "files: "
            + ", ".join(f"{n} to {a}" for a, n in counts.items())
            + f"; {self.bytes_to_upload:,} bytes to upload"
        )
        for f in sorted(self.files, key=lambda f: (f.action == "keep", f.path)):
            lines.append(f"  {f.action:<8} {f.path}  ({f.size:,} bytes)")
        if self.changelog:
            lines += ["changelog:", *("  " + ln for ln in self.changelog.splitlines())]
        if show_card_diff:
            lines += ["card diff:", self.card_diff.rstrip() or "  (card unchanged)"]
        return "\n".join(lines)


def same_content(local: Path, remote: RemoteFile, known_sha256: str | None = None) -> bool:
    size = local.stat().st_size
    if size != remote.size:
        return False
    if remote.sha256 is not None:
        return (known_sha256 or file_sha256(local)) == remote.sha256
    return git_blob_id(local.read_bytes()) == remote.blob_id


def file_actions(
    local_files: Mapping[str, Path],
    remote: Mapping[str, RemoteFile],
    known_sha256: Mapping[str, str] | None = None,
    owned_prefixes: Iterable[str] = OWNED_PREFIXES,
) -> list[FileAction]:
    """Compare the release's files (repo path -> local file) with the branch's tree."""
    known = known_sha256 or {}
    actions = []
    for path, local in sorted(local_files.items()):
        size = local.stat().st_size
        if path not in remote:
            actions.append(FileAction(path, "add", size, local))
        elif same_content(local, remote[path], known.get(path)):
            actions.append(FileAction(path, "keep", size, local))
        else:
            actions.append(FileAction(path, "replace", size, local))
    prefixes = tuple(owned_prefixes)
    for path, rf in sorted(remote.items()):
        if path not in local_files and path.startswith(prefixes):
            actions.append(FileAction(path, "delete", rf.size))
    return actions
