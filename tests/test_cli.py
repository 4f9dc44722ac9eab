"""The console script end to end, as `make demo` runs it (a real subprocess)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from ocforge.recipe import DEMO_RECIPE

OCFORGE = Path(sys.executable).parent / "ocforge"


def _run(*args: str) -> subprocess.CompletedProcess:
    exe = [str(OCFORGE)] if OCFORGE.exists() else [sys.executable, "-m", "ocforge"]
    return subprocess.run([*exe, *args], capture_output=True, text=True, timeout=300)


def test_help_lists_commands():
    result = _run("--help")
    assert result.returncode == 0
    for command in ("validate", "build", "inspect"):
        assert command in result.stdout


def test_build_and_inspect_print_the_summary(tmp_path):
    out = tmp_path / "build"
    built = _run("build", str(DEMO_RECIPE), "--out", str(out))
    assert built.returncode == 0, built.stderr
    manifest = json.loads((out / "release.json").read_text())
    total = manifest["ledger"]["total"]
    assert f"kept {total['kept']} of {total['input']} input rows" in built.stdout
    assert "INFO" not in built.stderr  # datatrove's task logs stay out of the terminal

    inspected = _run("inspect", str(out))
    assert inspected.returncode == 0, inspected.stderr
    assert "exact_duplicate" in inspected.stdout and "malformed_json" in inspected.stdout
    assert f"input {total['input']} = kept {total['kept']}" in inspected.stdout


def test_inspect_fails_when_files_disagree_with_the_manifest(demo_build, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(demo_build.out_dir, copy)
    manifest = json.loads((copy / "release.json").read_text())
    manifest["configs"]["generate"]["splits"]["train"]["rows"] += 1
    (copy / "release.json").write_text(json.dumps(manifest))
    result = _run("inspect", str(copy))
    assert result.returncode == 1
    assert "generate/train" in result.stderr


def test_build_failure_is_a_clear_error(tmp_path):
    bad = tmp_path / "recipe.yaml"
    bad.write_text("name: x\ncharacters:\n  inputs:\n    - path: missing.jsonl\n")
    result = _run("build", str(bad), "--out", str(tmp_path / "o"))
    assert result.returncode == 1
    assert "characters.inputs[0].path: input file not found" in result.stderr
    assert "Traceback" not in result.stderr


def test_worker_processes_keep_the_terminal_quiet(tmp_path):
    # datatrove's workers (forkserver) set up their own console logging and tqdm bars
    import yaml

    recipe = yaml.safe_load(DEMO_RECIPE.read_text())
    recipe["executor"] = {"type": "local", "tasks": 2, "workers": 2}
    for config in [recipe["characters"], *recipe["dialogues"]]:
        for spec in config["inputs"]:
            spec["path"] = str(DEMO_RECIPE.parent / spec["path"])
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe))
    built = _run("build", str(path), "--out", str(tmp_path / "build"))
    assert built.returncode == 0, built.stderr
    total = json.loads((tmp_path / "build" / "release.json").read_text())["ledger"]["total"]
    assert f"kept {total['kept']} of {total['input']} input rows" in built.stdout
    for noise in ("INFO", "tasks completed", "it/s"):
        assert noise not in built.stderr, built.stderr[-2000:]
    logs = sorted((tmp_path / "build" / "logs" / "generate" / "filter" / "logs").glob("*.log"))
    assert len(logs) == 2 and "Launching pipeline" in logs[0].read_text()
