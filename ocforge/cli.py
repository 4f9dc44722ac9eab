"""The ``ocforge`` command line."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from ocforge import __version__, redaction
from ocforge.builders.synthesis.cli import synth
from ocforge.console import console, err_console
from ocforge.console import fail as _fail
from ocforge.errors import OcforgeError
from ocforge.publish.localhub.cli import hub_app

app = typer.Typer(
    name="ocforge",
    help="Build, curate and publish synthetic role-play datasets (the OpenCharacter method).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,  # locals may hold tokens
)


def _version(value: bool) -> None:
    if value:
        console.print(f"ocforge {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")
    ] = False,
) -> None:
    """ocforge: datatrove pipelines from personas and instructions to versioned Hub datasets."""
    # every command's logs and warnings: signed URLs and tokens never reach the terminal
    redaction.install()


def _datatrove_logs(verbose: bool) -> None:
    # datatrove logs every task at INFO on stderr (it resets loguru's handlers per task), which
    # buries ocforge's own progress; its per-stage stats still land in OUT/logs/.
    from loguru import logger

    from ocforge.filters import executors

    executors.CONSOLE_LOGS = verbose
    if verbose:
        logger.enable("datatrove")
    else:
        logger.disable("datatrove")
        _no_progress_bars()


def _no_progress_bars() -> None:
    # datatrove's dedup stages and datasets draw tqdm bars of their own; tqdm reads TQDM_DISABLE
    # only when it is first imported, so switch the default off on the class itself.
    from functools import partialmethod

    import datasets
    from tqdm import tqdm

    datasets.disable_progress_bars()
    # worker processes import tqdm afresh: they read the environment
    os.environ.setdefault("TQDM_DISABLE", "1")
    tqdm.__init__ = partialmethod(tqdm.__init__, disable=True)  # type: ignore[method-assign]


@app.command()
def validate(recipe: Annotated[Path, typer.Argument(help="Recipe YAML file.")]) -> None:
    """Check a recipe: schema, unknown keys, input files. Prints the configs it would build."""
    from ocforge.builders.sources import check_recipe_inputs
    from ocforge.recipe import load_recipe

    try:
        loaded = load_recipe(recipe)
        check_recipe_inputs(loaded)  # each local input opened in its format
    except OcforgeError as exc:
        _fail(exc)
    console.print(f"[green]ok[/] {recipe}: recipe '{loaded.name}'")
    for name in loaded.config_names():
        console.print(f"  config {name}")


@app.command()
def build(
    recipe: Annotated[Path, typer.Argument(help="Recipe YAML file.")],
    out: Annotated[
        Path,
        typer.Option("--out", help="Output folder (created; a previous build there is replaced)."),
    ],
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Show datatrove's task logs.")
    ] = False,
) -> None:
    """Run the recipe's pipelines and write a dataset folder in the Hub layout."""
    from ocforge.build import build as run_build
    from ocforge.recipe import load_recipe

    _datatrove_logs(verbose)
    try:
        loaded = load_recipe(recipe)
        with Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            TimeElapsedColumn(),
            console=err_console,
            transient=True,
        ) as progress:
            task = progress.add_task("starting", total=None)
            result = run_build(
                loaded, out, progress=lambda msg: progress.update(task, description=msg)
            )
    except OcforgeError as exc:
        _fail(exc)
    totals = result.ledger.totals()
    console.print(
        f"[green]built[/] {result.out_dir}: kept {totals['kept']} of {totals['input']} input rows "
        f"(dropped {totals['dropped']}, duplicates {totals['duplicates']}, quarantined {totals['quarantined']})"
    )
    if result.ledger.synthesis:
        console.print(
            f"synthesis set aside {result.ledger.synthesis_total()} rows before curation "
            "(see the ledger in release.json or 'ocforge inspect')"
        )
    for name, led in result.ledger.configs.items():
        if led.kept == 0:
            console.print(
                f"[yellow]config {name} kept no rows[/] (input {led.input}; see the ledger)"
            )


@app.command()
def inspect(
    build_dir: Annotated[Path, typer.Argument(help="A folder written by 'ocforge build'.")],
) -> None:
    """Load a build back with datasets.load_dataset and summarise it: rows, ledger, location.

    Fails when a config or split loads with a row count other than the manifest's.
    """
    from ocforge.inspect import load_and_compare

    _no_progress_bars()
    try:
        report = load_and_compare(build_dir)
    except OcforgeError as exc:
        _fail(exc)
    table = Table(title=f"{report.name}: loaded with datasets.load_dataset")
    for col in ("config", "split", "rows (loaded)", "rows (manifest)"):
        table.add_column(col)
    for row in report.splits:
        table.add_row(row.config, row.split, str(row.loaded), str(row.expected))
    console.print(table)
    ledger = Table(title="ledger by reason")
    for col in ("config", "outcome", "reason", "rows"):
        ledger.add_column(col)
    for row in report.ledger.rows():
        ledger.add_row(row["config"], row["outcome"], row["reason"] or "-", str(row["rows"]))
    console.print(ledger)
    console.print(report.ledger.summary())
    console.print(f"dataset folder: {report.root}")
    console.print(f"removed rows:   {report.root / 'removed'}")
    console.print(f"quarantined:    {report.root / 'quarantine'}")
    if report.mismatches:
        _fail(
            OcforgeError(
                "loaded row counts differ from release.json: " + "; ".join(report.mismatches)
            )
        )


app.add_typer(hub_app, name="hub", help="Run the local Hub-compatible server.")
app.command("synth")(synth)

# `publish` group: shared by `publish model` (ocforge/cli_publish.py) and `publish dataset`
from ocforge.cli_eval import eval_app  # noqa: E402
from ocforge.cli_publish import publish_app  # noqa: E402

# releases (ocforge/publish/release_cli.py)
from ocforge.publish.release_cli import (  # noqa: E402
    diff_command,
    publish_dataset,
    release_command,
    releases_command,
)

app.command("release")(release_command)
app.command("releases")(releases_command)
app.command("diff")(diff_command)
publish_app.command("dataset")(publish_dataset)
app.add_typer(publish_app, name="publish")
app.add_typer(eval_app, name="eval")
