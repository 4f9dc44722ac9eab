"""Fixtures for the local Hub conformance tests.

The server runs for real on 127.0.0.1 (in this process, or as a CLI subprocess); the unmodified
huggingface_hub / datasets clients run in separate Python processes because they read
HF_ENDPOINT at import time.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from localhub_helpers import (
    CAROL_TOKEN,
    README,
    TOKENS_TEXT,
    WRITE_TOKEN,
    Http,
    client_environment,
    run_client,
    write_parquet,
    write_xet_fixtures,
)

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
    write_xet_fixtures(root)
    return root


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory):
    """An in-process local Hub with a write token (alice) and a read token (bob)."""
    tokens = TokenStore.parse(TOKENS_TEXT, source="test tokens")
    with LocalHub(tmp_path_factory.mktemp("hub-root"), tokens=tokens) as running:
        yield running


@pytest.fixture(scope="session")
def xet(fixtures_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    """A local Hub after three client runs against it (the Xet tests' shared setup).

    First the Xet client with default settings (uploads, downloads, a tag, a second version),
    then a client with HF_HUB_DISABLE_XET=1 (reads the Xet files, uploads through LFS), then the
    Xet client again (reads the LFS file). Yields the hub, a raw HTTP caller and the results.
    """
    tokens = TokenStore.parse(TOKENS_TEXT + f"{CAROL_TOKEN}\tcarol\n", source="xet test tokens")
    tmp = tmp_path_factory.mktemp("xet")
    with LocalHub(tmp / "root", tokens=tokens) as hub:
        env = client_environment(hub.endpoint, WRITE_TOKEN, tmp / "home-xet")
        first = run_client("xet_flow.py", env, tmp / "xet.json", str(fixtures_dir), "xet")
        plain_env = client_environment(hub.endpoint, WRITE_TOKEN, tmp / "home-plain")
        plain_env["HF_HUB_DISABLE_XET"] = "1"
        plain = run_client("xet_flow.py", plain_env, tmp / "plain.json", str(fixtures_dir), "plain")
        again = run_client("xet_flow.py", env, tmp / "xet2.json", str(fixtures_dir), "xet-read")
        yield {"hub": hub, "http": Http(hub.endpoint), "xet": first, "plain": plain, "again": again}
