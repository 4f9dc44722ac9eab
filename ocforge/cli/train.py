"""``ocforge train ...``: fine-tune a model on a dataset release."""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Annotated

import typer

from ocforge.cli.console import TargetOpt, connected
from ocforge.cli.console import console as _out

app = typer.Typer(
    help="Fine-tune a model on a dataset release (TRL's SFTTrainer).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,  # locals may hold tokens
)


def _quiet_libraries() -> None:
    # datasets' map/filter bars and transformers' info logs would bury the progress bar; set
    # through the environment (read when they are imported) so a bad option fails fast
    os.environ.setdefault("HF_DATASETS_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    # deprecation notices between transformers, peft and TRL are theirs to settle, not the user's
    warnings.filterwarnings("ignore", category=FutureWarning, module=r"(transformers|peft|trl)\.")


@app.command("sft")
def sft_command(
    dataset: Annotated[str, typer.Option("--dataset", help="Release: ORG/NAME@vX.Y.Z.")],
    out: Annotated[Path, typer.Option("--out", help="Folder for the trained model.")],
    base_model: Annotated[
        str | None,
        typer.Option(
            "--base-model",
            help="Model folder, or ORG/NAME[@REV] on the target Hub (default: the recipe's).",
        ),
    ] = None,
    recipe: Annotated[
        Path | None,
        typer.Option(
            "--recipe", help="Training recipe YAML (default: configs/train/opencharacter-8b.yaml)."
        ),
    ] = None,
    max_steps: Annotated[
        int | None, typer.Option("--max-steps", min=1, help="Stop after N optimizer steps.")
    ] = None,
    resume: Annotated[
        bool, typer.Option("--resume", help="Continue the run in --out from its last checkpoint.")
    ] = False,
    target: TargetOpt = "local",
) -> None:
    """SFT on the release's train split (loaded at the tag's commit), loss on the answers only."""
    from ocforge.train.sft import run_sft

    _quiet_libraries()
    with connected(target) as conn:
        result = run_sft(
            conn,
            dataset,
            out,
            base_model=base_model,
            recipe_path=recipe,
            max_steps=max_steps,
            resume=resume,
            progress=True,
        )
    m = result.manifest
    ds = m["dataset"]
    resumed = f", resumed from {result.resumed_from}" if result.resumed_from else ""
    _out.print(
        f"[green]trained[/] {out}: {result.global_step} steps on {ds['repo_id']}@{ds['revision']} "
        f"(commit {ds['sha']}){resumed}"
    )
    for config, entry in m["data"].items():
        dropped = ", ".join(f"{k} {v}" for k, v in entry["dropped"].items()) or "none"
        _out.print(f"  {config}: {entry['used']} of {entry['rows']} rows used; dropped: {dropped}")
    _out.print(
        f"manifest: {out / 'training.json'} (recipe {m['recipe']['name']}, sha256 {m['recipe']['sha256'][:12]})"
    )
    # the manifest names the release: publishing needs no --dataset (and checks one if given)
    _out.print(f"next: ocforge publish model {out} --repo ORG/NAME [--base-model HUB_ID]")
