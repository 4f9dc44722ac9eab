"""The ``ocforge`` command line: the root app and where every command module is mounted.

Each module of this package defines its commands on its own ``app`` (``typer.Typer``) and is
mounted here, at the top level or as a group; none imports another's private names."""

from __future__ import annotations

from typing import Annotated

import typer

from ocforge import __version__, redaction
from ocforge.cli import curate, evals, hub, publish, release, synth, train
from ocforge.cli.console import console

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


# top-level commands
app.add_typer(curate.app)  # validate, build, inspect
app.add_typer(synth.app)  # synth
app.add_typer(release.app)  # release, releases, diff
# groups
app.add_typer(publish.app, name="publish")  # publish dataset, publish model
app.add_typer(evals.app, name="eval")  # eval register, run, push, judge
app.add_typer(train.app, name="train")  # train sft
app.add_typer(hub.app, name="hub")  # hub serve
