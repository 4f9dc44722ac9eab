"""The dialogue requests of a synthesis run: which characters answer which questions, and the
order the requests are sent in.

Assignment (:mod:`ocforge.builders.assignment`) is split-aware by default: a question's
characters come from its own split, so that curation's ``test_overlap`` rule has nothing to
remove; the ledger records how many answers a whole-pool draw would have lost to it.

Send order: requests that begin with the same character profile (same strategy, same character)
are sent one after another, so that a server with prefix caching (vLLM's
``enable-prefix-caching``) computes each profile's KV cache once instead of once per question.
The order is a function of the requests alone (never of the answers), so a resumed run reads the
same request file in the same order. Each request keeps ``order``, its position in question
order, by which the output rows are sorted: the output does not depend on the send order.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ocforge.builders.assignment import (
    SplitPools,
    character_split,
    draw,
    overlap_waste,
    question_split,
)
from ocforge.builders.synthesis.items import dialogue_request
from ocforge.recipe import SplitSettings, SynthesisSettings
from ocforge.records import character_id

Questions = dict[str, list[dict[str, Any]]]


@dataclass
class DialoguePlan:
    """The requests in send order, the questions each strategy skipped (rewrite needs an answer),
    and the ledger's ``assignment`` entries."""

    requests: list[dict[str, Any]]
    skipped: dict[str, int]
    assignment: dict[str, Any] = field(default_factory=dict)
    #: answers a whole-pool draw would have generated for ``test_overlap`` to remove
    avoided: int = 0


def _answered(synth: SynthesisSettings, corpus: str, question: dict[str, Any]) -> int:
    """How many strategies send a request for this question."""
    return sum(
        corpus in d.corpora
        and (d.strategy != "rewrite" or question["original_response"] is not None)
        for d in synth.dialogues
    )


def _split_aware(
    synth: SynthesisSettings,
    splits: SplitSettings,
    questions: Questions,
    characters: list[dict[str, Any]],
) -> tuple[dict[tuple[str, str], list[str]], dict[str, Any], int]:
    """Assignment within splits, its ledger entries, and the answers it kept from
    ``test_overlap`` (counted on the whole-pool draw that ``split_aware: false`` makes)."""
    n, seed = synth.assignment.characters_per_question, synth.assignment.seed
    fraction, split_seed = splits.test_fraction, splits.seed
    split_by_id = {
        c["character_id"]: character_split(c["profile"], fraction, split_seed) for c in characters
    }
    # one character per profile: curation merges characters with the same profile into one,
    # and twins drawn for one question would be sent the same prompt and answer it twice
    by_profile: dict[str, str] = {}
    for c in sorted(characters, key=lambda c: c["character_id"]):
        by_profile.setdefault(character_id(c["profile"].strip()), c["character_id"])
    drawable = set(by_profile.values())
    pools = SplitPools.of((cid, s) for cid, s in split_by_id.items() if cid in drawable)
    # what split_aware: false would draw from, twins included
    whole = tuple(sorted(split_by_id))
    test = frozenset(cid for cid, s in split_by_id.items() if s == "test")
    assigned: dict[tuple[str, str], list[str]] = {}
    counts = {
        "train": {"characters": len(pools.train), "questions": 0, "pairs": 0},
        "test": {"characters": len(pools.test), "questions": 0, "pairs": 0},
    }
    avoided = 0
    for corpus, rows in questions.items():
        for q in rows:
            key = f"{corpus}:{q['question_id']}"
            if pools.both:
                split = question_split(q["question"], fraction, split_seed)
            else:  # every character is in one split, and so is every dialogue
                split = "train" if pools.train else "test"
            drawn = draw(key, pools.pool(split), n, seed)
            assigned[(corpus, q["question_id"])] = drawn
            counts[split]["questions"] += 1
            counts[split]["pairs"] += len(drawn)
            if pools.both:
                waste = overlap_waste(draw(key, whole, n, seed), test)
                avoided += waste * _answered(synth, corpus, q)
    entries = {
        "split_aware": True,
        "profile_twins": len(split_by_id) - len(drawable),  # not drawn: a twin answers instead
        "splits": counts,
        "test_overlap_avoided": avoided,
    }
    return assigned, entries, avoided


def plan_dialogues(
    synth: SynthesisSettings,
    splits: SplitSettings,
    questions: Questions,
    characters: list[dict[str, Any]],
) -> DialoguePlan:
    """Assign characters to every question (per the recipe's ``assignment``) and list the
    requests of every strategy, in send order."""
    n, seed = synth.assignment.characters_per_question, synth.assignment.seed
    entries: dict[str, Any] = {}
    avoided = 0
    if synth.assignment.split_aware:
        assigned, entries, avoided = _split_aware(synth, splits, questions, characters)
    else:
        pool = sorted({c["character_id"] for c in characters})  # sorted once, not per question
        assigned = {
            (corpus, q["question_id"]): draw(f"{corpus}:{q['question_id']}", pool, n, seed)
            for corpus, rows in questions.items()
            for q in rows
        }
    requests: list[dict[str, Any]] = []
    skipped: dict[str, int] = {}
    for d in synth.dialogues:
        skipped[d.strategy] = 0
        for corpus in d.corpora:
            for q in questions[corpus]:
                if d.strategy == "rewrite" and q["original_response"] is None:
                    skipped[d.strategy] += 1  # R needs the corpus' answer
                    continue
                for cid in assigned[(corpus, q["question_id"])]:
                    requests.append(dialogue_request(d.strategy, cid, corpus, q, len(requests)))
    assignment = {
        "pool": len(characters),
        "questions": len(assigned),
        "pairs": sum(len(v) for v in assigned.values()),
        **entries,
    }
    return DialoguePlan(send_order(requests), skipped, assignment, avoided)


def prefix_key(request: dict[str, Any]) -> tuple[str, str]:
    """What the prompts of a request begin with, besides the template: its character's profile
    (the system prompt of OpenCharacter-G, the head of OpenCharacter-R's user turn)."""
    meta = request["metadata"]
    return meta["strategy"], meta["character_id"]


def send_order(requests: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Requests grouped by :func:`prefix_key`, the groups in order of their first request in
    question order (so strategies keep the recipe's order), each group in question order."""
    first: dict[tuple[str, str], int] = {}
    for request in requests:
        first.setdefault(prefix_key(request), request["metadata"]["order"])
    return sorted(requests, key=lambda r: (first[prefix_key(r)], r["metadata"]["order"]))


def prefix_reuse_share(keys: Sequence[Hashable], window: int) -> float:
    """Share of requests whose prefix key was sent in the ``window`` requests before: those a
    prefix cache holding the last ``window`` prompts can serve without recomputing the prefix."""
    if not keys:
        return 0.0
    last_seen: dict[Hashable, int] = {}
    hits = 0
    for i, key in enumerate(keys):
        if key in last_seen and i - last_seen[key] <= window:
            hits += 1
        last_seen[key] = i
    return hits / len(keys)
