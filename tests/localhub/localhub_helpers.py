"""Shared helpers of the local Hub tests (constants, client environment, client runner)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ocforge.hub import client_env

WRITE_TOKEN = "hf_localhub_test_write_token_0001"
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
