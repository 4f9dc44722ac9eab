"""The README's "Train and evaluate" section, run as written: the commands are read from its first
``bash`` block, so the README and this test cannot drift apart.

They run in a scratch folder holding links to ``configs/`` and ``tests/`` (the README runs them
from the repository root), with the venv's ``bin`` first on ``PATH``, the embedded local Hub
over ``.ocforge/hub`` (no ``OCFORGE_HUB_URL``), and free ports in place of the README's
8000 (``transformers serve``), 8001 (the scripted judge) and 8765 (``ocforge hub serve``). A
command ending in ``&`` is started in its own session, waited for until its port answers, and
stopped by its process group id at the end. Nothing is prepared beforehand: the release
command builds the demo as a first run does.

Checked on the model card served by the local Hub: the Training section names the release tag and
commit (from ``training.json``), model-index holds the lm-eval results and the judge's PScore,
both pinned to the release's commit; pushing the judge results again adds nothing; a
``--dataset`` naming another commit than the one trained on is refused.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from synth_server import free_port

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
SECTION = "## Train and evaluate"
README_PORTS = ("8000", "8001", "8765")
DATASET, MODEL, JUDGE_SET = (
    "demo/opencharacter-demo",
    "demo/tiny-rp",
    "demo/opencharacter-demo-personagym",
)

pytestmark = pytest.mark.slow


def readme_commands() -> list[str]:
    """The commands of the section's first ``bash`` block: continuation lines joined, comments
    and blank lines left out."""
    text = README.read_text(encoding="utf-8")
    assert f"\n{SECTION}\n" in text, f"README.md has no {SECTION!r} section"
    section = text.split(f"\n{SECTION}\n", 1)[1].split("\n## ", 1)[0]
    block = section.split("```bash\n", 1)[1].split("\n```", 1)[0]
    lines = block.replace("\\\n", " ").splitlines()
    return [" ".join(line.split()) for line in lines if line.strip() and line[0] != "#"]


def test_the_section_is_the_whole_loop():
    """Dropping a step from the README must fail here, not pass silently."""
    joined = "\n".join(readme_commands())
    for step in (
        "ocforge release configs/demo/recipe.yaml",
        "ocforge train sft",
        "--recipe configs/train/demo-cpu.yaml",
        "ocforge publish model",
        "ocforge eval run",
        "ocforge eval judge prepare",
        "ocforge eval judge run",
        "python tests/judge_server.py --port 8001 &",
        "/demo/tiny-rp/resolve/main/README.md",
    ):
        assert step in joined, step
    assert joined.count("--push") == 3  # eval run, judge prepare, judge run


def _ports(command: str, ports: dict[str, str]) -> str:
    return re.sub(r"(?<=[: ])(8000|8001|8765)\b", lambda m: ports[m[1]], command)


def _wait_for(port: str, proc: subprocess.Popen, log: Path) -> None:
    """Until anything answers HTTP on ``port`` (a 4xx is an answer too)."""
    deadline = time.monotonic() + 120
    while True:
        assert proc.poll() is None, f"background command exited: {log.read_text()[-2000:]}"
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/models", timeout=2):
                return
        except urllib.error.HTTPError:
            return
        except OSError:
            pass
        assert time.monotonic() < deadline, f"nothing answers on {port}: {log.read_text()[-2000:]}"
        time.sleep(0.3)


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)  # its own session: the group holds only its children
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


class Workspace:
    def __init__(self, root: Path, env: dict[str, str]):
        self.root, self.env = root, env
        self.background: list[subprocess.Popen] = []

    def run(self, command: str, timeout: int = 600) -> subprocess.CompletedProcess:
        return subprocess.run(
            ["bash", "-c", command], cwd=self.root, env=self.env, capture_output=True,
            text=True, timeout=timeout,
        )  # fmt: skip

    def start(self, command: str, port: str) -> None:
        log = self.root / f"background-{len(self.background)}.log"
        with log.open("wb") as fh:
            proc = subprocess.Popen(
                ["bash", "-c", command], cwd=self.root, env=self.env, stdout=fh,
                stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        self.background.append(proc)
        _wait_for(port, proc, log)

    def stop_all(self) -> None:
        for proc in reversed(self.background):
            _stop(proc)
        self.background.clear()


@pytest.fixture(scope="module")
def loop(tmp_path_factory):
    """Every command of the section run in order: {"commands", "results", "card", "ws"}."""
    work = tmp_path_factory.mktemp("train-loop")
    for name in ("configs", "tests"):
        (work / name).symlink_to(ROOT / name)
    env = {k: v for k, v in os.environ.items() if not k.startswith("OCFORGE_HUB")}
    env |= {"PATH": f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"}
    env |= {"HF_HOME": str(work / "hf-home"), "OMP_NUM_THREADS": "1"}
    ws = Workspace(work, env)
    ports = {p: str(free_port()) for p in README_PORTS}
    commands = [_ports(c, ports) for c in readme_commands()]
    results: dict[str, subprocess.CompletedProcess] = {}
    try:
        for command in commands:
            if command.endswith("&"):
                port = next((v for v in ports.values() if v in command), ports["8765"])
                ws.start(command.removesuffix("&").strip(), port)
                continue
            done = ws.run(command)
            assert done.returncode == 0, f"{command}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
            results[command] = done
        card = results[commands[-1]].stdout  # the curl of the model card
    finally:
        ws.stop_all()  # the Hub's files are read in-process from here on
    yield {"commands": commands, "results": results, "card": card, "ws": ws}


@contextlib.contextmanager
def _api(loop):
    from ocforge.publish.hub_client import connect

    with connect("local", hub_root=loop["ws"].root / ".ocforge" / "hub") as conn:
        yield conn.api


def _command(loop, prefix: str) -> str:
    return next(c for c in loop["commands"] if c.startswith(prefix))


def _release_sha(loop) -> str:
    with _api(loop) as api:
        tags = api.list_repo_refs(DATASET, repo_type="dataset").tags
    return next(t.target_commit for t in tags if t.name == "v1.0.0")


def test_no_secret_in_any_output(loop):
    token = (loop["ws"].root / ".ocforge" / "hub" / "tokens").read_text().split()[-2]
    assert token.startswith("hf_")
    for done in loop["results"].values():
        assert token not in done.stdout + done.stderr


def test_the_card_names_the_release_and_what_training_used(loop):
    from huggingface_hub import ModelCard

    card = ModelCard(loop["card"])
    sha = _release_sha(loop)
    assert card.data.datasets == [DATASET] and card.data.base_model == "demo/tiny-chat"
    manifest = json.loads((loop["ws"].root / ".ocforge/tiny-rp/training.json").read_text())
    assert manifest["dataset"]["sha"] == sha and manifest["run"]["global_step"] == 6
    section = card.text[card.text.index("## Training\n") : card.text.index("## Usage")]
    assert f"`{DATASET}@v1.0.0` (commit `{sha}`)" in section
    assert f"`train` split, {manifest['rows_used']} rows" in section
    gen = manifest["data"]["generate"]
    assert f"| `generate` | lima, alpaca | {gen['rows']} | {gen['used']} |" in section
    assert manifest["recipe"]["sha256"] in section
    assert "licence" not in card.text and "fine-tuned version of [None]" not in card.text
    publish = loop["results"][_command(loop, "ocforge publish model")].stdout
    assert f"dataset release: {DATASET}@v1.0.0 (commit {sha[:12]})" in publish
    assert "the card's Training section" in publish


def test_model_index_holds_the_lm_eval_and_the_judge_results(loop):
    from huggingface_hub import ModelCard

    sha = _release_sha(loop)
    results = ModelCard(loop["card"]).data.eval_results
    lm_eval = [r for r in results if r.dataset_type == DATASET]
    assert {r.dataset_config for r in lm_eval} == {"eval_character_choice", "eval_dialogues"}
    assert {r.dataset_revision for r in lm_eval} == {sha}
    judged = [r for r in results if r.dataset_type == JUDGE_SET]
    assert len(judged) == 6  # five dimensions and PScore
    pscore = next(r for r in judged if r.metric_name.endswith("pscore"))
    assert 1 <= pscore.metric_value <= 5 and pscore.metric_config == "light"
    assert pscore.metric_args["dataset_commit"] == sha
    assert pscore.metric_args["judges"] == "scripted-judge"
    record = json.loads((loop["ws"].root / ".ocforge/judged/results.json").read_text())
    assert round(record["metrics"][record["group"]]["pscore"], 6) == pscore.metric_value
    assert "## Evaluation results" in loop["card"] and "pscore" in loop["card"]


def test_pushing_the_judge_results_again_adds_nothing(loop):
    from huggingface_hub import ModelCard

    from ocforge.publish.dataset_ref import download_text

    with _api(loop) as api:
        before = api.model_info(MODEL).sha
    again = loop["ws"].run(_command(loop, "ocforge eval judge run"))  # no server runs now
    assert again.returncode == 0, again.stderr[-3000:]
    assert "already holds these results (no commit)" in again.stdout
    with _api(loop) as api:
        assert api.model_info(MODEL).sha == before
        card = ModelCard(download_text(api, MODEL, "README.md", before))
    assert card.data.eval_results == ModelCard(loop["card"]).data.eval_results


def test_publishing_the_same_checkpoint_again_makes_no_version(loop):
    with _api(loop) as api:
        before = api.list_repo_refs(MODEL)
    again = loop["ws"].run(_command(loop, "ocforge publish model"))
    assert again.returncode == 0, again.stderr[-3000:]
    assert "up to date demo/tiny-rp v1.0.0" in again.stdout and "0 to upload" in again.stdout
    with _api(loop) as api:
        assert api.list_repo_refs(MODEL) == before


def test_a_dataset_other_than_the_one_trained_on_is_refused(loop):
    """``main`` of the dataset moves on by one commit: naming it is naming other data."""
    with _api(loop) as api:
        moved = api.upload_file(
            path_or_fileobj=b"a maintainer's note\n", path_in_repo="NOTES.md", repo_id=DATASET,
            repo_type="dataset",
        ).oid  # fmt: skip
        head = api.model_info(MODEL).sha
    publish = _command(loop, "ocforge publish model")
    refused = loop["ws"].run(f"{publish} --dataset {DATASET}@main")
    assert refused.returncode == 1
    lines = refused.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in refused.stderr, refused.stderr
    assert f"--dataset {DATASET}@main is commit {moved}" in lines[0]
    assert f"trained on {DATASET}@v1.0.0 (commit {_release_sha(loop)})" in lines[0]
    with _api(loop) as api:
        assert api.model_info(MODEL).sha == head  # nothing pushed
