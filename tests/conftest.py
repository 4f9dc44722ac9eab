"""Shared fixtures: the bundled demo recipe and a session-wide build of it."""

from __future__ import annotations

import os
import tempfile

import pytest

from ocforge.recipe import DEMO_RECIPE

# Nothing in the tests may reach a network: datasets and huggingface_hub stay offline.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TQDM_DISABLE", "1")
# load_dataset caches prepared Arrow files: keep them out of the user's cache (read at import)
os.environ.setdefault("HF_DATASETS_CACHE", tempfile.mkdtemp(prefix="ocforge-test-datasets-"))
# Publishing goes through hf_xet, whose chunk and shard caches live under HF_HOME/xet (read at
# every upload, not at import): no test may read or fill the user's ~/.cache/huggingface
os.environ.setdefault("HF_HOME", tempfile.mkdtemp(prefix="ocforge-test-hf-home-"))


@pytest.fixture(autouse=True)
def _xet_cache_per_test(tmp_path_factory, monkeypatch):
    """A fresh HF_HOME for each test's in-process Xet uploads (child processes that set their
    own HF_HOME keep theirs). hf_xet keys its shard cache by the CAS URL, which holds the local
    Hub's port: a cache shared between tests would claim chunks that a later server on a reused
    port never received, and the upload would fail."""
    monkeypatch.setenv("HF_HOME", str(tmp_path_factory.mktemp("hf-home")))


@pytest.fixture(scope="session")
def demo_recipe():
    from ocforge.recipe import load_recipe

    return load_recipe(DEMO_RECIPE)


@pytest.fixture(scope="session")
def demo_build(demo_recipe, tmp_path_factory):
    """The demo corpus built once for the whole session (read-only for tests)."""
    from ocforge.flows.build import build

    return build(demo_recipe, tmp_path_factory.mktemp("demo") / "out")
