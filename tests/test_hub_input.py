"""A recipe input read from a Hub dataset (here: the local Hub on 127.0.0.1) by id and revision."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import yaml

from ocforge.hub import LocalHub
from ocforge.recipe import DEMO_RECIPE

TOKEN = "hf_ocforge_test_writer_0001"


def _client(script: str, env: dict[str, str]) -> str:
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def test_build_reads_characters_from_a_hub_dataset_at_a_revision(tmp_path):
    with LocalHub(tmp_path / "hub", tokens={TOKEN: "alice"}) as hub:
        env = {**os.environ, **hub.client_env(TOKEN), "HF_HOME": str(tmp_path / "hf")}
        env.pop("HF_DATASETS_CACHE", None)
        characters = DEMO_RECIPE.parent / "data" / "characters.jsonl"
        commit = _client(
            f"""
            from huggingface_hub import HfApi
            api = HfApi()
            api.create_repo("alice/personas", repo_type="dataset")
            info = api.upload_file(path_or_fileobj={str(characters)!r}, path_in_repo="data/train.jsonl",
                                   repo_id="alice/personas", repo_type="dataset")
            print(info.oid)
            """,
            env,
        ).strip()
        assert len(commit) == 40
        recipe = {
            "name": "hub-input",
            "characters": {
                "inputs": [
                    {
                        "hub": {"repo": "alice/personas", "revision": commit, "split": "train"},
                        "fields": {"profile": "character"},
                    }
                ]
            },
            "dialogues": [
                {
                    "strategy": "generate",
                    "inputs": [
                        {"path": str(DEMO_RECIPE.parent / "data" / "dialogues-generate.jsonl")}
                    ],
                }
            ],
        }
        recipe_path = tmp_path / "recipe.yaml"
        recipe_path.write_text(yaml.safe_dump(recipe))
        out = tmp_path / "out"
        built = subprocess.run(
            [sys.executable, "-m", "ocforge", "build", str(recipe_path), "--out", str(out)],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert built.returncode == 0, built.stderr[-3000:]

    manifest = json.loads((out / "release.json").read_text())
    (hub_input,) = [i for i in manifest["inputs"] if i["config"] == "characters"]
    assert hub_input == {
        "config": "characters",
        "input": "alice/personas",
        "format": "hub",
        "records": 42,
        "hub": "alice/personas",
        "revision": commit,
    }
    chars = manifest["ledger"]["configs"]["characters"]
    assert (chars["input"], chars["kept"], chars["duplicates"], chars["quarantined"]) == (
        42,
        40,
        1,
        1,
    )
    # the dialogues still link to the characters read from the Hub: none is quarantined as
    # naming an unknown character or dropped with a removed one (the count of kept rows depends
    # on the curation filters, see tests/test_demo_build.py)
    generate = manifest["ledger"]["configs"]["generate"]
    assert generate["reasons"]["quarantined"] == {"malformed_json": 1, "missing_field": 2}
    assert "character_removed" not in generate["reasons"]["dropped"]
    assert generate["kept"] > 60 and generate["balanced"]
