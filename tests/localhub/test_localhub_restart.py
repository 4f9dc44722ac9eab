"""Durability: a restarted server keeps its repos; a SIGKILL during uploads loses nothing.

The server runs as ``python -m ocforge hub serve`` (the CLI) in its own process so it
can be killed; the checks go through the unmodified huggingface_hub client in another process.
The interrupted uploads are sent with raw sockets so that the kill happens while the server is
provably in the middle of receiving them.
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import json
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from localhub_helpers import TOKENS_TEXT, WRITE_TOKEN, client_environment, run_client


class ServerProcess:
    """``ocforge.hub serve`` in a subprocess on an ephemeral port."""

    def __init__(self, root: Path, token_file: Path, log: Path):
        self.log = log
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "ocforge", "hub", "serve", "--root", str(root),
             "--port", "0", "--token-file", str(token_file), "--log-level", "debug"],
            stdout=subprocess.PIPE,
            stderr=open(log, "ab"),  # noqa: SIM115 (closed with the process)
            text=True,
        )  # fmt: skip
        self.stdout_lines: list[str] = []
        lines: queue.Queue[str | None] = queue.Queue()

        def pump() -> None:
            assert self.proc.stdout is not None
            for line in self.proc.stdout:
                lines.put(line)
            lines.put(None)

        threading.Thread(target=pump, daemon=True).start()
        deadline = time.monotonic() + 30
        self.endpoint = ""
        while not self.endpoint:
            try:
                line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                line = None
            if line is None:
                self.proc.kill()
                pytest.fail(f"server did not start: {''.join(self.stdout_lines)}{log.read_text()}")
            self.stdout_lines.append(line)
            if line.startswith("endpoint: "):
                self.endpoint = line.split(": ", 1)[1].strip()
        self._lines = lines

    def output(self) -> str:
        """Everything the server printed on stdout so far."""
        while True:
            try:
                line = self._lines.get_nowait()
            except queue.Empty:
                break
            if line is not None:
                self.stdout_lines.append(line)
        return "".join(self.stdout_lines)

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=20)


def start_interrupted_uploads(endpoint: str, token: str) -> tuple[list[socket.socket], str]:
    """Begin an LFS PUT and a commit, each with part of its body; return sockets and LFS oid."""
    url = urlsplit(endpoint)
    host, port = url.hostname, url.port
    data = os.urandom(8 * 1024 * 1024)
    oid = hashlib.sha256(data).hexdigest()
    conn = http.client.HTTPConnection(host, port, timeout=10)
    conn.request(
        "POST",
        "/datasets/alice/durable.git/info/lfs/objects/batch",
        body=json.dumps(
            {
                "operation": "upload",
                "transfers": ["basic"],
                "hash_algo": "sha256",
                "objects": [{"oid": oid, "size": len(data)}],
                "ref": {"name": "main"},
            }
        ),  # fmt: skip
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    batch = json.loads(conn.getresponse().read())
    conn.close()
    href = urlsplit(batch["objects"][0]["actions"]["upload"]["href"])
    put = socket.create_connection((host, port))
    put.sendall(
        f"PUT {href.path}?{href.query} HTTP/1.1\r\nHost: {url.netloc}\r\n"
        f"Content-Length: {len(data)}\r\n\r\n".encode()
        + data[: 3 * 1024 * 1024]  # several of the server's 1 MiB copy chunks, not all
    )
    lines = [
        {"key": "header", "value": {"summary": "never completes", "description": ""}},
        {"key": "file", "value": {"path": "partial.txt", "encoding": "base64",
                                  "content": base64.b64encode(os.urandom(512 * 1024)).decode()}},
    ]  # fmt: skip
    body = b"".join(json.dumps(item).encode() + b"\n" for item in lines)
    commit = socket.create_connection((host, port))
    commit.sendall(
        f"POST /api/datasets/alice/durable/commit/main HTTP/1.1\r\nHost: {url.netloc}\r\n"
        f"Authorization: Bearer {token}\r\nContent-Type: application/x-ndjson\r\n"
        f"Content-Length: {len(body)}\r\n\r\n".encode()
        + body[: len(body) - 4096]
    )
    return [put, commit], oid


def wait_for_partial_temp_file(root: Path, timeout: float = 10) -> int:
    """Size of the biggest temp file once the server has written part of the upload."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        sizes = [p.stat().st_size for p in (root / "tmp").rglob("*") if p.is_file()]
        if sizes and max(sizes) > 0:
            return max(sizes)
        time.sleep(0.05)
    pytest.fail("the server never started writing the interrupted upload")


def test_restart_and_sigkill_during_upload(fixtures_dir: Path, tmp_path: Path):
    root = tmp_path / "root"
    token_file = tmp_path / "tokens.txt"
    token_file.write_text(TOKENS_TEXT)
    token_file.chmod(0o600)
    log = tmp_path / "server.log"

    first = ServerProcess(root, token_file, log)
    env = client_environment(first.endpoint, WRITE_TOKEN, tmp_path / "home1")
    written = run_client("restart_flow.py", env, tmp_path / "w.json", "write", str(fixtures_dir))
    before = written["state"]
    assert before["note"] == "durable\n"
    assert first.stop() == 0
    assert "local hub stopped" in first.output()

    # graceful restart: everything is still there
    second = ServerProcess(root, token_file, log)
    env = client_environment(second.endpoint, WRITE_TOKEN, tmp_path / "home2")
    assert (
        run_client("restart_flow.py", env, tmp_path / "r.json", "read", str(fixtures_dir))["state"]
        == before
    )

    # SIGKILL while an LFS upload and a commit are half received
    sockets, partial_oid = start_interrupted_uploads(second.endpoint, WRITE_TOKEN)
    assert wait_for_partial_temp_file(root) > 0
    time.sleep(0.2)  # let the commit request reach the server too
    second.proc.kill()
    assert second.proc.wait(timeout=10) == -signal.SIGKILL
    for sock in sockets:
        sock.close()

    third = ServerProcess(root, token_file, log)
    env = client_environment(third.endpoint, WRITE_TOKEN, tmp_path / "home3")
    after = run_client("restart_flow.py", env, tmp_path / "k.json", "write-more", str(fixtures_dir))
    assert after["state"] == before  # previous state intact and readable, no partial commit
    assert "partial.txt" not in after["state"]["files"]
    assert after["after"]["commits"][0] == after["new_commit"]
    assert after["after"]["commits"][1:] == before["commits"]
    blob = root / "repos/dataset/alice/durable/objects/blobs" / partial_oid[:2] / partial_oid
    assert not blob.exists()
    # temp files of the killed process were cleaned up at start-up
    assert [p.name.split("-")[0] for p in (root / "tmp").iterdir()] == [str(third.proc.pid)]
    assert third.stop() == 0

    printed = first.output() + second.output() + third.output()
    logged = log.read_text()
    assert "POST /api/datasets/alice/durable/commit/main 200" in logged  # request log is on
    assert WRITE_TOKEN not in printed and WRITE_TOKEN not in logged
    assert "sig=" not in logged  # signed LFS upload URLs are logged without their query
    assert f"HF_ENDPOINT={first.endpoint}" in printed and "HF_HUB_DISABLE_XET" not in printed
