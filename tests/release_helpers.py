"""Helpers for the release tests: synthetic builds, a client process, remote state."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

from ocforge.publish.rows_build import RowsConfig, synthetic_corpus, write_rows_build

TOKEN = "hf_release_tests_token_0123456789"
RECIPE = """\
name: release-test
card:
  pretty_name: Release test corpus
  license: cc-by-nc-sa-4.0
  source_datasets: [proj-persona/PersonaHub]
"""


def corpus(n_characters: int = 24, per_character: int = 4, seed: int = 0) -> dict[str, RowsConfig]:
    return synthetic_corpus(n_characters, per_character, seed=seed)


def write_build(
    root: Path, configs: dict[str, RowsConfig], recipe: str = RECIPE, **kw: Any
) -> Path:
    kw.setdefault("max_shard_rows", 16)
    write_rows_build(root, "release-test", configs, recipe_text=recipe, **kw)
    return root


def client(hub, script: str, tmp_path: Path) -> Any:
    """Run ``script`` in a fresh Python process pointed at ``hub``; returns its last JSON line."""
    env = {
        **os.environ,
        **hub.client_env(TOKEN),
        "HF_HOME": str(tmp_path / "client-hf"),
        "HF_DATASETS_CACHE": str(tmp_path / "client-ds"),
    }
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def refs(hub, repo: str) -> dict[str, Any]:
    """Branch head and tags of ``repo`` read from the server's storage through the Hub API."""
    from ocforge.publish.hub_client import connect

    with connect(endpoint=hub.endpoint, token=TOKEN) as conn:
        r = conn.api.list_repo_refs(repo, repo_type="dataset")
        commits = conn.api.list_repo_commits(repo, repo_type="dataset")
        return {
            "main": next(b.target_commit for b in r.branches if b.name == "main"),
            "tags": {t.name: t.target_commit for t in r.tags},
            "commits": len(commits),
        }
