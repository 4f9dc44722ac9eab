"""The local Hub's ``/api/validate-yaml`` against the unmodified huggingface_hub client.

``RepoCard.validate`` / ``DatasetCard(...).validate()`` / ``ModelCard(...).validate()`` POST the
card to the server named by HF_ENDPOINT (clients/cards_flow.py runs them in a client process):
the cards ocforge writes pass (a release's dataset card, as a dry run renders it, and a model
card with eval results), a license the Hub does not list and a malformed ``model-index`` raise
with the Hub's ``- Error: "license" must be one of`` wording, and ``create_commit`` stops before
uploading a README the Hub would refuse, and warns for one without metadata.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from huggingface_hub import EvalResult
from localhub_helpers import WRITE_TOKEN, Http, client_environment, run_client

from ocforge.cards.model_card import render_model_card
from ocforge.flows.release import release_build
from ocforge.publish.rows_build import synthetic_corpus, write_rows_build

RECIPE = "name: card-checks\ncard:\n  license: cc-by-nc-sa-4.0\n  language: [en]\n"
MODEL_INDEX_FOO = "---\nmodel-index: foo\n---\n\nThis is a modelcard with an invalid metadata section.\n"  # fmt: skip


def _dataset_card(hub, tmp: Path) -> str:
    """The README a release of a small build would push (a dry run: nothing is pushed)."""
    write_rows_build(tmp / "build", "card-checks", synthetic_corpus(6, 2), recipe_text=RECIPE)
    release_build(
        tmp / "build",
        "alice/card-checks-data",
        endpoint=hub.endpoint,
        token=WRITE_TOKEN,
        dry_run=True,
        staging_dir=tmp / "staging",
    )
    return (tmp / "staging" / "README.md").read_text(encoding="utf-8")


def _model_card() -> str:
    result = EvalResult(
        task_type="text-generation",
        dataset_type="alice/card-checks-data",
        dataset_name="card-checks 1.0.0",
        dataset_split="test",
        metric_type="acc",
        metric_value=0.5,
    )
    return render_model_card(
        model_id="alice/tiny-rp",
        base_model="meta-llama/Llama-3.1-8B",
        dataset_repo="alice/card-checks-data",
        dataset_revision="v1.0.0",
        dataset_sha="a" * 40,
        dataset_version="1.0.0",
        license="apache-2.0",
        model_type="llama",
        num_parameters=1000,
        has_chat_template=True,
        training_facts={"global_step": 1},
        eval_results=[result],
    )


@pytest.fixture(scope="module")
def flow(hub, tmp_path_factory: pytest.TempPathFactory) -> dict:
    tmp = tmp_path_factory.mktemp("cards")
    dataset, model = _dataset_card(hub, tmp), _model_card()
    assert "license: cc-by-nc-sa-4.0" in dataset and "model-index:" in model
    assert "dataset_info:" in dataset and "configs:" in dataset
    two_defaults = "---\nconfigs:\n- config_name: a\n  default: true\n- config_name: b\n  default: true\n---\n"  # fmt: skip
    cards = {
        "ours_dataset": {"class": "dataset", "type": "dataset", "text": dataset},
        "ours_model": {"class": "model", "type": "model", "text": model},
        "dataset_asdf": {
            "class": "dataset",
            "type": "dataset",
            "text": dataset.replace("license: cc-by-nc-sa-4.0", "license: asdf"),
        },
        "model_asdf": {
            "class": "model",
            "type": "model",
            "text": model.replace("license: apache-2.0", "license: asdf"),
        },
        "model_index_foo": {"class": "repo", "type": "model", "text": MODEL_INDEX_FOO},
        "two_defaults": {"class": "dataset", "type": "dataset", "text": two_defaults},
        "no_metadata": {"class": "repo", "type": "model", "text": "Just a title.\n"},
    }
    (tmp / "cards.json").write_text(json.dumps(cards))
    env = client_environment(hub.endpoint, WRITE_TOKEN, tmp / "home")
    return run_client("cards_flow.py", env, tmp / "out.json", str(tmp / "cards.json"))


def test_the_cards_ocforge_writes_pass_the_hub_check(flow):
    assert flow["ours_dataset"] == {"error": None, "warnings": []}
    assert flow["ours_model"] == {"error": None, "warnings": []}
    assert flow["no_metadata"]["error"] is None  # a warning, not an error


@pytest.mark.parametrize("name", ["dataset_asdf", "model_asdf"])
def test_a_license_not_on_the_hubs_list_raises(flow, name):
    error = flow[name]["error"]
    assert error is not None and error.startswith('- Error: "license" must be one of [apache-2.0')
    assert 'got "asdf"' in error and len(error.splitlines()) == 1


def test_malformed_model_index_and_configs_raise(flow):
    assert flow["model_index_foo"]["error"] == (
        '- Error: "model-index" must be a non-empty list of {name, results} mappings, got "foo"'
    )
    assert flow["two_defaults"]["error"] == (
        '- Error: At most one config may have "default: true": configs[0] and configs[1] both do'
    )


def test_create_commit_stops_before_uploading_a_refused_readme(flow):
    refused = flow["commit_invalid"]
    assert refused["error"].startswith("Invalid metadata in README.md.\n- ")
    assert '"model-index" must be a non-empty list' in refused["error"]
    assert "README.md" not in flow["files_after_invalid"]
    assert "weights.bin" not in flow["files_after_invalid"]  # nothing of the commit landed


def test_empty_metadata_warns_and_the_commit_goes_through(flow):
    empty = flow["commit_empty"]
    assert empty["error"] is None
    (warning,) = [w for w in empty["warnings"] if "validating metadata" in w]
    assert warning.startswith("Warnings while validating metadata in README.md:\n- empty or")
    assert {"README.md", "weights.bin"} <= set(flow["files_after_empty"])


def test_validate_yaml_answers_json_or_text(hub):
    http = Http(hub.endpoint)
    body = json.dumps({"content": "# no metadata", "repoType": "model"})
    status, headers, data = http("POST", "/api/validate-yaml", body)
    answer = json.loads(data)
    assert status == 200 and headers["Content-Type"] == "application/json"
    assert answer["errors"] == [] and answer["warnings"][0]["message"].startswith(
        "empty or missing yaml metadata in repo card"
    )
    # license: other without license_name: accepted (many public Hub repos carry it); only
    # ocforge's own check before a push notes it
    body = json.dumps({"content": "---\nlicense: other\n---\n", "repoType": "model"})
    status, _, data = http("POST", "/api/validate-yaml", body)
    assert (status, json.loads(data)) == (200, {"errors": [], "warnings": []})
    bad = json.dumps({"content": "---\nlanguage: English\ntags: x\n---\n", "repoType": "dataset"})
    status, headers, data = http(
        "POST", "/api/validate-yaml", bad, headers={"Accept": "text/plain"}
    )
    lines = data.decode().splitlines()
    assert status == 400 and headers["Content-Type"].startswith("text/plain")
    assert [ln.split('"')[1] for ln in lines] == ["language", "tags"]
    assert all(ln.startswith('- Error: "') for ln in lines)
