"""The model card: Hub metadata through huggingface_hub's ModelCardData, the pinned dataset release
in the body, and model-index merging of eval results."""

from __future__ import annotations

import copy

import pytest
from huggingface_hub import EvalResult, ModelCard

from ocforge.cards.model_card import render_model_card
from ocforge.evals.run import merge_eval_results, update_card_text

SHA = "c5cc2aec61655fdf9b3b68c3f20d184f409aa6e8"


def _card(**overrides) -> str:
    args = dict(
        model_id="alice/tiny-rp",
        base_model="meta-llama/Llama-3.1-8B",
        dataset_repo="ocforge/demo",
        dataset_revision="v1.0.0",
        dataset_sha=SHA,
        dataset_version="1.0.0",
        license="apache-2.0",
        model_type="llama",
        num_parameters=112448,
        has_chat_template=True,
        training_facts={"global_step": 120, "learning_rate": 2e-05},
        dataset_rows=400,
    )
    args.update(overrides)
    return render_model_card(**args)


def _record(value: float = 0.5, dataset_sha: str = SHA, limit: int | None = 3) -> dict:
    return {
        "group": "demo",
        "dataset": {
            "repo_id": "ocforge/demo",
            "revision": "v1.0.0",
            "sha": dataset_sha,
            "version": "1.0.0",
        },
        "tasks": {
            "demo_character_choice": "eval_character_choice",
            "demo_dialogue_ppl": "eval_dialogues",
        },
        "limit": limit,
        "metrics": {
            "demo_character_choice": {"acc": value, "acc_norm": 0.25},
            "demo_dialogue_ppl": {"bits_per_byte": 4.4},
        },
    }


def test_metadata_links_base_model_and_dataset():
    card = ModelCard(_card())
    data = card.data.to_dict()
    assert data["base_model"] == "meta-llama/Llama-3.1-8B"
    assert data["base_model_relation"] == "finetune"
    assert data["datasets"] == ["ocforge/demo"]
    assert data["library_name"] == "transformers"
    assert data["pipeline_tag"] == "text-generation"
    assert data["license"] == "apache-2.0"
    assert {"role-play", "character"} <= set(data["tags"])
    assert "model-index" not in data  # no results yet


def test_body_pins_the_release_and_shows_training_facts_and_usage():
    text = ModelCard(_card()).text
    assert "v1.0.0" in text and SHA in text
    assert f'revision="{SHA}"' in text
    assert "| global_step | 120 |" in text and "| learning_rate | 2e-05 |" in text
    assert '"role": "system", "content": character' in text
    assert "112,448 parameters" in text
    assert "no chat template" not in text
    assert "no chat template" in ModelCard(_card(has_chat_template=False)).text


def test_card_is_deterministic():
    assert _card() == _card()


def test_results_merge_into_model_index_and_round_trip():
    text = update_card_text(_card(), _record(), "tiny-rp")
    card = ModelCard(text)
    results = card.data.eval_results
    assert len(results) == 3
    acc = next(r for r in results if r.metric_type == "acc")
    assert acc.metric_value == 0.5 and acc.dataset_revision == SHA
    assert acc.dataset_config == "eval_character_choice" and acc.dataset_split == "test"
    assert acc.metric_args == {"limit": 3}
    # model-index YAML parses back into the same results
    assert ModelCard(str(card)).data.eval_results == results
    assert "| demo_character_choice acc | `eval_character_choice`" in card.text


def test_second_merge_replaces_instead_of_duplicating_and_keeps_other_datasets():
    other = EvalResult(
        task_type="text-generation",
        dataset_type="someone/other-bench",
        dataset_name="other",
        metric_type="acc",
        metric_value=0.9,
    )
    card = ModelCard(_card())
    card.data.eval_results = [other]
    card.data.model_name = "tiny-rp"
    once = update_card_text(str(card), _record(0.5), "tiny-rp")
    twice = update_card_text(once, _record(0.75), "tiny-rp")
    results = ModelCard(twice).data.eval_results
    assert len(results) == 4
    assert results[0] == other
    assert (
        next(
            r for r in results if r.metric_type == "acc" and r.dataset_type == "ocforge/demo"
        ).metric_value
        == 0.75
    )
    # a result on another dataset revision is a different entry
    thrice = update_card_text(twice, _record(0.6, dataset_sha="f" * 40), "tiny-rp")
    assert len(ModelCard(thrice).data.eval_results) == 7


def test_merge_keeps_order_and_is_idempotent():
    card = ModelCard(update_card_text(_card(), _record(), "tiny-rp"))
    existing = card.data.eval_results
    assert merge_eval_results(existing, copy.deepcopy(existing)) == existing


# -- the Training section from the checkpoint's training.json ------------------------------------

RECIPE_SHA = "ab" * 32


def _training_manifest(sha: str = SHA, revision: str = "v1.0.0", base: dict | None = None) -> dict:
    """A manifest shaped as ``ocforge train sft`` writes it (train/sft.py ``_manifest``)."""
    return {
        "format": 1,
        "tool": "ocforge train sft",
        "dataset": {
            "repo_id": "ocforge/demo",
            "revision": revision,
            "sha": sha,
            "version": "1.0.0",
            "split": "train",
        },  # fmt: skip
        "data": {
            "generate": {
                "rows": 90,
                "corpora": {"alpaca": 30, "lima": 30, "ph-instruct": 30},
                "selected": 60,
                "used": 57,
                "dropped": {"corpus_not_selected": 30, "no_assistant_token_within_max_length": 3},
                "dropped_ids": {},
                "corpora_selected": ["lima", "alpaca"],
            },  # fmt: skip
        },
        "rows_used": 57,
        "recipe": {
            "name": "demo-cpu",
            "file": "demo-cpu.yaml",
            "sha256": RECIPE_SHA,
            "text": "name: demo-cpu\nseed: 7\n",
        },  # fmt: skip
        "base_model": base or {"ref": ".ocforge/tiny-chat", "local": True},
        "chat_template": {"source": "chatml-generation.jinja", "sha256": "cd" * 32},
        "run": {"seed": 7, "max_steps": 6, "global_step": 6, "epoch": 0.2, "max_length": 1024},
        "versions": {"python": "3.11.7", "trl": "1.16.0"},
    }


def _write_manifest(folder, manifest) -> None:
    import json

    (folder / "training.json").write_text(json.dumps(manifest, indent=2), encoding="utf-8")


def test_the_training_section_says_what_the_model_was_trained_on(tmp_path):
    from ocforge.training_manifest import card_training, read_training_manifest

    _write_manifest(tmp_path, _training_manifest())
    training = card_training(read_training_manifest(tmp_path))
    text = _card(training=training)
    section = text[text.index("## Training\n") : text.index("## Usage")]
    assert f"`ocforge/demo@v1.0.0` (commit `{SHA}`)" in section
    assert "`train` split, 57 rows" in section
    assert (
        "| `generate` | lima, alpaca | 90 | 57 | 30 corpus not selected, 3 no assistant token "
        "within max length |" in section
    )
    assert f"`demo-cpu` (sha256 `{RECIPE_SHA}`)" in section
    assert "| seed | 7 |" in section and "| optimizer steps | 6 |" in section
    assert "| base model | `.ocforge/tiny-chat` |" in section
    assert "```yaml\nname: demo-cpu\nseed: 7\n```" in section  # the recipe itself
    assert text == _card(training=training)  # deterministic
    assert ModelCard(text).data.datasets == ["ocforge/demo"]


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("{not json", r"training.json: not valid JSON"),
        ('{"format": 1, "dataset": {}}', r"training.json: not an ocforge training manifest "
                                         r"\(missing data, recipe\)"),
        ('{"format": 2, "dataset": {}, "data": {}, "recipe": {}}', r"format 2, expected 1"),
        ('{"format": 1, "dataset": {"repo_id": "a/b"}, "data": {}, "recipe": {}}',
         r"training.json: dataset: missing revision, sha"),
    ],
)  # fmt: skip
def test_a_broken_training_manifest_names_its_file_and_field(tmp_path, content, expected):
    from ocforge.errors import TrainManifestError
    from ocforge.training_manifest import read_training_manifest

    (tmp_path / "training.json").write_text(content)
    with pytest.raises(TrainManifestError, match=expected) as err:
        read_training_manifest(tmp_path)
    assert str(tmp_path / "training.json") in str(err.value)
    assert read_training_manifest(tmp_path / "nothing-here") is None


# -- publish model reads training.json: against a real local Hub ---------------------------------


@pytest.fixture(scope="module")
def hub_releases(tmp_path_factory, demo_build):
    """A local Hub holding the demo released as ocforge/demo v1.0.0, and one more commit on its
    ``main`` (a maintainer's note): (endpoint, {"v1.0.0": sha, "main": sha})."""
    from ocforge.flows.release import release_build
    from ocforge.hub import Identity, LocalHub
    from ocforge.publish.hub_client import connect

    root = tmp_path_factory.mktemp("card-hub")
    identity = Identity("alice", orgs=frozenset({"ocforge"}))
    with (
        LocalHub(root / "hub", tokens={TOKEN: identity}) as hub,
        connect("local", endpoint=hub.endpoint, token=TOKEN) as conn,
    ):
        released = release_build(
            demo_build.out_dir, "ocforge/demo", version="1.0.0", endpoint=hub.endpoint,
            token=TOKEN, verify=False,
        )  # fmt: skip
        note = conn.api.upload_file(
            path_or_fileobj=b"a maintainer's note\n", path_in_repo="NOTES.md",
            repo_id="ocforge/demo", repo_type="dataset",
        )  # fmt: skip
        yield hub.endpoint, {"v1.0.0": released.commit, "main": note.oid}


TOKEN = "hf_models_card_tests_writer_0123"


@pytest.fixture()
def trained(tmp_path_factory, tmp_path, hub_releases):
    """A checkpoint as `ocforge train sft` leaves it: the tiny model plus training.json naming
    release v1.0.0 at its commit."""
    from models_evals_helpers import copy_model, tiny_model

    ckpt = copy_model(tiny_model(tmp_path_factory), tmp_path / "ckpt")
    _write_manifest(ckpt, _training_manifest(sha=hub_releases[1]["v1.0.0"]))
    # what TRL's save_model leaves (the reference, section 4): the card must replace it
    (ckpt / "README.md").write_text(
        "---\nlicence: license\n---\nThis model is a fine-tuned version of [None](None).\n"
    )
    return ckpt


def _publish(hub_releases, ckpt, **kw):
    from ocforge.models.publish import publish_model
    from ocforge.publish.hub_client import connect

    with connect("local", endpoint=hub_releases[0], token=TOKEN) as conn:
        return publish_model(conn.api, ckpt, "alice/tiny-rp", dry_run=True, **kw)


def test_publish_takes_the_release_from_training_json(hub_releases, trained):
    plan = _publish(hub_releases, trained, base_model="meta-llama/Llama-3.1-8B")
    sha = hub_releases[1]["v1.0.0"]
    assert (plan.dataset.ref, plan.dataset.sha) == ("ocforge/demo@v1.0.0", sha)
    assert plan.training["recipe"]["sha256"] == RECIPE_SHA
    assert "training.json" in plan.uploaded  # the provenance travels with the weights
    section = plan.card[plan.card.index("## Training\n") : plan.card.index("## Usage")]
    assert f"`ocforge/demo@v1.0.0` (commit `{sha}`)" in section
    assert "fine-tuned version of" not in plan.card and "licence" not in plan.card  # not TRL's
    assert "README.md" in plan.uploaded and "README.md" not in plan.unchanged
    # a Hub on this machine listens on a new port every run: the link must not name it
    assert "](/datasets/ocforge/demo/tree/v1.0.0)" in plan.card
    assert hub_releases[0] not in plan.card
    # the same commit under another name is the same release
    again = _publish(hub_releases, trained, base_model="b/m", dataset=f"ocforge/demo@{sha}")
    assert again.dataset.sha == sha


def test_publish_refuses_a_dataset_other_than_the_one_trained_on(hub_releases, trained):
    from ocforge.errors import ModelPublishError

    with pytest.raises(ModelPublishError) as err:
        _publish(hub_releases, trained, base_model="b/m", dataset="ocforge/demo@main")
    message = str(err.value)
    assert f"--dataset ocforge/demo@main is commit {hub_releases[1]['main']}" in message
    assert f"trained on ocforge/demo@v1.0.0 (commit {hub_releases[1]['v1.0.0']})" in message
    assert str(trained / "training.json") in message
    assert "pass --dataset ocforge/demo@v1.0.0, or leave --dataset out" in message


def test_publish_names_what_it_is_missing(hub_releases, trained, tmp_path):
    from ocforge.errors import ModelPublishError

    with pytest.raises(ModelPublishError, match="--base-model HUB_ID is needed .*trained from "
                       "the folder .ocforge/tiny-chat"):  # fmt: skip
        _publish(hub_releases, trained)
    # a base model read from a Hub is named by its id without --base-model
    _write_manifest(trained, _training_manifest(
        sha=hub_releases[1]["v1.0.0"],
        base={"ref": "org/base@main", "repo_id": "org/base", "sha": "e" * 40},
    ))  # fmt: skip
    assert ModelCard(_publish(hub_releases, trained).card).data.base_model == "org/base"
    (trained / "training.json").unlink()
    with pytest.raises(ModelPublishError, match="--dataset ORG/NAME@vX.Y.Z is needed: .* has no "
                       "training.json"):  # fmt: skip
        _publish(hub_releases, trained, base_model="b/m")


def test_a_remote_hub_is_linked_with_its_host():
    from ocforge.models.publish import link_base

    assert link_base("https://huggingface.co") == "https://huggingface.co"
    assert link_base("http://127.0.0.1:41523") == link_base("http://localhost:8765") == ""
    text = _card(endpoint="https://huggingface.co")
    assert "](https://huggingface.co/datasets/ocforge/demo/tree/v1.0.0)" in text
