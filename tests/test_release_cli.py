"""The release commands as users run them: an in-process local Hub over OCFORGE_HUB_ROOT."""

from __future__ import annotations

import copy
import os
import subprocess
import sys
from pathlib import Path

from release_helpers import corpus, write_build

from ocforge.recipe import DEMO_RECIPE
from ocforge.records import dialogue_id

OCFORGE = Path(sys.executable).parent / "ocforge"
EXE = [str(OCFORGE)] if OCFORGE.exists() else [sys.executable, "-m", "ocforge"]


def _ocforge(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "OCFORGE_HUB_ROOT": str(cwd / "hub"),
        "HF_HOME": str(cwd / "hf"),
        "COLUMNS": "200",
    }
    env.pop("OCFORGE_HUB_URL", None)
    return subprocess.run(
        [*EXE, *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def _token(cwd: Path) -> str:
    line = next(
        ln for ln in (cwd / "hub" / "tokens").read_text().splitlines() if not ln.startswith("#")
    )
    return line.split()[0]


def test_demo_release_then_up_to_date(tmp_path):
    first = _ocforge(
        "release",
        str(DEMO_RECIPE),
        "--repo",
        "demo/opencharacter-demo",
        "--preview",
        "preview",
        cwd=tmp_path,
    )
    assert first.returncode == 0, first.stderr
    out = first.stdout
    assert "released v1.0.0" in out and "version: 1.0.0" in out and "commit:" in out
    assert "ledger:  input 234 = kept" in out
    assert "revision='v1.0.0'" in out  # the load_dataset table
    page = (tmp_path / "preview" / "card.html").read_text()
    assert '<img src="plots/rewrite-answer-length.png"' in page
    assert (tmp_path / "preview" / "plots" / "rewrite-answer-length.png").is_file()
    assert (tmp_path / ".ocforge" / "builds" / "ocforge-demo" / "release.json").is_file()

    second = _ocforge(
        "release", str(DEMO_RECIPE), "--repo", "demo/opencharacter-demo", cwd=tmp_path
    )
    assert second.returncode == 0, second.stderr
    assert "up to date: the content is already release v1.0.0; no commit made" in second.stdout
    assert "is up to date" in second.stderr  # the build was reused, not rebuilt

    listed = _ocforge("releases", "demo/opencharacter-demo", cwd=tmp_path)
    assert listed.returncode == 0 and "v1.0.0" in listed.stdout
    token = _token(tmp_path)
    for proc in (first, second, listed):
        assert token not in proc.stdout + proc.stderr


def test_publish_dataset_dry_run_and_diff(tmp_path):
    configs = corpus()
    build = write_build(tmp_path / "b1", configs)
    dry = _ocforge("publish", "dataset", str(build), "--repo", "o/d", "--dry-run", cwd=tmp_path)
    assert dry.returncode == 0, dry.stderr
    assert "dry run: nothing was pushed" in dry.stdout and "version: 1.0.0" in dry.stdout
    assert "add      README.md" in dry.stdout
    none = _ocforge("releases", "o/d", cwd=tmp_path)
    assert none.returncode == 1 and "dataset repo o/d not found" in none.stderr  # not created

    v1 = _ocforge("publish", "dataset", str(build), "--repo", "o/d", "--no-verify", cwd=tmp_path)
    assert v1.returncode == 0 and "released v1.0.0" in v1.stdout, v1.stderr
    changed = copy.deepcopy(configs)
    row = changed["generate"].rows[0]
    old = row["dialogue_id"]
    row["response"] = "a brand new answer in character"
    row["dialogue_id"] = dialogue_id(
        row["strategy"], row["character_id"], row["question"], row["response"]
    )
    write_build(tmp_path / "b2", changed)
    v2 = _ocforge(
        "publish", "dataset", str(tmp_path / "b2"), "--repo", "o/d", "--no-verify", cwd=tmp_path
    )
    assert v2.returncode == 0 and "released v1.1.0" in v2.stdout, v2.stderr
    diff = _ocforge("diff", "o/d", "v1.0.0", "v1.1.0", cwd=tmp_path)
    assert diff.returncode == 0, diff.stderr
    assert f"added: {row['dialogue_id']}" in diff.stdout and f"removed: {old}" in diff.stdout
    assert "+**Version 1.1.0**" in diff.stdout
