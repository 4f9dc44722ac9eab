"""Where a release goes: the embedded local Hub or huggingface.co, and an ``HfApi`` for it.

* ``local`` (default): the server at ``OCFORGE_HUB_URL`` if set (token from ``OCFORGE_HUB_TOKEN``
  or ``HF_TOKEN``), otherwise an in-process :class:`~ocforge.hub.LocalHub` over
  ``OCFORGE_HUB_ROOT`` (default ``.ocforge/hub``) whose write token is generated once and kept in
  ``ROOT/tokens`` (mode 0600), on the port it had the last time (``ROOT/port``) when that is
  free.
* ``hf``: huggingface.co (or ``HF_ENDPOINT``) with the token from huggingface_hub's usual places.

Tokens are held in memory only: never printed, logged or written into cards and manifests; signed
URLs and tokens in logs and in errors raised while a connection is open are redacted
(:mod:`ocforge.redaction`).
``HfApi`` takes ``endpoint`` and ``token`` explicitly, so publishing runs in this process; clients
that read ``HF_ENDPOINT`` at import time (``datasets.load_dataset`` in the verification step) run
in a child process with :meth:`HubConnection.client_env`.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal
from urllib.parse import urlsplit

from ocforge.errors import HubAccessError

if TYPE_CHECKING:
    from huggingface_hub import HfApi, HfFileSystem

    from ocforge.hub import LocalHub

Target = Literal["local", "hf"]
HUB_URL_ENV = "OCFORGE_HUB_URL"
HUB_ROOT_ENV = "OCFORGE_HUB_ROOT"
HUB_TOKEN_ENV = "OCFORGE_HUB_TOKEN"
DEFAULT_HUB_ROOT = Path(".ocforge/hub")


@dataclass
class HubConnection:
    """An open target: ``api`` is an ``HfApi`` bound to ``endpoint`` and the token."""

    target: Target
    endpoint: str
    api: HfApi = field(repr=False)
    _token: str | None = field(default=None, repr=False)
    root: Path | None = None  # storage of an in-process local Hub

    @property
    def is_local(self) -> bool:
        return self.target == "local"

    @property
    def display(self) -> str:
        if self.root is not None:
            return f"local Hub ({self.root})"
        return "local Hub at " + self.endpoint if self.is_local else self.endpoint

    def filesystem(self) -> HfFileSystem:
        """An ``HfFileSystem`` on this target with this token, for range reads of files."""
        from huggingface_hub import HfFileSystem

        return HfFileSystem(endpoint=self.endpoint, token=self._token, skip_instance_cache=True)

    def client_env(self) -> dict[str, str]:
        """Environment for a child process that uses huggingface_hub / datasets on this target."""
        if self.is_local:
            from ocforge.hub import client_env

            return client_env(self.endpoint, self._token)
        env = {"HF_ENDPOINT": self.endpoint, "HF_HUB_OFFLINE": "0", "HF_DATASETS_OFFLINE": "0"}
        if self._token:
            env["HF_TOKEN"] = self._token
        return env


def _is_loopback(endpoint: str) -> bool:
    return (urlsplit(endpoint).hostname or "") in ("127.0.0.1", "localhost", "::1")


@contextlib.contextmanager
def _local_client_mode() -> Iterator[None]:
    """Let this process's huggingface_hub talk to a loopback Hub, restored afterwards.

    huggingface_hub reads ``HF_HUB_OFFLINE`` into a module constant at import time, and a
    loopback server is not "the network" an offline setting guards. Nothing else changes: the
    local Hub speaks Xet, so uploads go through hf_xet with its default settings (and its cache,
    under ``HF_XET_CACHE`` or ``HF_HOME``), exactly as with ``--target hf``; a user who sets
    ``HF_HUB_DISABLE_XET=1`` gets the LFS path with either target.
    """
    from huggingface_hub import constants

    saved = constants.HF_HUB_OFFLINE
    constants.HF_HUB_OFFLINE = False
    try:
        yield
    finally:
        constants.HF_HUB_OFFLINE = saved


PORT_FILE = "port"


def _start_local(root: Path) -> LocalHub:
    """The in-process server over ``root``, on the port of its last run when that is free.

    hf_xet keys its client cache (the chunks it knows the server holds, so need not send) by
    the CAS address, which holds the port: on a new port every run, a release in a new process
    would upload every chunk again, where huggingface.co's fixed address lets the client skip
    what the previous release sent."""
    from ocforge.hub import LocalHub

    path = root / PORT_FILE
    try:
        port = int(path.read_text(encoding="ascii").strip())
    except (OSError, ValueError):
        port = 0
    try:
        hub = LocalHub(root, token_file=root / "tokens", port=port).start()
    except OSError:  # taken by another program (or another run over this root): any port
        hub = LocalHub(root, token_file=root / "tokens").start()
    bound = urlsplit(hub.endpoint).port
    if bound != port:
        path.write_text(f"{bound}\n", encoding="ascii")
    return hub


def stored_token(root: Path) -> str:
    """The write token of the in-process local Hub over ``root``, created on first use."""
    from ocforge.hub import generate_token

    path = Path(root) / "tokens"
    if path.is_file():
        for line in path.read_text().splitlines():
            if line.strip() and not line.lstrip().startswith("#"):
                return line.split()[0]
    path.parent.mkdir(parents=True, exist_ok=True)
    token = generate_token()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(f"# write token of the local Hub used by 'ocforge release'\n{token}\tlocal\n")
    return token


@contextlib.contextmanager
def connect(
    target: Target = "local",
    *,
    endpoint: str | None = None,
    token: str | None = None,
    hub_root: Path | None = None,
) -> Iterator[HubConnection]:
    """Open ``target`` for publishing; a context manager (it may run a local server).

    ``endpoint``/``token`` override the environment (tests pass a running ``LocalHub``'s).
    The first call makes this process's logs redacted from then on (huggingface_hub's retry
    warnings name signed upload URLs), and every exception that leaves the block is redacted:
    its message and the chain under it lose URL query strings and tokens, whoever prints them.

    Raises:
        HubAccessError: ``hf`` without a token.
    """
    from ocforge.redaction import install, redact_exception

    install()
    try:
        with _open(target, endpoint=endpoint, token=token, hub_root=hub_root) as conn:
            yield conn
    except Exception as exc:
        redact_exception(exc)
        raise


@contextlib.contextmanager
def _open(
    target: Target, *, endpoint: str | None, token: str | None, hub_root: Path | None
) -> Iterator[HubConnection]:
    from huggingface_hub import HfApi, close_session

    if target == "hf":
        from huggingface_hub import constants, get_token

        token = token or get_token()
        if not token:
            raise HubAccessError("no Hugging Face token found: run `hf auth login` or set HF_TOKEN")
        url = endpoint or constants.ENDPOINT
        yield HubConnection("hf", url, HfApi(endpoint=url, token=token), token)
        return
    if target != "local":
        raise HubAccessError(f"unknown target {target!r}: expected 'local' or 'hf'")
    url = endpoint or os.environ.get(HUB_URL_ENV)
    if url:
        token = token or os.environ.get(HUB_TOKEN_ENV) or os.environ.get("HF_TOKEN")
        mode = _local_client_mode() if _is_loopback(url) else contextlib.nullcontext()
        with mode:
            yield HubConnection("local", url.rstrip("/"), HfApi(endpoint=url, token=token), token)
        return
    root = Path(hub_root or os.environ.get(HUB_ROOT_ENV) or DEFAULT_HUB_ROOT)
    token = stored_token(root)
    hub = _start_local(root)
    try:
        with _local_client_mode():
            api = HfApi(endpoint=hub.endpoint, token=token)
            yield HubConnection("local", hub.endpoint, api, token, root=root)
    finally:
        hub.stop()
        # A stopped server's handler threads keep serving the keep-alive connections clients
        # pooled: the next server on this port (a later connection of this process) would see
        # its requests answered by the old one. Closing huggingface_hub's pool ends them.
        close_session()
