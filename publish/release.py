"""The steps of a dataset release that talk to the Hub: read a build, scan it, read the repo,
decide, write the changelog and ``release.json``, plan, push, verify, tag.

:func:`ocforge.flows.release.release_build` runs them in order, with the card (``cards/``)
rendered between them. The order guarantees "no half-published versions": secret scan -> plan
(compare files by hash with ``main``) -> one commit with ``parent_commit`` -> verification of that
commit in a separate process -> tag only after the commit loads (:mod:`ocforge.publish.tagging`).
A failed push or verification leaves no tag; running the same command again finds the state on
the Hub and finishes (:mod:`ocforge.publish.decision`: an untagged commit of this very build is
verified and tagged, a different build supersedes it with a new commit, identical content makes
no commit).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ocforge.errors import SecretFoundError
from ocforge.manifest import MANIFEST_NAME, ParentRef, ReleaseManifest, manifest_text
from ocforge.publish.decision import Decision, decide, pending_build
from ocforge.publish.diff import card_diff
from ocforge.publish.hub_client import HubConnection
from ocforge.publish.local_build import LocalBuild
from ocforge.publish.plan import ReleasePlan, file_actions
from ocforge.publish.protocol import PullRequest
from ocforge.publish.pull_request import open_release_pull_request
from ocforge.publish.remote import README, RemoteState
from ocforge.publish.secrets import scan_text
from ocforge.publish.tagging import commit_verify_tag, create_repo, finish_untagged
from ocforge.publish.tagging import tree_holds_build as _tree_holds_build
from ocforge.publish.verify import VerifiedSplit, verify_release
from ocforge.publish.versions import Bump

Progress = Callable[[str], None]


@dataclass
class ReleaseResult:
    """Outcome of a release: ``status`` is ``released``, ``up-to-date``, ``tagged`` (a commit
    of this build left untagged by an earlier run loaded and was tagged), ``dry-run``,
    ``pull-request`` (opened as ``pull_request``, not tagged) or ``pull-request-open`` (an
    earlier run's pull request of this release is still open)."""

    repo_id: str
    version: str
    tag: str
    commit: str | None
    status: str
    plan: ReleasePlan
    verified: list[VerifiedSplit] = field(default_factory=list)
    bytes_uploaded: int = 0
    target: str = ""
    pull_request: PullRequest | None = None


@dataclass
class ReleaseCard:
    """The card of a release: its content hash (what a ``patch`` release is detected by), its
    metadata, plot files (repo path -> staged file) and, once the version is known, its text."""

    sha256: str
    metadata: dict[str, Any]
    plots: dict[str, Path]
    text: str = ""


def _log(progress: Progress | None, msg: str) -> None:
    if progress:
        progress(msg)


# --------------------------------------------------------------------------- deciding


def decide_release(
    build: LocalBuild,
    remote: RemoteState,
    card_sha256: str,
    repo_id: str,
    *,
    version: str | None,
    bump: Bump,
    dry_run: bool,
) -> Decision:
    """:func:`~ocforge.publish.decision.decide` for this build; main's data files are hashed
    only when its head is an untagged commit of this build's ``release.json``."""
    current = build.manifest.model_copy(update={"card_sha256": card_sha256})
    holds = (
        not dry_run
        and pending_build(remote.refs, remote.head_manifest, current) is not None
        and _tree_holds_build(build.root, build.data_sha, remote)
    )
    return decide(
        remote.refs,
        current,
        repo_id=repo_id,
        previous=remote.previous,
        head_manifest=remote.head_manifest,
        head_holds_build=holds,
        version=version,
        bump=bump,
        finish=not dry_run,
    )


def finish_tag(
    conn: HubConnection,
    repo_id: str,
    remote: RemoteState,
    decision: Decision,
    progress: Progress | None = None,
) -> ReleaseResult:
    """Verify and tag the untagged commit of this build at the head of ``main``."""
    version = decision.version
    plan, verified = finish_untagged(conn, repo_id, remote, version, progress)
    return ReleaseResult(
        repo_id,
        str(version),
        version.tag,
        remote.head,
        "tagged",
        plan,
        verified,
        target=conn.display,
    )


def up_to_date(
    conn: HubConnection,
    repo_id: str,
    remote: RemoteState,
    decision: Decision,
    *,
    verify: bool,
) -> ReleaseResult:
    """The latest release already holds this content: no commit; ``verify`` loads it back."""
    previous = remote.previous
    assert previous is not None  # up to date means there is a latest release
    version, tag = decision.version, decision.version.tag
    plan = ReleasePlan(
        repo_id,
        conn.display,
        str(version),
        tag,
        "up-to-date",
        None,
        remote.head,
        previous.parent,
        manifest=previous,
    )
    sha = remote.tag_commits.get(tag)
    result = ReleaseResult(repo_id, str(version), tag, sha, "up-to-date", plan, target=conn.display)
    if verify:
        result.verified = verify_release(conn, repo_id, sha or tag, previous)
    return result


# --------------------------------------------------------------------------- a new version


def parent_of(remote: RemoteState) -> ParentRef | None:
    """The release a new version follows: version, tag and commit of the latest release."""
    if remote.latest is None:
        return None
    version, tag = remote.latest
    return ParentRef(version=str(version), tag=tag, commit=remote.tag_commits[tag])


def release_manifest(
    build: LocalBuild,
    repo_id: str,
    decision: Decision,
    remote: RemoteState,
    card: ReleaseCard,
    changelog: str,
) -> ReleaseManifest:
    """The ``release.json`` of the new version: the build's, with the release's keys set."""
    return build.manifest.model_copy(
        update={
            "version": str(decision.version),
            "parent": parent_of(remote),
            "repo": repo_id,
            "card_sha256": card.sha256,
            "card_metadata": card.metadata,
            "changelog": changelog,
        }
    )


def plan_release(
    conn: HubConnection,
    build: LocalBuild,
    remote: RemoteState,
    decision: Decision,
    card: ReleaseCard,
    manifest: ReleaseManifest,
    staging: Path,
) -> ReleasePlan:
    """Scan the card and ``release.json``, stage them, and compare every file with ``main``.

    Raises:
        SecretFoundError: the card or ``release.json`` hold a token-like string.
    """
    text = manifest_text(manifest)
    findings = scan_text(card.text, README, build.allow) + scan_text(
        text, MANIFEST_NAME, build.allow
    )
    if findings:
        raise SecretFoundError(findings)
    (staging / README).write_text(card.text, encoding="utf-8")
    (staging / MANIFEST_NAME).write_text(text, encoding="utf-8")
    local_files = {p: build.root / p for p in build.data_sha}
    local_files.update(card.plots)
    local_files[README] = staging / README
    local_files[MANIFEST_NAME] = staging / MANIFEST_NAME
    tag = decision.version.tag
    return ReleasePlan(
        repo_id=manifest.repo or "",
        target=conn.display,
        version=str(decision.version),
        tag=tag,
        status="release",
        level=decision.level,
        base_commit=remote.head,
        parent=manifest.parent,
        files=file_actions(local_files, remote.tree, build.data_sha),
        changelog=manifest.changelog or "",
        card_diff=card_diff(remote.readme, card.text, "main", tag),
        manifest=manifest,
    )


def push(
    conn: HubConnection,
    plan: ReleasePlan,
    remote: RemoteState,
    *,
    private: bool,
    verify: bool,
    progress: Progress | None = None,
) -> ReleaseResult:
    """Create the repo if needed, commit the plan, verify the commit, tag it."""
    _log(progress, f"pushing {len(plan.uploads)} files ({plan.bytes_to_upload:,} bytes)")
    if not remote.exists:
        create_repo(conn, plan, private)
    sha, verified = commit_verify_tag(conn, plan, verify=verify, progress=progress)
    return ReleaseResult(
        plan.repo_id,
        plan.version,
        plan.tag,
        sha,
        "released",
        plan,
        verified,
        bytes_uploaded=plan.bytes_to_upload,
        target=conn.display,
    )


def push_pull_request(
    conn: HubConnection,
    plan: ReleasePlan,
    remote: RemoteState,
    *,
    private: bool,
    verify: bool,
    progress: Progress | None = None,
) -> ReleaseResult:
    """Open the release as a pull request and verify it (:mod:`ocforge.publish.pull_request`);
    no tag: merging it and releasing again tags it."""
    pr, verified, new = open_release_pull_request(
        conn, plan, repo_exists=remote.exists, private=private, verify=verify, progress=progress
    )
    return ReleaseResult(
        plan.repo_id,
        plan.version,
        plan.tag,
        pr.sha,
        "pull-request" if new else "pull-request-open",
        plan,
        verified,
        bytes_uploaded=plan.bytes_to_upload if new else 0,
        target=conn.display,
        pull_request=pr,
    )


def dry_run_result(conn: HubConnection, plan: ReleasePlan) -> ReleaseResult:
    return ReleaseResult(
        plan.repo_id, plan.version, plan.tag, None, "dry-run", plan, target=conn.display
    )
