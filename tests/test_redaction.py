"""Signed URLs stay out of what ocforge prints and logs.

The messages come from the installed huggingface_hub and httpx2 themselves, talking to real
servers on 127.0.0.1; the release case runs the ``ocforge`` command against the real local Hub
behind a small proxy that breaks its signed LFS upload URLs the way a dying server does (the
LFS path, ``HF_HUB_DISABLE_XET=1``: Xet uploads carry no signed URL).
"""

from __future__ import annotations

import http.client
import logging
import os
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from release_helpers import TOKEN, corpus, write_build

from ocforge.hub import LocalHub
from ocforge.publish.hub_client import _local_client_mode
from ocforge.redaction import (
    MARK,
    RedactingFilter,
    install,
    redact_exception,
    redact_text,
    redact_url,
)

SIG = "9f2c4e6a8b0d1f3e5a7c9e1b3d5f7a9c"
UPLOAD = "/api/localhub-lfs/upload/datasets/alice/d/" + "a" * 64


@pytest.mark.parametrize(
    ("url", "want"),
    [
        (f"http://127.0.0.1:8/x?size=3&expires=9&sig={SIG}", f"http://127.0.0.1:8/x?{MARK}"),
        (
            "https://s3.amazonaws.com/b/k?X-Amz-Signature=ab#frag",
            f"https://s3.amazonaws.com/b/k?{MARK}",
        ),
        ("https://user:pass@host.example/p", f"https://{MARK}@host.example/p"),
        ("https://host.example/p#token=abc", f"https://host.example/p?{MARK}"),
        ("https://huggingface.co/api/datasets/o/d", "https://huggingface.co/api/datasets/o/d"),
    ],
)
def test_redact_url(url, want):
    assert redact_url(url) == want
    assert redact_text(f"see {url}.") == f"see {want}."  # the sentence's full stop is kept
    assert redact_text(redact_text(url)) == want


def test_redact_text_tokens_outside_urls():
    text = (
        "Authorization: Bearer hf_AbCdEfGhIjKlMnOpQrStUvWxYz012345 failed; "
        "key hf_AbCdEfGhIjKlMnOpQrStUvWxYz012345, sig=abcdef, X-Amz-Signature=ff00; "
        "use hf_hub_download"
    )
    out = redact_text(text)
    assert "AbCdEfGh" not in out and "abcdef" not in out and "ff00" not in out
    assert out.count(MARK) == 4 and "use hf_hub_download" in out


class _Upstream(BaseHTTPRequestHandler):
    """An LFS upload endpoint that fails: 503, or the connection closes with no answer."""

    protocol_version = "HTTP/1.1"

    def do_PUT(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if "/drop" in self.path:
            self.close_connection = True  # the server "dies" mid-request
            return
        status = 404 if "/gone" in self.path else 503
        self.send_response(status)
        if status == 404:
            self.send_header("X-Error-Code", "EntryNotFound")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def failing_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Upstream)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.mark.parametrize("path", ["/s503", "/drop", "/gone"])
def test_huggingface_hub_retry_warnings_and_errors_are_redacted(failing_server, path, capfd):
    from huggingface_hub.utils import hf_raise_for_status, http_backoff

    install()
    records = _Records()
    loggers = [logging.getLogger("huggingface_hub"), logging.getLogger("httpx2")]
    saved = [lg.level for lg in loggers]
    for lg in loggers:
        lg.addHandler(records)
        lg.setLevel(logging.INFO)  # httpx2's "HTTP Request: PUT <url>" is INFO
    url = f"{failing_server}{path}?size=3&expires=99&sig={SIG}"
    try:
        with _local_client_mode(), pytest.raises(Exception) as err:
            response = http_backoff(
                "PUT", url, content=b"abc", max_retries=1, base_wait_time=0.01, max_wait_time=0.01
            )
            hf_raise_for_status(response)
    finally:
        for lg, level in zip(loggers, saved, strict=True):
            lg.removeHandler(records)
            lg.setLevel(level)
    message = str(redact_exception(err.value))
    printed = "\n".join(records.lines) + capfd.readouterr().err
    assert SIG not in printed + message
    if path == "/gone":  # not retried: huggingface_hub's own "for url: <url>." message
        assert f"Entry Not Found for url: {failing_server}/gone?{MARK}." in message
        return
    what = "HTTP Error 503" if path == "/s503" else "'Server disconnected without sending a"
    assert f"{what}" in printed
    assert f"thrown while requesting PUT {failing_server}{path}?{MARK}" in printed
    assert "Retrying in 0.01s [Retry 1/1]." in printed
    if path == "/s503":
        assert f"for url '{failing_server}/s503?{MARK}'" in message
        assert f'HTTP Request: PUT {failing_server}/s503?{MARK} "HTTP/1.1 503' in printed


def test_filter_redacts_records_and_tracebacks():
    record = logging.LogRecord(
        "huggingface_hub.utils._http", logging.WARNING, __file__, 1,
        "HTTP Error %s thrown while requesting %s %s", (500, "PUT", f"http://h/u?sig={SIG}"), None,
    )  # fmt: skip
    try:
        raise RuntimeError(f"Server error for url 'http://h/u?sig={SIG}'")
    except RuntimeError:
        record.exc_info = sys.exc_info()
    assert RedactingFilter().filter(record)
    text = logging.Formatter().format(record)
    assert SIG not in text and f"PUT http://h/u?{MARK}" in text and "RuntimeError" in text


# --------------------------------------------------------------------------- ocforge release


class _Proxy(BaseHTTPRequestHandler):
    """Forwards to the local Hub; PUTs to signed LFS upload URLs follow ``server.plan``."""

    protocol_version = "HTTP/1.1"
    hop = {"connection", "keep-alive", "transfer-encoding", "content-length"}

    def _body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while size := int(self.rfile.readline().split(b";")[0].strip() or b"0", 16):
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                pass
            return b"".join(chunks)
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _forward(self) -> None:
        body = self._body()
        server = self.server
        if self.command == "PUT" and self.path.startswith("/api/localhub-lfs/upload/"):
            with server.lock:  # type: ignore[attr-defined]
                server.signatures.add(re.search(r"sig=([0-9a-f]+)", self.path).group(1))  # type: ignore[attr-defined,union-attr]
                plan = server.plan  # type: ignore[attr-defined]
                action = plan.pop(0) if len(plan) > 1 else plan[0]
            if action == "drop":
                self.close_connection = True
                return
            if action != "pass":
                self.send_response(int(action))
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
        headers = {k: v for k, v in self.headers.items() if k.lower() not in self.hop}
        upstream = http.client.HTTPConnection("127.0.0.1", server.upstream_port, timeout=60)  # type: ignore[attr-defined]
        upstream.request(self.command, self.path, body=body, headers=headers)
        answer = upstream.getresponse()
        data = answer.read()
        self.send_response(answer.status)
        for k, v in answer.getheaders():
            if k.lower() not in self.hop:
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)
        upstream.close()

    do_GET = do_POST = do_PUT = do_HEAD = do_DELETE = _forward

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def proxied_hub(tmp_path) -> Iterator[ThreadingHTTPServer]:
    with LocalHub(tmp_path / "hub", tokens={TOKEN: "alice"}) as hub:
        proxy = ThreadingHTTPServer(("127.0.0.1", 0), _Proxy)
        proxy.upstream_port = int(hub.endpoint.rsplit(":", 1)[1])  # type: ignore[attr-defined]
        proxy.lock, proxy.signatures, proxy.plan = threading.Lock(), set(), ["pass"]  # type: ignore[attr-defined]
        threading.Thread(target=proxy.serve_forever, daemon=True).start()
        try:
            yield proxy
        finally:
            proxy.shutdown()
            proxy.server_close()


def _publish(proxy: ThreadingHTTPServer, build: Path, repo: str, cwd: Path):
    exe = Path(sys.executable).parent / "ocforge"
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "ocforge"]
    env = {
        **os.environ,
        "OCFORGE_HUB_URL": f"http://127.0.0.1:{proxy.server_address[1]}",
        "OCFORGE_HUB_TOKEN": TOKEN,
        "HF_HOME": str(cwd / "hf"),
        "COLUMNS": "200",
        # the LFS path, whose signed upload URLs the proxy breaks (Xet uploads carry a Bearer
        # token instead; a user who sets this still gets LFS, and its URLs must stay redacted)
        "HF_HUB_DISABLE_XET": "1",
    }
    args = ["publish", "dataset", str(build), "--repo", repo, "--no-verify"]
    return subprocess.run(
        [*cmd, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )


def test_release_through_a_dying_server_prints_no_signed_url(proxied_hub, tmp_path):
    """The connection drops, then a 503: huggingface_hub retries (and says so), the release
    completes, and its output names the upload path but no signature."""
    proxied_hub.plan[:] = ["drop", "503", "pass"]  # type: ignore[attr-defined]
    proc = _publish(proxied_hub, write_build(tmp_path / "b", corpus()), "alice/leak", tmp_path)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0 and "released v1.0.0" in proc.stdout, out[-3000:]
    assert proxied_hub.signatures  # type: ignore[attr-defined]
    assert re.search(r"thrown while requesting PUT http://127\.0\.0\.1:\d+/api/localhub-lfs/"
                     rf"upload/datasets/alice/leak/[0-9a-f]{{64}}\?{re.escape(MARK)}", out), out[-3000:]  # fmt: skip
    assert "Retrying in" in out
    assert not [s for s in proxied_hub.signatures if s in out]  # type: ignore[attr-defined]
    assert "sig=" not in out and TOKEN not in out


def test_failed_upload_error_chain_names_the_path_but_not_the_signature(
    proxied_hub, tmp_path, monkeypatch
):
    """A 501 is not retried. huggingface_hub raises ``RuntimeError: Error while uploading
    '<file>'`` from httpx2's ``... for url '<signed url>'``: the whole chain, as a traceback
    would show it, keeps the status and the path and loses the signature (the LFS path, as
    with ``HF_HUB_DISABLE_XET=1``)."""
    import traceback

    from huggingface_hub import constants

    from ocforge.publish.hub_client import connect

    monkeypatch.setattr(constants, "HF_HUB_DISABLE_XET", True)

    proxied_hub.plan[:] = ["501"]  # type: ignore[attr-defined]
    blob = tmp_path / "blob.parquet"
    blob.write_bytes(os.urandom(4096))
    endpoint = f"http://127.0.0.1:{proxied_hub.server_address[1]}"
    with pytest.raises(Exception) as err:
        with connect(endpoint=endpoint, token=TOKEN) as conn:
            conn.api.create_repo("alice/leak2", repo_type="dataset")  # type: ignore[attr-defined]
            conn.api.upload_file(  # type: ignore[attr-defined]
                path_or_fileobj=str(blob), path_in_repo="data/blob.parquet",
                repo_id="alice/leak2", repo_type="dataset",
            )  # fmt: skip
    shown = "".join(traceback.format_exception(err.value))
    assert "Error while uploading 'data/blob.parquet'" in shown
    assert re.search(r"501 Not Implemented' for url 'http://127\.0\.0\.1:\d+/api/localhub-lfs/"
                     rf"upload/datasets/alice/leak2/[0-9a-f]{{64}}\?{re.escape(MARK)}'", shown), shown  # fmt: skip
    assert proxied_hub.signatures  # type: ignore[attr-defined]
    assert not [s for s in proxied_hub.signatures if s in shown]  # type: ignore[attr-defined]
    assert "sig=" not in shown and TOKEN not in shown
