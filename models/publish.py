"""``ocforge publish model``: a validated checkpoint and its model card in one commit, then a tag.

Same rules as dataset releases: the tag is created only after the commit succeeded; publishing
identical content makes no commit; a version tag never moves. The commit is pinned to the head it
was computed against (``parent_commit``), so a concurrent push fails instead of being overwritten.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ocforge.cards.model_card import render_model_card
from ocforge.errors import OcforgeError
from ocforge.evals.dataset_ref import DatasetRelease, download_text, resolve_release
from ocforge.evals.run import EVALS_DIR
from ocforge.hashing import file_sha256, git_blob_id
from ocforge.models.checkpoint import CheckedCheckpoint, check_checkpoint, training_facts
from ocforge.publish.versions import Version, VersionError


class ModelPublishError(OcforgeError):
    """The model cannot be published as asked (tag taken by other content, repo moved meanwhile)."""


@dataclass
class ModelPublishResult:
    repo_id: str
    version: str
    tag: str
    commit: str | None  # the tagged commit; None on a dry run
    created_commit: bool  # False: the repo already held exactly this content
    created_tag: bool
    dataset: DatasetRelease
    uploaded: list[str] = field(default_factory=list)  # files added or changed
    unchanged: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    card: str = ""
    dry_run: bool = False


def _remote_files(api: Any, repo_id: str, revision: str | None) -> dict[str, Any]:
    if revision is None:
        return {}
    return {
        entry.path: entry
        for entry in api.list_repo_tree(repo_id, revision=revision, recursive=True)
        if hasattr(entry, "blob_id")
    }


def _same(local: bytes | Path, remote: Any) -> bool:
    if remote is None:
        return False
    if getattr(remote, "lfs", None) is not None:
        sha = hashlib.sha256(local).hexdigest() if isinstance(local, bytes) else file_sha256(local)
        return sha == remote.lfs.sha256
    data = local if isinstance(local, bytes) else local.read_bytes()
    return git_blob_id(data) == remote.blob_id


def _version_tags(api: Any, repo_id: str) -> dict[str, str]:
    refs = api.list_repo_refs(repo_id)
    return {t.name: t.target_commit for t in refs.tags}


def _untagged_publish(api: Any, repo_id: str, head: str, tags: dict[str, str]) -> Version | None:
    """The version of ``head`` if it is a publish commit ("Publish vX.Y.Z: ...") left untagged."""
    if head in tags.values():
        return None
    title = api.list_repo_commits(repo_id, revision=head)[0].title
    if not title.startswith("Publish v"):
        return None
    try:
        version = Version.parse(title.removeprefix("Publish ").split(":", 1)[0])
    except VersionError:
        return None
    return None if version.tag in tags else version


def _parse_versions(tags: dict[str, str]) -> list[Version]:
    versions = []
    for name in tags:
        try:
            versions.append(Version.parse(name))
        except VersionError:
            continue
    return versions


def _next_version(tags: dict[str, str]) -> Version:
    versions = _parse_versions(tags)
    if not versions:
        return Version(1, 0, 0)
    latest = max(versions)
    return Version(latest.major, latest.minor + 1, 0)


def publish_model(
    api: Any,
    checkpoint: Path,
    repo_id: str,
    *,
    base_model: str,
    dataset: str,
    version: str | None = None,
    private: bool = False,
    license: str = "other",
    tags: list[str] | None = None,
    allow_pickle: bool = False,
    include: list[str] | tuple[str, ...] = (),
    exclude: list[str] | tuple[str, ...] = (),
    dry_run: bool = False,
) -> ModelPublishResult:
    """Validate ``checkpoint``, write its model card, push both in one commit and tag it.

    ``dataset`` is ``ORG/NAME@REVISION`` (a release tag, resolved to its commit for the card).
    ``version`` defaults to the next minor version after the repo's latest ``v*`` tag (``1.0.0``
    for a new repo). When ``main`` already holds exactly this content, nothing is pushed and the
    latest version is reported (a publish commit left untagged by an interrupted run is tagged).
    Eval results already in the repo's card, and their ``evals/`` files, are kept when the
    weights are unchanged (they describe the same model).

    Raises:
        CheckpointError: the checkpoint failed validation (every problem listed).
        ReleaseRefError: the dataset release does not resolve.
        ModelPublishError: the version's tag exists on different content, or the repo moved.
    """
    from huggingface_hub import CommitOperationAdd, CommitOperationDelete, ModelCard
    from huggingface_hub.errors import RepositoryNotFoundError

    checked: CheckedCheckpoint = check_checkpoint(
        checkpoint, allow_pickle=allow_pickle, include=include, exclude=exclude
    )
    release = resolve_release(api, dataset)

    try:
        head = api.model_info(repo_id).sha
        tags_now = _version_tags(api, repo_id)
    except RepositoryNotFoundError:
        head, tags_now = None, {}
    remote = _remote_files(api, repo_id, head)

    # keep recorded eval results only if they describe these very weights
    eval_results = None
    if (
        head
        and "README.md" in remote
        and all(_same(checked.root / w, remote.get(w)) for w in checked.weights)
    ):
        text = download_text(api, repo_id, "README.md", head)
        eval_results = ModelCard(text, ignore_metadata_errors=True).data.eval_results

    dataset_rows = sum(
        c.get("rows", 0)
        for c in release.manifest.get("configs", {}).values()
        if c.get("kind") != "eval"
    )
    card = render_model_card(
        model_id=repo_id,
        base_model=base_model,
        dataset_repo=release.repo_id,
        dataset_revision=release.revision,
        dataset_sha=release.sha,
        dataset_version=release.version,
        license=license,
        model_type=checked.config.get("model_type", "unknown"),
        num_parameters=checked.num_parameters,
        has_chat_template=checked.has_chat_template,
        training_facts=training_facts(checked.root),
        endpoint=api.endpoint,
        dataset_rows=dataset_rows or None,
        tags=tags,
        eval_results=eval_results,
    )
    card_bytes = card.encode("utf-8")

    uploaded, unchanged = [], []
    for rel in checked.files:
        (unchanged if _same(checked.root / rel, remote.get(rel)) else uploaded).append(rel)
    (unchanged if _same(card_bytes, remote.get("README.md")) else uploaded).append("README.md")
    keep = set(checked.files) | {"README.md", ".gitattributes"}
    # result files of `ocforge eval push` stay as long as the card keeps the results they back
    deleted = sorted(
        p for p in remote if p not in keep and not (eval_results and p.startswith(EVALS_DIR))
    )
    changes = bool(uploaded or deleted)

    if version is None and not changes:
        # nothing to publish. A publish commit whose tag was never created (an interrupted run)
        # gets its tag now; otherwise name the latest version (main may be ahead of it by eval
        # results, which is not a new version of the model).
        pending = _untagged_publish(api, repo_id, head, tags_now) if head else None
        known = _parse_versions(tags_now)
        target = pending or (max(known) if known else Version(1, 0, 0))
        tag_needed = pending is not None or not known
    else:
        target = _next_version(tags_now) if version is None else Version.parse(version)
        if target.tag in tags_now and (changes or tags_now[target.tag] != head):
            raise ModelPublishError(
                f"{repo_id}: tag {target.tag} already exists on commit "
                f"{tags_now[target.tag][:12]} with other content; versions never move: publish "
                "with a new --version"
            )
        tag_needed = target.tag not in tags_now
    tag = target.tag

    result = ModelPublishResult(
        repo_id=repo_id,
        version=str(target),
        tag=tag,
        commit=None,
        created_commit=False,
        created_tag=False,
        dataset=release,
        uploaded=uploaded,
        unchanged=unchanged,
        deleted=deleted,
        warnings=list(checked.warnings),
        card=card,
        dry_run=dry_run,
    )
    if dry_run:
        return result

    if head is None:
        api.create_repo(repo_id, private=private, exist_ok=True)
        head = api.model_info(repo_id).sha
    commit = head
    if changes:
        ops: list[Any] = [
            CommitOperationAdd(rel, checked.root / rel) for rel in uploaded if rel != "README.md"
        ]
        if "README.md" in uploaded:
            ops.append(CommitOperationAdd("README.md", card_bytes))
        ops += [CommitOperationDelete(p) for p in deleted]
        info = api.create_commit(
            repo_id,
            ops,
            commit_message=f"Publish {tag}: fine-tuned on {release.repo_id}@{release.revision}",
            commit_description=f"Dataset commit {release.sha}. Base model {base_model}.",
            parent_commit=head,
        )
        commit = info.oid
        result.created_commit = commit != head
    if tag_needed:
        api.create_tag(repo_id, tag=tag, revision=commit, tag_message=f"ocforge model {tag}")
        result.created_tag = True
    result.commit = commit
    return result
