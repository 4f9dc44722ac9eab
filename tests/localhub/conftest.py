"""Fixtures for the local Hub conformance tests.

The server runs for real on 127.0.0.1 (in this process, or as a CLI subprocess); the unmodified
huggingface_hub / datasets clients run in separate Python processes because they read
HF_ENDPOINT at import time.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from localhub_helpers import README, TOKENS_TEXT, write_parquet

from ocforge.hub import LocalHub, TokenStore


@pytest.fixture(scope="session")
def fixtures_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Local files the client scripts upload: two dataset versions and an LFS blob."""
    root = tmp_path_factory.mktemp("fixtures")
    v1 = root / "dataset_v1"
    (v1 / "data").mkdir(parents=True)
    (v1 / "README.md").write_text(README)
    write_parquet(v1 / "data/cfg_a/train-00000-of-00001.parquet", [1, 2])
    write_parquet(v1 / "data/cfg_b/train-00000-of-00001.parquet", [10, 20, 30])
    write_parquet(root / "dataset_v2/data/cfg_b/train-00000-of-00001.parquet", [10, 20, 30, 40])
    (root / "blob.bin").write_bytes(b"\0LFS" + os.urandom(200 * 1024))
    return root


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory):
    """An in-process local Hub with a write token (alice) and a read token (bob)."""
    tokens = TokenStore.parse(TOKENS_TEXT, source="test tokens")
    with LocalHub(tmp_path_factory.mktemp("hub-root"), tokens=tokens) as running:
        yield running
