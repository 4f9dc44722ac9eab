"""Our conftest for huggingface_hub's own tests, run against the local Hub (ocforge conformance).

The sdist ships the tests without ``tests/conftest.py``; this file, written for ocforge, gives
the fixtures the in-scope test files ask for (``api``, ``repo_factory``, ``new_repo_id``,
``api_prod``) and the markers they use. The server is whatever ``HF_ENDPOINT`` names: the
runner (benchmarks/hub/conformance/run.py) starts ``ocforge hub serve`` and sets it, and
``testing_constants.ENDPOINT_STAGING`` reads it too.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Iterator
from typing import Any, Protocol

import pytest
from huggingface_hub import HfApi, RepoUrl, constants

from .testing_constants import (
    ENDPOINT_PRODUCTION,
    ENDPOINT_STAGING,
    ENTERPRISE_TOKEN,
    ENTERPRISE_USER,
    OTHER_TOKEN,
    OTHER_USER,
    TOKEN,
    USER,
)
from .testing_utils import repo_name

MARKERS = {
    "api": "tests that don't depend on Xet",
    "transfer": "upload/download tests",
    "inference": "inference tests (out of scope for a publishing Hub)",
    "xet": "needs hf_xet with Xet force-enabled (out of scope: Xet internals)",
    "no_xet": "must run without hf_xet; skipped when hf_xet is installed",
    "production": "talks to huggingface.co itself (out of scope)",
    "deprecated": "expects a FutureWarning",
    "git_lfs": "needs git-lfs; skipped unless RUN_GIT_LFS_TESTS is set",
    "vcr": "replays recorded production traffic (out of scope)",
}

# the namespace a token's repos land in when a test gives no repo id
_NAMESPACE_OF_TOKEN = {TOKEN: USER, OTHER_TOKEN: OTHER_USER, ENTERPRISE_TOKEN: ENTERPRISE_USER}


class RepoFactory(Protocol):
    """``repo_factory(repo_type="model", *, repo_id=None, token=TOKEN, **create_repo_kwargs)``."""

    def __call__(
        self,
        repo_type: str = "model",
        *,
        repo_id: str | None = None,
        token: str = TOKEN,
        **kwargs: Any,
    ) -> RepoUrl: ...


def pytest_configure(config: pytest.Config) -> None:
    for name, text in MARKERS.items():
        config.addinivalue_line("markers", f"{name}: {text}")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    has_xet = importlib.util.find_spec("hf_xet") is not None
    run_git_lfs = os.environ.get("RUN_GIT_LFS_TESTS", "").lower() in ("1", "true", "yes")
    for item in items:
        if has_xet and item.get_closest_marker("no_xet"):
            item.add_marker(pytest.mark.skip(reason="no_xet test: hf_xet is installed"))
        if not run_git_lfs and item.get_closest_marker("git_lfs"):
            item.add_marker(pytest.mark.skip(reason="git_lfs test: RUN_GIT_LFS_TESTS not set"))


@pytest.fixture(autouse=True)
def _private_hf_paths(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch):
    """A fresh cache and token location per test, so no test sees another's downloads."""
    home = tmp_path_factory.mktemp("hf_home")
    monkeypatch.setattr(constants, "HF_HOME", str(home))
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(home / "hub"))
    monkeypatch.setattr(constants, "HUGGINGFACE_HUB_CACHE", str(home / "hub"))
    monkeypatch.setattr(constants, "HF_ASSETS_CACHE", str(home / "assets"))
    monkeypatch.setattr(constants, "HF_XET_CACHE", str(home / "xet"))
    monkeypatch.setattr(constants, "HF_TOKEN_PATH", str(home / "token"))
    monkeypatch.setattr(constants, "HF_STORED_TOKENS_PATH", str(home / "stored_tokens"))


@pytest.fixture(scope="session")
def api() -> HfApi:
    """The suite's user on the server under test."""
    return HfApi(endpoint=ENDPOINT_STAGING, token=TOKEN)


@pytest.fixture(scope="session")
def api_prod() -> HfApi:
    """Anonymous huggingface.co client (only production-marked tests use it; they are out of scope)."""
    return HfApi(endpoint=ENDPOINT_PRODUCTION)


@pytest.fixture
def repo_factory(api: HfApi) -> Iterator[RepoFactory]:
    """Creates repos for a test and deletes them afterwards.

    Without ``repo_id`` the repo is ``{token's user}/{unique name}``; a ``repo_id`` is passed to
    ``create_repo`` as the test gives it (a bare name then means the token's namespace, which
    the Hub resolves and the test checks).
    """
    created: list[tuple[str, str, str]] = []

    def _create(
        repo_type: str = "model", *, repo_id: str | None = None, token: str = TOKEN, **kwargs: Any
    ) -> RepoUrl:
        if repo_id is None:
            repo_id = f"{_NAMESPACE_OF_TOKEN.get(token, USER)}/{repo_name()}"
        url = api.create_repo(repo_id=repo_id, repo_type=repo_type, token=token, **kwargs)
        created.append((url.repo_id, repo_type, token))
        return url

    yield _create
    for repo_id, repo_type, token in created:
        try:
            api.delete_repo(repo_id=repo_id, repo_type=repo_type, token=token, missing_ok=True)
        except Exception as exc:  # cleanup must not mask the test's own outcome
            print(f"conformance: cleanup of {repo_type} {repo_id} failed: {exc}")


@pytest.fixture
def new_repo_id(api: HfApi) -> Iterator[str]:
    """A fresh model repo id in the suite user's namespace, deleted after the test."""
    repo_id = f"{USER}/{repo_name()}"
    yield repo_id
    try:
        api.delete_repo(repo_id=repo_id, missing_ok=True)
    except Exception as exc:  # cleanup must not mask the test's own outcome
        print(f"conformance: cleanup of {repo_id} failed: {exc}")
