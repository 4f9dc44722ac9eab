"""Verification: every config and split loaded back from the Hub, as consumers do, at the new
commit (its sha) before the release is tagged.

:func:`verify_release` (in the publishing process) runs this module in child processes,
``python -m ocforge.publish.verify REPO REVISION CONFIG...``, each for a share of the configs,
with the target's client environment (``HF_ENDPOINT`` must be set before ``datasets`` is
imported). The child loads every config at the revision with ``datasets.load_dataset`` and
prints one JSON line ``{config: {split: rows}}`` (``{config: {"error": "..."}}`` for a config that
does not load); the parent compares the counts with ``release.json`` and reports every problem
on one line.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ocforge import redaction
from ocforge.errors import VerificationError
from ocforge.manifest import ReleaseManifest
from ocforge.publish.hub_client import HubConnection
from ocforge.redaction import redact_text


@dataclass(frozen=True)
class VerifiedSplit:
    config: str
    split: str
    loaded: int
    expected: int


def loadable_configs(manifest: ReleaseManifest) -> list[str]:
    """Configs with at least one split: a config whose every split had no rows has no files and
    is not in the card's ``configs`` (see :mod:`ocforge.layout`), so there is nothing to
    load."""
    return [name for name, info in manifest.configs.items() if info.splits]


def _groups(manifest: ReleaseManifest, n: int) -> list[list[str]]:
    """Loadable configs in ``n`` groups of about equal Parquet bytes (largest first, each to the
    lightest group); a group keeps the manifest's config order."""
    sizes = {
        config: sum(f.bytes for f in manifest.configs[config].files())
        for config in loadable_configs(manifest)
    }
    groups: list[list[str]] = [[] for _ in range(max(1, min(n, len(sizes))))]
    loads = [0] * len(groups)
    for config in sorted(sizes, key=lambda c: -sizes[c]):
        lightest = loads.index(min(loads))
        groups[lightest].append(config)
        loads[lightest] += sizes[config]
    order = list(sizes)
    return [sorted(g, key=order.index) for g in groups if g]


def verify_release(
    conn: HubConnection,
    repo_id: str,
    revision: str,
    manifest: ReleaseManifest,
    processes: int | None = None,
) -> list[VerifiedSplit]:
    """``load_dataset(repo_id, config, revision=revision)`` for every config, in child processes.

    ``revision`` is the commit sha of a release that is not tagged yet (or a tag's commit).
    ``processes`` children (default: one per core, at most 2) load groups of configs of about
    equal size side by side, each with a cache of its own.

    Raises:
        VerificationError: one line naming every config that does not load (with the cause) and
            every split whose row count differs from ``manifest``'s.
    """
    groups = _groups(manifest, processes or min(2, os.cpu_count() or 1))
    loaded, failures = _load_in_children(conn, repo_id, revision, groups)
    out, bad = [], list(failures)
    for config, info in manifest.configs.items():
        result = loaded.get(config, {})
        if "error" in result:
            bad.append(f"{config}: {result['error']}")
            continue
        for split, split_info in info.splits.items():
            n = result.get(split, 0)
            out.append(VerifiedSplit(config, split, n, split_info.rows))
            if n != split_info.rows:
                bad.append(f"{config}/{split}: loaded {n} rows, release.json {split_info.rows}")
    if bad:
        raise VerificationError(
            f"load_dataset({repo_id!r}, config, revision={revision!r}) does not give the "
            "release: " + "; ".join(bad)
        )
    return out


def _load_in_children(
    conn: HubConnection, repo_id: str, revision: str, groups: list[list[str]]
) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """Run one child per group; (what the children loaded, one line per child that crashed)."""
    loaded: dict[str, dict[str, Any]] = {}
    failures = []
    with tempfile.TemporaryDirectory(prefix="ocforge-verify-") as tmp:
        children = []
        for i, configs in enumerate(groups):
            home = Path(tmp) / str(i)
            home.mkdir()
            env = {
                **os.environ,
                **conn.client_env(),
                "HF_HOME": str(home),
                "HF_DATASETS_CACHE": str(home / "datasets"),
            }
            # output to files, not pipes: a child blocked on a full pipe would wait for the
            # other to finish first
            with (home / "out").open("wb") as out, (home / "err").open("wb") as err:
                command = [sys.executable, "-m", "ocforge.publish.verify", repo_id, revision]
                children.append(
                    (
                        home,
                        configs,
                        subprocess.Popen([*command, *configs], env=env, stdout=out, stderr=err),
                    )
                )
        for home, configs, child in children:
            try:
                child.wait(timeout=3600)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
            stdout = (home / "out").read_text(encoding="utf-8", errors="replace").strip()
            if child.returncode == 0 and stdout:
                loaded.update(json.loads(stdout.splitlines()[-1]))
                continue
            stderr = (home / "err").read_text(encoding="utf-8", errors="replace").strip()
            last = stderr.splitlines()[-1] if stderr else f"exit status {child.returncode}"
            # the child's last line may quote a URL it fetched: never a signed one
            failures.append(
                f"{', '.join(configs)}: the loading process failed: {redact_text(last)}"
            )
    return loaded, failures


def _cause(exc: BaseException) -> str:
    """``Type: message`` of an exception and of the innermost exception it was raised from
    (``datasets`` wraps the reader's error, e.g. ``ArrowInvalid``, in a generic one), on one line."""
    inner, seen = exc, {id(exc)}
    while (nxt := inner.__cause__ or inner.__context__) is not None and id(nxt) not in seen:
        inner = nxt
        seen.add(id(nxt))
    text = f"{type(exc).__name__}: {exc}"
    if inner is not exc:
        text += f" ({type(inner).__name__}: {inner})"
    return " ".join(text.split())


def main(argv: list[str]) -> int:
    if len(argv) < 3:
        print("usage: python -m ocforge.publish.verify REPO REVISION CONFIG...", file=sys.stderr)
        return 2
    import datasets

    redaction.install()  # the child's warnings and errors, too, carry no signed URL
    datasets.disable_progress_bars()
    repo, revision, configs = argv[0], argv[1], argv[2:]
    out: dict[str, dict[str, Any]] = {}
    for config in configs:
        # the counts are compared with release.json by the parent, which names the split that
        # differs; datasets' own split-size check would stop at the first one
        try:
            loaded = datasets.load_dataset(
                repo, config, revision=revision, verification_mode="no_checks"
            )
        except Exception as exc:  # any reason a consumer could not load it: report, go on
            out[config] = {"error": _cause(exc)}
            continue
        out[config] = {split: ds.num_rows for split, ds in loaded.items()}
    print(json.dumps(out, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
