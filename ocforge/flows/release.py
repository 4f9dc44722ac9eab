"""Releases: build a recipe (or reuse a current build), render its card, publish it as one Hub
commit, verify it with ``load_dataset`` and tag it ``vX.Y.Z``.

Public API::

    release(recipe, repo_id, ...) -> ReleaseResult          # build (or reuse) + release_build
    release_build(build_dir, repo_id, ...) -> ReleaseResult  # publish an existing build
    write_card_preview(repo_id, tag, out_dir, ...) -> Path   # the card at a tag as HTML

The Hub side of each step (scan, remote state, decision, changelog, plan, commit, verification,
tag) is :mod:`ocforge.publish.release`; this module adds what needs the other parts: the card
(statistics, plots and templates from ``cards/``), the input fingerprints of ``builders/`` and the
build itself (:mod:`ocforge.flows.build`).

Each data file is read once here (:mod:`ocforge.publish.file_pass`: scan, card statistics, row
keys of the changelog); verification reads them again on purpose, from the Hub as a consumer.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Unpack

from ocforge.cards.dataset_card import (
    LICENSE_NOTE,
    card_metadata,
    merge_card,
    render_release_body,
    schema_fields,
    template_sha256,
)
from ocforge.cards.plots import render_plots
from ocforge.cards.preview import card_html
from ocforge.cards.statistics import removed_examples, stat_columns, summarize
from ocforge.errors import ManifestError, OcforgeError, SecretFoundError
from ocforge.hashing import json_sha256
from ocforge.layout import left_out_splits
from ocforge.manifest import MANIFEST_NAME, read_manifest
from ocforge.parent_layout import ParentLayout
from ocforge.publish.card_check import check_build_card, check_card_settings, check_card_text
from ocforge.publish.decision import Decision
from ocforge.publish.diff import keyed_files
from ocforge.publish.file_pass import BuildRead, read_build_files
from ocforge.publish.history import HubWhere, build_changelog, download_card
from ocforge.publish.hub_client import Target, connect
from ocforge.publish.local_build import LocalBuild, data_files, read_build, synthesis_provenance
from ocforge.publish.release import (
    ReleaseCard,
    ReleaseResult,
    decide_release,
    dry_run_result,
    finish_tag,
    plan_release,
    push,
    push_pull_request,
    release_manifest,
    up_to_date,
)
from ocforge.publish.remote import RemoteState, remote_state
from ocforge.publish.versions import Bump
from ocforge.publish.viewer_report import viewer_report_lines
from ocforge.recipe import Recipe

Progress = Callable[[str], None]


def _log(progress: Progress | None, msg: str) -> None:
    if progress:
        progress(msg)


# --------------------------------------------------------------------------- the card


@dataclass
class _Card:
    """The card's parts before the version is known; ``card.sha256`` covers all of them."""

    context: dict[str, Any]
    metadata: Any  # huggingface_hub DatasetCardData
    card: ReleaseCard


def read_files(build: LocalBuild, remote: RemoteState, progress: Progress | None) -> BuildRead:
    """The one read of the build's data files: secret scan, the card statistics' columns, and
    the row keys of the files the changelog against ``remote``'s latest release diffs.

    Raises:
        SecretFoundError: naming file, row id and pattern of every finding (nothing pushed).
    """
    _log(progress, "secret scan")
    kinds = {name: out.kind for name, out in build.outputs.items()}
    read = read_build_files(
        build.root,
        build.manifest,
        build.allow,
        select=lambda config, columns: stat_columns(kinds[config], columns),
        key_sha256=keyed_files(remote.previous, build.manifest),
    )
    if read.findings:
        raise SecretFoundError(read.findings)
    build.schemas = read.schemas()
    for line in viewer_report_lines(read):  # the Hub viewer's rules, flagged before any push
        _log(progress, line)
    return read


def _card_context(
    build: LocalBuild, staging: Path, rows: BuildRead
) -> tuple[dict[str, Any], dict[str, Path]]:
    """Everything the template needs except version-specific parts, and the plot files."""
    root, manifest, settings, outputs = build.root, build.manifest, build.settings, build.outputs
    # each config's statistics and answer-length histogram, from the columns the pass kept
    read = {n: summarize(n, o.kind, list(o.splits), rows.selected(n)) for n, o in outputs.items()}
    stats = [s for s, _lengths in read.values()]
    lengths = {s.name: read[s.name][1] for s in stats if s.kind == "dialogues"}
    plots = render_plots(staging, stats, lengths)
    plot_files = {rel: staging / rel for items in plots.values() for _t, rel in items}
    ledger = manifest.ledger.to_ledger()
    context = {
        "title": settings.pretty_name or manifest.name,
        "description": (settings.description or "").strip()
        or "Synthetic role-play data built with ocforge (the OpenCharacter method).",
        "stats": [asdict(s) for s in stats],
        "schemas": {n: schema_fields(s) for n, s in build.schemas.items()},
        "plots": plots,
        "ledger_summary": ledger.summary(),
        "ledger_rows": ledger.rows(),
        "ledger_modified": ledger.modified_rows(),
        "examples": {n: removed_examples(root, n) for n in outputs},
        "recipe_file": manifest.recipe.file,
        "recipe_sha256": manifest.recipe.sha256,
        "tools": manifest.tools,
        "source_datasets": list(settings.source_datasets),
        "generators": [g for s in stats for g in s.generators],
        **synthesis_provenance(root),
        # the JSON form, as the card's content hash has always covered it
        "inputs": [{"sha256": None, "revision": None, **i.to_dict()} for i in manifest.inputs],
        "license_note": LICENSE_NOTE.format(license=settings.license),
    }
    return context, plot_files


def card_parts(build: LocalBuild, staging: Path, rows: BuildRead) -> _Card:
    """Statistics, plots, metadata and the card's content hash of ``build`` (``rows``: what
    :func:`read_files` got from its data files)."""
    context, plot_files = _card_context(build, staging, rows)
    # splits and configs with no rows: not in the card's configs; the card names them
    # (ocforge/layout.py reads the configs' JSON form)
    configs = {name: cfg.to_dict() for name, cfg in build.manifest.configs.items()}
    context["left_out"] = [
        {"config": c, "splits": splits, "whole_config": c not in build.outputs}
        for c, splits in left_out_splits(configs, build.test_fraction).items()
    ]
    metadata = card_metadata(build.settings, build.outputs, build.schemas, build.default_config)
    # the form card hashes were first recorded in, so an unchanged card keeps its hash
    sha = json_sha256([context, metadata.to_dict(), template_sha256()], style="spaced")
    return _Card(context, metadata, ReleaseCard(sha, metadata.to_dict(), plot_files))


def card_text(
    parts: _Card,
    remote: RemoteState,
    decision: Decision,
    repo_id: str,
    changelog: str,
    default_config: str,
) -> str:
    """The README of the new version: the generated block merged into the card on the Hub,
    checked as the Hub would (:class:`~ocforge.errors.CardMetadataError` before a push)."""
    version = decision.version
    body = render_release_body(
        {
            **parts.context,
            "version": str(version),
            "tag": version.tag,
            "repo_id": repo_id,
            "default_config": default_config,
            "changelog": changelog,
        }
    )
    previous_generated = remote.previous.card_metadata if remote.previous else None
    readme = merge_card(remote.readme, parts.metadata, body, previous_generated)
    return check_card_text(readme, "dataset")


# --------------------------------------------------------------------------- release


def release_build(
    build_dir: str | Path,
    repo_id: str,
    *,
    target: Target = "local",
    version: str | None = None,
    bump: Bump = "auto",
    private: bool = False,
    dry_run: bool = False,
    verify: bool = True,
    pull_request: bool = False,
    allow_secret_patterns: list[str] | None = None,
    endpoint: str | None = None,
    token: str | None = None,
    hub_root: Path | None = None,
    staging_dir: Path | None = None,
    progress: Progress | None = None,
) -> ReleaseResult:
    """Publish the build in ``build_dir`` to ``repo_id`` as a new tagged version.

    Args:
        build_dir: a folder written by ``ocforge build`` (``release.json``, ``data/``, ...).
        repo_id: ``ORG/NAME`` of the dataset repo (created if missing).
        target: ``local`` (embedded local Hub, :func:`~ocforge.publish.hub_client.connect`) or ``hf``.
        version: explicit ``X.Y.Z``; must be newer than the latest release.
        bump: ``auto`` (major: schema changed, minor: rows changed, patch: card only) or a level.
        dry_run: compute and return the plan; push nothing.
        verify: load every config and split back at the new commit in a child process before
            tagging it (``False``: tag without loading; an untagged commit left by an earlier
            run is loaded before it is tagged all the same).
        pull_request: open it as a pull request, verified, untagged (``publish.pull_request``).
        allow_secret_patterns: secret-scan patterns to allow, added to the recipe's.
        endpoint, token, hub_root: the target's location and credentials.
        staging_dir: keep the generated card, plots and ``release.json`` there.

    Returns:
        :class:`ReleaseResult` with ``version``, ``tag``, ``commit`` and ``status``.

    Raises:
        SecretFoundError: the data or card contain token-like strings (nothing pushed).
        VersionError / TagExistsError: the requested version is not newer or already tagged.
        HubAccessError: the target cannot be read (unreachable, refused token).
        PublishError: the commit, pull request or tag could not be created (no tag exists).
        VerificationError: the new commit does not load as ``release.json`` says (no tag).
        OcforgeError: every config of the build has 0 rows.
    """
    build = check_build_card(read_build(build_dir, allow_secret_patterns), progress)  # offline
    with (
        tempfile.TemporaryDirectory(prefix="ocforge-release-") as tmp,
        connect(target, endpoint=endpoint, token=token, hub_root=hub_root) as conn,
    ):
        staging, cache = Path(staging_dir or Path(tmp) / "staging"), Path(tmp) / "cache"
        staging.mkdir(parents=True, exist_ok=True)
        _log(progress, f"reading {repo_id} on {conn.display}")
        remote = remote_state(conn, repo_id, cache)
        # after the remote state, which says what the changelog diffs; before anything is pushed
        rows = read_files(build, remote, progress)
        _log(progress, "card statistics and plots")
        parts = card_parts(build, staging, rows)
        decision = decide_release(
            build, remote, parts.card.sha256, repo_id, version=version, bump=bump, dry_run=dry_run
        )
        for note in decision.notes:
            _log(progress, note)
        if decision.action == "finish-tag":
            return finish_tag(conn, repo_id, remote, decision, progress)
        if decision.action == "up-to-date":
            return up_to_date(conn, repo_id, remote, decision, verify=verify and not dry_run)
        _log(progress, "changelog")
        tag = decision.version.tag
        changelog = build_changelog(conn, repo_id, build, remote, tag, cache, rows.keyed())
        parts.card.text = card_text(
            parts, remote, decision, repo_id, changelog, build.default_config
        )
        manifest = release_manifest(build, repo_id, decision, remote, parts.card, changelog)
        plan = plan_release(conn, build, remote, decision, parts.card, manifest, staging)
        if dry_run:
            return dry_run_result(conn, plan)
        send = push_pull_request if pull_request else push
        return send(conn, plan, remote, private=private, verify=verify, progress=progress)


# --------------------------------------------------------------------------- recipe -> release


def build_is_current(recipe: Recipe, build_dir: Path) -> bool:
    """True when ``build_dir`` holds a complete build of this recipe and these exact inputs."""
    from ocforge import __version__

    # datatrove-backed: imported when a recipe is released, not by `publish dataset`
    from ocforge.builders.sources import input_fingerprint

    path = Path(build_dir) / MANIFEST_NAME
    if not path.is_file():
        return False
    try:
        manifest = read_manifest(path)
    except ManifestError:
        return False  # a damaged release.json: building again writes a good one
    if manifest.recipe.sha256 != recipe.sha256:
        return False
    if manifest.tools.get("ocforge") not in (__version__, None):
        return False
    specs = [*recipe.characters.inputs, *(s for d in recipe.dialogues for s in d.inputs)]
    if any(s.path is None and s.hub is None for s in specs):
        return False  # synthesized inputs exist only once the build ran (it resumes them)
    if [i.fingerprint() for i in manifest.inputs] != [input_fingerprint(s) for s in specs]:
        return False
    return all((Path(build_dir) / rel).is_file() for rel in data_files(manifest))


def default_build_dir(recipe: Recipe) -> Path:
    return Path(".ocforge") / "builds" / recipe.name


def _build_needed(
    recipe: Recipe, repo: str, out: Path, rebuild: bool, target: Target, hub: dict[str, Any]
) -> tuple[bool, ParentLayout | None]:
    """Whether ``out`` must be built, and then the layout of ``repo``'s latest release that the
    build follows (:mod:`ocforge.parent_layout`; ``None`` before the first release). A build
    is current when it is of this recipe and these inputs and laid out after that release."""
    from ocforge.publish.parent import latest_release, layout_is_current, read_layout

    where = {k: hub.get(k) for k in ("endpoint", "token", "hub_root")}
    with (
        tempfile.TemporaryDirectory(prefix="ocforge-parent-") as tmp,
        connect(target, **where) as conn,
    ):
        parent = latest_release(conn, repo)
        current = not rebuild and build_is_current(recipe, out)
        if current and layout_is_current(conn, out, parent, Path(tmp)):
            return False, None
        return True, read_layout(conn, parent, Path(tmp), local=out) if parent else None


def release(
    recipe: Recipe,
    repo_id: str | None = None,
    *,
    build_dir: Path | None = None,
    rebuild: bool = False,
    target: Target | None = None,
    private: bool | None = None,
    progress: Progress | None = None,
    **kwargs: Any,
) -> ReleaseResult:
    """Build ``recipe`` (or reuse an up-to-date build) and release it with :func:`release_build`.

    ``repo_id``, ``target`` and ``private`` default to the recipe's ``publish`` section; other
    keyword arguments are passed to :func:`release_build`.

    Raises:
        OcforgeError: no repo given and none in the recipe; plus :func:`release_build`'s errors.
    """
    from ocforge.flows.build import build  # datatrove and the filters: only to build

    repo = repo_id or recipe.publish.repo
    if not repo:
        raise OcforgeError("no repo to release to: pass --repo ORG/NAME or set publish.repo")
    out = Path(build_dir or default_build_dir(recipe))
    target = target or recipe.publish.target
    check_card_settings(recipe.card, recipe.path)  # before building or connecting
    needed, parent = _build_needed(recipe, repo, out, rebuild, target, kwargs)
    if needed:
        after = f", following {parent.parent.tag}" if parent else ""
        _log(progress, f"building {recipe.name} into {out}{after}")
        build(recipe, out, progress=progress, parent=parent)
    else:
        _log(progress, f"build in {out} is up to date")
    return release_build(
        out,
        repo,
        target=target,
        private=recipe.publish.private if private is None else private,
        allow_secret_patterns=[
            *recipe.publish.allow_secret_patterns,
            *kwargs.pop("allow_secret_patterns", []),
        ],
        progress=progress,
        **kwargs,
    )


def write_card_preview(repo_id: str, tag: str, out_dir: Path, **where: Unpack[HubWhere]) -> Path:
    """Download the card and its plots at ``tag`` into ``out_dir``; write ``card.html`` there."""
    readme = download_card(repo_id, tag, out_dir, **where)
    page = Path(out_dir) / "card.html"
    page.write_text(card_html(readme, f"{repo_id} {tag}"), encoding="utf-8")
    return page
