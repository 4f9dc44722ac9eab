"""What split-aware assignment and the prefix-grouped send order save, measured on CPU.

Part 1, ``plan`` (no model): the dialogue requests of an OpenCharacter-sized run (20,000
characters; LIMA 1,030 + Alpaca 51,010 questions with answers, PH-Instruct 50,000 without; 3
characters per question; R on LIMA and Alpaca, G on all three), planned exactly as
``ocforge synth`` plans them. Reported per ``test_fraction``: the answers a whole-pool draw
(``split_aware: false``) generates and curation's ``test_overlap`` then removes, and the share of
requests whose profile prefix was sent within the previous W requests, in question order (how
requests were sent before) and in the grouped send order.

Part 2, ``run`` (tiny model, end to end): ``ocforge build`` of a recipe with a synthesis section
(the 42 demo characters, N generated questions with answers, R and G, 3 characters each) against
a local ``transformers serve`` with the tiny random-weight model, once per assignment mode:
dialogue requests sent, dialogues kept, requests per kept dialogue, ``test_overlap`` drops (and
every other drop by reason), and the prefix-reuse share of the requests in the order the server
received them.

    python benchmarks/synth/bench_split_aware.py plan [--characters 20000] [--scale 1.0]
    python benchmarks/synth/bench_split_aware.py run [--questions 48]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))

from synth_server import RecordingProxy, transformers_serve  # noqa: E402

from ocforge.builders.synthesis.plan import (  # noqa: E402
    plan_dialogues,
    prefix_key,
    prefix_reuse_share,
)
from ocforge.builders.synthesis.rollouts import messages_sha256  # noqa: E402
from ocforge.builders.synthesis.tiny_model import build_tiny_chat_model  # noqa: E402
from ocforge.recipe import (  # noqa: E402
    AssignmentSettings,
    SplitSettings,
    SynthDialogues,
    SynthesisSettings,
    load_recipe,
)

WINDOWS = (1, 64, 256)
CORPORA = {"lima": (1_030, True), "alpaca": (51_010, True), "ph-instruct": (50_000, False)}
TOPICS = "lighthouse harbour orchard violin glacier bakery comet lantern meadow canyon".split()
THINGS = "map kettle sail letter garden drum ladder mirror river bridge".split()
PLACES = "attic market station island kitchen library forest workshop chapel rooftop".split()


def _profile(i: int) -> str:
    return (
        f"Name: Character {i}\nAge: {18 + i % 60}\nGender: any\nRace: human\n"
        f"Birth Place: Town {i}\nAppearance: ordinary\nGeneral Experience: lived {i} days\n"
        "Personality: curious"
    )


def _question(corpus: str, i: int) -> str:
    # distinct word sequences: no question contains another (test_overlap compares words)
    return f"{corpus} question {i}: what would you do with item {i * 7919 % 100003} today?"


def _reuse(requests: list[dict], windows=WINDOWS) -> dict[int, tuple[float, float]]:
    in_question_order = sorted(requests, key=lambda r: r["metadata"]["order"])
    before = [prefix_key(r) for r in in_question_order]
    after = [prefix_key(r) for r in requests]
    return {w: (prefix_reuse_share(before, w), prefix_reuse_share(after, w)) for w in windows}


def plan(args: argparse.Namespace) -> None:
    characters = [
        {"character_id": f"c{i:05d}", "profile": _profile(i)} for i in range(args.characters)
    ]
    questions = {
        corpus: [
            {
                "question_id": f"{corpus}-{i}",
                "question": _question(corpus, i),
                "original_response": "an answer" if answered else None,
                "where": f"{corpus}:{i}",
            }
            for i in range(int(n * args.scale))
        ]
        for corpus, (n, answered) in CORPORA.items()
    }
    dialogues = [
        SynthDialogues(strategy="rewrite", corpora=["lima", "alpaca"]),
        SynthDialogues(strategy="generate", corpora=list(CORPORA)),
    ]
    n_questions = sum(len(v) for v in questions.values())
    print(f"{args.characters} characters, {n_questions} questions, 3 characters per question")
    for fraction in (0.05, 0.1):
        splits = SplitSettings(test_fraction=fraction, seed=0)
        for aware in (False, True):
            synth = SynthesisSettings.model_construct(
                assignment=AssignmentSettings(characters_per_question=3, split_aware=aware),
                dialogues=dialogues,
            )
            start = time.perf_counter()
            result = plan_dialogues(synth, splits, questions, characters)
            seconds = time.perf_counter() - start
            line = (
                f"test_fraction {fraction} split_aware {str(aware):5}: {len(result.requests)} "
                f"requests, planned in {seconds:.1f} s"
            )
            if aware:
                lost = result.avoided
                share = lost / len(result.requests)
                line += f"; a whole-pool draw loses {lost} answers to test_overlap ({share:.1%})"
                s = result.assignment["splits"]["test"]
                line += f"; test: {s['characters']} characters, {s['questions']} questions"
            print(line)
        reuse = _reuse(result.requests)
        for w, (before, after) in reuse.items():
            print(
                f"  prefix reuse within {w:>3} requests: question order {before:.1%}, sent {after:.1%}"
            )


def _recipe(tmp: Path, questions: Path, url: str, model: Path, aware: bool) -> Path:
    demo = yaml.safe_load((ROOT / "configs" / "demo" / "synth.yaml").read_text())
    synthesis = {
        "backend": {
            "type": "endpoint",
            "endpoint_url": url,
            "model": str(model),
            "max_concurrent_generations": 4,
            "ready_timeout_s": 30,
        },
        "generation": {"temperature": 0.7, "top_p": 0.95, "max_tokens": 16, "seed": 0},
        "characters": {
            "inputs": [
                {
                    "path": str(ROOT / "configs" / "demo" / "data" / "characters.jsonl"),
                    "importer": "opencharacter",
                    "source": "opencharacter-demo",
                }
            ]
        },
        "questions": [
            {"corpus": "alpaca", "inputs": [{"path": str(questions), "importer": "alpaca"}]}
        ],
        "assignment": {"characters_per_question": 3, "seed": 0, "split_aware": aware},
        "dialogues": [
            {"strategy": "rewrite", "corpora": ["alpaca"]},
            {"strategy": "generate", "corpora": ["alpaca"]},
        ],
        "records_per_chunk": 64,
    }
    data = {
        "name": "bench-split-aware",
        "synthesis": synthesis,
        "characters": demo["characters"],
        "dialogues": demo["dialogues"],
        "filters": demo["filters"],
        "splits": {"test_fraction": 0.1, "seed": 0},
        "publish": {"target": "local", "repo": "bench/split-aware"},
    }
    path = tmp / f"recipe-{aware}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def _one_run(tmp: Path, questions: Path, proxy, model: Path, aware: bool) -> dict:
    from ocforge.flows.build import build

    recipe = load_recipe(_recipe(tmp, questions, proxy.url, model, aware))
    start, began = proxy.count(), time.perf_counter()
    result = build(recipe, tmp / f"build-{aware}")
    seconds = time.perf_counter() - began
    sent = proxy.since(start)
    root = result.out_dir
    synthesis = json.loads((root / "synthesis" / "synthesis.json").read_text())
    ledger = json.loads((root / "release.json").read_text())["ledger"]
    dialogue_configs = ("rewrite", "generate")
    requests = sum(synthesis["ledger"]["stages"][c]["requests"]["sent"] for c in dialogue_configs)
    kept = sum(ledger["configs"][c]["kept"] for c in dialogue_configs)
    drops: dict[str, int] = {}
    for c in dialogue_configs:
        for outcome in ("dropped", "duplicates", "quarantined"):
            for reason, n in ledger["configs"][c]["reasons"][outcome].items():
                drops[f"{outcome}/{reason}"] = drops.get(f"{outcome}/{reason}", 0) + n
    rows = [
        json.loads(line)
        for c in dialogue_configs
        for line in (root / "synthesis" / f"dialogues-{c}.jsonl").read_bytes().splitlines()
    ]
    key = {r["generation"]["request_sha256"]: (r["strategy"], r["character_id"]) for r in rows}
    arrived = [key[s] for s in (messages_sha256(b["messages"]) for b in sent) if s in key]
    question_order = [(r["strategy"], r["character_id"]) for r in rows]
    return {
        "split_aware": aware,
        "requests": requests,
        "kept": kept,
        "requests_per_kept": round(requests / kept, 3) if kept else None,
        "test_overlap": drops.get("dropped/test_overlap", 0),
        "drops": drops,
        "avoided": synthesis["ledger"]["assignment"].get("test_overlap_avoided"),
        "assignment": {
            k: v
            for k, v in synthesis["ledger"]["assignment"].items()
            if k in ("pool", "questions", "pairs", "characters_skipped", "splits")
        },
        "reuse_question_order": {
            w: round(prefix_reuse_share(question_order, w), 3) for w in (1, 4)
        },
        "reuse_as_received": {w: round(prefix_reuse_share(arrived, w), 3) for w in (1, 4)},
        "seconds": round(seconds, 1),
    }


def run(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-split-aware-") as name:
        tmp = Path(name)
        questions = tmp / "questions.jsonl"
        with questions.open("w") as fh:
            for i in range(args.questions):
                topic, thing, place = TOPICS[i % 10], THINGS[i // 10 % 10], PLACES[i // 100 % 10]
                q = f"What would you do with the {topic} {thing} in the {place} number {i}?"
                fh.write(
                    json.dumps({"instruction": q, "input": "", "output": f"I would keep it ({i})."})
                )
                fh.write("\n")
        model = build_tiny_chat_model(tmp / "tiny-chat")
        with transformers_serve(model, tmp) as url, RecordingProxy(url) as proxy:
            for aware in (False, True):
                print(json.dumps(_one_run(tmp, questions, proxy, model, aware)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="part", required=True)
    p = sub.add_parser("plan")
    p.add_argument("--characters", type=int, default=20_000)
    p.add_argument("--scale", type=float, default=1.0, help="fraction of each corpus's size")
    r = sub.add_parser("run")
    r.add_argument("--questions", type=int, default=48)
    args = parser.parse_args()
    plan(args) if args.part == "plan" else run(args)


if __name__ == "__main__":
    main()
