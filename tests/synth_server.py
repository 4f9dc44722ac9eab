"""A real ``transformers serve`` on 127.0.0.1 with a tiny random-weight chat model, and a
recording HTTP proxy in front of it (it forwards every request unchanged and keeps the bodies),
for the synthesis tests and benchmarks."""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def server_env(hf_home: Path) -> dict[str, str]:
    (hf_home / "hub").mkdir(parents=True, exist_ok=True)  # without it /v1/models answers 500
    return {**os.environ, "HF_HOME": str(hf_home), "HF_HUB_OFFLINE": "1", "TQDM_DISABLE": "1"}


@contextmanager
def transformers_serve(model_dir: Path, workdir: Path, *, continuous_batching: bool = False):
    """Start ``transformers serve MODEL_DIR`` on a free port; yield its base URL. The server is
    stopped by its process id when the block exits, also when it fails."""
    port = free_port()
    exe = Path(sys.executable).with_name("transformers")
    cmd = [str(exe), "serve", str(model_dir), "--host", "127.0.0.1", "--port", str(port)]
    cmd += ["--device", "cpu", "--log-level", "info"]
    if continuous_batching:
        cmd.append("--continuous-batching")
    log = (workdir / "transformers-serve.log").open("wb")
    # one thread: a tiny model gains nothing from more, and on a busy machine torch's thread
    # pool makes each request about ten times slower
    env = {**server_env(workdir / "hf-home"), "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        while True:
            if proc.poll() is not None:
                raise RuntimeError(
                    f"transformers serve exited with {proc.returncode}: see {log.name}"
                )
            try:
                with urllib.request.urlopen(f"{url}/v1/models", timeout=2) as resp:
                    if resp.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"transformers serve did not come up: see {log.name}")
            time.sleep(0.3)
        yield url
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait()
        log.close()


class RecordingProxy:
    """Forwards HTTP requests to ``upstream`` and records each chat completion it relayed."""

    def __init__(self, upstream: str):
        self.upstream = upstream.removeprefix("http://")
        self.completions: list[dict] = []  # request bodies, in the order answers came back
        self.delay_s = 0.0  # added before relaying a chat completion: a slow endpoint
        self._lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def _relay(self, method: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                if method == "POST" and self.path.endswith("/chat/completions"):
                    time.sleep(proxy.delay_s)
                conn = http.client.HTTPConnection(proxy.upstream, timeout=600)
                try:
                    headers = {"Content-Type": self.headers.get("Content-Type", "application/json")}
                    conn.request(method, self.path, body=body, headers=headers)
                    resp = conn.getresponse()
                    data = resp.read()
                finally:
                    conn.close()
                if method == "POST" and self.path.endswith("/chat/completions"):
                    with proxy._lock:
                        proxy.completions.append(json.loads(body or b"{}"))
                self.send_response(resp.status)
                self.send_header("Content-Type", resp.getheader("Content-Type", "application/json"))
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
                self._relay("GET")

            def do_POST(self) -> None:  # noqa: N802
                self._relay("POST")

            def log_message(self, *args) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def count(self) -> int:
        with self._lock:
            return len(self.completions)

    def since(self, start: int) -> list[dict]:
        with self._lock:
            return list(self.completions[start:])

    def __enter__(self) -> RecordingProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()
