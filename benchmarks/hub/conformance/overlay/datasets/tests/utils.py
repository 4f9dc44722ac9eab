"""Test helpers the in-scope datasets test modules import (ocforge conformance, written for ocforge).

The datasets sdist leaves out ``tests/utils.py``. These are our versions of the names
``test_upstream_hub.py``, ``test_load.py``, ``test_file_utils.py`` import. One difference on
purpose: ``xfail_if_500_502_http_error`` does not turn a 5xx into an expected failure, since a 5xx
from the local Hub is a server fault that the run must show.
"""

from __future__ import annotations

import importlib.util
import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from enum import Enum
from typing import Any
from unittest.mock import patch

import pyarrow as pa
import pytest


def _missing(module: str) -> bool:
    return importlib.util.find_spec(module) is None


require_pil = pytest.mark.skipif(_missing("PIL"), reason="test requires Pillow")
require_torchcodec = pytest.mark.skipif(_missing("torchcodec"), reason="test requires torchcodec")
require_zstandard = pytest.mark.skipif(_missing("zstandard"), reason="test requires zstandard")
slow = pytest.mark.skipif(
    os.environ.get("RUN_SLOW", "").lower() not in ("1", "true", "yes"),
    reason="slow test: set RUN_SLOW=1",
)


def for_all_test_methods(*decorators: Callable[[Any], Any]) -> Callable[[type], type]:
    """Class decorator applying ``decorators`` to every ``test*`` method."""

    def decorate(cls: type) -> type:
        for name, value in list(vars(cls).items()):
            if callable(value) and name.startswith("test"):
                for decorator in decorators:
                    value = decorator(value)
                setattr(cls, name, value)
        return cls

    return decorate


def xfail_if_500_502_http_error(func: Callable[..., Any]) -> Callable[..., Any]:
    """Pass-through: against the local Hub a 5xx is a failure to report, not a flaky server."""
    return func


class OfflineSimulationMode(Enum):
    CONNECTION_FAILS = 0
    CONNECTION_TIMES_OUT = 1
    HF_HUB_OFFLINE_SET_TO_1 = 2


@contextmanager
def offline(
    mode: OfflineSimulationMode = OfflineSimulationMode.CONNECTION_FAILS, timeout: float = 1e-16
):
    """Offline simulation; only ``HF_HUB_OFFLINE_SET_TO_1`` is provided (no in-scope test uses any)."""
    if mode is not OfflineSimulationMode.HF_HUB_OFFLINE_SET_TO_1:
        raise NotImplementedError(f"{mode} is not provided by the conformance run's utils")
    with (
        patch("datasets.config.HF_HUB_OFFLINE", True),
        patch("huggingface_hub.constants.HF_HUB_OFFLINE", True),
    ):
        yield


@contextmanager
def set_current_working_directory_to_temp_dir() -> Iterator[str]:
    previous = os.getcwd()
    with tempfile.TemporaryDirectory() as folder:
        os.chdir(folder)
        try:
            yield folder
        finally:
            os.chdir(previous)


@contextmanager
def assert_arrow_memory_increases() -> Iterator[None]:
    before = pa.total_allocated_bytes()
    yield
    assert pa.total_allocated_bytes() - before > 0, "Arrow memory didn't increase."


@contextmanager
def assert_arrow_memory_doesnt_increase() -> Iterator[None]:
    before = pa.total_allocated_bytes()
    yield
    assert pa.total_allocated_bytes() - before <= 0, "Arrow memory wasn't expected to increase."
