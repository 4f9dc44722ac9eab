"""pytest plugin of the conformance run: the in-scope selection, outcomes and server requests.

Loaded into the clients' own test runs with ``-p conformance_plugin`` by run.py, which sets:

- ``OCFORGE_CONFORMANCE_SUITE``: ``huggingface_hub`` or ``datasets`` (picks the scope rules);
- ``OCFORGE_CONFORMANCE_SERVER_LOG``: the log of ``ocforge hub serve --log-level info``, one line
  per request (method, path without query string, status);
- ``OCFORGE_CONFORMANCE_RESULTS``: a JSON-lines file this plugin appends to.

"Sent requests to the server" is read from that log: a test sent requests when the server
logged at least one while the test's setup, call or teardown ran (tests run one at a time), or
when a class-, module- or session-scoped fixture it uses sent requests while being set up (such
a fixture runs once, for the first test that needs it, and its repo serves all of them). A
background thread's late requests count for whichever test is running then.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

SUITE_ENV = "OCFORGE_CONFORMANCE_SUITE"
LOG_ENV = "OCFORGE_CONFORMANCE_SERVER_LOG"
RESULTS_ENV = "OCFORGE_CONFORMANCE_RESULTS"

# Features a publishing Hub does not need (the reference's selection), matched as whole words
# of a test class name (CamelCase) or test function name (snake_case), so "namespace" is kept.
_OUT_OF_SCOPE_WORDS = {
    "space", "spaces", "collection", "collections", "webhook", "webhooks", "activity", "paper",
    "papers", "bucket", "buckets", "job", "jobs", "inference", "access request", "access requests",
    "user api", "users api",
}  # fmt: skip
_CAMEL_RE = re.compile(r"[A-Z][a-z]*|[a-z]+|\d+")

# In these files only the tests that use a Hub fixture are in scope (the others are local).
_HUB_ONLY_FILES = {
    "datasets": {"tests/test_load.py", "tests/test_file_utils.py", "tests/test_hub.py"},
    "huggingface_hub": set(),
}
_HUB_FIXTURES = {
    "hf_api",
    "hf_token",
    "temporary_repo",
    "ci_hub_config",
    "hf_private_dataset_repo_txt_data",
    "hf_private_dataset_repo_zipped_txt_data",
    "hf_private_dataset_repo_zipped_img_data",
    "hf_gated_dataset_repo_txt_data",
}
_REQUEST_RE = re.compile(r" INFO (GET|HEAD|POST|PUT|PATCH|DELETE|OPTIONS) (\S+) (\d{3})\b")
_MAX_LISTED_REQUESTS = 8
_MAX_LOGGED_REQUESTS = 40


def out_of_scope_reason(suite: str, nodeid: str, fixturenames: list[str]) -> str | None:
    """Why a collected test is not in the in-scope selection, or ``None`` if it is."""
    for name in nodeid.split("::")[1:]:
        name = name.split("[")[0]
        words = (
            [w.lower() for w in _CAMEL_RE.findall(name)] if name[:1].isupper() else name.split("_")
        )
        pairs = [" ".join(words[i : i + 2]) for i in range(len(words))]
        hit = next((w for w in words + pairs if w in _OUT_OF_SCOPE_WORDS), None)
        if hit:
            return f"out of scope: {hit} ({name})"
    if nodeid.split("::")[0] in _HUB_ONLY_FILES.get(suite, set()):
        if not _HUB_FIXTURES.intersection(fixturenames):
            return "out of scope: does not use the Hub"
    return None


def parse_request_lines(text: str) -> list[tuple[str, str, int]]:
    """(method, path, status) of each request line of the server's info log."""
    return [(m[1], m[2], int(m[3])) for m in _REQUEST_RE.finditer(text)]


class _ServerLog:
    """Reads the request lines the server appended since the last read."""

    def __init__(self, path: Path):
        self.path = path
        self.offset = path.stat().st_size if path.exists() else 0

    def new_requests(self) -> list[tuple[str, str, int]]:
        if not self.path.exists():
            return []
        with self.path.open("rb") as fh:
            fh.seek(self.offset)
            chunk = fh.read()
        complete = chunk[: chunk.rfind(b"\n") + 1]
        self.offset += len(complete)
        return parse_request_lines(complete.decode("utf-8", "replace"))


def _short_reason(report: pytest.TestReport | pytest.CollectReport) -> str:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple):  # skips: (file, line, reason)
        return str(longrepr[2])
    crash = getattr(longrepr, "reprcrash", None)
    text = crash.message if crash is not None else str(longrepr or "")
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return " | ".join(lines)[:600]


class _Recorder:
    def __init__(self, suite: str, log: _ServerLog | None, results: Path):
        self.suite = suite
        self.log = log
        self.results = results
        self.phases: dict[str, dict[str, Any]] = {}
        self.current: list[tuple[str, str, int]] = []
        self.shared_with_requests: set[int] = set()  # id() of non-function fixtures that did

    def _write(self, record: dict[str, Any]) -> None:
        with self.results.open("a") as fh:
            fh.write(json.dumps(record) + "\n")

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(
        self, config: pytest.Config, items: list[pytest.Item]
    ) -> None:
        keep, drop = [], []
        for item in items:
            reason = out_of_scope_reason(self.suite, item.nodeid, list(item.fixturenames))
            if reason is None:
                keep.append(item)
            else:
                drop.append(item)
                self._write(
                    {
                        "kind": "deselected",
                        "suite": self.suite,
                        "nodeid": item.nodeid,
                        "reason": reason,
                    }
                )
        if drop:
            config.hook.pytest_deselected(items=drop)
            items[:] = keep

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:  # a test module that does not import: its tests are missing
            self._write(
                {
                    "kind": "collect_error",
                    "suite": self.suite,
                    "nodeid": report.nodeid,
                    "reason": _short_reason(report),
                }
            )

    def _take(self) -> list[tuple[str, str, int]]:
        """Requests logged since the last call, added to the running test's."""
        fresh = self.log.new_requests() if self.log else []
        self.current.extend(fresh)
        return fresh

    @pytest.hookimpl(hookwrapper=True)
    def pytest_fixture_setup(self, fixturedef: pytest.FixtureDef[Any]) -> Iterator[None]:
        self._take()
        yield
        if self._take() and fixturedef.scope != "function":
            self.shared_with_requests.add(id(fixturedef))

    def _uses_shared_server_fixture(self, item: pytest.Item) -> bool:
        info = getattr(item, "_fixtureinfo", None)
        defs = info.name2fixturedefs.values() if info is not None else []
        return any(
            id(fixturedef) in self.shared_with_requests for chain in defs for fixturedef in chain
        )

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_protocol(
        self, item: pytest.Item, nextitem: pytest.Item | None
    ) -> Iterator[None]:
        stray = self.log.new_requests() if self.log else []  # between tests: none expected
        self.current = []
        self.phases[item.nodeid] = {"outcome": "passed", "reason": "", "duration": 0.0}
        yield
        self._take()
        requests, self.current = self.current, []
        state = self.phases.pop(item.nodeid)
        failed = [f"{m} {p} {s}" for m, p, s in requests if s >= 400]
        self._write(
            {
                "kind": "test",
                "suite": self.suite,
                "nodeid": item.nodeid,
                "file": item.nodeid.split("::")[0],
                "outcome": state["outcome"],
                "reason": state["reason"],
                "duration": round(state["duration"], 3),
                "requests": len(requests),
                # a class/module/session fixture it uses sent requests (maybe for an earlier test)
                "shared_fixture_requests": self._uses_shared_server_fixture(item),
                "stray_requests_before": len(stray),
                "error_responses": failed[:_MAX_LISTED_REQUESTS],
                # the whole exchange of a failing test, to read what it asked and got
                "request_log": (
                    [f"{m} {p} {s}" for m, p, s in requests[:_MAX_LOGGED_REQUESTS]]
                    if state["outcome"] in ("failed", "error")
                    else []
                ),
                "error_response_count": len(failed),
                "server_errors": sum(1 for *_, s in requests if s >= 500),
            }
        )

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        state = self.phases.get(report.nodeid)
        if state is None:
            return
        state["duration"] += report.duration
        if hasattr(report, "wasxfail"):
            state["outcome"] = "xfailed" if report.skipped else "xpassed"
            state["reason"] = str(report.wasxfail)
        elif report.failed:
            if report.when == "call":
                state["outcome"], state["reason"] = "failed", _short_reason(report)
            elif state["outcome"] == "passed":  # setup or teardown error
                state["outcome"] = "error"
                state["reason"] = f"[{report.when}] {_short_reason(report)}"
        elif report.skipped and state["outcome"] == "passed":
            state["outcome"], state["reason"] = "skipped", _short_reason(report)


def pytest_configure(config: pytest.Config) -> None:
    suite = os.environ.get(SUITE_ENV)
    results = os.environ.get(RESULTS_ENV)
    if not suite or not results:
        return
    log_path = os.environ.get(LOG_ENV)
    log = _ServerLog(Path(log_path)) if log_path else None
    config.pluginmanager.register(_Recorder(suite, log, Path(results)), "ocforge-conformance")
