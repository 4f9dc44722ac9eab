"""``ocforge hub serve``: run the local Hub-compatible server."""

from __future__ import annotations

import logging
import os
import signal
import stat
import sys
import threading
from pathlib import Path
from typing import Annotated

import typer

from ocforge.hub.auth import TOKENS_ENV_VAR, TokenConfigError, TokenStore, generate_token
from ocforge.hub.clientenv import client_env, shell_exports, token_file_export
from ocforge.hub.local import LocalHub

app = typer.Typer(help="Local Hugging Face Hub-compatible server.", no_args_is_help=True)


@app.callback()
def _hub() -> None:
    """Local Hugging Face Hub-compatible server."""


DEFAULT_PORT = 8765
GENERATED_TOKEN_FILE = "tokens"


def _ensure_generated_token_file(root: Path) -> Path:
    """``ROOT/tokens`` with one fresh write token, created (mode 0600) if missing."""
    path = root / GENERATED_TOKEN_FILE
    if not path.exists():
        root.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(f"{generate_token()}\tlocal\n")
    return path


def _warn_if_readable(path: Path) -> None:
    mode = path.stat().st_mode
    if mode & (stat.S_IRGRP | stat.S_IROTH):
        typer.echo(f"warning: token file {path} is readable by other users (chmod 600).", err=True)


@app.command()
def serve(
    root: Annotated[Path, typer.Option("--root", help="Folder holding the repositories.")],
    host: Annotated[str, typer.Option(help="Address to bind (loopback by default).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port (0 = any free port).")] = DEFAULT_PORT,
    token_file: Annotated[
        Path | None,
        typer.Option(
            "--token-file",
            help="Tokens, one per line: TOKEN, optionally followed by USERNAME and a role "
            "(read or write). Without it and without "
            f"${TOKENS_ENV_VAR}, ROOT/{GENERATED_TOKEN_FILE} is created with a random token.",
        ),
    ] = None,
    log_level: Annotated[str, typer.Option(help="debug, info (one line per request), warning.")] = (
        "warning"
    ),
) -> None:
    """Serve the local Hub in the foreground until interrupted (Ctrl-C or SIGTERM)."""
    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(message)s")
    root = root.resolve()
    hint: str
    if token_file is None and not os.environ.get(TOKENS_ENV_VAR, "").strip():
        token_file = _ensure_generated_token_file(root)
        hint = token_file_export(token_file)
    elif token_file is not None:
        hint = f"# set HF_TOKEN to one of the tokens in {token_file}"
    else:
        hint = f"# set HF_TOKEN to one of the tokens in ${TOKENS_ENV_VAR}"
    if token_file is not None:
        if not token_file.is_file():
            typer.echo(f"error: token file {token_file} does not exist.", err=True)
            raise typer.Exit(2)
        _warn_if_readable(token_file)
    try:
        tokens = TokenStore.from_sources(token_file=token_file)
    except TokenConfigError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    if host not in ("127.0.0.1", "localhost", "::1"):
        typer.echo(f"warning: binding {host}: the hub is reachable from other machines.", err=True)
    hub = LocalHub(root, host=host, port=port, tokens=tokens)
    try:
        hub.start()
    except OSError as exc:
        typer.echo(f"error: cannot listen on {host}:{port}: {exc.strerror}", err=True)
        raise typer.Exit(1) from None
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    lines = [
        f"ocforge local hub serving {root}",
        f"endpoint: {hub.endpoint}",
        f"tokens: {len(tokens)} configured",
        "client environment:",
        *("  " + line for line in shell_exports(client_env(hub.endpoint), token_hint=hint)),
    ]
    typer.echo("\n".join(lines))
    sys.stdout.flush()
    try:
        stop.wait()
    finally:
        hub.stop()
        typer.echo("local hub stopped")


@app.command()
def org(
    name: Annotated[str, typer.Argument(help="Organization (namespace) name.")],
    root: Annotated[Path, typer.Option("--root", help="Folder holding the repositories.")],
    private_by_default: Annotated[
        bool | None,
        typer.Option(
            "--private-by-default/--public-by-default",
            help="New repos of the org are private unless created public (an Enterprise "
            "setting on huggingface.co). Without it the current setting is printed.",
        ),
    ] = None,
) -> None:
    """Show or change an organization's settings on the local Hub (a running server sees it)."""
    from ocforge.hub.errors import HubError
    from ocforge.hub.org_settings import private_by_default as current
    from ocforge.hub.org_settings import set_private_by_default
    from ocforge.hub.storage import HubStore

    root = root.resolve()
    store = HubStore(root)
    try:
        if private_by_default is not None:
            set_private_by_default(store, name, private_by_default)
        visibility = "private" if current(root, name) else "public"
    except HubError as exc:  # an invalid org name
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(2) from None
    finally:
        store.close()
    typer.echo(f"org {name}: new repos are {visibility} by default")
