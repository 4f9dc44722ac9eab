"""``ocforge synth RECIPE --out DIR``: run a recipe's synthesis section."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ocforge.cli.common import datatrove_logs
from ocforge.cli.console import console, err_console
from ocforge.cli.console import fail as _fail
from ocforge.errors import OcforgeError

app = typer.Typer()


@app.command("synth")
def synth(
    recipe: Annotated[Path, typer.Argument(help="Recipe YAML file with a 'synthesis:' section.")],
    out: Annotated[
        Path,
        typer.Option("--out", help="Output folder (a previous run of the same synthesis resumes)."),
    ],
    fresh: Annotated[
        bool, typer.Option("--fresh", help="Discard saved results in OUT and start over.")
    ] = False,
    endpoint_url: Annotated[
        str | None,
        typer.Option("--endpoint-url", help="Override synthesis.backend.endpoint_url."),
    ] = None,
    model: Annotated[
        str | None, typer.Option("--model", help="Override synthesis.backend.model.")
    ] = None,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Show datatrove's task logs.")
    ] = False,
) -> None:
    """Generate character profiles and in-character dialogues (OpenCharacter-R/-G) as JSONL.

    Writes OUT/characters.jsonl, OUT/dialogues-<strategy>.jsonl, OUT/quarantine/ and
    OUT/synthesis.json (ledger and provenance); 'ocforge build' curates them.
    """
    from ocforge.builders.synthesis.run import synthesize
    from ocforge.recipe import load_recipe

    datatrove_logs(verbose)
    try:
        loaded = load_recipe(recipe)
        if loaded.synthesis is not None and (endpoint_url or model):
            backend = loaded.synthesis.backend.model_copy(
                update={
                    k: v for k, v in {"endpoint_url": endpoint_url, "model": model}.items() if v
                }
            )
            synthesis = loaded.synthesis.model_copy(update={"backend": backend})
            loaded = loaded.model_copy(update={"synthesis": synthesis})
        result = synthesize(
            loaded, out, fresh=fresh, progress=lambda msg: err_console.print(msg, highlight=False)
        )
    except OcforgeError as exc:
        _fail(exc)
    for name, stage in result.ledger["stages"].items():
        req = stage["requests"]
        console.print(
            f"{name}: {stage['ok']} ok, {stage['quarantined']} quarantined, {stage['failed']} failed "
            f"of {stage['items']} (requests sent {req['sent']}, answered {req['answered']}, "
            f"failed {req['failed']})"
        )
    console.print(f"[green]synthesized[/] {result.out_dir}")
