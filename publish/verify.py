"""Post-push verification: every config and split loaded back at the tag, as consumers do.

:func:`verify_release` (in the publishing process) runs this module as a child process,
``python -m ocforge.publish.verify REPO TAG CONFIG...``, with the target's client environment
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


def verify_release(
    conn: HubConnection, repo_id: str, tag: str, manifest: dict[str, Any]
) -> list[VerifiedSplit]:
    """``load_dataset(repo_id, config, revision=tag)`` for every config in a child process.

    Raises:
        VerificationError: a config or split loads with a row count other than ``manifest``'s,
            or the child process fails.
    """
    with tempfile.TemporaryDirectory(prefix="ocforge-verify-") as home:
        env = {
            **os.environ,
            **conn.client_env(),
            "HF_HOME": home,
            "HF_DATASETS_CACHE": str(Path(home) / "datasets"),
        }
        proc = subprocess.run(
            [sys.executable, "-m", "ocforge.publish.verify", repo_id, tag, *manifest["configs"]],
            env=env,
            capture_output=True,
            text=True,
            timeout=3600,
        )
    if proc.returncode != 0:
        tail = "\n".join(proc.stderr.strip().splitlines()[-15:])
        raise VerificationError(f"load_dataset({repo_id!r}, revision={tag!r}) failed:\n{tail}")
    loaded = json.loads(proc.stdout.strip().splitlines()[-1])
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
