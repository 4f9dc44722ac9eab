"""``ocforge validate``, ``build`` and ``inspect``: a recipe checked, built and loaded back."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from ocforge.cli.common import datatrove_logs, no_progress_bars
from ocforge.cli.console import console, err_console
from ocforge.cli.console import fail as _fail
from ocforge.errors import OcforgeError

app = typer.Typer()


@app.command()
def validate(recipe: Annotated[Path, typer.Argument(help="Recipe YAML file.")]) -> None:
    """Check a recipe: schema, unknown keys, input files. Prints the configs it would build."""
    from ocforge.inputs import check_recipe_inputs
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
    from ocforge.flows.build import build as run_build
    from ocforge.recipe import load_recipe

    datatrove_logs(verbose)
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
    if result.ledger.synthesis_total():
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
    from ocforge.flows.inspect import load_and_compare

    no_progress_bars()
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
