"""``ocforge train sft`` on a real local Hub: the demo released as v1.0.0, the tiny chat model
built from scratch, a few CPU steps with configs/train/demo-cpu.yaml.

Checked: only assistant tokens carry labels (a collated batch), the training manifest's counts
(a recipe whose max_length leaves some rows without an assistant token, a corpus filter), the
model card's Training section fed from it, a kill -9 then --resume ending with the very weights
of an unbroken run, recipe errors with file:line, and one-line CLI errors for bad --dataset.
"""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from ocforge.errors import RecipeError
from ocforge.hub import Identity, LocalHub
from ocforge.train.recipe import DEMO_TRAIN_RECIPE, TRAIN_CONFIGS, load_train_recipe

TOKEN = "hf_train_sft_tests_token_0123456789"
DATASET = "ocforge/demo"
OCFORGE = Path(sys.executable).parent / "ocforge"
IM_END = "<|im_end|>"


@pytest.fixture(scope="module")
def world(tmp_path_factory, demo_build):
    """A running local Hub holding the demo release v1.0.0, and the tiny chat model."""
    from ocforge.builders.synthesis.tiny_model import build_tiny_chat_model
    from ocforge.flows.release import release_build

    root = tmp_path_factory.mktemp("train")
    with LocalHub(
        root / "hub", tokens={TOKEN: Identity("alice", orgs=frozenset({"ocforge"}))}
    ) as hub:
        released = release_build(
            demo_build.out_dir, DATASET, version="1.0.0", endpoint=hub.endpoint, token=TOKEN
        )
        env = {
            **os.environ,
            "OCFORGE_HUB_URL": hub.endpoint,
            "OCFORGE_HUB_TOKEN": TOKEN,
            "HF_HOME": str(root / "hf-home"),
        }
        yield {
            "hub": hub,
            "root": root,
            "env": env,
            "sha": released.commit,
            "model": build_tiny_chat_model(root / "tiny"),
        }


def _conn(world):
    from ocforge.publish.hub_client import connect

    return connect("local", endpoint=world["hub"].endpoint, token=TOKEN)


def _cli_cmd(*args: str) -> list[str]:
    exe = [str(OCFORGE)] if OCFORGE.exists() else [sys.executable, "-m", "ocforge"]
    return [*exe, "train", "sft", *args]


def _cli(world, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        _cli_cmd(*args), env=world["env"], capture_output=True, text=True, timeout=600
    )


def _recipe_variant(tmp_path: Path, name: str, **changes) -> Path:
    data = yaml.safe_load(DEMO_TRAIN_RECIPE.read_text())
    data["chat_template"] = str(TRAIN_CONFIGS / data["chat_template"])
    data.update(changes)
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def _release_rows(world, config: str) -> list[dict]:
    """The config's train rows as a consumer reads them, in a separate process."""
    script = (
        "import datasets, json; "
        f"ds = datasets.load_dataset({DATASET!r}, {config!r}, revision={world['sha']!r}, "
        "split='train'); "
        "print(json.dumps([{k: r[k] for k in ('dialogue_id', 'source_corpus', 'messages', "
        "'response')} for r in ds]))"
    )
    env = {**world["env"], **world["hub"].client_env(TOKEN)}
    env["HF_DATASETS_CACHE"] = str(world["root"] / f"client-ds-{config}")
    proc = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------------------------------------
# recipes


def test_shipped_recipes_are_valid():
    final = load_train_recipe(TRAIN_CONFIGS / "opencharacter-8b.yaml")
    assert final.adam_betas == (0.9, 0.95)
    assert (final.learning_rate, final.final_learning_rate) == (1e-5, 1e-6)
    assert [(d.config, d.corpora) for d in final.data] == [
        ("generate", ["lima", "alpaca", "ph-instruct"])
    ]
    ablation = load_train_recipe(TRAIN_CONFIGS / "ablation-lima-alpaca-r.yaml")
    assert [(d.config, d.corpora) for d in ablation.data] == [("rewrite", ["lima", "alpaca"])]
    demo = load_train_recipe(DEMO_TRAIN_RECIPE)
    assert demo.use_cpu and not demo.bf16 and demo.chat_template.is_file()


def test_recipe_errors_name_file_and_line(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(
        "name: bad\n"
        "data:\n"
        "  - config: generate\n"
        "    corpuses: [lima]\n"  # line 4: a typo
        "learning_rate: fast\n"  # line 5: not a number
        "chat_template: missing.jinja\n"  # line 6: no such file
    )
    with pytest.raises(RecipeError) as err:
        load_train_recipe(path)
    problems = err.value.problems
    assert any(p.startswith(f"{path}:4: data[0].corpuses: unknown key") for p in problems)
    assert any(p.startswith(f"{path}:5: learning_rate:") for p in problems)
    assert any(p.startswith(f"{path}:6: chat_template:") and "not found" in p for p in problems)


def test_unsafe_settings_are_named_with_their_line(tmp_path):
    path = tmp_path / "unsafe.yaml"
    path.write_text(
        "name: unsafe\ndata:\n  - config: generate\nbf16: true\nuse_cpu: true\npacking: true\n"
    )
    with pytest.raises(RecipeError) as err:
        load_train_recipe(path)
    text = "\n".join(err.value.problems)
    assert f"{path}:4: bf16:" in text
    assert f"{path}:6: packing:" in text and "attn_implementation" in text


def test_a_template_without_markers_is_a_clear_error(world):
    from transformers import AutoTokenizer

    from ocforge.errors import TrainError
    from ocforge.train.template import training_template

    tokenizer = AutoTokenizer.from_pretrained(str(world["model"]))
    with pytest.raises(TrainError, match=r"chat_template:.*\.jinja"):
        training_template(tokenizer, None, "tiny")


def test_the_shipped_template_renders_like_the_models_own(world):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(world["model"]))
    marked = (TRAIN_CONFIGS / "chatml-generation.jinja").read_text()
    row = _release_rows(world, "generate")[0]
    assert tokenizer.apply_chat_template(row["messages"], tokenize=False) == (
        tokenizer.apply_chat_template(row["messages"], tokenize=False, chat_template=marked)
    )


# ---------------------------------------------------------------------------------------------
# labels, counts, manifest, card


def test_only_assistant_tokens_carry_labels(world, tmp_path):
    from ocforge.train.recipe import load_train_recipe as load
    from ocforge.train.sft import build_trainer, prepare_run

    recipe = load(DEMO_TRAIN_RECIPE)
    with _conn(world) as conn:
        p = prepare_run(
            conn, f"{DATASET}@v1.0.0", tmp_path / "out", base_model=str(world["model"]),
            recipe=recipe,
        )  # fmt: skip
    trainer = build_trainer(recipe, p.base, p.tokenizer, p.template, p.train_dataset, p.out)
    batch = next(iter(trainer.get_train_dataloader()))
    responses = {r["response"] for r in _release_rows(world, "generate")}
    tok = p.tokenizer
    assert batch["input_ids"].shape[0] == recipe.batch_size
    for ids, labels in zip(batch["input_ids"].tolist(), batch["labels"].tolist(), strict=True):
        marked = [i for i, label in enumerate(labels) if label != -100]
        assert marked == list(range(marked[0], marked[-1] + 1))  # one contiguous answer
        assert [labels[i] for i in marked] == [ids[i] for i in marked]
        answer = tok.decode([ids[i] for i in marked])
        assert answer.endswith(IM_END) and answer[: -len(IM_END)] in responses
        # the system (profile) and user turns, and the padding, carry no label
        before = tok.decode(ids[: marked[0]])
        assert before.startswith("<|im_start|>system\n") and before.endswith("assistant\n")
        assert all(label == -100 for label in labels[marked[-1] + 1 :])


def test_manifest_counts_truncated_and_unselected_rows(world, tmp_path):
    from rich.console import Console

    from ocforge.train.data import CORPUS_NOT_SELECTED, TRUNCATED
    from ocforge.train.manifest import card_training, read_training_manifest
    from ocforge.train.progress import ProgressCallback
    from ocforge.train.sft import run_sft

    limit = 600  # the demo's answers start at tokens ~540-670 with the tiny tokenizer
    recipe = _recipe_variant(
        tmp_path, "short", max_length=limit, max_steps=2, save_steps=50, full_determinism=False,
        data=[{"config": "generate"}, {"config": "rewrite", "corpora": ["lima"]}],
    )  # fmt: skip
    bar = io.StringIO()
    out = tmp_path / "out"
    with _conn(world) as conn:
        result = run_sft(
            conn, f"{DATASET}@v1.0.0", out, base_model=str(world["model"]), recipe_path=recipe,
            callbacks=[ProgressCallback(Console(file=bar, force_terminal=True, width=120))],
        )  # fmt: skip

    # the expected counts, from the release as a consumer loads it and the tokenizer
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(world["model"]))
    template = (TRAIN_CONFIGS / "chatml-generation.jinja").read_text()

    def answer_start(messages):
        rendered = tok.apply_chat_template(
            messages, tokenize=True, return_dict=True, return_assistant_tokens_mask=True,
            chat_template=template,
        )  # fmt: skip
        return rendered["assistant_masks"].index(1)

    m = read_training_manifest(out)
    assert m == result.manifest
    assert m["dataset"] == {
        "repo_id": DATASET, "revision": "v1.0.0", "sha": world["sha"], "version": "1.0.0",
        "split": "train",
    }  # fmt: skip
    for config, corpora in (("generate", None), ("rewrite", {"lima"})):
        rows = _release_rows(world, config)
        chosen = [r for r in rows if corpora is None or r["source_corpus"] in corpora]
        cut = sorted(r["dialogue_id"] for r in chosen if answer_start(r["messages"]) >= limit)
        entry = m["data"][config]
        assert entry["rows"] == len(rows) and entry["selected"] == len(chosen)
        assert entry["used"] == len(chosen) - len(cut)
        assert entry["dropped"].get(TRUNCATED, 0) == len(cut)
        assert sorted(entry["dropped_ids"].get(TRUNCATED, [])) == cut
        assert entry["dropped"].get(CORPUS_NOT_SELECTED, 0) == len(rows) - len(chosen)
        assert entry["rows"] == entry["used"] + sum(entry["dropped"].values())
    assert m["data"]["generate"]["dropped"][TRUNCATED] > 0  # the case the test is about
    assert m["rows_used"] == sum(e["used"] for e in m["data"].values())
    assert m["recipe"]["text"] == recipe.read_text()
    assert m["recipe"]["sha256"] == __import__("hashlib").sha256(recipe.read_bytes()).hexdigest()
    assert m["run"]["global_step"] == 2 and m["run"]["seed"] == 7
    assert {"trl", "transformers", "torch", "datasets", "ocforge"} <= set(m["versions"])

    # the checkpoint: publishable files only, TRL's README replaced, JSON state
    names = {p.name for p in out.iterdir()}
    assert {
        "model.safetensors",
        "training.json",
        "trainer_state.json",
        "training_args.json",
    } <= names
    assert not {n for n in names if n.startswith("checkpoint-") or n.endswith(".bin")}
    assert ".ocforge-train" not in names
    readme = (out / "README.md").read_text()
    assert "training.json" in readme and "licence" not in readme
    assert "2/2" in bar.getvalue() and "loss" in bar.getvalue()

    # the model card's Training section says exactly that
    from ocforge.cards.model_card import render_model_card

    card = render_model_card(
        model_id="alice/tiny-rp", base_model="tiny", dataset_repo=DATASET,
        dataset_revision="v1.0.0", dataset_sha=world["sha"], dataset_version="1.0.0",
        license="apache-2.0", model_type="llama", num_parameters=1, has_chat_template=True,
        training_facts={}, training=card_training(m),
    )  # fmt: skip
    gen = m["data"]["generate"]
    assert (
        f"| `generate` | all | {gen['rows']} | {gen['used']} | {gen['dropped'][TRUNCATED]} " in card
    )
    assert m["recipe"]["sha256"] in card and world["sha"] in card
    assert card.index("## Training\n") < card.index("## Usage")
    from ocforge.cards.model_card import insert_training_section

    assert insert_training_section(card, card_training(m)) == card  # idempotent


# ---------------------------------------------------------------------------------------------
# resume after kill -9, and CLI errors


@pytest.mark.slow
def test_resume_after_kill_gives_the_weights_of_an_unbroken_run(world, tmp_path):
    import torch
    from safetensors.torch import load_file

    common = ["--dataset", f"{DATASET}@v1.0.0", "--base-model", str(world["model"])]
    common += ["--recipe", str(DEMO_TRAIN_RECIPE), "--max-steps", "4"]
    whole, broken = tmp_path / "whole", tmp_path / "broken"
    done = _cli(world, *common, "--out", str(whole))
    assert done.returncode == 0, done.stderr[-3000:]

    proc = subprocess.Popen(
        _cli_cmd(*common, "--out", str(broken)), env=world["env"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 300
    while not (broken / "checkpoint-2" / "trainer_state.json").is_file():
        assert proc.poll() is None, "training ended before it could be killed"
        assert time.monotonic() < deadline
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (broken / "training.json").exists()  # killed mid-run

    again = _cli(world, *common, "--out", str(broken))
    assert again.returncode == 1 and "--resume" in again.stderr

    resumed = _cli(world, *common, "--out", str(broken), "--resume")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "resumed from checkpoint-" in resumed.stdout
    a, b = load_file(whole / "model.safetensors"), load_file(broken / "model.safetensors")
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a), "resumed weights differ"
    start = load_file(Path(world["model"]) / "model.safetensors")
    assert not all(torch.equal(a[k], start[k]) for k in a)  # it did train
    ma, mb = (json.loads((d / "training.json").read_text()) for d in (whole, broken))
    assert ma == mb


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("ocforge/demo", "expected ORG/NAME@REVISION"),
        ("ocforge/demo@v9.9.9", "has no revision 'v9.9.9'"),
        ("nobody/nothing@v1.0.0", "dataset repo nobody/nothing not found"),
    ],
)
def test_a_bad_dataset_is_a_one_line_cli_error(world, tmp_path, spec, expected):
    result = _cli(
        world, "--dataset", spec, "--base-model", str(world["model"]),
        "--recipe", str(DEMO_TRAIN_RECIPE), "--out", str(tmp_path / "out"),
    )  # fmt: skip
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and expected in lines[0]
    assert "Traceback" not in result.stderr and TOKEN not in result.stdout + result.stderr
