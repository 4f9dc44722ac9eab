"""The release protocol, one for dataset releases and model publishing.

A version exists when its tag does, and a tag is created only on a commit that holds the
release and (for datasets) loads:

1. one commit with every upload and deletion, based on the head of ``main`` it was computed
   against (``parent_commit``: a concurrent push makes it fail instead of being overwritten);
   content identical to ``main``'s makes no commit;
2. the commit is verified (datasets: ``load_dataset`` of every config and split at its sha);
3. only then the tag ``vX.Y.Z`` on it. A tag is never moved or overwritten.

A run interrupted between 1 and 3 leaves an untagged commit on ``main``. The next run finds it
(:meth:`Refs.pending`: the head is not tagged and the commit records a version newer than every
tag) and, when it holds exactly that run's content, verifies and tags it instead of committing
again. Where a commit records its version is the subject's business: a dataset release in its
``release.json``, a model publish in the title this module gives its commit
(:func:`release_title`).

Hub failures are caught by huggingface_hub's error classes (:func:`hub_errors`) and raised as
ocforge's errors with one line naming what failed, so that the CLI prints them without a
traceback.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from huggingface_hub import CommitInfo, CommitOperationAdd, CommitOperationDelete, HfApi
from huggingface_hub.errors import HfHubHTTPError, OfflineModeIsEnabled, RepositoryNotFoundError

from ocforge.errors import HubAccessError, PublishError, TagExistsError, VersionError
from ocforge.publish.versions import Version, version_tags

RepoType = Literal["dataset", "model"]
Operation = CommitOperationAdd | CommitOperationDelete
Progress = Callable[[str], None]
T = TypeVar("T")

#: the title of a release commit: "Release v1.2.0" (datasets), "Publish v1.2.0: ..." (models)
_TITLE = re.compile(r"^(?:Release|Publish) (v\d+\.\d+\.\d+)(?::|$)")


def hub_errors() -> tuple[type[Exception], ...]:
    """The exceptions a Hub call raises when the Hub, not ocforge, failed: an error status
    (``HfHubHTTPError`` and its subclasses), offline mode, and the HTTP client's transport errors
    (connection refused or reset, timeouts), which huggingface_hub lets through unwrapped."""
    import httpx2  # huggingface_hub's HTTP client: HfHubHTTPError derives from its HTTPError

    return HfHubHTTPError, OfflineModeIsEnabled, httpx2.HTTPError


def describe(exc: BaseException) -> str:
    """``Type: message`` on one line (the Hub's messages span lines: status, request id, body)."""
    return " ".join(f"{type(exc).__name__}: {exc}".split())


def _status(exc: BaseException) -> int | None:
    response = getattr(exc, "response", None)
    return getattr(response, "status_code", None)


@dataclass(frozen=True)
class Refs:
    """The head of ``main`` and the tags of a repo (``exists`` False: no such repo yet)."""

    exists: bool
    head: str | None = None
    tags: Mapping[str, str] = field(default_factory=dict)  # tag name -> commit sha

    @property
    def versions(self) -> dict[Version, str]:
        """Release versions -> tag name (tags that are not ``vX.Y.Z`` are ignored)."""
        return version_tags(list(self.tags))

    @property
    def latest(self) -> tuple[Version, str] | None:
        versions = self.versions
        if not versions:
            return None
        v = max(versions)
        return v, versions[v]

    @property
    def head_tagged(self) -> bool:
        return self.head is not None and any(
            self.tags[tag] == self.head for tag in self.versions.values()
        )

    def pending(self, recorded: Version | None) -> Version | None:
        """``recorded`` if the head of ``main`` is an untagged release commit that records it:
        the head carries no version tag and ``recorded`` is newer than every tag. ``None``
        otherwise (nothing was interrupted, or the head is some other commit on ``main``)."""
        if recorded is None or self.head is None or self.head_tagged:
            return None
        latest = self.latest
        if recorded.tag in self.tags or (latest is not None and recorded <= latest[0]):
            return None
        return recorded


def read_refs(api: HfApi, repo_id: str, repo_type: RepoType, where: str) -> Refs:
    """Head of ``main`` and tags of ``repo_id``.

    Raises:
        HubAccessError: the Hub cannot be reached or refused the read.
    """
    try:
        try:
            info = api.repo_info(repo_id, repo_type=repo_type, revision="main")
        except RepositoryNotFoundError:
            return Refs(exists=False)
        refs = api.list_repo_refs(repo_id, repo_type=repo_type)
    except hub_errors() as exc:
        raise HubAccessError(f"cannot read {repo_id} on {where}: {describe(exc)}") from exc
    return Refs(True, info.sha, {t.name: t.target_commit for t in refs.tags})


def release_title(tag: str, detail: str = "", *, verb: str = "Release") -> str:
    """The title of the commit of release ``tag`` (``verb`` ``Release`` or ``Publish``)."""
    return f"{verb} {tag}" + (f": {detail}" if detail else "")


def titled_version(api: HfApi, repo_id: str, repo_type: RepoType, refs: Refs) -> Version | None:
    """The version the head commit's title records (:func:`release_title`), if any; read only
    while the head is untagged."""
    if refs.head is None or refs.head_tagged:
        return None
    try:
        title = api.list_repo_commits(repo_id, repo_type=repo_type, revision=refs.head)[0].title
    except hub_errors() as exc:
        raise HubAccessError(f"cannot read the history of {repo_id}: {describe(exc)}") from exc
    match = _TITLE.match(title)
    if not match:
        return None
    try:
        return Version.parse(match.group(1))
    except VersionError:
        return None


def create_repo(api: HfApi, repo_id: str, repo_type: RepoType, private: bool) -> str:
    """Create the repo (its initial commit becomes the base of the release); its head sha."""
    try:
        api.create_repo(repo_id, repo_type=repo_type, private=private, exist_ok=True)
        return api.repo_info(repo_id, repo_type=repo_type).sha
    except hub_errors() as exc:
        raise PublishError(
            f"could not create {repo_id} ({describe(exc)}); nothing was pushed and no tag was "
            "created. Run the same command again."
        ) from exc


@dataclass
class ReleaseCommit:
    """One commit of a release: ``operations`` on top of ``parent`` (the head they were computed
    against), for the tag ``tag``."""

    repo_id: str
    repo_type: RepoType
    tag: str
    parent: str | None  # None: a repo without commits
    operations: Sequence[Operation]
    title: str
    description: str = ""


def _create_commit(api: HfApi, release: ReleaseCommit, **target: Any) -> CommitInfo:
    """``create_commit`` of the release on top of ``release.parent``; ``target`` says where
    (``revision="main"`` or ``create_pr=True``)."""
    return api.create_commit(
        release.repo_id,
        list(release.operations),
        commit_message=release.title,
        commit_description=release.description,
        repo_type=release.repo_type,
        parent_commit=release.parent,
        **target,
    )


def commit(api: HfApi, release: ReleaseCommit) -> str:
    """The sha of the release's commit; no commit (the parent's sha) when there is nothing to
    change, since identical content is no new version of it.

    Raises:
        PublishError: the push failed (``main`` moved meanwhile, upload refused, connection lost).
    """
    if not release.operations and release.parent is not None:
        return release.parent
    try:
        info = _create_commit(api, release, revision="main")
    # huggingface_hub reports the LFS batch API's per-file refusals (object too large, ...) as
    # ValueError; either way the version does not exist, and a rerun starts over from the Hub
    except (*hub_errors(), ValueError) as exc:
        moved = " (main moved meanwhile)" if _status(exc) == 412 else ""
        raise PublishError(
            f"push of {release.tag} to {release.repo_id} failed{moved} ({describe(exc)}); "
            "no tag was created. Run the same command again to finish the release."
        ) from exc
    return info.oid


@dataclass(frozen=True)
class PullRequest:
    """A pull request on the Hub: its number, page URL, ``refs/pr/N`` and head commit."""

    num: int
    url: str
    revision: str
    sha: str


def open_pull_request(api: HfApi, release: ReleaseCommit) -> PullRequest:
    """The release's commit as a new pull request against ``main`` (based on ``release.parent``,
    so the diff a reviewer sees is the release's); nothing lands on ``main`` and no tag is made.

    Raises:
        PublishError: the pull request could not be opened.
    """
    try:
        info = _create_commit(api, release, create_pr=True)
    except (*hub_errors(), ValueError) as exc:
        raise PublishError(
            f"could not open a pull request for {release.tag} on {release.repo_id} "
            f"({describe(exc)}); nothing was merged and no tag was created"
        ) from exc
    if info.pr_num is None or info.pr_revision is None:
        raise PublishError(f"the Hub opened no pull request for {release.tag}: {info.commit_url}")
    return PullRequest(info.pr_num, info.pr_url or "", info.pr_revision, info.oid)


def open_pull_requests(
    api: HfApi, repo_id: str, repo_type: RepoType, title: str
) -> list[PullRequest]:
    """Open pull requests of ``repo_id`` titled ``title``, newest first.

    Raises:
        HubAccessError: the discussions or refs cannot be read.
    """
    try:
        found = [
            d
            for d in api.get_repo_discussions(
                repo_id,
                repo_type=repo_type,
                discussion_type="pull_request",
                discussion_status="open",
            )
            if d.title == title
        ]
        if not found:
            return []
        heads = {
            r.ref: r.target_commit
            for r in api.list_repo_refs(
                repo_id, repo_type=repo_type, include_pull_requests=True
            ).pull_requests
            or []
        }
    except hub_errors() as exc:
        raise HubAccessError(
            f"cannot read the pull requests of {repo_id}: {describe(exc)}"
        ) from exc
    prs = [
        PullRequest(d.num, d.url, d.git_reference or "", heads.get(d.git_reference or "", ""))
        for d in found
    ]
    return sorted((p for p in prs if p.sha), key=lambda p: -p.num)


def close_pull_request(
    api: HfApi, repo_id: str, repo_type: RepoType, pr: PullRequest, comment: str
) -> None:
    """Close ``pr`` with ``comment`` (a release that does not load must not be merged)."""
    try:
        api.change_discussion_status(
            repo_id, pr.num, "closed", comment=comment, repo_type=repo_type
        )
    except hub_errors() as exc:
        raise PublishError(
            f"pull request #{pr.num} of {repo_id} does not load and could not be closed "
            f"({describe(exc)}): do not merge it"
        ) from exc


def create_tag(
    api: HfApi, repo_id: str, repo_type: RepoType, tag: str, sha: str, message: str
) -> None:
    """Tag ``sha``; an existing tag is never moved.

    Raises:
        TagExistsError: the tag exists (on any commit).
        PublishError: the tag could not be created (the commit stays, untagged).
    """
    try:
        api.create_tag(repo_id, tag=tag, revision=sha, tag_message=message, repo_type=repo_type)
    except hub_errors() as exc:
        if _status(exc) == 409:
            raise TagExistsError(
                f"tag {tag} already exists on {repo_id}; tags are never moved or overwritten"
            ) from exc
        raise PublishError(
            f"commit {sha[:12]} landed, but tag {tag} could not be created ({describe(exc)}); "
            "run the same command again to tag it."
        ) from exc


def verify_then_tag(
    api: HfApi,
    release: ReleaseCommit,
    sha: str,
    verify: Callable[[str], T],
    message: str,
    progress: Progress | None = None,
) -> T:
    """``verify(sha)`` (it raises when the commit must not become a version), then the tag."""
    verified = verify(sha)
    if progress:
        progress(f"tagging {release.tag}")
    create_tag(api, release.repo_id, release.repo_type, release.tag, sha, message)
    return verified


def publish(
    api: HfApi,
    release: ReleaseCommit,
    verify: Callable[[str], T],
    message: str,
    progress: Progress | None = None,
) -> tuple[str, T]:
    """Commit (unless there is nothing to change), verify, tag: the sha and what ``verify``
    returned."""
    sha = commit(api, release)
    return sha, verify_then_tag(api, release, sha, verify, message, progress)


def no_check(_sha: str) -> Any:
    """``verify`` for a commit whose content was compared by hash and needs no loading."""
    return None
