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


@pytest.fixture(scope="session")
def demo_recipe():
    from ocforge.recipe import load_recipe

    return load_recipe(DEMO_RECIPE)


@pytest.fixture(scope="session")
def demo_build(demo_recipe, tmp_path_factory):
    """The demo corpus built once for the whole session (read-only for tests)."""
    from ocforge.flows.build import build

    return build(demo_recipe, tmp_path_factory.mktemp("demo") / "out")
