"""Terminal output shared by every ``ocforge`` command: consoles, error exit, quiet clients."""

from __future__ import annotations

from typing import NoReturn

import typer
from rich.console import Console
from rich.markup import escape

from ocforge.redaction import redact_text

# soft_wrap: long paths and error lines stay on one line (and greppable) whatever the width
console = Console(soft_wrap=True)
err_console = Console(stderr=True, soft_wrap=True)


def fail(exc: Exception) -> NoReturn:
    """Print ``exc`` as an error (no traceback) and exit with status 1. Signed URLs and
    token-like strings are redacted; the message is escaped, so text such as ``[Name]`` in it
    is shown as written rather than read as console markup."""
    message = escape(redact_text(str(exc)))
    err_console.print(f"[bold red]error:[/] {message}", highlight=False, markup=True)
    raise typer.Exit(code=1)


def quiet_hub() -> None:
    """Silence huggingface_hub's progress bars and "no files modified" warnings: the commands
    print their own summary of what was pushed."""
    from huggingface_hub import logging as hf_logging
    from huggingface_hub.utils import disable_progress_bars

    disable_progress_bars()
    hf_logging.set_verbosity_error()
