"""``ocforge train ...``: fine-tune a model on a dataset release."""

from __future__ import annotations

import typer

app = typer.Typer(
    help="Fine-tune a model on a dataset release (TRL's SFTTrainer).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,  # locals may hold tokens
)
