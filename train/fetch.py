"""The release's ``train`` split, loaded the way consumers load it:
``load_dataset(repo, config, revision=COMMIT, split="train")``.

``datasets`` reads ``HF_ENDPOINT`` when it is imported, so the loading runs in a child process
with the target's client environment (``python -m ocforge.train.fetch REPO COMMIT DEST
CONFIG...``); it saves each config with ``save_to_disk`` under ``DEST/CONFIG`` and prints
``{config: rows}`` as its last line. A run resumed later reads the same saved rows.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from ocforge.errors import TrainError
from ocforge.redaction import redact_text

DONE = "fetched.json"


def fetch_train_splits(
    client_env: dict[str, str], repo_id: str, sha: str, configs: list[str], dest: Path
) -> dict[str, Path]:
    """``config -> folder`` of each config's ``train`` split at commit ``sha`` (fetched once).

    Raises:
        TrainError: the loading process failed (its last line, redacted, is in the message).
    """
    folders = {c: dest / c for c in configs}
    done = dest / DONE
    if done.is_file() and json.loads(done.read_text()) == {"sha": sha, "configs": configs}:
        return folders
    dest.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="ocforge-fetch-") as home:
        env = {
            **os.environ,
            **client_env,
            "HF_HOME": home,  # the local Hub's files stay out of the user's cache
            "HF_DATASETS_CACHE": str(Path(home) / "datasets"),
        }
        command = [sys.executable, "-m", "ocforge.train.fetch", repo_id, sha, str(dest), *configs]
        proc = subprocess.run(command, env=env, capture_output=True, text=True, timeout=3600)
    if proc.returncode != 0:
        lines = proc.stderr.strip().splitlines()
        last = lines[-1] if lines else f"exit status {proc.returncode}"
        raise TrainError(
            f"load_dataset({repo_id!r}, config, revision={sha[:12]!r}, split='train') failed: "
            + redact_text(last)
        )
    done.write_text(json.dumps({"sha": sha, "configs": configs}))
    return folders


def main(argv: list[str]) -> int:
    if len(argv) < 4:
        print("usage: python -m ocforge.train.fetch REPO COMMIT DEST CONFIG...", file=sys.stderr)
        return 2
    import datasets

    from ocforge import redaction

    redaction.install()
    datasets.disable_progress_bars()
    repo, sha, dest, configs = argv[0], argv[1], Path(argv[2]), argv[3:]
    rows: dict[str, Any] = {}
    for config in configs:
        ds = datasets.load_dataset(repo, config, revision=sha, split="train")
        ds.save_to_disk(str(dest / config))
        rows[config] = ds.num_rows
    print(json.dumps(rows, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
