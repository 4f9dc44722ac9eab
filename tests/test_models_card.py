"""The model card: Hub metadata through huggingface_hub's ModelCardData, the pinned dataset release
in the body, and model-index merging of eval results."""

from __future__ import annotations

import copy

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
