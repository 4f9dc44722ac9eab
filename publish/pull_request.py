"""A release opened as a pull request for review (``ocforge release --pr``).

Instead of committing to ``main`` and tagging, the release's one commit (the same files the
direct release would push, computed against the same head of ``main``) becomes a pull request
``refs/pr/N``. It is loaded back with ``load_dataset`` at its commit like a direct release;
a pull request that does not load is closed with the reason, so that nobody merges it.

A second maintainer reviews the card and data at ``refs/pr/N`` and merges it. The next
``ocforge release`` finds ``main``'s head holding this very build, untagged, and verifies and
tags it (:mod:`ocforge.publish.decision`'s ``finish-tag``): a version still exists only as a
tag on a commit of ``main`` that loads.

Running ``--pr`` again while the pull request is open opens no second one: an open pull
request titled for this version whose ``release.json`` is this release's is reported instead.
"""

from __future__ import annotations

from collections.abc import Callable

from ocforge.errors import ManifestError, VerificationError
from ocforge.manifest import MANIFEST_NAME, parse_manifest
from ocforge.publish import protocol
from ocforge.publish.hub_client import HubConnection
from ocforge.publish.plan import ReleasePlan
from ocforge.publish.protocol import PullRequest
from ocforge.publish.tagging import REPO_TYPE, create_repo, release_commit
from ocforge.publish.verify import VerifiedSplit, verify_release

Progress = Callable[[str], None]


def _log(progress: Progress | None, msg: str) -> None:
    if progress:
        progress(msg)


def _holds_release(conn: HubConnection, plan: ReleasePlan, pr: PullRequest) -> bool:
    """True when ``pr``'s ``release.json`` is the one this run would push (same version,
    parent, data hashes, card hash: the same release)."""
    assert plan.manifest is not None  # a release plan always carries its manifest
    try:
        path = conn.api.hf_hub_download(
            plan.repo_id, MANIFEST_NAME, repo_type=REPO_TYPE, revision=pr.sha
        )
        with open(path, "rb") as f:
            theirs = parse_manifest(f.read(), f"{MANIFEST_NAME} of pull request #{pr.num}")
    except (*protocol.hub_errors(), ManifestError, OSError):
        return False  # not readable as a release: it is not this one
    return theirs.to_dict() == plan.manifest.to_dict()


def existing_pull_request(conn: HubConnection, plan: ReleasePlan) -> PullRequest | None:
    """An open pull request of this very release, if an earlier ``--pr`` run opened one."""
    title = protocol.release_title(plan.tag)
    for pr in protocol.open_pull_requests(conn.api, plan.repo_id, REPO_TYPE, title):
        if _holds_release(conn, plan, pr):
            return pr
    return None


def _verify(
    conn: HubConnection, plan: ReleasePlan, pr: PullRequest, verify: bool, progress: Progress | None
) -> list[VerifiedSplit]:
    """Load every config and split at the pull request's commit; close it if it fails."""
    if not verify:
        return []
    assert plan.manifest is not None
    _log(progress, f"verifying pull request #{pr.num} ({pr.sha[:12]}) with load_dataset")
    try:
        return verify_release(conn, plan.repo_id, pr.sha, plan.manifest)
    except VerificationError as exc:
        reason = f"{plan.tag} does not load as released: {exc}"
        protocol.close_pull_request(
            conn.api, plan.repo_id, REPO_TYPE, pr, f"Closed by ocforge: {reason}"
        )
        raise VerificationError(
            f"pull request #{pr.num} of {plan.repo_id} was closed: {reason}. Fix the build and "
            "run again"
        ) from None


def open_release_pull_request(
    conn: HubConnection,
    plan: ReleasePlan,
    *,
    repo_exists: bool,
    private: bool,
    verify: bool,
    progress: Progress | None = None,
) -> tuple[PullRequest, list[VerifiedSplit], bool]:
    """Open ``plan`` as a pull request (creating the repo first if needed), or find the one an
    earlier run opened; the pull request, what loaded, and whether it is new.

    Raises:
        PublishError: the repo or the pull request could not be created.
        HubAccessError: the open pull requests cannot be read.
        VerificationError: the new pull request does not load (it was closed; no tag exists).
    """
    if not repo_exists:
        create_repo(conn, plan, private)
    else:
        found = existing_pull_request(conn, plan)
        if found is not None:
            _log(progress, f"pull request #{found.num} for {plan.tag} is already open")
            return found, [], False
    _log(progress, f"opening a pull request with {len(plan.uploads)} files")
    pr = protocol.open_pull_request(conn.api, release_commit(plan))
    return pr, _verify(conn, plan, pr, verify, progress), True
