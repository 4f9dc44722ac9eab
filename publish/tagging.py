"""Commit, verify, tag: the steps that make a version exist, in an order that never tags a
commit that does not load.

1. one commit with every upload and deletion, based on the head of ``main`` (``parent_commit``);
2. ``load_dataset`` of every config and split at that commit's sha, in child processes
   (:func:`~ocforge.publish.verify.verify_release`);
3. only then the tag ``vX.Y.Z`` on that commit.

A commit that fails step 2 stays on ``main`` without a tag. It is not a version: versions are
tags, and ``ocforge releases`` lists tags only. The next run never tags it blindly:

* if the build is exactly the content of that commit (same data files on the Hub, same
  ``release.json`` apart from version and parent, same card), the run loads it again at its sha and tags it only if it loads in
  full (this is how a run interrupted between commit and tag is finished); if it does not load,
  the run stops with an error and makes no commit, since an identical commit could not load
  either;
* otherwise (a fixed build) the run makes a new commit on top of it, which replaces its files,
  and verifies and tags that one; the version number is the one the untagged commit had.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from ocforge.errors import OcforgeError
from ocforge.publish.hub_client import HubConnection
from ocforge.publish.plan import ReleasePlan, file_actions
from ocforge.publish.remote import REPO_TYPE, RemoteState
from ocforge.publish.verify import VerificationError, VerifiedSplit, verify_release
from ocforge.publish.versions import Version, VersionError, change_level

Progress = Callable[[str], None]


class PublishError(OcforgeError):
    """Pushing a release failed; no tag was created, and running the command again resumes."""


class TagExistsError(VersionError):
    """The release tag already exists; tags are never moved or overwritten."""


def _log(progress: Progress | None, msg: str) -> None:
    if progress:
        progress(msg)


def create_repo(conn: HubConnection, plan: ReleasePlan, private: bool) -> None:
    """Create the dataset repo; ``plan.base_commit`` becomes its initial commit."""
    api: Any = conn.api
    try:
        api.create_repo(plan.repo_id, repo_type=REPO_TYPE, private=private, exist_ok=True)
        plan.base_commit = api.repo_info(plan.repo_id, repo_type=REPO_TYPE).sha
    except Exception as exc:
        raise PublishError(
            f"could not create {plan.repo_id} ({type(exc).__name__}: {exc}); nothing was "
            "pushed and no tag was created. Run the same command again."
        ) from exc


def commit(conn: HubConnection, plan: ReleasePlan) -> str:
    """One commit with every upload and deletion, based on ``plan.base_commit``; its sha."""
    from huggingface_hub import CommitOperationAdd, CommitOperationDelete

    ops: list[Any] = [CommitOperationAdd(f.path, str(f.local)) for f in plan.uploads]
    ops += [CommitOperationDelete(f.path) for f in plan.deletions]
    try:
        info = conn.api.create_commit(  # type: ignore[attr-defined]
            plan.repo_id,
            ops,
            commit_message=f"Release {plan.tag}",
            commit_description=plan.changelog,
            repo_type=REPO_TYPE,
            revision="main",
            parent_commit=plan.base_commit,
        )
    except Exception as exc:  # any client or server failure: the version does not exist
        raise PublishError(
            f"push of {plan.tag} to {plan.repo_id} failed ({type(exc).__name__}: {exc}); "
            "no tag was created. Run the same command again to finish the release."
        ) from exc
    return info.oid


def create_tag(conn: HubConnection, repo_id: str, tag: str, sha: str) -> None:
    try:
        conn.api.create_tag(  # type: ignore[attr-defined]
            repo_id, tag=tag, revision=sha, tag_message=f"Release {tag}", repo_type=REPO_TYPE
        )
    except Exception as exc:
        raise PublishError(
            f"commit {sha[:12]} landed and loads, but tag {tag} could not be created "
            f"({type(exc).__name__}: {exc}); run the same command again to tag it."
        ) from exc


def verify_then_tag(
    conn: HubConnection,
    plan: ReleasePlan,
    sha: str,
    *,
    verify: bool = True,
    progress: Progress | None = None,
) -> list[VerifiedSplit]:
    """Load every config and split of ``plan.manifest`` at commit ``sha``, then tag it.

    ``verify=False`` (``--no-verify``) tags without loading.

    Raises:
        VerificationError: on one line; no tag was created.
        PublishError: the tag could not be created.
    """
    verified: list[VerifiedSplit] = []
    if verify:
        _log(progress, f"verifying commit {sha[:12]} with load_dataset")
        try:
            verified = verify_release(conn, plan.repo_id, sha, plan.manifest)
        except VerificationError as exc:
            raise VerificationError(
                f"{plan.tag} was not tagged: commit {sha[:12]} is on main of {plan.repo_id} but "
                f"does not load as released ({exc}). It is not a version; fix the build and run "
                "again: the next release replaces it"
            ) from None
    _log(progress, f"tagging {plan.tag}")
    create_tag(conn, plan.repo_id, plan.tag, sha)
    return verified


def _tree_holds_build(root: Path, data_sha: dict[str, str], remote: RemoteState) -> bool:
    """True when ``main``'s data files are exactly the build's (same paths, same bytes).

    The local files are hashed here rather than trusted to ``release.json``: a file changed
    after the build must count as different content (this path runs only when ``main`` holds
    an untagged commit)."""
    remote_data = {p: f for p, f in remote.tree.items() if p.startswith("data/")}
    local = {p: root / p for p in data_sha}
    return all(a.action == "keep" for a in file_actions(local, remote_data))


def finish_untagged(
    conn: HubConnection,
    repo_id: str,
    remote: RemoteState,
    current: dict[str, Any],
    card_sha: str,
    root: Path,
    data_sha: dict[str, str],
    progress: Progress | None = None,
) -> tuple[Version, ReleasePlan, list[VerifiedSplit]] | None:
    """Tag the untagged commit at the head of ``main`` if it holds exactly this build and loads.

    Returns ``None`` when the head is tagged, older than the latest release, or not this build's
    content (the caller then makes a new commit on top of it, which supersedes it).

    Raises:
        VerificationError: the head holds exactly this build and does not load (no tag, no
            commit: a commit of the same content could not load either).
    """
    head, latest = remote.head_manifest, remote.latest
    if head is None or not head.get("version") or remote.head is None:
        return None
    version = Version.parse(head["version"])
    if version in remote.tags or (latest is not None and version <= latest[0]):
        return None
    if change_level(head, current, head.get("card_sha256") != card_sha) is not None:
        return None
    # this very build: the same release.json (row counts, ledger, tools, ...), not only the
    # same files; a build fixed only in release.json must get a commit of its own
    if any(head.get(k) != v for k, v in current.items() if k not in ("version", "parent")):
        return None
    if not _tree_holds_build(root, data_sha, remote):
        _log(
            progress,
            f"untagged commit {remote.head[:12]} ({version.tag}) on main differs from this "
            "build's files: a new commit replaces it",
        )
        return None
    plan = ReleasePlan(
        repo_id,
        conn.display,
        str(version),
        version.tag,
        "finish-tag",
        None,
        remote.head,
        head.get("parent"),
        manifest=head,
    )
    # always verified, --no-verify or not: this run did not make the commit, and a commit that
    # once failed verification must not become a version
    _log(progress, f"verifying untagged commit {remote.head[:12]} ({version.tag}) on main")
    try:
        verified = verify_release(conn, repo_id, remote.head, head)
    except VerificationError as exc:
        raise VerificationError(
            f"{version.tag} was not tagged: commit {remote.head[:12]} on main of {repo_id} "
            f"holds exactly this build and does not load ({exc}). It is not a version and no "
            "commit was made; fix the build and run again"
        ) from None
    _log(progress, f"tagging {version.tag}")
    create_tag(conn, repo_id, version.tag, remote.head)
    return version, plan, verified
