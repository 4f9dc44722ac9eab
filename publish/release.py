"""Releases: publish a build as one Hub commit, verify it with ``load_dataset``, tag it ``vX.Y.Z``.

Public API::

    release(recipe, repo_id, ...) -> ReleaseResult          # build (or reuse) + release_build
    release_build(build_dir, repo_id, ...) -> ReleaseResult  # publish an existing build
    list_releases(repo_id, ...) -> list[ReleaseInfo]
    diff_releases(repo_id, old, new, ...) -> ReleaseDiff

The order of a release guarantees "no half-published versions": secret scan -> plan (compare
files by hash with ``main``) -> one commit with ``parent_commit`` -> verification of that commit
in a separate process -> tag only after the commit loads (:mod:`ocforge.publish.tagging`). A
failed push or verification leaves no tag; running the same command again finds the state on the
Hub and finishes (an untagged commit of this very build is verified and tagged, a different build
supersedes it with a new commit, identical content makes no commit).
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import yaml

from ocforge.errors import OcforgeError
from ocforge.layout import left_out_splits
from ocforge.ledger import Ledger
from ocforge.manifest import MANIFEST_NAME, read_manifest
from ocforge.outputs import ConfigOutput, ShardFile, SplitOutput
from ocforge.publish.diff import card_diff, changelog_markdown, diff_manifests
from ocforge.publish.history import (  # noqa: F401  (re-exported: the release API in one place)
    ReleaseInfo,
    ReleaseNotFoundError,
    diff_releases,
    list_releases,
    write_card_preview,
)
from ocforge.publish.hub_client import HubAccessError, Target, connect
from ocforge.publish.plan import ReleasePlan, file_actions
from ocforge.publish.remote import README, download, manifest_at, remote_state
from ocforge.publish.secrets import SecretFoundError, scan_parquet, scan_text
from ocforge.publish.tagging import (  # noqa: F401  (re-exported)
    PublishError,
    TagExistsError,
    create_repo,
    finish_untagged,
    verify_then_tag,
)
from ocforge.publish.tagging import commit as _commit
from ocforge.publish.verify import (  # noqa: F401  (re-exported)
    VerificationError,
    VerifiedSplit,
    verify_release,
)
from ocforge.publish.versions import Bump, Version, change_level, next_version
from ocforge.recipe import CardSettings, Recipe, SplitSettings

Progress = Callable[[str], None]


@dataclass
class ReleaseResult:
    """Outcome of a release: ``status`` is ``released``, ``up-to-date``, ``tagged`` (a commit
    of this build left untagged by an earlier run loaded and was tagged) or ``dry-run``."""

    repo_id: str
    version: str
    tag: str
    commit: str | None
    status: str
    plan: ReleasePlan
    verified: list[VerifiedSplit] = field(default_factory=list)
    bytes_uploaded: int = 0
    target: str = ""


# --------------------------------------------------------------------------- reading a build


def _recipe_sections(manifest: dict[str, Any]) -> tuple[CardSettings, list[str], float]:
    """Card settings, allowed secret patterns and the test fraction from the recipe text stored
    in the manifest."""
    data = yaml.safe_load(manifest.get("recipe", {}).get("text") or "") or {}
    card = CardSettings.model_validate(data.get("card") or {})
    if not card.description and data.get("description"):
        card = card.model_copy(update={"description": str(data["description"])})
    allow = list((data.get("publish") or {}).get("allow_secret_patterns") or [])
    splits = data.get("splits") or {}
    return card, allow, float(splits.get("test_fraction", SplitSettings().test_fraction))


def _outputs(manifest: dict[str, Any]) -> dict[str, ConfigOutput]:
    out = {}
    for name, cfg in manifest["configs"].items():
        splits = {
            split: SplitOutput(
                name=split,
                rows=info["rows"],
                num_bytes=info["num_bytes"],
                files=[ShardFile(**f) for f in info["files"]],
            )
            for split, info in cfg["splits"].items()
        }
        out[name] = ConfigOutput(name=name, kind=cfg["kind"], splits=splits)
    return out


def _schemas(root: Path, outputs: dict[str, ConfigOutput]) -> dict[str, Any]:
    # every split the layout keeps has rows and so a file (``outputs``: loadable configs only)
    return {
        name: pq.read_schema(root / next(iter(out.splits.values())).files[0].path).remove_metadata()
        for name, out in outputs.items()
    }


def _loadable(manifest: dict[str, Any]) -> dict[str, ConfigOutput]:
    """The configs with at least one split: the card lists these; a config whose splits all had
    no rows has no files and is named in the card's ``left_out`` instead.

    Raises:
        OcforgeError: no config has a row (nothing to release).
    """
    loadable = {n: o for n, o in _outputs(manifest).items() if o.splits}
    if not loadable:
        raise OcforgeError(
            f"nothing to release: every config of {manifest.get('name')!r} has 0 rows "
            f"({', '.join(manifest['configs'])}); see the ledger in release.json"
        )
    return loadable


def _data_files(manifest: dict[str, Any]) -> dict[str, str]:
    """repo path -> sha256 of every data file of a manifest."""
    return {
        f["path"]: f["sha256"]
        for cfg in manifest["configs"].values()
        for split in cfg["splits"].values()
        for f in split["files"]
    }


def scan_build(root: Path, manifest: dict[str, Any], allow: list[str]) -> None:
    """Secret scan of every data file of a build.

    Raises:
        SecretFoundError: naming file, row id and pattern of every finding.
    """
    paths = [
        f.path
        for out in _outputs(manifest).values()
        for split in out.splits.values()
        for f in split.files
    ]

    def scan(path: str) -> list:
        return scan_parquet(root / path, path, pq.read_schema(root / path).names[0], allow)

    # Parquet decoding and polars release the GIL: files side by side, findings in file order
    with ThreadPoolExecutor(max_workers=min(2, os.cpu_count() or 1)) as pool:
        findings = [finding for found in pool.map(scan, paths) for finding in found]
    if findings:
        raise SecretFoundError(findings)


# --------------------------------------------------------------------------- remote state


# --------------------------------------------------------------------------- diff and card


def _card_context(
    root: Path,
    manifest: dict[str, Any],
    settings: CardSettings,
    outputs: dict[str, ConfigOutput],
    schemas: dict[str, Any],
    staging: Path,
) -> tuple[dict[str, Any], dict[str, Path]]:
    """Everything the template needs except version-specific parts, and the plot files."""
    from ocforge.cards.dataset_card import LICENSE_NOTE, schema_fields
    from ocforge.cards.plots import render_plots
    from ocforge.cards.statistics import config_stats, removed_examples, response_lengths

    stats = [config_stats(root, n, o.kind, list(o.splits)) for n, o in outputs.items()]
    lengths = {
        s.name: response_lengths(root, s.name, list(outputs[s.name].splits))
        for s in stats
        if s.kind == "dialogues"
    }
    plots = render_plots(staging, stats, lengths)
    plot_files = {rel: staging / rel for items in plots.values() for _t, rel in items}
    ledger = Ledger.from_dict(manifest["ledger"])
    generators = [g for s in stats for g in s.generators]
    context = {
        "title": settings.pretty_name or manifest["name"],
        "description": (settings.description or manifest.get("description") or "").strip()
        or "Synthetic role-play data built with ocforge (the OpenCharacter method).",
        "stats": [asdict(s) for s in stats],
        "schemas": {n: schema_fields(s) for n, s in schemas.items()},
        "plots": plots,
        "ledger_summary": ledger.summary(),
        "ledger_rows": ledger.rows(),
        "ledger_modified": ledger.modified_rows(),
        "examples": {n: removed_examples(root, n) for n in outputs},
        "recipe_file": manifest["recipe"]["file"],
        "recipe_sha256": manifest["recipe"]["sha256"],
        "tools": manifest.get("tools", {}),
        "source_datasets": list(settings.source_datasets),
        "generators": generators,
        **_synthesis_provenance(root),
        "inputs": [{"sha256": None, "revision": None, **i} for i in manifest.get("inputs", [])],
        "license_note": LICENSE_NOTE.format(license=settings.license),
    }
    return context, plot_files


def _synthesis_provenance(root: Path) -> dict[str, Any]:
    """Generator model, sampling parameters and prompt hashes recorded by ``ocforge synth``."""
    path = root / "synthesis" / "synthesis.json"
    if not path.is_file():
        return {"synthesis": None, "prompts": {}}
    data = json.loads(path.read_text("utf-8"))
    backend = data.get("backend") or {}
    prompts = {
        name: (p.get("sha256") if isinstance(p, dict) else str(p))
        for name, p in (data.get("prompts") or {}).items()
    }
    return {
        "synthesis": {
            "model": backend.get("model"),
            "backend": backend.get("type"),
            "generation": data.get("generation") or {},
        },
        "prompts": {k: v for k, v in prompts.items() if v},
    }


def _sha256_json(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()


# --------------------------------------------------------------------------- release


def _log(progress: Progress | None, msg: str) -> None:
    if progress:
        progress(msg)


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
        target: ``local`` (embedded local Hub, see :func:`~ocforge.publish.hub_client.connect`)
            or ``hf``.
        version: explicit ``X.Y.Z``; must be newer than the latest release.
        bump: ``auto`` (major: schema changed, minor: rows changed, patch: card only) or a level.
        dry_run: compute and return the plan; push nothing.
        verify: load every config and split back at the new commit in a child process before
            tagging it (``False``: tag without loading; an untagged commit left by an earlier
            run is loaded before it is tagged all the same).
        allow_secret_patterns: secret-scan patterns to allow, added to the recipe's.
        endpoint, token, hub_root: override the target's location and credentials.
        staging_dir: keep the generated card, plots and ``release.json`` there (e.g. to read
            what a dry run would push); a temporary folder otherwise.

    Returns:
        :class:`ReleaseResult` with ``version``, ``tag``, ``commit`` and ``status``.

    Raises:
        SecretFoundError: the data or card contain token-like strings (nothing pushed).
        VersionError / TagExistsError: the requested version is not newer or already tagged.
        PublishError: the commit or tag could not be created (no tag exists for the version).
        VerificationError: the new commit does not load as ``release.json`` says; it was not
            tagged (see :mod:`ocforge.publish.tagging` for what the next run does with it).
        OcforgeError: every config of the build has 0 rows.
    """
    from ocforge.cards.dataset_card import (
        card_metadata,
        merge_card,
        render_release_body,
        template_sha256,
    )

    root = Path(build_dir).resolve()
    if not (root / MANIFEST_NAME).is_file():
        raise OcforgeError(
            f"{root} has no {MANIFEST_NAME}: not a folder written by 'ocforge build'"
        )
    manifest = read_manifest(root)
    Ledger.from_dict(manifest["ledger"]).check()
    settings, recipe_allow, test_fraction = _recipe_sections(manifest)
    allow = [*recipe_allow, *(allow_secret_patterns or [])]
    outputs = _loadable(manifest)
    schemas = _schemas(root, outputs)
    default = next((n for n, o in outputs.items() if o.kind == "dialogues"), next(iter(outputs)))

    _log(progress, "secret scan")
    scan_build(root, manifest, allow)

    with (
        tempfile.TemporaryDirectory(prefix="ocforge-release-") as tmp,
        connect(target, endpoint=endpoint, token=token, hub_root=hub_root) as conn,
    ):
        staging, cache = Path(staging_dir or Path(tmp) / "staging"), Path(tmp) / "cache"
        staging.mkdir(parents=True, exist_ok=True)
        _log(progress, f"reading {repo_id} on {conn.display}")
        try:
            remote = remote_state(conn, repo_id, cache)
        except Exception as exc:  # unreachable server, bad token, ...: name it, never the token
            raise HubAccessError(
                f"cannot read {repo_id} on {conn.display}: {type(exc).__name__}: {exc}"
            ) from exc
        latest = remote.latest
        previous = manifest_at(conn, repo_id, latest[1], cache) if latest else None

        _log(progress, "card statistics and plots")
        context, plot_files = _card_context(root, manifest, settings, outputs, schemas, staging)
        # splits and configs with no rows: not in the card's configs; the card names them
        context["left_out"] = [
            {"config": c, "splits": splits, "whole_config": c not in outputs}
            for c, splits in left_out_splits(manifest["configs"], test_fraction).items()
        ]
        metadata = card_metadata(settings, outputs, schemas, default)
        card_sha = _sha256_json([context, metadata.to_dict(), template_sha256()])
        current = {**manifest, "card_sha256": card_sha}

        data_sha = _data_files(manifest)
        local_by_sha = {sha: root / path for path, sha in data_sha.items()}

        # an untagged commit of an interrupted or failed run: tagged only if it is this very
        # build and loads; otherwise the commit below supersedes it
        finished = (
            None
            if dry_run
            else finish_untagged(conn, repo_id, remote, current, card_sha, root, data_sha, progress)
        )
        if finished is not None:
            v, plan, verified = finished
            return ReleaseResult(
                repo_id, str(v), v.tag, remote.head, "tagged", plan, verified, target=conn.display
            )

        level = change_level(previous, current, (previous or {}).get("card_sha256") != card_sha)
        if latest is not None and level is None:
            v, tag = latest
            if version and Version.parse(version) != v:
                _log(progress, f"content identical to {tag}: --version {version} ignored")
            plan = ReleasePlan(
                repo_id,
                conn.display,
                str(v),
                tag,
                "up-to-date",
                None,
                remote.head,
                previous.get("parent") if previous else None,
                manifest=previous or {},
            )
            result = ReleaseResult(
                repo_id,
                str(v),
                tag,
                remote.tag_commits.get(tag),
                "up-to-date",
                plan,
                target=conn.display,
            )
            if verify and not dry_run:
                result.verified = verify_release(
                    conn, repo_id, remote.tag_commits.get(tag) or tag, previous or current
                )
            return result

        new_version = next_version(latest[0] if latest else None, level, bump, version)
        if new_version in remote.tags:
            raise TagExistsError(
                f"tag {new_version.tag} already exists on {repo_id}; tags are never moved or "
                "overwritten: choose another --version"
            )
        parent = (
            {"version": str(latest[0]), "tag": latest[1], "commit": remote.tag_commits[latest[1]]}
            if latest
            else None
        )

        _log(progress, "changelog")
        old_rev = latest[1] if latest else None

        def old_file(f: dict[str, Any]) -> Path:
            # files a release keeps are byte-identical to the build's: read them locally
            if f["sha256"] in local_by_sha:
                return local_by_sha[f["sha256"]]
            return download(conn, repo_id, f["path"], old_rev, cache)  # type: ignore[arg-type]

        diff = diff_manifests(
            previous, manifest, old_file, lambda f: root / f["path"], old_rev, new_version.tag
        )
        changelog = changelog_markdown(diff)
        body = render_release_body(
            {
                **context,
                "version": str(new_version),
                "tag": new_version.tag,
                "repo_id": repo_id,
                "default_config": default,
                "changelog": changelog,
            }
        )
        previous_generated = (previous or {}).get("card_metadata")
        readme_text = merge_card(remote.readme, metadata, body, previous_generated)
        release_manifest = {
            **manifest,
            "version": str(new_version),
            "parent": parent,
            "repo": repo_id,
            "card_sha256": card_sha,
            "card_metadata": metadata.to_dict(),
            "changelog": changelog,
        }
        manifest_text = json.dumps(release_manifest, indent=2, ensure_ascii=False) + "\n"
        findings = scan_text(readme_text, README, allow) + scan_text(
            manifest_text, MANIFEST_NAME, allow
        )
        if findings:
            raise SecretFoundError(findings)
        (staging / README).write_text(readme_text, encoding="utf-8")
        (staging / MANIFEST_NAME).write_text(manifest_text, encoding="utf-8")

        local_files = {p: root / p for p in data_sha}
        local_files.update(plot_files)
        local_files[README] = staging / README
        local_files[MANIFEST_NAME] = staging / MANIFEST_NAME
        plan = ReleasePlan(
            repo_id=repo_id,
            target=conn.display,
            version=str(new_version),
            tag=new_version.tag,
            status="release",
            level=level,
            base_commit=remote.head,
            parent=parent,
            files=file_actions(local_files, remote.tree, data_sha),
            changelog=changelog,
            card_diff=card_diff(remote.readme, readme_text, "main", new_version.tag),
            manifest=release_manifest,
        )
        if dry_run:
            return ReleaseResult(
                repo_id,
                str(new_version),
                new_version.tag,
                None,
                "dry-run",
                plan,
                target=conn.display,
            )

        _log(progress, f"pushing {len(plan.uploads)} files ({plan.bytes_to_upload:,} bytes)")
        if not remote.exists:
            create_repo(conn, plan, private)
        commit = _commit(conn, plan)
        verified = verify_then_tag(conn, plan, commit, verify=verify, progress=progress)
        return ReleaseResult(
            repo_id,
            str(new_version),
            new_version.tag,
            commit,
            "released",
            plan,
            verified,
            bytes_uploaded=plan.bytes_to_upload,
            target=conn.display,
        )


# --------------------------------------------------------------------------- recipe -> release


def build_is_current(recipe: Recipe, build_dir: Path) -> bool:
    """True when ``build_dir`` holds a complete build of this recipe and these exact inputs."""
    from ocforge import __version__
    from ocforge.builders.sources import input_fingerprint

    path = Path(build_dir) / MANIFEST_NAME
    if not path.is_file():
        return False
    manifest = read_manifest(Path(build_dir))
    if manifest.get("recipe", {}).get("sha256") != recipe.sha256:
        return False
    if manifest.get("tools", {}).get("ocforge") not in (__version__, None):
        return False
    specs = [*recipe.characters.inputs, *(s for d in recipe.dialogues for s in d.inputs)]
    if any(s.path is None and s.hub is None for s in specs):
        return False  # synthesized inputs exist only once the build ran (it resumes them)
    recorded = [
        {k: v for k, v in i.items() if k in ("sha256", "hub", "revision")}
        for i in manifest.get("inputs", [])
    ]
    if recorded != [input_fingerprint(s) for s in specs]:
        return False
    return all((Path(build_dir) / rel).is_file() for rel in _data_files(manifest))


def default_build_dir(recipe: Recipe) -> Path:
    return Path(".ocforge") / "builds" / recipe.name


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
    from ocforge.flows.build import build

    repo = repo_id or recipe.publish.repo
    if not repo:
        raise OcforgeError("no repo to release to: pass --repo ORG/NAME or set publish.repo")
    out = Path(build_dir or default_build_dir(recipe))
    if rebuild or not build_is_current(recipe, out):
        _log(progress, f"building {recipe.name} into {out}")
        build(recipe, out, progress=progress)
    else:
        _log(progress, f"build in {out} is up to date")
    return release_build(
        out,
        repo,
        target=target or recipe.publish.target,
        private=recipe.publish.private if private is None else private,
        allow_secret_patterns=[
            *recipe.publish.allow_secret_patterns,
            *kwargs.pop("allow_secret_patterns", []),
        ],
        progress=progress,
        **kwargs,
    )


# --------------------------------------------------------------------------- listing and diff
