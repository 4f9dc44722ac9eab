"""In-process local Hub: :class:`LocalHub`, a context manager serving on an ephemeral port."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import TracebackType

from .auth import Identity, TokenStore, generate_token
from .clientenv import client_env
from .context import HubContext, Limits
from .server import HubHTTPServer, serve_in_thread
from .storage import HubStore

TokensArg = TokenStore | Mapping[str, str | Identity] | Iterable[str] | None


class LocalHub:
    """A local Hub server running in a background thread.

    ``tokens`` is a :class:`~.auth.TokenStore`, a mapping ``token -> username`` (write role) or
    ``token -> Identity`` (role and orgs), or an iterable of tokens (user ``local``, the admin,
    see auth.py). With ``tokens=None`` the tokens come from ``token_file`` and the
    ``OCFORGE_HUB_TOKENS`` variable; if there are none, a random write token for user ``local``
    is generated and exposed as :attr:`token`. Data lives under ``root`` and survives restarts.
    A user acts only in its own namespace and its orgs (auth.py). Usage::

        with LocalHub(tmp_path / "hub", tokens={"hf_secret_token": "alice"}) as hub:
            env = {**os.environ, **hub.client_env("hf_secret_token")}
            subprocess.run([...], env=env)
    """

    def __init__(
        self,
        root: Path,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        tokens: TokensArg = None,
        token_file: Path | None = None,
        limits: Limits | None = None,
    ):
        self.root = Path(root)
        self.host = host
        self.port = port
        self.token: str | None = None
        if isinstance(tokens, TokenStore):
            store = tokens
        elif tokens is None:
            store = TokenStore.from_sources(token_file=token_file)
            if len(store) == 0:
                self.token = generate_token()
                store = TokenStore.from_sources(token_file=token_file, extra=[self.token])
        else:
            store = TokenStore.from_sources(token_file=token_file, env={}, extra=tokens)
        self._tokens = store
        self._limits = limits or Limits()
        self._server: HubHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._store: HubStore | None = None

    @property
    def endpoint(self) -> str:
        """``http://HOST:PORT`` of the running server."""
        if self._server is None:
            raise RuntimeError("LocalHub is not running; use it as a context manager.")
        return self._server.ctx.endpoint

    @property
    def store(self) -> HubStore:
        """The storage behind the server (for inspection in tests and tools)."""
        if self._store is None:
            raise RuntimeError("LocalHub is not running; use it as a context manager.")
        return self._store

    def client_env(self, token: str | None = None) -> dict[str, str]:
        """Environment for a client process (see :func:`~.clientenv.client_env`)."""
        return client_env(self.endpoint, token)

    def start(self) -> LocalHub:
        """Bind, then serve in a daemon thread. Idempotent."""
        if self._server is not None:
            return self
        self._store = HubStore(self.root)
        ctx = HubContext(store=self._store, tokens=self._tokens, endpoint="", limits=self._limits)
        server = HubHTTPServer((self.host, self.port), ctx)
        display_host = f"[{self.host}]" if ":" in self.host else self.host
        ctx.endpoint = f"http://{display_host}:{server.port}"
        self._server = server
        self._thread = serve_in_thread(server)
        return self

    def stop(self) -> None:
        """Stop serving and release the port."""
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)
        if self._store is not None:
            self._store.close()
        self._server = None
        self._thread = None

    def __enter__(self) -> LocalHub:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
