"""Shared helpers of the local Hub tests (constants, client environment, client runner)."""

from __future__ import annotations

import http.client
import json
import os
import random
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ocforge.hub import client_env

WRITE_TOKEN = "hf_localhub_test_write_token_0001"
CAROL_TOKEN = "hf_localhub_test_carol_token_0003"  # a writer in another namespace (Xet tests)
READ_TOKEN = "hf_localhub_test_read_token_0002"
TOKENS_TEXT = f"# test tokens\n{WRITE_TOKEN}\talice\n{READ_TOKEN}\tbob\tread\n"
CLIENTS = Path(__file__).parent / "clients"

README = """---
configs:
- config_name: cfg_a
  data_files:
  - split: train
    path: data/cfg_a/train-*.parquet
- config_name: cfg_b
  data_files:
  - split: train
    path: data/cfg_b/train-*.parquet
---
# Role-play test dataset
"""


def write_parquet(path: Path, ids: list[int]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    table = pa.table({"id": ids, "text": [f"line {i}" for i in ids]})
    pq.write_table(table, path)


XET_FILE_SIZE = 10 * 1024 * 1024 + 512 * 1024  # over the 10 MiB LFS threshold
XET_INSERT_AT, XET_INSERT = 5 * 1024 * 1024, 1000


def write_xet_fixtures(root: Path) -> None:
    """Files the Xet tests upload: a big file, a copy with 1,000 bytes inserted mid-file, and
    a file the plain (LFS) client uploads. Seeded, so every run uploads the same bytes."""
    rng = random.Random(16)
    big = rng.randbytes(XET_FILE_SIZE // 2) + b"role-play line\n" * (XET_FILE_SIZE // 30)
    (root / "xet_big.bin").write_bytes(big)
    v2 = big[:XET_INSERT_AT] + rng.randbytes(XET_INSERT) + big[XET_INSERT_AT:]
    (root / "xet_big_v2.bin").write_bytes(v2)
    (root / "lfs.bin").write_bytes(rng.randbytes(XET_FILE_SIZE))


def client_environment(endpoint: str, token: str | None, home: Path) -> dict[str, str]:
    """Parent environment without HF_* variables, plus what a local-hub client needs."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "HUGGINGFACE_"))}
    env.update(client_env(endpoint, token))
    env["HF_HOME"] = str(home)
    env["LOCALHUB_TEST_READ_TOKEN"] = READ_TOKEN
    return env


def run_client(
    script: str, env: dict[str, str], out: Path, *args: str, timeout: float = 300
) -> dict:
    """Run ``clients/<script>`` in a new interpreter; return the JSON it wrote to ``out``."""
    proc = subprocess.run(
        [sys.executable, str(CLIENTS / script), str(out), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if proc.returncode != 0 or not out.exists():
        pytest.fail(
            f"{script} failed with exit code {proc.returncode}\n"
            f"stdout:\n{proc.stdout[-3000:]}\nstderr:\n{proc.stderr[-6000:]}"
        )
    return json.loads(out.read_text())


class Http:
    """Raw HTTP calls to the server (no huggingface_hub)."""

    def __init__(self, endpoint: str):
        url = urlsplit(endpoint)
        self.host, self.port = url.hostname, url.port

    def __call__(self, method, path, body=None, token=None, headers=None):
        conn = http.client.HTTPConnection(self.host, self.port, timeout=60)
        all_headers = dict(headers or {})
        if token:
            all_headers["Authorization"] = f"Bearer {token}"
        conn.request(method, path, body=body, headers=all_headers)
        resp = conn.getresponse()
        data = resp.read()
        conn.close()
        return resp.status, resp.headers, data
