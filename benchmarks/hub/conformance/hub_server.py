"""``ocforge hub serve --port 0`` as a child process for the conformance run."""

from __future__ import annotations

import queue
import subprocess
import sys
import threading
import time
from pathlib import Path

START_TIMEOUT_S = 60


#: ENTERPRISE_ORG of huggingface_hub's tests/testing_constants.py (also in tokens.template)
PRIVATE_ORG = "EnterpriseOrgPrivate"


class ServerError(Exception):
    """The local Hub did not start."""


class Server:
    """``ocforge hub serve --port 0`` in a child process, its request log in ``log_path``."""

    def __init__(self, root: Path, token_file: Path, log_path: Path, cwd: Path):
        self.log_path = log_path
        # huggingface_hub's Enterprise test org makes new repos private by default
        org = [sys.executable, "-m", "ocforge", "hub", "org", PRIVATE_ORG, "--root", str(root)]
        subprocess.run([*org, "--private-by-default"], check=True, capture_output=True, cwd=cwd)
        cmd = [sys.executable, "-m", "ocforge", "hub", "serve", "--root", str(root)]
        cmd += ["--port", "0", "--token-file", str(token_file), "--log-level", "info"]
        self._log_fh = log_path.open("w")
        self.proc = subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=self._log_fh, text=True, cwd=cwd
        )
        self._lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._drain, daemon=True).start()
        self.endpoint = self._wait_for_endpoint()

    def _drain(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._lines.put(line)
        self._lines.put(None)

    def _wait_for_endpoint(self) -> str:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            try:
                line = self._lines.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                break
            if line is None:
                break
            if line.startswith("endpoint: "):
                return line.split(": ", 1)[1].strip()
        self.stop()
        tail = self.log_path.read_text()[-2000:]
        raise ServerError(f"ocforge hub serve did not start:\n{tail}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log_fh.close()
