"""``ocforge publish model``: a validated checkpoint and its model card in one commit, then a tag.

The release protocol of dataset releases (:mod:`ocforge.publish.protocol`): the commit is pinned
to the head it was computed against (``parent_commit``), so a concurrent push fails instead of
being overwritten; the tag is created only after the commit succeeded; publishing identical
content makes no commit; a version tag never moves. A publish commit whose tag was never created
(an interrupted run) records its version in its title (:func:`~ocforge.publish.protocol.
release_title`) and is tagged by the next run that publishes the same content; files are compared
by hash, which is the check a model commit gets before its tag. Hub failures are raised as
ocforge's errors (:class:`~ocforge.errors.PublishError`, :class:`~ocforge.errors.HubAccessError`).

A checkpoint of ``ocforge train sft`` carries ``training.json`` (:mod:`ocforge.training_manifest`):
the card's Training section is rendered from it (release and commit, rows used and dropped, the
recipe and its sha256, seed, versions), it names the dataset release when ``--dataset`` is left
out, and a ``--dataset`` naming another commit than the one trained on is refused.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from huggingface_hub import CommitOperationAdd, CommitOperationDelete, HfApi, ModelCard

from ocforge.cards.model_card import render_model_card
from ocforge.errors import HubAccessError, ModelPublishError
from ocforge.evals.run import EVALS_DIR
from ocforge.hashing import file_sha256, git_blob_id
from ocforge.models.checkpoint import CheckedCheckpoint, check_checkpoint, training_facts
from ocforge.publish import protocol
from ocforge.publish.card_check import check_card_text, check_model_options
from ocforge.publish.dataset_ref import DatasetRelease, download_text, resolve_release
from ocforge.publish.protocol import Refs, describe, hub_errors
from ocforge.publish.versions import Version, next_version
from ocforge.training_manifest import (
    TRAINING_MANIFEST,
    card_training,
    read_training_manifest,
    trained_on,
)

REPO_TYPE = "model"
README = "README.md"


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
    training: dict[str, Any] | None = None  # the checkpoint's training.json, when it has one
    base_model: str = ""


@dataclass(frozen=True)
class ModelDecision:
    """The version to publish and whether its tag is still to be created."""

    version: Version
    tag_needed: bool
    reason: str


def decide_model(
    refs: Refs, changed: bool, version: str | None, pending: Version | None = None
) -> ModelDecision:
    """The model's release decision, from the repo's refs and the content comparison (pure).

    ``changed``: the files to publish differ from ``main``'s. ``pending``: the version an
    untagged publish commit at the head records (:meth:`Refs.pending`). Without ``version``,
    unchanged content names the latest version (``main`` may be ahead of it by eval results,
    which are no new version of the model) or finishes a pending one; changed content is the
    next minor version (``1.0.0`` first).

    Raises:
        VersionError: ``version`` is malformed.
        ModelPublishError: the version's tag exists on other content.
    """
    latest = refs.latest
    if version is None and not changed:
        if pending is not None:
            return ModelDecision(pending, True, f"untagged publish commit of {pending.tag}")
        if latest is not None:
            return ModelDecision(latest[0], False, f"content identical to {latest[1]}")
        return ModelDecision(Version(1, 0, 0), True, "a repo without tags holds this content")
    target = (
        next_version(latest[0] if latest else None, "minor", "minor", None)
        if version is None
        else Version.parse(version)
    )
    taken = refs.tags.get(target.tag)
    if taken is not None and (changed or taken != refs.head):
        raise ModelPublishError(
            f"tag {target.tag} already exists on commit {taken[:12]} with other content; "
            "versions never move: publish with a new --version"
        )
    reason = "first version" if latest is None else f"new content after {latest[1]}"
    return ModelDecision(target, taken is None, reason)


def _dataset_release(api: HfApi, dataset: str) -> DatasetRelease:
    try:
        return resolve_release(api, dataset)
    except hub_errors() as exc:  # unknown repo or revision are ReleaseRefError already
        raise HubAccessError(f"cannot read {dataset} on {api.endpoint}: {describe(exc)}") from exc


def check_trained_on(
    checkpoint: Path, manifest: dict[str, Any], release: DatasetRelease, given: str | None
) -> None:
    """The release to name on the card must be the very commit ``training.json`` records.

    Raises:
        ModelPublishError: another repo or commit, with both references and what to pass.
    """
    ds = manifest["dataset"]
    if release.repo_id == ds["repo_id"] and release.sha == ds["sha"]:
        return
    recorded = f"{trained_on(manifest)} (commit {ds['sha']})"
    where = f"{Path(checkpoint) / TRAINING_MANIFEST}"
    if given is None:  # the recorded tag now names another commit: the card would lie
        raise ModelPublishError(
            f"{where} records {recorded}, but {release.ref} now resolves to commit "
            f"{release.sha}: the tag was moved on {release.repo_id}; pass --dataset "
            f"{ds['repo_id']}@{ds['sha']} to name the commit trained on"
        )
    raise ModelPublishError(
        f"--dataset {given} is commit {release.sha} of {release.repo_id}, but the model was "
        f"trained on {recorded} ({where}): pass --dataset {trained_on(manifest)}, or leave "
        "--dataset out to use the release training.json names"
    )


def _base_model(checkpoint: Path, manifest: dict[str, Any] | None, base_model: str | None) -> str:
    """``--base-model``, else the Hub id training loaded the base model from.

    Raises:
        ModelPublishError: neither is there (the card's ``base_model`` must be a Hub id).
    """
    if base_model:
        return base_model
    base = (manifest or {}).get("base_model", {})
    if base.get("repo_id"):
        return base["repo_id"]
    origin = f"trained from the folder {base['ref']}" if base.get("ref") else "no training.json"
    raise ModelPublishError(
        f"--base-model HUB_ID is needed for {checkpoint} ({origin}): the card names the base "
        "model by its Hub id"
    )


def _inputs(
    api: HfApi, checkpoint: Path, dataset: str | None, base_model: str | None
) -> tuple[DatasetRelease, dict[str, Any] | None, str]:
    """(the dataset release, the training manifest or None, the base model's Hub id).

    Raises:
        TrainManifestError: ``training.json`` is unreadable.
        ModelPublishError: no dataset release to name, another one than training's, no base model.
        ReleaseRefError, HubAccessError: the release does not resolve.
    """
    manifest = read_training_manifest(checkpoint)
    ref = dataset or (trained_on(manifest) if manifest else None)
    if ref is None:
        raise ModelPublishError(
            f"--dataset ORG/NAME@vX.Y.Z is needed: {checkpoint} has no {TRAINING_MANIFEST} "
            "(written by `ocforge train sft`) naming the release it was trained on"
        )
    base = _base_model(checkpoint, manifest, base_model)
    release = _dataset_release(api, ref)
    if manifest is not None:
        check_trained_on(checkpoint, manifest, release, dataset)
    return release, manifest, base


def _same(local: bytes | Path, remote: Any) -> bool:
    if remote is None:
        return False
    if getattr(remote, "lfs", None) is not None:
        sha = hashlib.sha256(local).hexdigest() if isinstance(local, bytes) else file_sha256(local)
        return sha == remote.lfs.sha256
    data = local if isinstance(local, bytes) else local.read_bytes()
    return git_blob_id(data) == remote.blob_id


def _read_main(
    api: HfApi, repo_id: str, refs: Refs, checked: CheckedCheckpoint
) -> tuple[dict[str, Any], list[Any] | None]:
    """The files on ``main`` and the eval results its card records, kept only if they
    describe these very weights."""
    if refs.head is None:
        return {}, None
    try:
        remote = {
            entry.path: entry
            for entry in api.list_repo_tree(repo_id, revision=refs.head, recursive=True)
            if hasattr(entry, "blob_id")
        }
        if README not in remote or not all(
            _same(checked.root / w, remote.get(w)) for w in checked.weights
        ):
            return remote, None
        text = download_text(api, repo_id, README, refs.head)
    except hub_errors() as exc:
        raise HubAccessError(f"cannot read {repo_id} on {api.endpoint}: {describe(exc)}") from exc
    return remote, ModelCard(text, ignore_metadata_errors=True).data.eval_results


def link_base(endpoint: str) -> str:
    """The host part of the card's dataset link: none (a root-relative link) for a Hub on this
    machine, whose embedded server listens on a new port every run; otherwise ``endpoint``. The
    same content then renders the same card, so publishing it again makes no commit."""
    loopback = (urlsplit(endpoint).hostname or "") in ("127.0.0.1", "localhost", "::1")
    return "" if loopback else endpoint


def _card(
    api: HfApi,
    checked: CheckedCheckpoint,
    release: DatasetRelease,
    repo_id: str,
    eval_results: list[Any] | None,
    manifest: dict[str, Any] | None,
    **kw: Any,
) -> str:
    dataset_rows = sum(c.rows for c in release.manifest.configs.values() if c.kind != "eval")
    return render_model_card(
        model_id=repo_id,
        dataset_repo=release.repo_id,
        dataset_revision=release.revision,
        dataset_sha=release.sha,
        dataset_version=release.version,
        model_type=checked.config.get("model_type", "unknown"),
        num_parameters=checked.num_parameters,
        has_chat_template=checked.has_chat_template,
        training_facts=training_facts(checked.root),
        endpoint=link_base(api.endpoint),
        dataset_rows=dataset_rows or None,
        eval_results=eval_results,
        training=card_training(manifest) if manifest else None,
        **kw,
    )


def _compare(
    checked: CheckedCheckpoint, card: bytes, remote: dict[str, Any], keep_evals: bool
) -> tuple[list[str], list[str], list[str]]:
    """(uploaded, unchanged, deleted) repo paths against ``main``."""
    uploaded, unchanged = [], []
    for rel in checked.files:
        (unchanged if _same(checked.root / rel, remote.get(rel)) else uploaded).append(rel)
    (unchanged if _same(card, remote.get(README)) else uploaded).append(README)
    keep = set(checked.files) | {README, ".gitattributes"}
    # result files of `ocforge eval push` stay as long as the card keeps the results they back
    deleted = sorted(
        p for p in remote if p not in keep and not (keep_evals and p.startswith(EVALS_DIR))
    )
    return uploaded, unchanged, deleted


def publish_model(
    api: HfApi,
    checkpoint: Path,
    repo_id: str,
    *,
    base_model: str | None = None,
    dataset: str | None = None,
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

    ``dataset`` is ``ORG/NAME@REVISION`` (a release tag, resolved to its commit for the card);
    with a ``training.json`` it defaults to the release trained on and must resolve to its
    commit, and ``base_model`` defaults to the Hub id training loaded (a local folder has none).
    ``version`` defaults to the next minor version after the repo's latest ``v*`` tag (``1.0.0``
    for a new repo). When ``main`` already holds exactly this content, nothing is pushed and the
    latest version is reported (a publish commit left untagged by an interrupted run is tagged).
    Eval results already in the repo's card, and their ``evals/`` files, are kept when the
    weights are unchanged (they describe the same model).

    Raises:
        CheckpointError: the checkpoint failed validation (every problem listed).
        TrainManifestError: its ``training.json`` is unreadable.
        ReleaseRefError: the dataset release does not resolve.
        ModelPublishError: the version's tag exists on different content; ``dataset`` is not the
            commit trained on; no dataset or base model to name.
        HubAccessError: the model repo cannot be read.
        PublishError: the commit or tag could not be created (``main`` moved meanwhile, ...).
    """
    checked = check_checkpoint(
        checkpoint, allow_pickle=allow_pickle, include=include, exclude=exclude
    )
    check_model_options(license, tags)  # CardMetadataError before reading the Hub
    release, manifest, base_model = _inputs(api, checkpoint, dataset, base_model)
    refs = protocol.read_refs(api, repo_id, REPO_TYPE, api.endpoint)
    remote, eval_results = _read_main(api, repo_id, refs, checked)
    card = _card(
        api, checked, release, repo_id, eval_results, manifest,
        base_model=base_model, license=license, tags=tags,
    )  # fmt: skip
    check_card_text(card, REPO_TYPE)  # the Hub's rules, before anything is pushed
    card_bytes = card.encode("utf-8")
    uploaded, unchanged, deleted = _compare(checked, card_bytes, remote, bool(eval_results))
    changed = bool(uploaded or deleted)
    pending = None
    if version is None and not changed:
        pending = refs.pending(protocol.titled_version(api, repo_id, REPO_TYPE, refs))
    decision = decide_model(refs, changed, version, pending)
    tag = decision.version.tag
    result = ModelPublishResult(
        repo_id=repo_id,
        version=str(decision.version),
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
        training=manifest,
        base_model=base_model,
    )
    if dry_run:
        return result

    result.commit, result.created_commit, result.created_tag = _push(
        api, refs, release, checked, card_bytes, result, decision, private, base_model
    )
    return result


def _push(
    api: HfApi,
    refs: Refs,
    release: DatasetRelease,
    checked: CheckedCheckpoint,
    card: bytes,
    files: ModelPublishResult,
    decision: ModelDecision,
    private: bool,
    base_model: str,
) -> tuple[str, bool, bool]:
    """Commit the changed files (none: no commit) and tag it if the tag is still to be made;
    (sha, commit made, tag made)."""
    tag = decision.version.tag
    head = refs.head or protocol.create_repo(api, files.repo_id, REPO_TYPE, private)
    ops: list[Any] = [
        CommitOperationAdd(rel, checked.root / rel) for rel in files.uploaded if rel != README
    ]
    if README in files.uploaded:
        ops.append(CommitOperationAdd(README, card))
    ops += [CommitOperationDelete(p) for p in files.deleted]
    title = protocol.release_title(
        tag, f"fine-tuned on {release.repo_id}@{release.revision}", verb="Publish"
    )
    description = f"Dataset commit {release.sha}. Base model {base_model}."
    commit = protocol.ReleaseCommit(files.repo_id, REPO_TYPE, tag, head, ops, title, description)
    sha = protocol.commit(api, commit)
    if decision.tag_needed:
        protocol.create_tag(api, files.repo_id, REPO_TYPE, tag, sha, f"ocforge model {tag}")
    return sha, sha != head, decision.tag_needed
