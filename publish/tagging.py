"""A dataset release through the release protocol (:mod:`ocforge.publish.protocol`): commit,
verify with ``load_dataset``, tag, in an order that never tags a commit that does not load.

1. one commit with every upload and deletion, based on the head of ``main`` (``parent_commit``);
2. ``load_dataset`` of every config and split at that commit's sha, in child processes
   (:func:`~ocforge.publish.verify.verify_release`);
3. only then the tag ``vX.Y.Z`` on that commit.

A commit that fails step 2 stays on ``main`` without a tag. It is not a version: versions are
tags, and ``ocforge releases`` lists tags only. The next run never tags it blindly
(:func:`~ocforge.publish.decision.decide`):

* if the build is exactly the content of that commit (same data files on the Hub, same
  ``release.json`` apart from version and parent, same card), the run loads it again at its sha
  and tags it only if it loads in full (this is how a run interrupted between commit and tag is
  finished, :func:`finish_untagged`); if it does not load, the run stops with an error and makes
  no commit, since an identical commit could not load either;
* otherwise (a fixed build) the run makes a new commit on top of it, which replaces its files,
  and verifies and tags that one; the version number is the one the untagged commit had.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from huggingface_hub import CommitOperationAdd, CommitOperationDelete

from ocforge.errors import VerificationError
from ocforge.publish import protocol
from ocforge.publish.hub_client import HubConnection
from ocforge.publish.plan import ReleasePlan, file_actions
from ocforge.publish.remote import REPO_TYPE, RemoteState
from ocforge.publish.verify import VerifiedSplit, verify_release
from ocforge.publish.versions import Version

Progress = Callable[[str], None]


def _log(progress: Progress | None, msg: str) -> None:
    if progress:
        progress(msg)


def create_repo(conn: HubConnection, plan: ReleasePlan, private: bool) -> None:
    """Create the dataset repo; ``plan.base_commit`` becomes its initial commit."""
    plan.base_commit = protocol.create_repo(conn.api, plan.repo_id, REPO_TYPE, private)


def release_commit(plan: ReleasePlan) -> protocol.ReleaseCommit:
    """The protocol's commit of ``plan``: its uploads and deletions on ``plan.base_commit``."""
    ops: list[Any] = [CommitOperationAdd(f.path, str(f.local)) for f in plan.uploads]
    ops += [CommitOperationDelete(f.path) for f in plan.deletions]
    return protocol.ReleaseCommit(
        plan.repo_id,
        REPO_TYPE,
        plan.tag,
        plan.base_commit,
        ops,
        protocol.release_title(plan.tag),
        plan.changelog,
    )


def commit(conn: HubConnection, plan: ReleasePlan) -> str:
    """One commit with every upload and deletion, based on ``plan.base_commit``; its sha."""
    return protocol.commit(conn.api, release_commit(plan))


def _loads(
    conn: HubConnection, plan: ReleasePlan, verify: bool, progress: Progress | None
) -> Callable[[str], list[VerifiedSplit]]:
    """The check of a new commit before its tag: ``load_dataset`` of every config and split."""

    def check(sha: str) -> list[VerifiedSplit]:
        if not verify:
            return []
        _log(progress, f"verifying commit {sha[:12]} with load_dataset")
        try:
            return verify_release(conn, plan.repo_id, sha, plan.manifest)
        except VerificationError as exc:
            raise VerificationError(
                f"{plan.tag} was not tagged: commit {sha[:12]} is on main of {plan.repo_id} but "
                f"does not load as released ({exc}). It is not a version; fix the build and run "
                "again: the next release replaces it"
            ) from None

    return check


def commit_verify_tag(
    conn: HubConnection,
    plan: ReleasePlan,
    *,
    verify: bool = True,
    progress: Progress | None = None,
) -> tuple[str, list[VerifiedSplit]]:
    """Commit ``plan``, load every config and split at the commit (``verify=False``,
    ``--no-verify``: tag without loading), then tag it; the sha and what loaded.

    Raises:
        PublishError: the commit or the tag could not be created.
        VerificationError: on one line; no tag was created.
    """
    release = release_commit(plan)
    return protocol.publish(
        conn.api, release, _loads(conn, plan, verify, progress), f"Release {plan.tag}", progress
    )


def tree_holds_build(root: Path, data_sha: dict[str, str], remote: RemoteState) -> bool:
    """True when ``main``'s data files are exactly the build's (same paths, same bytes).

    The local files are hashed here rather than trusted to ``release.json``: a file changed
    after the build must count as different content (this runs only when ``main`` holds an
    untagged commit of this build's ``release.json``)."""
    remote_data = {p: f for p, f in remote.tree.items() if p.startswith("data/")}
    local = {p: root / p for p in data_sha}
    return all(a.action == "keep" for a in file_actions(local, remote_data))


def finish_untagged(
    conn: HubConnection,
    repo_id: str,
    remote: RemoteState,
    version: Version,
    progress: Progress | None = None,
) -> tuple[ReleasePlan, list[VerifiedSplit]]:
    """Verify the untagged commit at the head of ``main``, which holds exactly this build, and
    tag it ``version``.

    Always verified, ``--no-verify`` or not: this run did not make the commit, and a commit that
    once failed verification must not become a version.

    Raises:
        VerificationError: it does not load (no tag, no commit: a commit of the same content
            could not load either).
    """
    head, sha = remote.head_manifest, remote.head or ""
    assert head is not None  # finish-tag is decided only when main's head holds this build
    plan = ReleasePlan(
        repo_id,
        conn.display,
        str(version),
        version.tag,
        "finish-tag",
        None,
        sha,
        head.parent,
        manifest=head,
    )

    def check(commit: str) -> list[VerifiedSplit]:
        _log(progress, f"verifying untagged commit {commit[:12]} ({version.tag}) on main")
        try:
            return verify_release(conn, repo_id, commit, head)
        except VerificationError as exc:
            raise VerificationError(
                f"{version.tag} was not tagged: commit {commit[:12]} on main of {repo_id} "
                f"holds exactly this build and does not load ({exc}). It is not a version and "
                "no commit was made; fix the build and run again"
            ) from None

    verified = protocol.verify_then_tag(
        conn.api, release_commit(plan), sha, check, f"Release {version.tag}", progress
    )
    return plan, verified
