"""Cards the Hub would refuse stop ``ocforge release``, ``publish dataset`` and ``publish model``
before anything is pushed: one error line naming the card file, the field and where to change it,
exit status 1, no traceback, and nothing created on the local Hub. With ``--target hf`` the check
runs before connecting (the endpoint here refuses every connection, so any Hub call would fail
with another error)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from models_evals_helpers import tiny_model
from release_helpers import TOKEN, corpus, write_build

from ocforge.errors import CardMetadataError
from ocforge.hub import Identity, LocalHub
from ocforge.models.publish import publish_model
from ocforge.publish.hub_client import connect
from ocforge.recipe import DEMO_RECIPE

OCFORGE = Path(sys.executable).parent / "ocforge"
EXE = [str(OCFORGE)] if OCFORGE.exists() else [sys.executable, "-m", "ocforge"]
UNREACHABLE = "http://127.0.0.1:9"  # the discard port: connections are refused


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    with LocalHub(tmp_path_factory.mktemp("hub"), tokens={TOKEN: Identity("alice")}) as running:
        yield running


def _cli(hub, cwd: Path, *args: str) -> subprocess.CompletedProcess:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("HF_")},
        "OCFORGE_HUB_URL": hub.endpoint,
        "OCFORGE_HUB_TOKEN": TOKEN,
        "HF_HOME": str(cwd / "hf"),
        # for --target hf: a token, and a Hub that cannot be reached
        "HF_TOKEN": "hf_card_check_cli_not_a_real_token_000",
        "HF_ENDPOINT": UNREACHABLE,
        "COLUMNS": "200",
    }
    return subprocess.run(
        [*EXE, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=300
    )


def _error(proc: subprocess.CompletedProcess) -> str:
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("error:")]
    assert len(lines) == 1, proc.stderr
    return lines[0]


def _exists(hub, repo: str, repo_type: str) -> bool:
    with connect(endpoint=hub.endpoint, token=TOKEN) as conn:
        return conn.api.repo_exists(repo, repo_type=repo_type)


def test_release_with_a_bad_card_license_stops_before_building_or_connecting(hub, tmp_path):
    demo = shutil.copytree(DEMO_RECIPE.parent, tmp_path / "demo")
    recipe = demo / "recipe.yaml"
    text = recipe.read_text()
    assert "  license: cc-by-4.0\n" in text
    recipe.write_text(text.replace("  license: cc-by-4.0\n", "  license: cc-by-4\n"))

    line = _error(_cli(hub, tmp_path, "release", str(recipe), "--repo", "alice/bad-card"))
    assert line.startswith('error: the Hub would refuse README.md: "license" must be one of [')
    assert 'got "cc-by-4" (did you mean "cc-by-4.0"?)' in line
    assert line.endswith(f"(set card.license in {recipe}); nothing was pushed")
    assert not (tmp_path / ".ocforge" / "builds").exists()  # stopped before building
    assert not _exists(hub, "alice/bad-card", "dataset")

    offline = _cli(hub, tmp_path, "release", str(recipe), "--repo", "a/b", "--target", "hf")
    assert _error(offline) == line


def test_publish_dataset_with_a_bad_card_language_stops_before_connecting(hub, tmp_path):
    recipe = "name: release-test\ncard:\n  license: mit\n  language: [English]\n"
    build = write_build(tmp_path / "b", corpus(6, 2), recipe=recipe)
    args = ["publish", "dataset", str(build), "--repo", "alice/bad-lang", "--target", "hf"]
    line = _error(_cli(hub, tmp_path, *args))
    assert line.startswith('error: the Hub would refuse README.md: "language[0]" must be an ISO')
    assert 'got "English"' in line and line.endswith(
        f"(set card.language in recipe.yaml of {build}); nothing was pushed"
    )


def test_publish_model_with_a_bad_license_pushes_nothing(hub, tmp_path_factory, tmp_path):
    model = tiny_model(tmp_path_factory)
    with connect(endpoint=hub.endpoint, token=TOKEN) as conn:
        with pytest.raises(
            CardMetadataError, match=r'got "apache" \(did you mean "apache-2.0"\?\)'
        ):
            publish_model(conn.api, model, "alice/bad-license", license="apache")
    assert not _exists(hub, "alice/bad-license", "model")
    args = [
        "publish",
        "model",
        str(model),
        "--repo",
        "a/m",
        "--license",
        "apache",
        "--target",
        "hf",
    ]
    line = _error(_cli(hub, tmp_path, *args))
    assert line.startswith('error: the Hub would refuse README.md: "license" must be one of [')
    assert line.endswith("(set --license); nothing was pushed")
