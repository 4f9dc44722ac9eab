"""Checkpoint validation before publishing: each broken checkpoint gets a specific message."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from models_evals_helpers import build_tiny_model, copy_model, tiny_model

from ocforge.errors import CheckpointError
from ocforge.models.checkpoint import (
    INDEX_NAME,
    check_checkpoint,
    training_facts,
)


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    return tiny_model(tmp_path_factory)


@pytest.fixture(scope="module")
def sharded_dir(model_dir, tmp_path_factory) -> Path:
    """The tiny model re-saved by transformers in three shards with an index."""
    from transformers import AutoModelForCausalLM

    out = tmp_path_factory.mktemp("sharded") / "m"
    AutoModelForCausalLM.from_pretrained(model_dir).save_pretrained(out, max_shard_size="200KB")
    for name in ("tokenizer.json", "tokenizer_config.json", "chat_template.jinja"):
        shutil.copy(model_dir / name, out / name)
    return out


def _problems(path: Path, **kwargs) -> list[str]:
    with pytest.raises(CheckpointError) as info:
        check_checkpoint(path, **kwargs)
    assert str(path) in str(info.value)
    return info.value.problems


def test_tiny_model_passes_with_its_files_and_parameter_count(model_dir):
    from safetensors import safe_open

    checked = check_checkpoint(model_dir)
    assert checked.weights == ["model.safetensors"]
    assert {"config.json", "tokenizer.json", "tokenizer_config.json", "model.safetensors"} <= set(
        checked.files
    )
    assert checked.has_chat_template and checked.warnings == []
    with safe_open(model_dir / "model.safetensors", "pt") as fh:
        expected = sum(fh.get_tensor(k).numel() for k in fh.keys())
    assert checked.num_parameters == expected


def test_missing_config(model_dir, tmp_path):
    ckpt = copy_model(model_dir, tmp_path / "m")
    (ckpt / "config.json").unlink()
    problems = _problems(ckpt)
    assert any(p.startswith("config.json: missing") for p in problems), problems


def test_config_transformers_cannot_load(model_dir, tmp_path):
    ckpt = copy_model(model_dir, tmp_path / "m")
    (ckpt / "config.json").write_text(json.dumps({"model_type": "no_such_architecture"}))
    problems = _problems(ckpt)
    assert any("config.json: transformers cannot load it" in p for p in problems), problems


def test_pickle_only_weights_are_refused_unless_allowed(model_dir, tmp_path):
    import torch
    from safetensors.torch import load_file

    ckpt = copy_model(model_dir, tmp_path / "m")
    torch.save(load_file(ckpt / "model.safetensors"), ckpt / "pytorch_model.bin")
    (ckpt / "model.safetensors").unlink()
    problems = _problems(ckpt)
    assert any(p.startswith("pickle-only weights: pytorch_model.bin") for p in problems), problems
    assert "--allow-pickle" in problems[0]
    assert check_checkpoint(ckpt, allow_pickle=True).weights == ["pytorch_model.bin"]


def test_sharded_checkpoint_passes(sharded_dir, model_dir):
    checked = check_checkpoint(sharded_dir)
    assert len(checked.weights) == 3
    assert checked.num_parameters == check_checkpoint(model_dir).num_parameters


def test_shard_missing_from_folder(sharded_dir, tmp_path):
    ckpt = copy_model(sharded_dir, tmp_path / "m")
    (ckpt / "model-00002-of-00003.safetensors").unlink()
    problems = _problems(ckpt)
    assert any(
        p.startswith(f"{INDEX_NAME}: shard model-00002-of-00003.safetensors (holding ")
        and "missing from the folder" in p
        for p in problems
    ), problems


def test_index_names_a_tensor_the_shard_lacks(sharded_dir, tmp_path):
    ckpt = copy_model(sharded_dir, tmp_path / "m")
    index = json.loads((ckpt / INDEX_NAME).read_text())
    moved = sorted(t for t, f in index["weight_map"].items() if f.startswith("model-00001"))[0]
    index["weight_map"][moved] = "model-00003-of-00003.safetensors"
    (ckpt / INDEX_NAME).write_text(json.dumps(index))
    problems = _problems(ckpt)
    assert any(
        p.startswith("model-00003-of-00003.safetensors: 1 tensor(s) that") and moved in p
        for p in problems
    ), problems
    assert any(
        p.startswith("model-00001-of-00003.safetensors: 1 tensor(s) not in") and moved in p
        for p in problems
    ), problems


def test_index_total_size_mismatch(sharded_dir, tmp_path):
    ckpt = copy_model(sharded_dir, tmp_path / "m")
    index = json.loads((ckpt / INDEX_NAME).read_text())
    index["metadata"]["total_size"] += 4
    (ckpt / INDEX_NAME).write_text(json.dumps(index))
    problems = _problems(ckpt)
    assert any(f"{INDEX_NAME}: metadata.total_size is" in p for p in problems), problems


def test_shards_without_index(sharded_dir, tmp_path):
    ckpt = copy_model(sharded_dir, tmp_path / "m")
    (ckpt / INDEX_NAME).unlink()
    problems = _problems(ckpt)
    assert any(p.startswith(f"{INDEX_NAME}: missing for the sharded weights") for p in problems)


def test_truncated_safetensors(model_dir, tmp_path):
    ckpt = copy_model(model_dir, tmp_path / "m")
    (ckpt / "model.safetensors").write_bytes(b"\x10\x00")
    problems = _problems(ckpt)
    assert any(p.startswith("model.safetensors: not a readable safetensors file") for p in problems)


def test_tokenizer_missing_and_problems_reported_together(model_dir, tmp_path):
    ckpt = copy_model(model_dir, tmp_path / "m")
    (ckpt / "tokenizer.json").unlink()
    (ckpt / "tokenizer_config.json").unlink()
    (ckpt / "config.json").unlink()
    problems = _problems(ckpt)
    assert any(p.startswith("tokenizer_config.json: missing") for p in problems)
    assert any(p.startswith("tokenizer files: none of tokenizer.json") for p in problems)
    assert any(p.startswith("config.json: missing") for p in problems)


def test_no_chat_template_is_a_warning(tmp_path):
    ckpt = build_tiny_model(tmp_path / "m", chat_template=False, trainer_state=False)
    checked = check_checkpoint(ckpt)
    assert not checked.has_chat_template
    assert len(checked.warnings) == 1 and "no chat template" in checked.warnings[0]


def test_stray_training_state_needs_include_or_exclude(model_dir, tmp_path):
    ckpt = copy_model(model_dir, tmp_path / "m")
    (ckpt / "optimizer.pt").write_bytes(b"\0" * 1024)
    (ckpt / "checkpoint-500").mkdir()
    (ckpt / "checkpoint-500" / "config.json").write_text("{}")
    problems = _problems(ckpt)
    assert any(p.startswith("optimizer.pt: stray optimizer state") for p in problems), problems
    assert any(
        p.startswith("checkpoint-500/config.json: stray a checkpoint inside") for p in problems
    )
    checked = check_checkpoint(ckpt, exclude=["optimizer.pt", "checkpoint-500/*"])
    assert "optimizer.pt" not in checked.files and "optimizer.pt" in checked.excluded
    checked = check_checkpoint(ckpt, include=["optimizer.pt"], exclude=["checkpoint-500/*"])
    assert "optimizer.pt" in checked.files


def test_training_facts_from_trainer_state_and_args(model_dir, tmp_path):
    ckpt = copy_model(model_dir, tmp_path / "m")
    (ckpt / "training_args.bin").write_bytes(b"not unpickled")
    facts = training_facts(ckpt)
    assert facts["global_step"] == 120 and facts["epoch"] == 3.0
    assert facts["final_train_loss"] == 3.2
    assert facts["learning_rate"] == 2e-5 and facts["lr_scheduler_type"] == "cosine"
    # the pickled TrainingArguments are a stray file, not a source of facts
    problems = _problems(ckpt)
    assert any(p.startswith("training_args.bin: stray pickled TrainingArguments") for p in problems)
