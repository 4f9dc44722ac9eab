"""The HTTP server: standard-library threading server, raw-path routing, response writing.

Routing works on the raw request path, split on literal ``/`` and percent-decoded segment by
segment, because clients send revisions such as ``dev/feature`` as one ``dev%2Ffeature``
segment (reference/hub-api.md §2.2). Responses always carry an exact ``Content-Length`` (also
on HEAD, where it is the file size) so HTTP/1.1 keep-alive works; file bodies go out with
``sendfile``.
"""

from __future__ import annotations

import logging
import re
import secrets
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote

from .context import HubContext
from .errors import BadRequestError, HubError
from .protocol import BodyReader, Request, Response, StreamBody, base_url_for, error_response
from .routes import route
from .web.session import session_identity
from .xet.cas_api import CAS_ROUTE

logger = logging.getLogger("ocforge.localhub")

_QUERY_RE = re.compile(r"\?\S*")
_TRACE_ID_RE = re.compile(r"[A-Za-z0-9=;:._-]{1,128}")


def request_id(client_trace_id: str | None) -> str:
    """A fresh ``X-Request-Id``, followed by the client's ``X-Amzn-Trace-Id`` when well formed.

    huggingface_hub puts the response's ``X-Request-Id`` into every error message ("(Request ID:
    ...)") and sends its own random ``X-Amzn-Trace-Id`` with each request (utils/_http.py), so
    the pair ties a client's error to this server's log line. The id is not repeated in error
    bodies: the client adds it only when the message does not contain it yet.
    """
    fresh = secrets.token_hex(12)
    if client_trace_id and _TRACE_ID_RE.fullmatch(client_trace_id.strip()):
        return f"{fresh};{client_trace_id.strip()}"
    return fresh


class HubRequestHandler(BaseHTTPRequestHandler):
    """Turns HTTP requests into :class:`Request` values and writes :class:`Response` values."""

    protocol_version = "HTTP/1.1"
    server_version = "ocforge-localhub/1"
    # Idle keep-alive connections are dropped after this many seconds (frees the thread).
    timeout = 120
    server: HubHTTPServer
    _expect_continue = False
    _request_id = "-"  # set per request in _handle; "-" for errors the stdlib answers itself

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in separate writes; without TCP_NODELAY, Nagle's algorithm
        # plus the client's delayed ACK stalls every response by ~40 ms.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def handle_expect_100(self) -> bool:
        # Deferred to the body's first read (see BodyReader): a request refused before its body
        # is read, such as a declared size over the limit (413), is answered without "100".
        self._expect_continue = True
        return True

    def _send_continue(self) -> None:
        self.send_response_only(100)
        self.end_headers()

    def do_GET(self) -> None:
        self._handle()

    def do_HEAD(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def do_PUT(self) -> None:
        self._handle()

    def do_DELETE(self) -> None:
        self._handle()

    def _parse(self, ctx: HubContext, body: BodyReader) -> Request:
        raw_path, _, raw_query = self.path.partition("?")
        if not raw_path.startswith("/"):
            raise BadRequestError("Request target must be an absolute path.")
        try:
            segments = [unquote(s, errors="strict") for s in raw_path[1:].split("/")]
        except UnicodeDecodeError:
            raise BadRequestError("Request path is not valid UTF-8.") from None
        if segments and segments[-1] == "" and len(segments) > 1:
            segments.pop()  # tolerate one trailing slash
        query = parse_qs(raw_query, keep_blank_values=True)
        # CAS routes carry a Xet access token, not a Hub token: they check it themselves
        cas = segments[:2] == ["api", CAS_ROUTE]
        identity = None if cas else ctx.tokens.authenticate(self.headers.get("Authorization"))
        if identity is None and not cas:  # the web pages' login cookie: reads only (web/session)
            identity = session_identity(ctx, self.command, self.headers)
        return Request(
            method=self.command,
            segments=segments,
            query=query,
            headers=self.headers,
            body=body,
            identity=identity,
            base_url=base_url_for(self.headers.get("Host"), ctx.endpoint),
        )

    def _handle(self) -> None:
        ctx = self.server.ctx
        self._request_id = request_id(self.headers.get("X-Amzn-Trace-Id"))
        body: BodyReader | None = None
        expect, self._expect_continue = self._expect_continue, False
        try:
            body = BodyReader(
                self.rfile,
                self.headers,
                ctx.limits.max_json_body,
                self._send_continue if expect else None,
            )
            response = route(ctx, self._parse(ctx, body))
        except HubError as exc:
            response = error_response(exc)
        except (BrokenPipeError, ConnectionResetError, TimeoutError):
            self.close_connection = True
            return
        except Exception:  # a bug or an I/O failure: answer 500 without internals
            logger.exception("internal error on %s %s", self.command, self._safe_path())
            response = error_response(HubError("Internal server error."))
        # Leftover body bytes would be read as the next request: drain a little, else close.
        # Never drain a 413 or a body the client holds back until "100 Continue": it may be
        # waiting for this answer before sending (or instead of sending) anything.
        try:
            if (
                body is None
                or response.status == 413
                or body.awaiting_continue
                or not body.drain(ctx.limits.max_drain)
            ):
                self.close_connection = True
        except (HubError, OSError):
            self.close_connection = True
        self._send(response)

    def _send(self, response: Response) -> None:
        fh = None
        if response.file is not None and self.command != "HEAD":
            try:
                # opened before the headers go out, so a vanished blob can still become a 500
                fh = open(response.file.path, "rb")  # noqa: SIM115 (closed below)
            except OSError:
                logger.exception("cannot open blob for %s", self._safe_path())
                response = error_response(HubError("Internal server error."))
        try:
            self.send_response(response.status)
            for name, value in response.headers.items():
                self.send_header(name, value)
            self.send_header("X-Request-Id", self._request_id)
            self.send_header("Content-Length", str(response.content_length))
            if self.close_connection:
                self.send_header("Connection", "close")
            self.end_headers()
            if self.command == "HEAD":
                return
            if fh is not None and response.file is not None:
                sent = 0
                while sent < response.file.length:
                    n = self.connection.sendfile(
                        fh, response.file.offset + sent, response.file.length - sent
                    )
                    if n == 0:
                        raise ConnectionResetError("file shorter than announced")
                    sent += n
            elif response.stream is not None:
                self._send_stream(response.stream)
            elif response.body:
                self.wfile.write(response.body)
        except (BrokenPipeError, ConnectionResetError, TimeoutError):
            self.close_connection = True
        finally:
            if fh is not None:
                fh.close()

    def _send_stream(self, stream: StreamBody) -> None:
        sent = 0
        try:
            for piece in stream.pieces:
                self.wfile.write(piece)
                sent += len(piece)
        except (BrokenPipeError, ConnectionResetError, TimeoutError):
            raise
        except Exception:  # the headers are out: all the client can see is a short body
            logger.exception("streaming the body of %s failed", self._safe_path())
        if sent != stream.length:
            self.close_connection = True

    def _safe_path(self) -> str:
        # Upload URLs carry a signature in the query string: never log query strings.
        return _QUERY_RE.sub("", getattr(self, "path", ""))

    def log_request(self, code: Any = "-", size: Any = "-") -> None:
        logger.info("%s %s %s [%s]", self.command, self._safe_path(), code, self._request_id)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (stdlib signature)
        logger.debug(_QUERY_RE.sub("", format % args))


class HubHTTPServer(ThreadingHTTPServer):
    """Threading HTTP server bound to one :class:`HubContext`."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64

    def __init__(self, address: tuple[str, int], ctx: HubContext):
        self.ctx = ctx
        super().__init__(address, HubRequestHandler)

    @property
    def port(self) -> int:
        return int(self.server_address[1])


def serve_in_thread(server: HubHTTPServer) -> threading.Thread:
    """Run ``server.serve_forever`` in a daemon thread and return the thread."""
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True
    )
    thread.name = f"localhub-{server.port}"
    thread.start()
    return thread
