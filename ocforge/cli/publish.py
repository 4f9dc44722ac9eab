"""``ocforge publish dataset`` and ``publish model``: the ``publish`` command group."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ocforge.cli.console import TargetOpt, as_target, connected
from ocforge.cli.console import console as _out
from ocforge.cli.console import err_console as _err
from ocforge.cli.console import fail as _fail
from ocforge.cli.release import (
    BumpOpt,
    DryRunOpt,
    NoVerifyOpt,
    PreviewOpt,
    PrivateOpt,
    PullRequestOpt,
    RepoOpt,
    VersionOpt,
    check_choice,
    err_console,
    quiet,
    report,
)
from ocforge.errors import OcforgeError

if TYPE_CHECKING:  # the CLI imports the publishing code only when a command runs
    from ocforge.models.publish import ModelPublishResult

app = typer.Typer(
    help="Publish datasets and models to the local Hub or huggingface.co.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,  # locals may hold tokens
)


def _report_model(result: ModelPublishResult, checkpoint: Path, repo: str, where: str) -> None:
    """What ``publish model`` did: warnings, the release and training named, files, the tag."""
    for warning in result.warnings:
        _err.print(f"[yellow]warning:[/] {warning}", highlight=False)
    ds = result.dataset
    _out.print(f"dataset release: {ds.repo_id}@{ds.revision} (commit {ds.sha[:12]})")
    if result.training:
        recipe = result.training["recipe"]
        _out.print(
            f"training: {checkpoint / 'training.json'} ({result.training.get('rows_used')} rows, "
            f"recipe {recipe.get('name')}, sha256 {str(recipe.get('sha256'))[:12]}) -> the "
            "card's Training section",
            highlight=False,
        )
    else:
        _out.print("training: no training.json (the card lists trainer_state.json's facts only)")
    _out.print(
        f"files: {len(result.uploaded)} to upload, {len(result.unchanged)} unchanged, "
        f"{len(result.deleted)} to delete"
    )
    if result.dry_run:
        for rel in result.uploaded:
            _out.print(f"  + {rel}")
        for rel in result.deleted:
            _out.print(f"  - {rel}")
        _out.print(f"[cyan]dry run[/]: would publish {repo} {result.tag} to {where}")
        return
    state = "published" if result.created_commit else "up to date"
    _out.print(
        f"[green]{state}[/] {repo} {result.tag} -> commit {result.commit} on {where}"
        + ("" if result.created_tag else " (tag already there)")
    )


@app.command("model")
def publish_model_command(
    checkpoint: Annotated[Path, typer.Argument(help="Checkpoint folder (save_pretrained output).")],
    repo: Annotated[str, typer.Option("--repo", help="Model repo ORG/NAME.")],
    base_model: Annotated[
        str | None,
        typer.Option(
            "--base-model",
            help="Hub id of the base model (default: the one training.json names, if on a Hub).",
        ),
    ] = None,
    dataset: Annotated[
        str | None,
        typer.Option(
            "--dataset",
            help="Dataset release trained on: ORG/NAME@vX.Y.Z (default: the one training.json "
            "names; if given, it must be that commit).",
        ),
    ] = None,
    target: TargetOpt = "local",
    version: Annotated[
        str | None, typer.Option("--version", help="X.Y.Z (default: next minor, 1.0.0 first).")
    ] = None,
    license: Annotated[str, typer.Option("--license", help="License id for the card.")] = "other",
    tag: Annotated[
        list[str] | None, typer.Option("--tag", help="Card tag (repeatable; replaces defaults).")
    ] = None,
    private: Annotated[bool, typer.Option("--private", help="Create the repo private.")] = False,
    allow_pickle: Annotated[
        bool, typer.Option("--allow-pickle", help="Accept pickle (.bin/.pt) weights.")
    ] = False,
    include: Annotated[
        list[str] | None, typer.Option("--include", help="Glob: upload even if it looks stray.")
    ] = None,
    exclude: Annotated[
        list[str] | None, typer.Option("--exclude", help="Glob: leave these files out.")
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Validate and show the plan; push nothing.")
    ] = False,
) -> None:
    """Validate a checkpoint, write its model card, push both in one commit and tag it vX.Y.Z."""
    from ocforge.models.publish import publish_model

    with connected(target) as conn:
        result = publish_model(
            conn.api,
            checkpoint,
            repo,
            base_model=base_model,
            dataset=dataset,
            version=version,
            private=private,
            license=license,
            tags=tag or None,
            allow_pickle=allow_pickle,
            include=include or (),
            exclude=exclude or (),
            dry_run=dry_run,
        )
        where = conn.display
    _report_model(result, checkpoint, repo, where)


@app.command("dataset")
def publish_dataset(
    build_dir: Annotated[Path, typer.Argument(help="A folder written by 'ocforge build'.")],
    repo: RepoOpt,
    target: TargetOpt = "local",
    version: VersionOpt = None,
    bump: BumpOpt = "auto",
    private: PrivateOpt = False,
    dry_run: DryRunOpt = False,
    no_verify: NoVerifyOpt = False,
    pull_request: PullRequestOpt = False,
    preview: PreviewOpt = None,
) -> None:
    """Publish an existing build as a new tagged version of a dataset repo."""
    from ocforge.flows.release import release_build

    check_choice(bump, ("auto", "major", "minor", "patch"), "--bump")
    quiet()
    try:
        result = release_build(
            build_dir,
            repo,
            target=as_target(target),
            version=version,
            bump=bump,  # type: ignore[arg-type]
            private=private,
            dry_run=dry_run,
            verify=not no_verify,
            pull_request=pull_request,
            progress=lambda m: err_console.print(f"[dim]{m}[/]", markup=True),
        )
        report(result, preview, {"target": target})
    except OcforgeError as exc:
        _fail(exc)
