"""Eval-ready configs from a build's test split, the task folder `eval register` writes, and the
in-character scorer."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import polars as pl
import pytest
import yaml

from ocforge.errors import EvalConfigError, EvalRunError, RegisterError, ReleaseRefError
from ocforge.evals.configs import (
    CHARACTER_CHOICE,
    DIALOGUES,
    declare_eval_configs,
    eval_rows,
    write_eval_configs,
)
from ocforge.evals.register import Registration, write_task_dir
from ocforge.manifest import parse_manifest
from ocforge.publish.dataset_ref import DatasetRelease, parse_dataset_ref

SHA = "0123456789" * 4  # all digits: must stay a string in YAML


@pytest.fixture(scope="module")
def build(demo_build, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("evals") / "build"
    shutil.copytree(demo_build.out_dir, out)
    declare_eval_configs(out, write_eval_configs(out))
    return out


def _test_split(build: Path) -> pl.DataFrame:
    frames = [
        pl.read_parquet(build / f"data/{cfg}/test-00000-of-00001.parquet")
        for cfg in ("rewrite", "generate")
    ]
    return pl.concat(
        [f.select("dialogue_id", "character_id", "question", "response") for f in frames]
    )


def _all_dialogues(build: Path) -> pl.DataFrame:
    """Kept dialogues of every split, and the train answers removed for overlapping test questions."""
    cols = ["dialogue_id", "character_id", "question_id", "response"]
    kept = [
        pl.read_parquet(p).select(cols)
        for cfg in ("rewrite", "generate")
        for p in sorted((build / "data" / cfg).glob("*.parquet"))
    ]
    removed = [
        pl.DataFrame([{c: json.loads(r)[c] for c in cols} for r in pl.read_parquet(p)["record"]])
        for p in sorted(build.glob("removed/*/test_overlap/*.parquet"))
    ]
    return pl.concat(kept + removed)


def test_dialogue_docs_are_the_test_split_rows(build):
    test = _test_split(build)
    docs = pl.read_parquet(build / "data/eval_dialogues/test-00000-of-00001.parquet")
    assert docs.height == test.height > 0
    joined = docs.join(test, on="dialogue_id", how="inner")
    assert joined.height == test.height
    assert (joined["reference"] == joined["response"]).all()
    assert (joined["character_id"] == joined["character_id_right"]).all()
    first = docs.row(0, named=True)
    assert [m["role"] for m in first["context"]] == ["system", "user"]
    assert first["context"][1]["content"] == first["question"]


def test_character_choice_labels_point_at_the_characters_own_answer(build):
    docs = pl.read_parquet(build / "data/eval_character_choice/test-00000-of-00001.parquet")
    test_ids = set(_test_split(build)["dialogue_id"])
    everything = _all_dialogues(build)
    by_id = {r["dialogue_id"]: r for r in everything.iter_rows(named=True)}
    assert docs.height > 0
    for doc in docs.iter_rows(named=True):
        assert doc["dialogue_id"] in test_ids
        assert len(doc["choices"]) >= 2
        assert doc["choice_ids"][doc["label"]] == doc["dialogue_id"]
        assert doc["choices"][doc["label"]] == by_id[doc["dialogue_id"]]["response"]
        owners = [by_id[i]["character_id"] for i in doc["choice_ids"]]
        assert len(set(owners)) == len(owners)  # one answer per character: the label is unique
        assert {by_id[i]["question_id"] for i in doc["choice_ids"]} == {doc["question_id"]}


def test_eval_configs_are_declared_and_load(build):
    import datasets

    manifest = json.loads((build / "release.json").read_text())
    assert manifest["configs"][CHARACTER_CHOICE]["kind"] == "eval"
    loaded = datasets.load_dataset(str(build), DIALOGUES)
    assert list(loaded) == ["test"]
    assert loaded["test"].num_rows == manifest["configs"][DIALOGUES]["splits"]["test"]["rows"]
    assert not (build / "data" / CHARACTER_CHOICE / "train-00000-of-00001.parquet").exists()


def test_eval_configs_are_deterministic(build, tmp_path):
    again = tmp_path / "again"
    shutil.copytree(build, again)
    write_eval_configs(again)
    for cfg in (CHARACTER_CHOICE, DIALOGUES):
        rel = f"data/{cfg}/test-00000-of-00001.parquet"
        assert (
            hashlib.sha256((build / rel).read_bytes()).digest()
            == hashlib.sha256((again / rel).read_bytes()).digest()
        )


def test_build_without_test_split_is_refused(build, tmp_path):
    broken = tmp_path / "b"
    shutil.copytree(build, broken)
    manifest = json.loads((broken / "release.json").read_text())
    for info in manifest["configs"].values():
        info["splits"].pop("test", None)
    (broken / "release.json").write_text(json.dumps(manifest))
    with pytest.raises(EvalConfigError, match="no rows in any 'test' split"):
        eval_rows(broken)
    with pytest.raises(EvalConfigError, match="has no release.json"):
        eval_rows(tmp_path)


def _release(build: Path, manifest: dict | None = None) -> DatasetRelease:
    manifest = manifest or json.loads((build / "release.json").read_text())
    released = parse_manifest(json.dumps({**manifest, "version": "1.0.0"}), "ocforge/demo@v1.0.0")
    return DatasetRelease("ocforge/demo", "v1.0.0", SHA, released)


def test_task_folder_pins_the_commit(build, tmp_path):
    reg = write_task_dir(_release(build), tmp_path / "tasks")
    assert reg.group == "demo"
    assert set(reg.tasks) == {"demo_character_choice", "demo_dialogue_ppl", "demo_in_character"}
    for task in reg.tasks:
        text = (tmp_path / "tasks" / f"{task}.yaml").read_text()
        data = (
            yaml.safe_load(text.replace("!function", ""))
            if "!function" in text
            else yaml.safe_load(text)
        )
        assert data["dataset_path"] == "ocforge/demo"
        assert data["dataset_kwargs"] == {"revision": SHA}  # a string, not a number
        assert data["metadata"]["version"] == 1.0
        assert data["metadata"]["dataset_sha"] == SHA
    assert (
        "process_results: !function ocforge_in_character.process_results"
        in (tmp_path / "tasks" / "demo_in_character.yaml").read_text()
    )
    assert Registration.load(tmp_path / "tasks") == reg
    assert reg.docs["demo_dialogue_ppl"] == _test_split(build).height


def test_release_without_eval_configs_is_refused(build, tmp_path):
    manifest = json.loads((build / "release.json").read_text())
    manifest["configs"].pop(CHARACTER_CHOICE)
    with pytest.raises(RegisterError, match="has no eval config\\(s\\) eval_character_choice"):
        write_task_dir(_release(build, manifest), tmp_path / "t")


def test_prefix_and_folder_rules(build, tmp_path):
    with pytest.raises(RegisterError, match="collides with lm-eval's built-in 'persona'"):
        write_task_dir(_release(build), tmp_path / "t", prefix="persona_demo")
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "other.yaml").write_text("task: x\n")
    with pytest.raises(RegisterError, match="already holds other task files \\(other.yaml\\)"):
        write_task_dir(_release(build), tmp_path / "busy")


def test_dataset_reference_must_be_pinned():
    assert parse_dataset_ref("ocforge/demo@v1.2.0") == ("ocforge/demo", "v1.2.0")
    for bad in ("ocforge/demo", "demo@v1", "ocforge/demo@"):
        with pytest.raises(ReleaseRefError, match="expected ORG/NAME@REVISION"):
            parse_dataset_ref(bad)


def test_in_character_scorer(build, tmp_path):
    import importlib.util

    write_task_dir(_release(build), tmp_path / "tasks")
    spec = importlib.util.spec_from_file_location(
        "scorer", tmp_path / "tasks/ocforge_in_character.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    doc = {"dialogue_id": "d1", "reference": "Eish, the honey badgers raid the hive just now."}
    same = module.process_results(doc, [doc["reference"]])
    assert same == {"rouge_l": 1.0, "character_break": 0.0}
    broke = module.process_results(doc, ["As an AI language model, I cannot keep bees."])
    assert broke["character_break"] == 1.0 and broke["rouge_l"] < 0.3
    assert module.process_results(doc, [""]) == {"rouge_l": 0.0, "character_break": 0.0}


def test_model_arguments_for_folders_and_hub_revisions(tmp_path):
    from ocforge.evals.run import ModelRef, model_args, resolve_model

    folder = resolve_model(None, str(tmp_path))  # a folder needs no Hub
    assert folder.path == tmp_path.resolve()
    assert model_args(folder, "hf") == f"pretrained={tmp_path.resolve()},dtype=float32"
    hub = ModelRef(None, "alice/tiny-rp", "v1.0.0", "a" * 40)
    assert (
        model_args(hub, "vllm", "auto")
        == f"pretrained=alice/tiny-rp,revision={'a' * 40},dtype=auto"
    )
    with pytest.raises(EvalRunError, match="unknown backend 'tgi'"):
        model_args(hub, "tgi")
    with pytest.raises(EvalRunError, match="not a folder, and not ORG/NAME"):
        resolve_model(None, str(tmp_path / "missing"))


def test_eval_run_needs_a_registered_folder(tmp_path):
    with pytest.raises(RegisterError, match="not a folder written by 'ocforge eval register'"):
        Registration.load(tmp_path)
