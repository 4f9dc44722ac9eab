"""A wheel works outside the checkout: its package data holds the defaults and the demo.

The wheel is built from this checkout and installed (without dependencies) into a fresh venv that
borrows the test environment's installed libraries; ``ocforge release`` of the bundled demo then
runs from a folder outside the checkout, against the embedded local Hub in that folder.
"""

from __future__ import annotations

import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.slow


def _run(args: list, **kw) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [str(a) for a in args], capture_output=True, text=True, timeout=600, **kw
    )
    assert result.returncode == 0, (args, result.stdout[-2000:], result.stderr[-3000:])
    return result


def test_wheel_installed_in_a_fresh_venv_releases_the_demo_outside_the_checkout(tmp_path):
    wheels = tmp_path / "wheels"
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
          "-w", wheels, ROOT])  # fmt: skip
    (wheel,) = wheels.glob("ocforge-*.whl")
    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", venv])
    python = venv / "bin" / "python"
    purelib = Path(_run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"])
                   .stdout.strip())  # fmt: skip
    # the dependencies come from the test environment; ocforge itself only from the wheel
    (purelib / "deps-from-test-env.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    _run([python, "-m", "pip", "install", "-q", "--no-deps", "--no-index", wheel])
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    where = _run(
        [python, "-c", "import ocforge.recipe as r; print(r.__file__); print(r.DEMO_RECIPE)"],
        cwd=elsewhere,
    ).stdout.split()
    assert all(Path(p).is_relative_to(venv) for p in where), where  # not the checkout's files
    demo = Path(where[1])
    for default in (
        "character_breaks.yaml",
        "prompts/profile-v1.yaml",
        "lm_eval/in_character.yaml",
    ):
        assert (demo.parent.parent / default).is_file(), default
    released = _run(
        [venv / "bin" / "ocforge", "release", demo, "--repo", "demo/from-wheel"], cwd=elsewhere
    )
    assert "v1.0.0" in released.stdout
    assert (elsewhere / ".ocforge" / "hub").is_dir()
