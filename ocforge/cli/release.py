"""CLI commands for releases: ``release``, ``publish dataset``, ``releases``, ``diff``.

``publish dataset`` is in :mod:`ocforge.cli.publish`, with the same options; the work is done by
:mod:`ocforge.flows.release`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from ocforge.cli.common import datatrove_logs
from ocforge.cli.console import TargetOpt, as_target
from ocforge.cli.console import fail as _fail
from ocforge.errors import OcforgeError

console = Console(soft_wrap=True, highlight=False)
err_console = Console(stderr=True, soft_wrap=True, highlight=False)

app = typer.Typer()

RepoOpt = Annotated[str, typer.Option("--repo", help="Dataset repo ORG/NAME.")]
VersionOpt = Annotated[
    str | None, typer.Option("--version", help="Explicit version X.Y.Z (must be new).")
]
BumpOpt = Annotated[
    str,
    typer.Option(
        "--bump", help="auto (schema->major, rows->minor, card->patch), major, minor or patch."
    ),
]
PrivateOpt = Annotated[bool, typer.Option("--private", help="Create the repo as private.")]
DryRunOpt = Annotated[
    bool, typer.Option("--dry-run", help="Print the plan and card diff; push nothing.")
]
NoVerifyOpt = Annotated[
    bool,
    typer.Option(
        "--no-verify",
        help="Tag the new commit without loading it back with load_dataset first "
        "(an untagged commit left by an earlier run is always loaded before it is tagged).",
    ),
]
PullRequestOpt = Annotated[
    bool,
    typer.Option(
        "--pr",
        help="Open the release as a pull request for review instead of committing to main and "
        "tagging; merge it, then run the release again to tag it.",
    ),
]
PreviewOpt = Annotated[
    Path | None,
    typer.Option(
        "--preview", help="Write the card and its plots as an HTML preview to this folder."
    ),
]


def check_choice(value: str, choices: tuple[str, ...], option: str) -> None:
    if value not in choices:
        _fail(OcforgeError(f"{option} must be one of {', '.join(choices)} (got {value!r})"))


def quiet() -> None:
    from huggingface_hub.utils import disable_progress_bars

    datatrove_logs(False)
    disable_progress_bars()


def report(result: Any, preview: Path | None, hub: dict[str, Any]) -> None:
    plan = result.plan
    if result.status == "dry-run":
        console.print("[bold]dry run[/]: nothing was pushed", markup=True)
        console.print(plan.format())
        return
    if result.status in ("pull-request", "pull-request-open"):
        report_pull_request(result)
        return
    words = {
        "released": f"released {result.tag}",
        "up-to-date": f"up to date: the content is already release {result.tag}; no commit made",
        "tagged": f"finished {result.tag}: the commit an earlier run had pushed loads; tagged it",
    }
    console.print(f"[green]{words[result.status]}[/]", markup=True)
    console.print(f"repo:    {result.repo_id} on {result.target}")
    console.print(f"version: {result.version}")
    console.print(f"commit:  {result.commit}")
    if result.status == "released":
        counts = plan.summary()
        console.print(
            f"files:   {counts['add']} added, {counts['replace']} replaced, "
            f"{counts['delete']} deleted, {counts['keep']} unchanged; "
            f"{result.bytes_uploaded:,} bytes uploaded"
        )
        if plan.changelog:
            console.print(
                "changelog:\n" + "\n".join("  " + ln for ln in plan.changelog.splitlines())
            )
    if result.verified:
        table = Table(title=f"load_dataset({result.repo_id!r}, config, revision={result.tag!r})")
        for col in ("config", "split", "rows (loaded)", "rows (release.json)"):
            table.add_column(col)
        for v in result.verified:
            table.add_row(v.config, v.split, str(v.loaded), str(v.expected))
        console.print(table)
    # a plan always carries the manifest it publishes (or the release it is up to date with)
    if plan.manifest is not None:
        ledger = plan.manifest.ledger.to_ledger()
        table = Table(title="ledger")
        for col in ("config", "input", "kept", "dropped", "duplicates", "quarantined"):
            table.add_column(col)
        for name, led in ledger.configs.items():
            d = led.to_dict()
            table.add_row(
                name,
                *(str(d[k]) for k in ("input", "kept", "dropped", "duplicates", "quarantined")),
            )
        console.print(table)
        console.print(f"ledger:  {ledger.summary()}")
    if preview is not None:
        from ocforge.flows.release import write_card_preview

        page = write_card_preview(result.repo_id, result.tag, preview, **hub)
        console.print(f"card:    {page}")


def report_pull_request(result: Any) -> None:
    pr = result.pull_request
    state = "opened" if result.status == "pull-request" else "already open:"
    console.print(f"[green]{state} pull request #{pr.num} for {result.tag}[/]", markup=True)
    console.print(f"repo:    {result.repo_id} on {result.target}")
    console.print(f"review:  {pr.url}")
    console.print(f"load:    load_dataset({result.repo_id!r}, revision={pr.revision!r})")
    console.print(f"commit:  {result.commit}")
    for v in result.verified:
        console.print(f"loaded:  {v.config}/{v.split} {v.loaded} rows (release.json {v.expected})")
    console.print(
        f"not tagged: merge the pull request, then run the release again to tag {result.tag}"
    )


@app.command("release")
def release_command(
    recipe: Annotated[Path, typer.Argument(help="Recipe YAML file.")],
    repo: Annotated[
        str | None, typer.Option("--repo", help="Dataset repo ORG/NAME (default: publish.repo).")
    ] = None,
    target: Annotated[
        str | None,
        typer.Option("--target", help="local (default from the recipe) or hf."),
    ] = None,
    version: VersionOpt = None,
    bump: BumpOpt = "auto",
    private: Annotated[
        bool | None, typer.Option("--private/--public", help="Repo visibility on creation.")
    ] = None,
    dry_run: DryRunOpt = False,
    no_verify: NoVerifyOpt = False,
    pull_request: PullRequestOpt = False,
    build_dir: Annotated[
        Path | None,
        typer.Option("--build-dir", help="Build folder (default .ocforge/builds/<recipe name>)."),
    ] = None,
    rebuild: Annotated[
        bool, typer.Option("--rebuild", help="Build even if the build folder is up to date.")
    ] = False,
    preview: PreviewOpt = None,
) -> None:
    """Build a recipe (or reuse an up-to-date build), publish it, verify it and tag it."""
    from ocforge.flows.release import release
    from ocforge.recipe import load_recipe

    check_choice(bump, ("auto", "major", "minor", "patch"), "--bump")
    quiet()
    try:
        loaded = load_recipe(recipe)
        result = release(
            loaded,
            repo,
            build_dir=build_dir,
            rebuild=rebuild,
            target=as_target(target) if target is not None else None,
            private=private,
            version=version,
            bump=bump,
            dry_run=dry_run,
            verify=not no_verify,
            pull_request=pull_request,
            progress=lambda m: err_console.print(f"[dim]{m}[/]", markup=True),
        )
        report(result, preview, {"target": target or loaded.publish.target})
    except OcforgeError as exc:
        _fail(exc)


@app.command("releases")
def releases_command(
    repo: Annotated[str, typer.Argument(help="Dataset repo ORG/NAME.")],
    target: TargetOpt = "local",
) -> None:
    """List a dataset repo's release versions with dates, commits and row counts."""
    from ocforge.publish.history import list_releases

    quiet()
    try:
        infos = list_releases(repo, target=as_target(target))
    except OcforgeError as exc:
        _fail(exc)
    if not infos:
        console.print(f"{repo}: no releases")
        return
    table = Table(title=f"releases of {repo}")
    for col in ("version", "date", "commit", "rows"):
        table.add_column(col)
    for info in infos:
        rows = ", ".join(f"{c} {n}" for c, n in info.rows.items())
        table.add_row(info.tag, info.date[:19], info.commit[:12], rows)
    console.print(table)


@app.command("diff")
def diff_command(
    repo: Annotated[str, typer.Argument(help="Dataset repo ORG/NAME.")],
    old: Annotated[str, typer.Argument(help="Older version, e.g. v1.0.0.")],
    new: Annotated[str, typer.Argument(help="Newer version, e.g. v1.1.0.")],
    target: TargetOpt = "local",
    ids: Annotated[int, typer.Option("--ids", help="Row ids to show per change kind.")] = 10,
) -> None:
    """Rows added, removed and changed per config and split (by id), and the card diff."""
    from ocforge.publish.history import diff_releases

    quiet()
    try:
        result = diff_releases(repo, old, new, target=as_target(target))
    except OcforgeError as exc:
        _fail(exc)
    for cfg in result.configs_added:
        console.print(f"config {cfg}: added")
    for cfg in result.configs_removed:
        console.print(f"config {cfg}: removed")
    for cfg in result.schema_changed:
        console.print(f"config {cfg}: schema changed")
    table = Table(title=f"{repo}: {result.old} -> {result.new}")
    for col in ("config", "split", "rows", "added", "removed", "changed"):
        table.add_column(col)
    for s in result.splits:
        table.add_row(
            s.config,
            s.split,
            f"{s.rows_before} -> {s.rows_after}",
            str(len(s.added)),
            str(len(s.removed)),
            str(len(s.changed)),
        )
    console.print(table)
    for s in result.splits:
        for kind in ("added", "removed", "changed"):
            found = getattr(s, kind)
            if found:
                more = f" (+{len(found) - ids} more)" if len(found) > ids else ""
                console.print(f"{s.config}/{s.split} {kind}: {', '.join(found[:ids])}{more}")
    console.print(result.card_diff.rstrip() or "card: unchanged")
