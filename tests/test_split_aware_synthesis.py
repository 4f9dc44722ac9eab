"""Split-aware character assignment and the prefix-grouped send order of synthesis requests.

The fast tests plan the requests of synthetic pools and corpora (no server); the slow ones run
the demo synthesis recipe end to end against a real ``transformers serve`` with a tiny model and
curate what it generated, in both assignment modes.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
import yaml
from synth_server import RecordingProxy, transformers_serve

from ocforge.builders.assignment import (
    assign_characters,
    character_split,
    overlap_waste,
    question_split,
)
from ocforge.builders.synthesis.plan import plan_dialogues, prefix_key, prefix_reuse_share
from ocforge.builders.synthesis.rollouts import messages_sha256
from ocforge.builders.synthesis.tiny_model import build_tiny_chat_model
from ocforge.layout import split_of
from ocforge.ledger import AVOIDED, ConfigLedger, Ledger
from ocforge.recipe import SplitSettings, load_recipe
from ocforge.records import character_id

ROOT = Path(__file__).resolve().parent.parent
DEMO_SYNTH = ROOT / "configs" / "demo" / "synth.yaml"


def _profile(i: int) -> str:
    return (
        f"Name: Person {i}\nAge: {20 + i % 50}\nGender: female\nRace: human\nBirth Place: Town {i}\n"
        f"Appearance: tall\nGeneral Experience: worked {i} years\nPersonality: calm"
    )


def _characters(n: int) -> list[dict]:
    return [{"character_id": f"c-{i:04d}", "profile": _profile(i)} for i in range(n)]


def _questions(n: int, start: int = 0, corpus: str = "alpaca") -> dict[str, list[dict]]:
    rows = [
        {
            "question_id": f"q{i}",
            "source_corpus": corpus,
            "question": f"What is the meaning of word{i} in the story number {i}?",
            "original_response": f"It means {i}." if i % 2 else None,
            "where": f"q.jsonl:{i + 1}",
        }
        for i in range(start, start + n)
    ]
    return {corpus: rows}


def _synth(tmp_path: Path, *, split_aware: bool = True, n: int = 3, seed: int = 0):
    """A recipe's synthesis settings: R and G over one corpus (the plan reads no input file)."""
    tmp_path = tmp_path / f"recipe-{split_aware}-{n}-{seed}"
    tmp_path.mkdir(exist_ok=True)
    chars = tmp_path / "chars.jsonl"
    chars.write_text(json.dumps({"character_id": "x", "persona": "p", "character": _profile(0)}))
    qs = tmp_path / "q.jsonl"
    qs.write_text(json.dumps({"instruction": "q", "output": "a"}) + "\n")
    data = {
        "name": "t",
        "synthesis": {
            "backend": {"type": "endpoint", "endpoint_url": "http://127.0.0.1:9", "model": "m"},
            "characters": {"inputs": [{"path": str(chars), "importer": "opencharacter"}]},
            "questions": [
                {"corpus": "alpaca", "inputs": [{"path": str(qs), "importer": "alpaca"}]}
            ],
            "assignment": {"characters_per_question": n, "seed": seed, "split_aware": split_aware},
            "dialogues": [
                {"strategy": "rewrite", "corpora": ["alpaca"]},
                {"strategy": "generate", "corpora": ["alpaca"]},
            ],
        },
        "characters": {"inputs": [{"synthesis": "characters"}]},
        "dialogues": [
            {"strategy": "rewrite", "inputs": [{"synthesis": "rewrite"}]},
            {"strategy": "generate", "inputs": [{"synthesis": "generate"}]},
        ],
    }
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(data))
    return load_recipe(path).synthesis


def _assigned(plan) -> dict[tuple[str, str], list[str]]:
    """(strategy, question) -> characters, in question order, from a plan's requests."""
    out: dict[tuple[str, str], list[str]] = {}
    for r in sorted(plan.requests, key=lambda r: r["metadata"]["order"]):
        meta = r["metadata"]
        out.setdefault((meta["strategy"], meta["question_id"]), []).append(meta["character_id"])
    return out


SPLITS = SplitSettings(test_fraction=0.2, seed=3)


# --- the split rule -----------------------------------------------------------------------------


def test_character_and_question_splits_are_curations_rule():
    profile = _profile(7)
    assert character_split("  " + profile + "\n", 0.2, 3) == split_of(character_id(profile), 0.2, 3)
    # a question asked twice, with other case or punctuation, is one question for decontamination
    assert question_split("How do I bake bread?", 0.5, 1) == question_split(
        "how do i BAKE bread", 0.5, 1
    )
    splits = [question_split(f"question {i}", 0.2, 3) for i in range(2000)]
    assert 0.17 < splits.count("test") / len(splits) < 0.23
    assert {question_split(f"question {i}", 0.0, 3) for i in range(200)} == {"train"}


# --- split-aware assignment ---------------------------------------------------------------------


def test_test_characters_answer_only_test_questions(tmp_path):
    synth, characters, questions = _synth(tmp_path), _characters(60), _questions(200)
    plan = plan_dialogues(synth, SPLITS, questions, characters)
    split_of_char = {c["character_id"]: character_split(c["profile"], 0.2, 3) for c in characters}
    text = {q["question_id"]: q["question"] for q in questions["alpaca"]}
    seen = set()
    for (_strategy, qid), cids in _assigned(plan).items():
        split = question_split(text[qid], 0.2, 3)
        seen.add(split)
        assert {split_of_char[c] for c in cids} == {split}, (qid, split, cids)
        assert len(cids) == len(set(cids)) == 3
    assert seen == {"train", "test"}
    ledger = plan.assignment
    assert ledger["split_aware"] is True
    assert ledger["splits"]["test"]["questions"] + ledger["splits"]["train"]["questions"] == 200
    assert ledger["splits"]["test"]["characters"] == sum(
        s == "test" for s in split_of_char.values()
    )
    assert ledger["pairs"] == 600 and ledger["pool"] == 60


def test_assignment_is_deterministic_and_independent_of_question_order(tmp_path):
    synth, characters = _synth(tmp_path), _characters(40)
    questions = _questions(120)
    first = _assigned(plan_dialogues(synth, SPLITS, questions, characters))
    again = _assigned(plan_dialogues(synth, SPLITS, questions, list(reversed(characters))))
    shuffled = {"alpaca": random.Random(5).sample(questions["alpaca"], 120)}
    reordered = _assigned(plan_dialogues(synth, SPLITS, shuffled, characters))
    assert first == again == reordered
    other_seed = _synth(tmp_path, seed=1)
    assert _assigned(plan_dialogues(other_seed, SPLITS, questions, characters)) != first


def test_adding_questions_leaves_earlier_assignments_unchanged(tmp_path):
    synth, characters = _synth(tmp_path), _characters(40)
    before = _assigned(plan_dialogues(synth, SPLITS, _questions(80), characters))
    more = {"alpaca": _questions(80)["alpaca"] + _questions(50, start=80)["alpaca"]}
    after = _assigned(plan_dialogues(synth, SPLITS, more, characters))
    assert len(after) > len(before)
    assert {k: after[k] for k in before} == before


def test_one_empty_split_draws_from_the_whole_pool_as_before(tmp_path):
    """``test_fraction: 0`` (or a pool with no test character): nothing can be in both splits,
    and the draw is the whole-pool one of ``split_aware: false``."""
    characters, questions = _characters(30), _questions(40)
    aware = plan_dialogues(
        _synth(tmp_path), SplitSettings(test_fraction=0.0), questions, characters
    )
    old = plan_dialogues(
        _synth(tmp_path, split_aware=False), SplitSettings(), questions, characters
    )
    assert _assigned(aware) == _assigned(old)
    assert aware.avoided == 0 and aware.assignment["splits"]["test"]["characters"] == 0
    pool = [c["character_id"] for c in characters]
    for (_strategy, qid), cids in _assigned(old).items():
        assert cids == assign_characters(f"alpaca:{qid}", pool, 3, seed=0)
    # the old mode's ledger entries are those it always wrote
    assert set(old.assignment) == {"pool", "questions", "pairs"}


def test_avoided_counts_the_train_answers_a_whole_pool_draw_loses(tmp_path):
    characters, questions = _characters(50), _questions(300)
    plan = plan_dialogues(_synth(tmp_path), SPLITS, questions, characters)
    pool = [c["character_id"] for c in characters]
    test = {
        c["character_id"] for c in characters if character_split(c["profile"], 0.2, 3) == "test"
    }
    expected = 0
    for q in questions["alpaca"]:
        drawn = assign_characters(f"alpaca:{q['question_id']}", pool, 3, seed=0)
        train = [c for c in drawn if c not in test]
        if len(train) < len(drawn):  # a test character answers it: its train answers go
            expected += len(train) * (2 if q["original_response"] else 1)  # R needs an answer
    assert plan.avoided == expected == plan.assignment["test_overlap_avoided"] > 0
    assert overlap_waste(["a", "b", "c"], {"b"}) == 2 and overlap_waste(["a"], set()) == 0


def test_characters_with_one_profile_are_drawn_as_one(tmp_path):
    """Curation merges characters whose profiles are the same: drawing both for one question
    would send it the same prompt twice, and the build would drop one answer as a duplicate."""
    characters = _characters(12)
    twins = [*characters, {"character_id": "z-twin", "profile": characters[3]["profile"] + "\n"}]
    plan = plan_dialogues(_synth(tmp_path, n=12), SPLITS, _questions(30), twins)
    drawn = {c for cids in _assigned(plan).values() for c in cids}
    assert "z-twin" not in drawn and characters[3]["character_id"] in drawn
    assert plan.assignment["profile_twins"] == 1 and plan.assignment["pool"] == 13


# --- send order ---------------------------------------------------------------------------------


def test_requests_sharing_a_profile_are_sent_together(tmp_path):
    plan = plan_dialogues(_synth(tmp_path), SPLITS, _questions(150), _characters(30))
    keys = [prefix_key(r) for r in plan.requests]
    groups = [k for i, k in enumerate(keys) if i == 0 or keys[i - 1] != k]
    assert len(groups) == len(set(groups))  # each (strategy, character) in one run of requests
    assert [k[0] for k in groups] == sorted(
        (k[0] for k in groups), key=["rewrite", "generate"].index
    )
    orders = [r["metadata"]["order"] for r in plan.requests]
    assert sorted(orders) == list(range(len(orders)))  # a permutation of question order
    for a, b in zip(plan.requests, plan.requests[1:], strict=False):
        if prefix_key(a) == prefix_key(b):
            assert a["metadata"]["order"] < b["metadata"]["order"]
    # deterministic: the same inputs give the same request file (a resumed run reads the same)
    again = plan_dialogues(_synth(tmp_path), SPLITS, _questions(150), _characters(30))
    assert [r["id"] for r in again.requests] == [r["id"] for r in plan.requests]
    in_order = sorted(plan.requests, key=lambda r: r["metadata"]["order"])
    question_order = [prefix_key(r) for r in in_order]
    assert prefix_reuse_share(keys, 8) > 0.8 > prefix_reuse_share(question_order, 8)


def test_prefix_reuse_share():
    assert prefix_reuse_share([], 4) == 0.0
    assert prefix_reuse_share(["a", "a", "b", "b"], 1) == 0.5
    assert prefix_reuse_share(["a", "b", "c", "a"], 2) == 0.0
    assert prefix_reuse_share(["a", "b", "c", "a"], 3) == 0.25


# --- ledger and card ----------------------------------------------------------------------------


def test_avoided_answers_are_shown_but_not_counted_as_set_aside():
    from ocforge.cards.dataset_card import BUILD_TEMPLATE, render_template

    configs = {"generate": ConfigLedger(input=5, kept=4, reasons={"dropped": {"test_overlap": 1}})}
    plain = Ledger(configs, synthesis={"profiles": {"quarantined": {"unparseable_profile": 2}}})
    avoided = Ledger(
        configs,
        synthesis={**plain.synthesis, "assignment": {AVOIDED: {"test_overlap": 7}}},
    )
    assert avoided.synthesis_total() == plain.synthesis_total() == 2
    assert avoided.summary() == plain.summary()
    assert {
        "config": "synthesis: assignment",
        "outcome": "avoided",
        "reason": "test_overlap",
        "rows": 7,
    } in avoided.rows()
    only_avoided = Ledger(configs, synthesis={"assignment": {AVOIDED: {"test_overlap": 7}}})
    assert "synthesis set aside" not in only_avoided.summary()

    def card(ledger: Ledger) -> str:
        return render_template(
            BUILD_TEMPLATE,
            {
                "generated_start": "",
                "generated_end": "",
                "title": "t",
                "description": "d",
                "split_rows": [],
                "partial_splits": False,
                "repo_id": "o/n",
                "default_config": "generate",
                "ledger_summary": ledger.summary(),
                "ledger_rows": ledger.rows(),
                "ledger_modified": [],
            },
        )

    assert "split_aware" not in card(plain)
    text = card(avoided)
    assert "none of the 7 answers that `test_overlap` would have removed" in text
    assert "`test_overlap` removed 1 rows here" in text
    # the sentence is the only difference: what a build without it shows is unchanged
    sentence = next(line for line in text.splitlines() if "split_aware" in line)
    row = "| `synthesis: assignment` | avoided | test_overlap | 7 |\n"
    assert text.replace(f"\n{sentence}\n", "").replace(row, "") == card(plain)


# --- end to end: the demo synthesis recipe against a tiny model ---------------------------------


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    work = tmp_path_factory.mktemp("serve")
    model_dir = build_tiny_chat_model(work / "tiny-chat")
    with transformers_serve(model_dir, work) as url, RecordingProxy(url) as proxy:
        yield proxy, model_dir


def _demo_recipe(tmp_path: Path, proxy, model_dir: Path, **assignment) -> Path:
    """The demo synthesis recipe with absolute input paths, pointed at the test server."""
    data = yaml.safe_load(DEMO_SYNTH.read_text())
    for spec in [
        *data["synthesis"]["characters"]["personas"]["inputs"],
        *data["synthesis"]["characters"]["inputs"],
        *(i for q in data["synthesis"]["questions"] for i in q["inputs"]),
    ]:
        spec["path"] = str(DEMO_SYNTH.parent / spec["path"])
    data["synthesis"]["backend"].update(
        {"endpoint_url": proxy.url, "model": str(model_dir), "ready_timeout_s": 20}
    )
    data["synthesis"]["assignment"].update(assignment)
    path = tmp_path / "synth.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def _build(tmp_path: Path, served, **assignment) -> tuple[dict, list[dict], Path]:
    from ocforge.flows.build import build

    proxy, model_dir = served
    recipe = load_recipe(_demo_recipe(tmp_path, proxy, model_dir, **assignment))
    start = proxy.count()
    result = build(recipe, tmp_path / "out")
    manifest = json.loads((result.out_dir / "release.json").read_text())
    return manifest, proxy.since(start), result.out_dir


def _dropped(manifest: dict, reason: str) -> int:
    configs = manifest["ledger"]["configs"]
    return sum(configs[c]["reasons"]["dropped"].get(reason, 0) for c in ("rewrite", "generate"))


@pytest.mark.slow
def test_generated_demo_loses_nothing_to_test_overlap(served, tmp_path_factory):
    aware, sent, out = _build(tmp_path_factory.mktemp("aware"), served)
    whole, _sent, _out = _build(tmp_path_factory.mktemp("whole"), served, split_aware=False)
    # the test split holds dialogues (of test characters), and no train answer was dropped for it
    for config in ("rewrite", "generate"):
        assert aware["configs"][config]["splits"]["test"]["rows"] > 0, aware["configs"][config]
    assert _dropped(aware, "test_overlap") == 0
    # what the whole-pool draw loses to test_overlap is what split-aware assignment avoided
    avoided = aware["ledger"]["synthesis"]["assignment"][AVOIDED]["test_overlap"]
    assert avoided == _dropped(whole, "test_overlap") > 0
    assert "assignment" not in whole["ledger"].get("synthesis", {})
    synthesis = json.loads((out / "synthesis" / "synthesis.json").read_text())
    assert synthesis["ledger"]["assignment"]["test_overlap_avoided"] == avoided
    card = (out / "README.md").read_text()
    assert f"none of the {avoided} answers that `test_overlap` would have removed" in card
    # the requests arrived grouped by profile: each (strategy, character) in one run, give or
    # take the runner's concurrency (4)
    rows = [
        row
        for name in ("dialogues-rewrite.jsonl", "dialogues-generate.jsonl")
        for row in map(json.loads, (out / "synthesis" / name).read_bytes().splitlines())
    ]
    by_sha = {r["generation"]["request_sha256"]: (r["strategy"], r["character_id"]) for r in rows}
    arrived = [
        by_sha[s] for s in map(messages_sha256, (r["messages"] for r in sent)) if s in by_sha
    ]
    assert len(arrived) == len(rows)
    in_question_order = [(r["strategy"], r["character_id"]) for r in rows]
    assert prefix_reuse_share(arrived, 4) > prefix_reuse_share(in_question_order, 4)


def test_imported_data_still_gets_test_overlap(demo_build):
    manifest = json.loads((demo_build.out_dir / "release.json").read_text())
    assert _dropped(manifest, "test_overlap") > 0
    assert "synthesis" not in manifest["ledger"]
