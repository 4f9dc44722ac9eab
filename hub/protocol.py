"""Request and response values passed between the HTTP server and the endpoint handlers.

Handlers are plain functions ``(HubContext, Request) -> Response``; they never touch sockets.
Bodies are read through :class:`BodyReader`, which enforces the size limit as bytes arrive (so a
huge body is refused without being buffered) and understands chunked transfer encoding.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from email.message import Message
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import parse_qs

from .auth import Identity
from .errors import BadRequestError, HubError, PayloadTooLargeError

_HOST_RE = re.compile(r"^[A-Za-z0-9.\-]+(?::[0-9]{1,5})?$|^\[[0-9A-Fa-f:.]+\](?::[0-9]{1,5})?$")


class BodyReader:
    """Reads a request body of known length or in chunked encoding, up to ``limit`` bytes.

    The server creates it with the JSON body limit; handlers that accept larger bodies (commits,
    LFS uploads) raise ``limit`` before reading.
    """

    def __init__(
        self,
        rfile: BinaryIO,
        headers: Message,
        limit: int,
        send_continue: Callable[[], None] | None = None,
    ):
        self._rfile = rfile
        self.limit = limit
        # "Expect: 100-continue" is answered only when a handler starts reading, so a body that
        # is refused first (413, 401, 404) is never sent by the client
        self._send_continue = send_continue
        self.chunked = "chunked" in (headers.get("Transfer-Encoding") or "").lower()
        length_header = headers.get("Content-Length")
        self.length: int | None = None
        if not self.chunked:
            try:
                self.length = int(length_header) if length_header is not None else 0
            except ValueError:
                raise BadRequestError("Invalid Content-Length header.") from None
            if self.length < 0:
                raise BadRequestError("Invalid Content-Length header.")
        self._remaining = self.length if self.length is not None else 0
        self._chunk_left = 0
        self._eof = self.length == 0
        self.consumed = 0

    @property
    def exhausted(self) -> bool:
        """True once the whole body has been read (the connection can be reused)."""
        return self._eof

    def check_declared_size(self) -> None:
        """Refuse up front a body whose ``Content-Length`` exceeds the limit."""
        if self.length is not None and self.length > self.limit:
            raise PayloadTooLargeError(f"Request body larger than the limit of {self.limit} bytes.")

    @property
    def awaiting_continue(self) -> bool:
        """True while the client waits for "100 Continue" before sending the body."""
        return self._send_continue is not None and not self._eof

    def _start(self) -> None:
        if self._send_continue is not None and not self._eof:
            send, self._send_continue = self._send_continue, None
            send()

    def _count(self, data: bytes) -> bytes:
        self.consumed += len(data)
        if self.consumed > self.limit:
            raise PayloadTooLargeError(f"Request body larger than the limit of {self.limit} bytes.")
        return data

    def read(self, size: int = -1) -> bytes:
        """Up to ``size`` bytes (all remaining when negative); ``b""`` at the end."""
        if self._eof:
            return b""
        self._start()
        if not self.chunked:
            want = self._remaining if size < 0 else min(size, self._remaining)
            data = self._rfile.read(want)
            if want > 0 and not data:
                raise BadRequestError("Request body ended before Content-Length bytes.")
            self._remaining -= len(data)
            self._eof = self._remaining == 0
            return self._count(data)
        parts: list[bytes] = []
        wanted = size
        while not self._eof and (wanted < 0 or wanted > 0):
            if self._chunk_left == 0:
                self._next_chunk()
                continue
            take = self._chunk_left if wanted < 0 else min(wanted, self._chunk_left)
            data = self._rfile.read(take)
            if not data:
                raise BadRequestError("Chunked request body ended early.")
            self._chunk_left -= len(data)
            if self._chunk_left == 0:
                self._rfile.readline(64)  # CRLF after the chunk data
            parts.append(self._count(data))
            if wanted > 0:
                wanted -= len(data)
        return b"".join(parts)

    def _next_chunk(self) -> None:
        line = self._rfile.readline(1024)
        try:
            self._chunk_left = int(line.split(b";", 1)[0].strip(), 16)
        except ValueError:
            raise BadRequestError("Malformed chunked request body.") from None
        if self._chunk_left == 0:
            while self._rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                pass  # trailers
            self._eof = True

    def readline(self, max_line: int) -> bytes:
        """One line including its ``\\n`` (or the rest of the body); 413 past ``max_line``."""
        parts: list[bytes] = []
        total = 0
        self._start()
        while not self._eof:
            if not self.chunked:
                want = min(self._remaining, max_line + 1 - total)
                data = self._rfile.readline(want)
                if not data:
                    raise BadRequestError("Request body ended before Content-Length bytes.")
                self._remaining -= len(data)
                self._eof = self._remaining == 0
                self._count(data)
            else:
                if self._chunk_left == 0:
                    self._next_chunk()
                    continue
                want = min(self._chunk_left, max_line + 1 - total)
                data = self._rfile.readline(want)
                if not data:
                    raise BadRequestError("Chunked request body ended early.")
                self._chunk_left -= len(data)
                if self._chunk_left == 0:
                    self._rfile.readline(64)
                self._count(data)
            parts.append(data)
            total += len(data)
            if data.endswith(b"\n"):
                break
            if total > max_line:
                raise PayloadTooLargeError(f"A line of the request body exceeds {max_line} bytes.")
        return b"".join(parts)

    def read_all(self) -> bytes:
        """The whole body (bounded by the limit)."""
        self.check_declared_size()
        return self.read()

    def drain(self, max_bytes: int) -> bool:
        """Discard up to ``max_bytes`` of unread body; True if the body is now fully consumed.

        Nothing is read (False: close the connection) when the declared rest is over
        ``max_bytes``: reading would only delay the answer, possibly until the client gives up.
        """
        if self._eof:
            return True
        if self.length is not None and self._remaining > max_bytes:
            return False
        self.limit = sys.maxsize  # discarded bytes do not count against the limit
        while not self._eof and max_bytes > 0:
            data = self.read(min(max_bytes, 1 << 16))
            if not data:
                break
            max_bytes -= len(data)
        return self._eof


def decode_json(raw: bytes, what: str, *, one_line: bool = False) -> Any:
    """Parse ``raw`` as JSON or raise a 400 naming ``what``, the reason and the position.

    ``one_line``: ``raw`` is one NDJSON line, so the position is a column only.

    Hostile bodies must not become 500s: invalid UTF-8, raw control characters (NUL) and
    syntax errors raise ``JSONDecodeError``/``UnicodeDecodeError``; nesting deeper than the
    interpreter's recursion limit (about 1,000 levels) raises ``RecursionError``; ``\\ud800``
    escapes decode to lone surrogates that no file name, log line or response can encode.
    """
    try:
        value = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        if b"\0" in raw:
            raise BadRequestError(f"{what} contains a NUL byte: it is not JSON text.") from None
        if isinstance(exc, UnicodeDecodeError):
            raise BadRequestError(f"{what} is not valid UTF-8.") from None
        where = f"column {exc.colno}" if one_line else f"line {exc.lineno} column {exc.colno}"
        raise BadRequestError(
            f"{what} is not valid JSON ({exc.msg.removesuffix(' at')}, {where})."
        ) from None
    except RecursionError:
        raise BadRequestError(f"{what} is nested too deeply to be parsed as JSON.") from None
    try:
        # re-encoding is the cheapest complete check for lone surrogates anywhere in the value
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        raise BadRequestError(
            f"{what} contains a \\u escape of a lone surrogate (not valid Unicode)."
        ) from None
    except RecursionError:  # nesting that json.loads accepted but json.dumps does not
        raise BadRequestError(f"{what} is nested too deeply to be parsed as JSON.") from None
    return value


@dataclass
class Request:
    """One HTTP request as handlers see it; ``segments`` are percent-decoded one by one."""

    method: str
    segments: list[str]
    query: dict[str, list[str]]
    headers: Message
    body: BodyReader
    identity: Identity | None
    base_url: str

    def param(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[0] if values else default

    def flag(self, name: str) -> bool:
        """Boolean query parameter (``true``/``1``/``True``)."""
        return (self.param(name) or "").lower() in ("1", "true", "yes")

    def json(self) -> Any:
        """The body parsed as JSON (``{}`` for an empty body); 400 for hostile bodies."""
        raw = self.body.read_all()
        if not raw.strip():
            return {}
        return decode_json(raw, "Request body")

    def json_object(self) -> dict[str, Any]:
        data = self.json()
        if not isinstance(data, dict):
            raise BadRequestError("Request body must be a JSON object.")
        return data

    def form(self) -> dict[str, list[str]]:
        """The body parsed as ``application/x-www-form-urlencoded``."""
        raw = self.body.read_all()
        try:
            return parse_qs(raw.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
        except UnicodeDecodeError:
            raise BadRequestError("Form body is not valid UTF-8.") from None


@dataclass
class FileSlice:
    """Part of a file on disk to send as the response body."""

    path: Path
    offset: int
    length: int


@dataclass
class StreamBody:
    """A body produced piece by piece (e.g. a Xet file decompressed chunk by chunk).

    ``length`` is announced as ``Content-Length``; the pieces must add up to it.
    """

    pieces: Iterable[bytes]
    length: int


@dataclass
class Response:
    """What a handler returns; ``file`` (sent with sendfile), then ``stream``, then ``body``."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    file: FileSlice | None = None
    stream: StreamBody | None = None

    @property
    def content_length(self) -> int:
        if self.file is not None:
            return self.file.length
        return self.stream.length if self.stream is not None else len(self.body)


def json_response(value: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """A JSON response."""
    # backslashreplace: a message quoting client input must never make the error itself fail
    body = json.dumps(value, ensure_ascii=False).encode("utf-8", "backslashreplace")
    return Response(status, {"Content-Type": "application/json", **(headers or {})}, body)


def error_response(error: HubError) -> Response:
    """The Hub's error format: JSON ``{"error": message}`` plus ``X-Error-Code``/``-Message``."""
    # Header values must be latin-1 and single-line; the JSON body keeps the full text.
    header_message = error.message.replace("\r", " ").replace("\n", " ")
    header_message = header_message.encode("latin-1", "replace").decode("latin-1")
    headers = {"X-Error-Code": error.code, "X-Error-Message": header_message, **error.headers}
    return json_response({"error": error.message, **error.extra}, error.status, headers)


def base_url_for(host_header: str | None, fallback: str) -> str:
    """``http://<Host>`` when the Host header is well formed, else ``fallback``.

    URLs the server hands out (LFS upload hrefs, repo URLs) must use the address the client
    used, which may differ from the bind address (e.g. when bound to ``0.0.0.0``).
    """
    if host_header and _HOST_RE.match(host_header.strip()):
        return "http://" + host_header.strip()
    return fallback
