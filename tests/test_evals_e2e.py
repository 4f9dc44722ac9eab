"""End to end on a local Hub: release the demo corpus with its eval configs, publish a tiny
fine-tuned checkpoint linked to that release, register lm-eval tasks pinned to it, run them with
the hf backend on CPU and record the results in the model card's model-index.

The ocforge CLI runs as a real subprocess, as a user runs it; lm-eval and the checks that read
through the Hub run in client processes (huggingface_hub/datasets read HF_ENDPOINT at import).

The rendered prompts are compared with tests/golden/evals/*.json; after a deliberate change to
the task templates or the demo corpus, regenerate them with
``OCFORGE_UPDATE_GOLDEN=1 pytest tests/test_evals_e2e.py`` and review the diff.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from models_evals_helpers import WRITE_TOKEN, tiny_model

from ocforge.evals.configs import eval_rows
from ocforge.hub import Identity, LocalHub

OCFORGE = Path(sys.executable).parent / "ocforge"
GOLDEN = Path(__file__).parent / "golden" / "evals"
CLIENTS = Path(__file__).parent / "clients_evals"
DATASET = "ocforge/demo"
MODEL = "alice/tiny-rp"
BASE = "meta-llama/Llama-3.1-8B"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def world(tmp_path_factory, demo_build):
    """A running local Hub holding the demo release (tag v1.0.0) and the paths the tests share."""
    from ocforge.flows.release import release_build

    root = tmp_path_factory.mktemp("e2e")
    build = root / "release-build"
    shutil.copytree(demo_build.out_dir, build)
    with LocalHub(
        root / "hub", tokens={WRITE_TOKEN: Identity("alice", orgs=frozenset({"ocforge"}))}
    ) as hub:
        # the real release path: the build carries its eval configs, release_build publishes them
        released = release_build(
            build, DATASET, version="1.0.0", endpoint=hub.endpoint, token=WRITE_TOKEN
        )
        tag, sha = released.tag, released.commit
        env = {
            **os.environ,
            "OCFORGE_HUB_URL": hub.endpoint,
            "OCFORGE_HUB_TOKEN": WRITE_TOKEN,
            "HF_HOME": str(root / "hf-home"),
        }
        yield {
            "hub": hub,
            "root": root,
            "env": env,
            "tag": tag,
            "sha": sha,
            "build": build,
            "model": tiny_model(tmp_path_factory),
        }


def _cli(world, *args: str) -> subprocess.CompletedProcess:
    exe = [str(OCFORGE)] if OCFORGE.exists() else [sys.executable, "-m", "ocforge"]
    return subprocess.run(
        [*exe, *args], env=world["env"], capture_output=True, text=True, timeout=600
    )


@contextlib.contextmanager
def _conn(world):
    """huggingface_hub in this process, bound to the test Hub (as the ocforge commands do)."""
    from ocforge.publish.hub_client import connect

    with connect("local", endpoint=world["hub"].endpoint, token=WRITE_TOKEN) as conn:
        yield conn


def _card(world, revision: str = "main"):
    from huggingface_hub import ModelCard

    from ocforge.publish.dataset_ref import download_text

    with _conn(world) as conn:
        sha = conn.api.model_info(MODEL, revision=revision).sha
        return ModelCard(download_text(conn.api, MODEL, "README.md", sha))


def _refs(world):
    with _conn(world) as conn:
        refs = conn.api.list_repo_refs(MODEL)
    return {b.name: b.target_commit for b in refs.branches}, {
        t.name: t.target_commit for t in refs.tags
    }


@pytest.fixture(scope="module")
def published(world):
    result = _cli(
        world,
        "publish", "model", str(world["model"]),
        "--repo", MODEL,
        "--base-model", BASE,
        "--dataset", f"{DATASET}@{world['tag']}",
        "--license", "apache-2.0",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert WRITE_TOKEN not in result.stdout + result.stderr
    return result


@pytest.fixture(scope="module")
def tasks_dir(world, published):
    out = world["root"] / "tasks"
    result = _cli(
        world, "eval", "register", "--dataset", f"{DATASET}@{world['tag']}", "--out", str(out)
    )
    assert result.returncode == 0, result.stderr
    assert world["sha"] in result.stdout
    return out


@pytest.fixture(scope="module")
def evaluated(world, tasks_dir):
    out = world["root"] / "eval-out"
    result = _cli(
        world,
        "eval", "run",
        "--model", f"{MODEL}@v1.0.0",
        "--tasks", str(tasks_dir),
        "--output", str(out),
        "--limit", "3",
        "--push",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return out, result


def test_publish_model_commits_and_tags_with_a_linked_card(world, published):
    branches, tags = _refs(world)
    assert tags == {"v1.0.0": branches["main"]}
    card = _card(world, "v1.0.0")
    assert card.data.base_model == BASE
    assert card.data.base_model_relation == "finetune"
    assert card.data.datasets == [DATASET]
    assert card.data.library_name == "transformers" and card.data.pipeline_tag == "text-generation"
    assert card.data.license == "apache-2.0"
    assert world["tag"] in card.text and world["sha"] in card.text
    assert "| global_step | 120 |" in card.text  # from trainer_state.json
    with _conn(world) as conn:
        tree = conn.api.list_repo_tree(MODEL, revision="v1.0.0", recursive=True)
        files = {e.path: e for e in tree}
    local = hashlib.sha256((world["model"] / "model.safetensors").read_bytes()).hexdigest()
    assert files["model.safetensors"].lfs.sha256 == local
    assert {"config.json", "tokenizer.json", "chat_template.jinja", "README.md"} <= set(files)


def test_publishing_again_is_idempotent_and_tags_never_move(world, published):
    before = _refs(world)
    again = _cli(
        world,
        "publish", "model", str(world["model"]),
        "--repo", MODEL, "--base-model", BASE,
        "--dataset", f"{DATASET}@{world['tag']}", "--license", "apache-2.0",
    )  # fmt: skip
    assert again.returncode == 0, again.stderr
    assert "up to date" in again.stdout and "0 to upload" in again.stdout
    assert _refs(world) == before
    # different content under an existing version is refused before anything is pushed
    from ocforge.errors import ReleaseRefError
    from ocforge.models.publish import ModelPublishError, publish_model

    args = dict(base_model=BASE, dataset=f"{DATASET}@{world['tag']}")
    with _conn(world) as conn:
        with pytest.raises(ModelPublishError, match="tag v1.0.0 already exists.*never move"):
            publish_model(conn.api, world["model"], MODEL, version="1.0.0", license="mit", **args)
        args["dataset"] = f"{DATASET}@v9.9.9"
        with pytest.raises(ReleaseRefError, match="has no revision 'v9.9.9'"):
            publish_model(conn.api, world["model"], MODEL, dry_run=True, **args)
        plan = publish_model(
            conn.api,
            world["model"],
            MODEL,
            dry_run=True,
            license="mit",
            **{**args, "dataset": f"{DATASET}@{world['tag']}"},
        )
    assert plan.dry_run and plan.uploaded == ["README.md"] and plan.version == "1.1.0"
    assert _refs(world) == before


def test_registered_tasks_are_pinned_and_index(world, tasks_dir):
    for name in ("demo_character_choice", "demo_dialogue_ppl", "demo_in_character"):
        text = (tasks_dir / f"{name}.yaml").read_text()
        data = yaml.safe_load(text.split("process_results:")[0])
        assert data["dataset_path"] == DATASET
        assert data["dataset_kwargs"]["revision"] == world["sha"]


def test_task_documents_are_the_release_test_rows_and_prompts_match_golden(world, tasks_dir):
    env = {
        **os.environ,
        **world["hub"].client_env(WRITE_TOKEN),
        "HF_HOME": str(world["root"] / "hf-home"),
    }
    proc = subprocess.run(
        [sys.executable, str(CLIENTS / "task_docs.py"), str(tasks_dir), "demo", "2"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert {"demo", "demo_character_choice", "demo_dialogue_ppl", "demo_in_character"} <= set(
        out["indexed"]
    )
    assert sorted(out["group_map"]["demo"]) == [
        "demo_character_choice",
        "demo_dialogue_ppl",
        "demo_in_character",
    ]
    expected = eval_rows(world["build"])
    sources = {
        "demo_character_choice": "eval_character_choice",
        "demo_dialogue_ppl": "eval_dialogues",
        "demo_in_character": "eval_dialogues",
    }
    for task, config in sources.items():
        docs = out["tasks"][task]["docs"]
        want = json.loads(json.dumps(expected[config], default=str))
        assert [d["dialogue_id"] for d in docs] == [d["dialogue_id"] for d in want], task
        for got, row in zip(docs, want, strict=True):
            for key, value in row.items():
                assert got[key] == value, (task, row["dialogue_id"], key)
        rendered = json.dumps(out["tasks"][task]["rendered"], indent=2, ensure_ascii=False) + "\n"
        golden = GOLDEN / f"{task}.json"
        if os.environ.get("OCFORGE_UPDATE_GOLDEN"):
            golden.parent.mkdir(parents=True, exist_ok=True)
            golden.write_text(rendered, encoding="utf-8")
        assert rendered == golden.read_text(encoding="utf-8"), (
            f"{task}: prompts differ from {golden}"
        )


def test_eval_run_writes_finite_results_and_pushes_them(world, evaluated):
    out, result = evaluated
    record = json.loads((out / "results.json").read_text())
    assert record["dataset"]["sha"] == world["sha"]
    assert record["model"]["revision"] == "v1.0.0" and record["model"]["sha"]
    expected_metrics = {
        "demo_character_choice": {"acc", "acc_norm"},
        "demo_dialogue_ppl": {"word_perplexity", "bits_per_byte"},
        "demo_in_character": {"rouge_l", "character_break"},
    }
    assert {t: set(m) for t, m in record["metrics"].items()} == expected_metrics
    for metrics in record["metrics"].values():
        assert all(isinstance(v, float) and math.isfinite(v) for v in metrics.values())
    assert 0 <= record["metrics"]["demo_character_choice"]["acc"] <= 1
    assert record["metrics"]["demo_dialogue_ppl"]["bits_per_byte"] > 0
    assert record["lm_eval"]["n-samples"]["demo_in_character"]["effective"] == 3
    for task in expected_metrics:
        lines = (out / f"samples_{task}.jsonl").read_text().splitlines()
        assert len(lines) == 3

    card = _card(world)
    results = card.data.eval_results
    assert len(results) == 6
    assert {(r.metric_name, r.metric_value) for r in results} == {
        (f"{t} {m}", round(v, 6)) for t, ms in record["metrics"].items() for m, v in ms.items()
    }
    assert {r.dataset_revision for r in results} == {world["sha"]}
    assert {r.dataset_type for r in results} == {DATASET}
    # model-index YAML round-trips through huggingface_hub
    from huggingface_hub import ModelCard

    assert ModelCard(str(card)).data.eval_results == results
    assert "model-index" in card.content
    with _conn(world) as conn:
        uploaded = {e.path for e in conn.api.list_repo_tree(MODEL, recursive=True)}
    assert "evals/demo_1.0.0.json" in uploaded


def test_second_push_does_not_duplicate_and_keeps_other_datasets(world, evaluated):
    from huggingface_hub import EvalResult, ModelCard

    out, _ = evaluated
    card = _card(world)
    other = EvalResult(
        task_type="text-generation",
        dataset_type="someone/other-bench",
        dataset_name="other bench",
        metric_type="acc",
        metric_value=0.42,
    )
    card.data.eval_results = [other, *card.data.eval_results]
    with _conn(world) as conn:
        conn.api.upload_file(
            path_or_fileobj=str(card).encode(), path_in_repo="README.md", repo_id=MODEL
        )
    from ocforge.evals.run import push_results

    with _conn(world) as conn:
        first = push_results(conn.api, MODEL, out / "results.json")
    assert first.commit and first.entries == 7  # ours merged in place, the other kept
    pushed = _cli(world, "eval", "push", str(out / "results.json"), "--repo", MODEL)
    assert pushed.returncode == 0, pushed.stderr
    assert "already holds these results (no commit)" in pushed.stdout
    results = _card(world).data.eval_results
    assert len(results) == 7
    assert results[0] == other
    assert ModelCard(str(_card(world))).data.eval_results == results
    branches, tags = _refs(world)
    assert tags["v1.0.0"] != branches["main"]  # results are commits on main; the tag stays


def test_republishing_the_same_weights_keeps_recorded_results(world, evaluated):
    from huggingface_hub import ModelCard

    from ocforge.models.publish import publish_model

    args = dict(base_model=BASE, dataset=f"{DATASET}@{world['tag']}")
    before = _refs(world)
    with _conn(world) as conn:
        # the card re-rendered with the results it holds is byte-identical: nothing to publish,
        # and main being ahead of v1.0.0 by eval results is not a new version
        same = publish_model(conn.api, world["model"], MODEL, license="apache-2.0", **args)
        plan = publish_model(conn.api, world["model"], MODEL, license="mit", dry_run=True, **args)
    assert not same.created_commit and not same.created_tag and same.version == "1.0.0"
    assert same.uploaded == [] and same.deleted == [] and _refs(world) == before
    assert plan.uploaded == ["README.md"] and plan.version == "1.1.0"
    kept = ModelCard(plan.card).data.eval_results
    assert len(kept) == 7 and {r.dataset_revision for r in kept if r.dataset_type == DATASET} == {
        world["sha"]
    }


def test_a_commit_left_untagged_is_tagged_by_the_next_run(world, evaluated):
    from huggingface_hub import HfApi

    from ocforge.models.publish import publish_model

    class TagFails(HfApi):
        def create_tag(self, *args, **kwargs):
            raise ConnectionResetError("connection reset while tagging")

    args = dict(base_model=BASE, dataset=f"{DATASET}@{world['tag']}", license="mit")
    with _conn(world) as conn:
        failing = TagFails(endpoint=conn.api.endpoint, token=WRITE_TOKEN)
        with pytest.raises(ConnectionResetError):
            publish_model(failing, world["model"], MODEL, **args)
        branches, tags = _refs(world)
        assert "v1.1.0" not in tags  # the commit landed, its tag did not
        again = publish_model(conn.api, world["model"], MODEL, **args)
    assert not again.created_commit and again.created_tag and again.tag == "v1.1.0"
    assert _refs(world)[1]["v1.1.0"] == branches["main"]
