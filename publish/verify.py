"""Post-push verification: every config and split loaded back at the tag, as consumers do.

:func:`verify_release` (in the publishing process) runs this module in child processes,
``python -m ocforge.publish.verify REPO TAG CONFIG...``, each for a share of the configs, with the target's client environment
(``HF_ENDPOINT`` must be set before ``datasets`` is imported). The child loads every config at
the tag with ``datasets.load_dataset`` and prints one JSON line ``{config: {split: rows}}``; the
parent compares the counts with ``release.json``.
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

from ocforge.publish.hub_client import HubConnection

from ocforge.errors import OcforgeError


class VerificationError(OcforgeError):
    """``load_dataset`` at the new tag returned other row counts than ``release.json``."""


@dataclass(frozen=True)
class VerifiedSplit:
    config: str
    split: str
    loaded: int
    expected: int


def _groups(manifest: dict[str, Any], n: int) -> list[list[str]]:
    """Configs in ``n`` groups of about equal Parquet bytes (largest first, each to the lightest
    group); a group keeps the manifest's config order."""
    sizes = {
        config: sum(f.get("bytes", 0) for split in info["splits"].values() for f in split["files"])
        for config, info in manifest["configs"].items()
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
    tag: str,
    manifest: dict[str, Any],
    processes: int | None = None,
) -> list[VerifiedSplit]:
    """``load_dataset(repo_id, config, revision=tag)`` for every config, in child processes.

    ``processes`` children (default: one per core, at most 2) load groups of configs of about
    equal size side by side, each with a cache of its own.

    Raises:
        VerificationError: a config or split loads with a row count other than ``manifest``'s,
            or a child process fails.
    """
    groups = _groups(manifest, processes or min(2, os.cpu_count() or 1))
    loaded: dict[str, dict[str, int]] = {}
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
                command = [sys.executable, "-m", "ocforge.publish.verify", repo_id, tag, *configs]
                children.append((home, subprocess.Popen(command, env=env, stdout=out, stderr=err)))
        failures = []
        for home, child in children:
            try:
                child.wait(timeout=3600)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
            stdout = (home / "out").read_text(encoding="utf-8", errors="replace")
            if child.returncode != 0:
                stderr = (home / "err").read_text(encoding="utf-8", errors="replace")
                failures.append("\n".join(stderr.strip().splitlines()[-15:]))
            else:
                loaded.update(json.loads(stdout.strip().splitlines()[-1]))
    if failures:
        raise VerificationError(
            f"load_dataset({repo_id!r}, revision={tag!r}) failed:\n" + "\n".join(failures)
        )
    out, bad = [], []
    for config, info in manifest["configs"].items():
        for split, split_info in info["splits"].items():
            n = loaded.get(config, {}).get(split, 0)
            out.append(VerifiedSplit(config, split, n, split_info["rows"]))
            if n != split_info["rows"]:
                bad.append(f"{config}/{split}: loaded {n}, release.json {split_info['rows']}")
    if bad:
        raise VerificationError(f"{repo_id}@{tag} does not load as released: " + "; ".join(bad))
    return out


def main(argv: list[str]) -> int:
    if len(argv) < 3:
        print("usage: python -m ocforge.publish.verify REPO TAG CONFIG...", file=sys.stderr)
        return 2
    import datasets

    datasets.disable_progress_bars()
    repo, tag, configs = argv[0], argv[1], argv[2:]
    out = {}
    for config in configs:
        # the counts are compared with release.json by the parent, which names the split that
        # differs; datasets' own split-size check would stop at the first one
        loaded = datasets.load_dataset(repo, config, revision=tag, verification_mode="no_checks")
        out[config] = {split: ds.num_rows for split, ds in loaded.items()}
    print(json.dumps(out, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
