"""Figures of a conformance run: per file, per suite, and the share that reached the server.

Pure functions over the JSON-lines records conformance_plugin.py writes (unit-testable without
a server or a download).
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterable
from pathlib import Path
from typing import Any

OUTCOMES = ("passed", "failed", "error", "skipped", "xfailed", "xpassed")


def read_records(path: Path) -> list[dict[str, Any]]:
    """The records of a results file (missing file: none)."""
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _empty() -> dict[str, int]:
    return dict.fromkeys(OUTCOMES, 0)


def reached_server(test: dict[str, Any]) -> bool:
    """The test, or a shared fixture it uses, sent requests to the server."""
    return test["requests"] > 0 or bool(test.get("shared_fixture_requests"))


def tally(tests: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """Counts by outcome, ``ran`` (passed + failed + error + xpassed) and ``pass_ratio``."""
    counts = _empty()
    for test in tests:
        counts[test["outcome"]] += 1
    ran = counts["passed"] + counts["failed"] + counts["error"] + counts["xpassed"]
    passed = counts["passed"] + counts["xpassed"]
    return {**counts, "ran": ran, "pass_ratio": round(passed / ran, 4) if ran else None}


def summarize(records: list[dict[str, Any]]) -> dict[str, Any]:
    """Per suite: totals, the subset that sent requests to the server, per-file figures."""
    tests = [r for r in records if r["kind"] == "test"]
    deselected = [r for r in records if r["kind"] == "deselected"]
    suites: dict[str, Any] = {}
    for suite in dict.fromkeys(r["suite"] for r in records if "suite" in r):  # run order
        own = [t for t in tests if t["suite"] == suite]
        by_file: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for test in own:
            by_file[test["file"]].append(test)
        suites[suite] = {
            "all": tally(own),
            "reached_server": tally(t for t in own if reached_server(t)),
            "files": {
                name: {
                    "all": tally(items),
                    "reached_server": tally(t for t in items if reached_server(t)),
                }
                for name, items in sorted(by_file.items())
            },
            "deselected": len([d for d in deselected if d["suite"] == suite]),
            "requests": sum(t["requests"] for t in own),
            "server_errors_5xx": sum(t["server_errors"] for t in own),
        }
    return suites


def failures(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Failed and erroring tests with their reasons and the server's error responses."""
    keys = ("suite", "nodeid", "outcome", "reason", "requests", "error_responses")
    return [
        {k: r[k] for k in keys}
        for r in records
        if r["kind"] == "test" and r["outcome"] in ("failed", "error")
    ]


def _row(name: str, figures: dict[str, Any]) -> str:
    a, s = figures["all"], figures["reached_server"]
    return (
        f"{name:<44} {a['ran']:>4} {a['passed']:>5} {a['failed']:>5} {a['error']:>5}"
        f" {a['skipped'] + a['xfailed']:>5} | {s['ran']:>4} {s['passed']:>5} {s['failed']:>5}"
        f" {s['error']:>5}"
    )


def format_table(suites: dict[str, Any]) -> list[str]:
    """Per-file rows and a total row per suite (the right half: tests that reached the server)."""
    header = (
        f"{'file':<44} {'ran':>4} {'pass':>5} {'fail':>5} {'err':>5} {'skip':>5} |"
        f" {'ran':>4} {'pass':>5} {'fail':>5} {'err':>5}   (right: sent requests to the server)"
    )
    lines: list[str] = []
    for suite, figures in suites.items():
        lines += ["", f"== {suite}", header]
        lines += [_row(name, per_file) for name, per_file in figures["files"].items()]
        lines.append(_row(f"TOTAL {suite}", figures))
        lines.append(
            f"   {figures['deselected']} deselected as out of scope, {figures['requests']} requests,"
            f" {figures['server_errors_5xx']} answered 5xx"
        )
    return lines


def one_line(suites: dict[str, Any]) -> str:
    """``conformance: huggingface_hub 320/404 passed (server: 117/153), datasets ...``."""
    parts = []
    for suite, figures in suites.items():
        a, s = figures["all"], figures["reached_server"]
        a_passed, s_passed = a["passed"] + a["xpassed"], s["passed"] + s["xpassed"]
        parts.append(
            f"{suite} {a_passed}/{a['ran']} passed"
            f" (of tests that sent requests to the server: {s_passed}/{s['ran']})"
        )
    five = sum(f["server_errors_5xx"] for f in suites.values())
    return "conformance: " + "; ".join(parts) + f"; {five} responses 5xx"


def overall_ratio(suites: dict[str, Any], key: str) -> float | None:
    """Pass ratio over every suite, of all in-scope tests (``all``) or ``reached_server``."""
    ran = sum(f[key]["ran"] for f in suites.values())
    passed = sum(f[key]["passed"] + f[key]["xpassed"] for f in suites.values())
    return passed / ran if ran else None


def outcome_counts(records: list[dict[str, Any]]) -> Counter[str]:
    return Counter(r["outcome"] for r in records if r["kind"] == "test")
