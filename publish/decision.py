"""What a dataset release run does, decided from what is on the Hub and what the build holds.

:func:`decide` is a pure function (no I/O): the tags and head of ``main``, the ``release.json``
at the head and at the latest tag, the build's ``release.json`` with the card's hash, and the
version or bump asked for give one of

* ``finish-tag``: the head of ``main`` is an untagged commit of exactly this build (a run was
  interrupted between commit and tag): verify it and tag it with the version it records;
* ``up-to-date``: the content is the latest release's; nothing to push;
* ``release``: a new version ``X.Y.Z`` (``level`` says why: ``major`` schema or configs changed,
  ``minor`` rows changed, ``patch`` only the card).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ocforge.errors import TagExistsError
from ocforge.manifest import ReleaseManifest
from ocforge.publish.protocol import Refs
from ocforge.publish.versions import Bump, Version, change_level, next_version

Action = Literal["finish-tag", "up-to-date", "release"]
#: keys of release.json a release sets; the rest must match for a commit to be "this build"
_RELEASE_KEYS = ("version", "parent")


@dataclass(frozen=True)
class Decision:
    action: Action
    version: Version
    level: str | None  # major / minor / patch for ``release``
    reason: str
    notes: tuple[str, ...] = ()  # worth telling the user while the run goes on


def pending_build(
    refs: Refs, head_manifest: ReleaseManifest | None, current: ReleaseManifest
) -> Version | None:
    """The version of the untagged head commit if its ``release.json`` is this build's (apart
    from version and parent) and records a version newer than every tag; else ``None``.

    ``current`` is the build's ``release.json`` with its ``card_sha256``. Whether main's data
    files are the build's bytes is the caller's to check (it reads files)."""
    if head_manifest is None or not head_manifest.version:
        return None
    version = refs.pending(Version.parse(head_manifest.version))
    if version is None:
        return None
    card_changed = head_manifest.card_sha256 != current.card_sha256
    if change_level(head_manifest, current, card_changed) is not None:
        return None
    # this very build: the same release.json (row counts, ledger, tools, ...), not only the
    # same files; a build fixed only in release.json must get a commit of its own. Compared in
    # the JSON form, key by key of the build's: what the release adds (repo, changelog, ...)
    # is not the build's to match
    head, build = head_manifest.to_dict(), current.to_dict()
    if any(head.get(k) != v for k, v in build.items() if k not in _RELEASE_KEYS):
        return None
    return version


def decide(
    refs: Refs,
    current: ReleaseManifest,
    *,
    repo_id: str,
    previous: ReleaseManifest | None,
    head_manifest: ReleaseManifest | None = None,
    head_holds_build: bool = False,
    version: str | None = None,
    bump: Bump = "auto",
    finish: bool = True,
) -> Decision:
    """The release decision.

    Args:
        refs: head and tags of the repo ``repo_id``.
        current: the build's ``release.json`` with ``card_sha256`` (the card's content hash).
        previous: ``release.json`` at the latest release tag (``None``: no release yet).
        head_manifest: ``release.json`` at the head of ``main``.
        head_holds_build: main's data files are byte for byte the build's.
        version, bump: what was asked for (``version`` wins).
        finish: consider finishing an untagged commit (``False`` on a dry run).

    Raises:
        VersionError: ``version`` is malformed or not newer than the latest release.
        TagExistsError: the version's tag exists.
    """
    latest = refs.latest
    notes: tuple[str, ...] = ()
    pending = pending_build(refs, head_manifest, current) if finish else None
    if pending is not None and head_holds_build:
        return Decision(
            "finish-tag",
            pending,
            None,
            f"untagged commit {refs.head} on main holds exactly this build",
        )
    if pending is not None:
        notes = (
            f"untagged commit {(refs.head or '')[:12]} ({pending.tag}) on main differs from "
            "this build's files: a new commit replaces it",
        )
    card_changed = (previous.card_sha256 if previous else None) != current.card_sha256
    level = change_level(previous, current, card_changed)
    if latest is not None and level is None:
        same, tag = latest
        if version is not None and Version.parse(version) != same:
            notes += (f"content identical to {tag}: --version {version} ignored",)
        return Decision("up-to-date", same, None, f"content identical to {tag}", notes)
    new = next_version(latest[0] if latest else None, level, bump, version)
    if new in refs.versions:
        raise TagExistsError(
            f"tag {new.tag} already exists on {repo_id}; tags are never moved or overwritten: "
            "choose another --version"
        )
    reason = (
        "first release"
        if latest is None
        else f"{level} change since {latest[1]}" + (f" (--version {version})" if version else "")
    )
    return Decision("release", new, level, reason, notes)
