"""Run huggingface_hub's and datasets' own test suites against ``ocforge hub serve``.

Downloads the source distributions of the installed versions (they ship ``tests/``), adds our
own conftest and fixtures (overlay/), starts the local Hub with a token file mapping the suites'
public CI tokens to their users (tokens.template), runs the in-scope selection and prints
passed / failed / errors per test file, the same for the tests that sent requests to the
server, and a one-line summary. Per-test outcomes go to ``CACHE/result.json``. Method and
figures: README.md next to this file.

    python benchmarks/hub/conformance/run.py [--only hf|datasets] [-k EXPR] [--keep]
        [--min-pass-ratio X] [--min-server-pass-ratio X] [--cache-dir DIR]

Exit status: 0 when the run completed (failing tests included), 1 when a ratio option is not
met, 2 when the runner itself failed (download, server start, a suite that could not run).
"""

from __future__ import annotations

import argparse
import ast
import datetime as dt
import importlib.metadata
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parents[2]
sys.path.insert(0, str(HERE))

import summary  # noqa: E402 (next to this script, not a package)
from hub_server import Server, ServerError  # noqa: E402

from ocforge.hub.clientenv import client_env  # noqa: E402

MARK_EXPR = "not production and not xet and not inference"
TEST_TIMEOUT_S = 120
SUITE_TIMEOUT_S = 1200
# test modules that import a package outside the project's environment: left out (and said so)
# when it is missing, rather than failing the whole collection
FILE_REQUIRES = {"test_hub_mixin.py": ("jedi",)}


@dataclass(frozen=True)
class Suite:
    key: str  # --only value
    dist: str  # distribution name, also the overlay folder
    files: tuple[str, ...]
    # (module path inside tests/, token constant, user constant) the token file must agree with
    identities: tuple[tuple[str, str, str], ...]


SUITES = (
    Suite(
        "hf",
        "huggingface_hub",
        (
            "test_hf_api.py",
            "test_file_download.py",
            "test_snapshot_download.py",
            "test_hf_file_system.py",
            "test_commit_api.py",
            "test_repocard.py",
            "test_cache_layout.py",
            "test_lfs.py",
            "test_hub_mixin.py",
            "test_commit_scheduler.py",
        ),
        (
            ("testing_constants.py", "TOKEN", "USER"),
            ("testing_constants.py", "OTHER_TOKEN", "OTHER_USER"),
            ("testing_constants.py", "ENTERPRISE_TOKEN", "ENTERPRISE_USER"),
        ),
    ),
    Suite(
        "datasets",
        "datasets",
        ("test_upstream_hub.py", "test_load.py", "test_file_utils.py", "test_hub.py"),
        (("fixtures/hub.py", "CI_HUB_USER_TOKEN", "CI_HUB_USER"),),
    ),
)

# Appended to huggingface_hub's shipped tests/testing_constants.py: its staging endpoint
# becomes the server under test; users and tokens stay the suite's own.
CONSTANTS_OVERRIDE = """

# --- appended by ocforge's conformance runner (benchmarks/hub/conformance/run.py) ---
# The suite's CI endpoint becomes the local Hub under test (the runner sets HF_ENDPOINT);
# USER / TOKEN / OTHER_* stay the suite's own: the runner's token file maps them.
import os as _os

ENDPOINT_STAGING = _os.environ["HF_ENDPOINT"].rstrip("/")
"""

PYTEST_INI = """\
# Written by ocforge's conformance runner: replaces the sdist's pytest settings, which point
# the suite at hub-ci.huggingface.co (HUGGINGFACE_CO_STAGING=1) and turn warnings into errors.
[pytest]
python_files = test_*.py
"""


class RunnerError(Exception):
    """The runner itself could not do its work (not a failing test)."""


def _log(message: str) -> None:
    print(message, flush=True)


def fetch_sdist(dist: str, version: str, downloads: Path, keep: bool) -> Path:
    """The sdist of ``dist==version`` in ``downloads`` (downloaded unless ``keep`` finds it)."""
    stem = dist.replace("-", "_")
    found = sorted(downloads.glob(f"{stem}-{version}.tar.gz"))
    if found and keep:
        return found[0]
    for old in found:
        old.unlink()
    downloads.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--no-binary", ":all:"]
    cmd += ["-d", str(downloads), f"{dist}=={version}"]
    _log(f"downloading {dist}=={version} (sdist)")
    done = subprocess.run(cmd, capture_output=True, text=True)
    found = sorted(downloads.glob(f"{stem}-{version}.tar.gz"))
    if done.returncode != 0 or not found:
        raise RunnerError(f"pip download of {dist}=={version} failed:\n{done.stderr[-2000:]}")
    return found[0]


def unpack_tests(sdist: Path, dest: Path) -> Path:
    """Fresh ``dest/tests`` from the sdist's ``tests/`` (and nothing else of it)."""
    shutil.rmtree(dest, ignore_errors=True)
    dest.mkdir(parents=True)
    with tarfile.open(sdist) as archive:
        members = [m for m in archive.getmembers() if m.name.split("/")[1:2] == ["tests"]]
        if not members:
            raise RunnerError(f"{sdist.name} has no tests/ folder")
        top = members[0].name.split("/")[0]
        archive.extractall(dest / "_sdist", members=members, filter="data")
    (dest / "_sdist" / top / "tests").rename(dest / "tests")
    shutil.rmtree(dest / "_sdist")
    return dest


def add_overlay(suite: Suite, root: Path) -> None:
    """Our conftest, fixtures and constants over the shipped tests."""
    shutil.copytree(HERE / "overlay" / suite.dist / "tests", root / "tests", dirs_exist_ok=True)
    if suite.dist == "huggingface_hub":
        constants = root / "tests" / "testing_constants.py"
        constants.write_text(constants.read_text() + CONSTANTS_OVERRIDE)
    (root / "conformance.ini").write_text(PYTEST_INI)


def _string_constants(path: Path) -> dict[str, str]:
    tree = ast.parse(path.read_text())
    return {
        node.targets[0].id: node.value.value
        for node in tree.body
        if isinstance(node, ast.Assign)
        and isinstance(node.targets[0], ast.Name)
        and isinstance(node.value, ast.Constant)
        and isinstance(node.value.value, str)
    }


def check_identities(suite: Suite, root: Path, token_users: dict[str, str]) -> None:
    """The token file must map each of the suite's tokens to the user the suite expects."""
    for module, token_name, user_name in suite.identities:
        values = _string_constants(root / "tests" / module)
        token, user = values.get(token_name), values.get(user_name)
        if token is None or user is None:
            raise RunnerError(f"{suite.dist} tests/{module} defines no {token_name}/{user_name}")
        if token_users.get(token) != user:
            raise RunnerError(
                f"tokens.template does not map {suite.dist}'s {token_name} to user {user!r}"
            )


def read_token_template() -> tuple[str, dict[str, str]]:
    """The template's text and its token -> username columns."""
    text = (HERE / "tokens.template").read_text()
    pairs = [line.split() for line in text.splitlines() if line.strip() and line[0] != "#"]
    return text, {cols[0]: cols[1] for cols in pairs if len(cols) > 1}


def suite_env(endpoint: str, hf_home: Path, suite: Suite, server_log: Path, results: Path) -> dict:
    """The test process's environment: the server, no token, private caches, the plugin."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("HF_", "HUGGINGFACE", "HUGGING_FACE")) and k != "PYTEST_ADDOPTS"
    }
    env.update(client_env(endpoint, base=env))
    env.update(
        {
            "HF_TOKEN": "",
            "HUGGINGFACE_CO_STAGING": "0",
            "HF_HOME": str(hf_home),
            "DISABLE_SYMLINKS_IN_WINDOWS_TESTS": "1",
            "PYTHONPATH": os.pathsep.join(filter(None, [str(HERE), env.get("PYTHONPATH")])),
            "OCFORGE_CONFORMANCE_SUITE": suite.dist,
            "OCFORGE_CONFORMANCE_SERVER_LOG": str(server_log),
            "OCFORGE_CONFORMANCE_RESULTS": str(results),
        }
    )
    return env


def runnable_files(suite: Suite) -> tuple[list[str], dict[str, str]]:
    """The suite's files whose extra imports are installed, and why the others are left out."""
    keep, left_out = [], {}
    for name in suite.files:
        missing = [m for m in FILE_REQUIRES.get(name, ()) if importlib.util.find_spec(m) is None]
        if missing:
            left_out[f"{suite.dist}/tests/{name}"] = f"needs {', '.join(missing)} (not installed)"
        else:
            keep.append(name)
    return keep, left_out


def run_suite(suite: Suite, root: Path, env: dict, keyword: str | None, log: Path) -> int:
    """pytest on the suite's in-scope files; its output goes to ``log``. Returns pytest's rc."""
    cmd = [sys.executable, "-m", "pytest", "-c", "conformance.ini", "--rootdir", str(root)]
    cmd += ["-p", "conformance_plugin", "-p", "no:cacheprovider", "-m", MARK_EXPR]
    cmd += ["--timeout", str(TEST_TIMEOUT_S), "-q", "-rfE", "--no-header"]
    cmd += ["--continue-on-collection-errors"]
    if keyword:
        cmd += ["-k", keyword]
    cmd += [f"tests/{name}" for name in runnable_files(suite)[0]]
    started = time.monotonic()
    with log.open("w") as fh:
        try:
            done = subprocess.run(
                cmd, cwd=root, env=env, stdout=fh, stderr=subprocess.STDOUT, timeout=SUITE_TIMEOUT_S
            )
        except subprocess.TimeoutExpired as exc:
            raise RunnerError(f"{suite.dist} tests ran past {SUITE_TIMEOUT_S}s") from exc
    _log(f"  {suite.dist}: pytest exit {done.returncode} in {time.monotonic() - started:.0f}s")
    return done.returncode


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", choices=[s.key for s in SUITES], help="run one suite only")
    parser.add_argument("-k", dest="keyword", help="pytest -k expression, passed through")
    parser.add_argument("--keep", action="store_true", help="reuse sdists already downloaded")
    parser.add_argument(
        "--cache-dir",
        type=Path,
        default=REPO_ROOT / ".ocforge" / "conformance",
        help="downloads, unpacked tests, logs and result.json (default: .ocforge/conformance)",
    )
    parser.add_argument(
        "--min-pass-ratio",
        type=float,
        help="exit 1 if the pass ratio of all in-scope tests that ran is below this (0-1)",
    )
    parser.add_argument(
        "--min-server-pass-ratio",
        type=float,
        help="exit 1 if the pass ratio of the tests that sent requests to the server is below this",
    )
    return parser.parse_args(argv)


def _prepare(suites: list[Suite], cache: Path, keep: bool, token_users: dict) -> dict:
    roots = {}
    for suite in suites:
        version = importlib.metadata.version(suite.dist)
        sdist = fetch_sdist(suite.dist, version, cache / "downloads", keep)
        root = unpack_tests(sdist, cache / "src" / f"{suite.dist}-{version}")
        add_overlay(suite, root)
        check_identities(suite, root, token_users)
        roots[suite.dist] = root
    return roots


def _run_all(suites: list[Suite], roots: dict, cache: Path, args: argparse.Namespace) -> dict:
    """Start the server, run each suite, stop the server; returns the pytest exit codes."""
    results = cache / "results.jsonl"
    results.unlink(missing_ok=True)
    template, _ = read_token_template()
    rcs: dict[str, int] = {}
    with tempfile.TemporaryDirectory(prefix="ocforge-conformance-") as tmp:
        work = Path(tmp)
        token_file = work / "tokens"
        fd = os.open(token_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(template)
        server = Server(work / "hub", token_file, cache / "server.log", REPO_ROOT)
        _log(f"local hub: {server.endpoint} (request log: {server.log_path})")
        try:
            for suite in suites:
                env = suite_env(server.endpoint, work / f"hf-home-{suite.key}", suite,
                                server.log_path, results)  # fmt: skip
                _log(f"running {suite.dist} tests ({len(runnable_files(suite)[0])} files) ...")
                log = cache / f"{suite.dist}-pytest.log"
                rcs[suite.dist] = run_suite(suite, roots[suite.dist], env, args.keyword, log)
        finally:
            server.stop()
    return rcs


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    cache: Path = args.cache_dir.resolve()
    cache.mkdir(parents=True, exist_ok=True)
    suites = [s for s in SUITES if args.only in (None, s.key)]
    versions = {s.dist: importlib.metadata.version(s.dist) for s in suites}
    _log("conformance: " + ", ".join(f"{d} {v}" for d, v in versions.items()))
    started = time.monotonic()
    try:
        _, token_users = read_token_template()
        roots = _prepare(suites, cache, args.keep, token_users)
        rcs = _run_all(suites, roots, cache, args)
    except (RunnerError, ServerError) as exc:
        print(f"conformance runner failed: {exc}", file=sys.stderr)
        return 2
    records = summary.read_records(cache / "results.jsonl")
    figures = summary.summarize(records)
    for line in summary.format_table(figures):
        print(line)
    left_out = {k: v for s in suites for k, v in runnable_files(s)[1].items()}
    for name, why in left_out.items():
        print(f"left out: {name}: {why}")
    collect_errors = [r for r in records if r["kind"] == "collect_error"]
    for error in collect_errors:
        print(f"collection error: {error['suite']} {error['nodeid']}: {error['reason']}")
    result = {
        "generated": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "versions": versions,
        "command": " ".join(sys.argv),
        "mark_expression": MARK_EXPR,
        "keyword": args.keyword,
        "wall_s": round(time.monotonic() - started, 1),
        "pytest_exit_codes": rcs,
        "suites": figures,
        "failures": summary.failures(records),
        "files_left_out": left_out,
        "collect_errors": collect_errors,
        "tests": [r for r in records if r["kind"] == "test"],
    }
    (cache / "result.json").write_text(json.dumps(result, indent=1) + "\n")
    print()
    print(summary.one_line(figures))
    print(f"result: {cache / 'result.json'} ({result['wall_s']:.0f}s)")
    # pytest: 0 all passed, 1 some failed, 5 nothing selected (-k); anything else: the run broke
    if collect_errors or any(rc not in (0, 1, 5) for rc in rcs.values()):
        print("conformance runner failed: a suite did not run cleanly", file=sys.stderr)
        return 2
    return _ratio_status(figures, args)


def _ratio_status(figures: dict, args: argparse.Namespace) -> int:
    status = 0
    for option, key in (("min_pass_ratio", "all"), ("min_server_pass_ratio", "reached_server")):
        wanted = getattr(args, option)
        ratio = summary.overall_ratio(figures, key)
        if wanted is not None and (ratio is None or ratio < wanted):
            shown = "n/a" if ratio is None else f"{ratio:.3f}"
            print(f"pass ratio ({key}) {shown} is below --{option.replace('_', '-')} {wanted}")
            status = 1
    return status


if __name__ == "__main__":
    sys.exit(main())
