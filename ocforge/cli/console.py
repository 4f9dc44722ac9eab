"""Terminal output shared by every ``ocforge`` command: consoles, error exit, quiet clients."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING, Annotated, NoReturn, cast

import typer
from rich.console import Console
from rich.markup import escape

from ocforge.errors import OcforgeError
from ocforge.redaction import redact_text

if TYPE_CHECKING:  # the Hub client is imported by the commands that connect, not at start-up
    from ocforge.publish.hub_client import HubConnection, Target

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


#: ``--target`` of every command that talks to a Hub
TargetOpt = Annotated[
    str,
    typer.Option(
        "--target",
        help="'local': OCFORGE_HUB_URL, else an in-process local Hub over OCFORGE_HUB_ROOT "
        "(default .ocforge/hub); 'hf': huggingface.co with your saved token.",
    ),
]


def as_target(value: str) -> Target:
    """``--target`` checked (a one-line error naming the choices otherwise) and narrowed to the
    type :func:`~ocforge.publish.hub_client.connect` takes."""
    if value not in ("local", "hf"):
        fail(OcforgeError(f"--target must be one of local, hf (got {value!r})"))
    return cast("Target", value)


def quiet_hub() -> None:
    """Silence huggingface_hub's progress bars and "no files modified" warnings: the commands
    print their own summary of what was pushed."""
    from huggingface_hub import logging as hf_logging
    from huggingface_hub.utils import disable_progress_bars

    disable_progress_bars()
    hf_logging.set_verbosity_error()


@contextlib.contextmanager
def connected(target: str) -> Iterator[HubConnection]:
    """The ``--target`` Hub, opened with quiet clients; an :class:`OcforgeError` raised inside
    (or while connecting) becomes the one-line error exit."""
    from ocforge.publish.hub_client import connect

    quiet_hub()
    try:
        with connect(as_target(target)) as conn:
            yield conn
    except OcforgeError as exc:
        fail(exc)
