"""``ocforge synth``: personas -> profiles -> assigned questions -> R/G dialogues, as JSONL.

Output folder::

    OUT/characters.jsonl            character_id, persona, persona_id, profile, name, source,
                                    generator, generation (provenance of synthesized profiles)
    OUT/dialogues-<strategy>.jsonl  character_id, question_id, source_corpus, question, response,
                                    original_response (rewrite), strategy, generation
    OUT/quarantine/<stage>.jsonl    unusable inputs, unparseable profiles (with every raw answer),
                                    empty answers and failed requests, with reasons
    OUT/synthesis.json              ledger (requests sent/answered/failed; items ok/quarantined/
                                    failed), backend, parameters, prompts, input fingerprints
    OUT/.work/                      the runner's requests, results, checkpoints and logs (resume)

Rows are sorted (characters by id, dialogues by question order then assigned character), so the
same generations always give the same files, however the requests were scheduled.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from ocforge.builders.assignment import assign_characters
from ocforge.builders.synthesis.inputs import (
    Inputs,
    read_characters,
    read_personas,
    read_questions,
)
from ocforge.builders.synthesis.prompts import PromptTemplate, load_prompt
from ocforge.builders.synthesis.rollouts import DialogueRollout, ProfileRollout
from ocforge.builders.synthesis.runner import (
    generation_params,
    inference_config,
    run_stage,
    write_requests,
)

from ocforge.errors import LedgerError, SynthesisError
from ocforge.recipe import InputSpec, Recipe, SynthesisSettings
from ocforge.records import content_id

Progress = Callable[[str], None]
_OWNED = ("characters.jsonl", "quarantine", "synthesis.json", ".work")
STATUSES = ("ok", "quarantined", "failed")


@dataclass
class SynthResult:
    out_dir: Path
    ledger: dict[str, Any]
    outputs: dict[str, Path] = field(default_factory=dict)


def _label(recipe: Recipe, spec: InputSpec) -> str:
    if spec.path is None:
        return spec.hub.repo if spec.hub else str(spec.synthesis)  # type: ignore[union-attr]
    return Path(os.path.relpath(spec.path, recipe.base_dir)).as_posix()


def _fingerprint(recipe: Recipe, inputs: Inputs, prompts: dict[str, PromptTemplate]) -> str:
    """What the saved results depend on; the URL, key and concurrency are not part of it."""
    synth = recipe.synthesis
    assert synth is not None
    data = {
        "model": synth.backend.model,
        "generation": synth.generation.model_dump(mode="json"),
        "characters": synth.characters.model_dump(mode="json"),
        "questions": [q.model_dump(mode="json") for q in synth.questions],
        "assignment": synth.assignment.model_dump(mode="json"),
        "dialogues": [d.model_dump(mode="json") for d in synth.dialogues],
        "records_per_chunk": synth.records_per_chunk,
        "prompts": {k: p.sha256 for k, p in prompts.items()},
        "inputs": inputs.fingerprints,
    }
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()


def _prepare(out_dir: Path, fingerprint: str, fresh: bool) -> Path:
    """Check the folder; keep a previous run of the same synthesis (resume), else refuse."""
    work = out_dir / ".work"
    state_file = work / "state.json"
    if out_dir.exists():
        foreign = sorted(
            p.name
            for p in out_dir.iterdir()
            if p.name not in _OWNED and not p.name.startswith("dialogues-")
        )
        if foreign:
            raise SynthesisError(
                f"output folder {out_dir} holds files ocforge synth did not write "
                f"({', '.join(foreign[:5])}); choose an empty or new folder"
            )
        if fresh:
            for path in out_dir.iterdir():
                shutil.rmtree(path) if path.is_dir() else path.unlink()
        if state_file.exists():
            previous = json.loads(state_file.read_text()).get("fingerprint")
            if previous != fingerprint:
                raise SynthesisError(
                    f"{out_dir} holds a synthesis run of a different recipe, model, prompt or "
                    "input; resume only continues the same run. Pass --fresh to start over, or "
                    "choose another folder"
                )
    work.mkdir(parents=True, exist_ok=True)
    state_file.write_text(json.dumps({"fingerprint": fingerprint}))
    return work


def _generation(synth: SynthesisSettings, prompt: PromptTemplate, result: dict[str, Any]) -> dict:
    last = result["attempts"][-1] if result.get("attempts") else {}
    return {
        "backend": synth.backend.type,
        "model": synth.backend.model,
        "params": generation_params(synth.generation),
        "prompt": prompt.provenance,
        "attempts": len(result.get("attempts", [])),
        "finish_reason": last.get("finish_reason"),
        "usage": last.get("usage"),
        "request_sha256": last.get("messages_sha256"),
    }


def _stage_tally(docs: list[dict[str, Any]]) -> dict[str, Any]:
    """Per stage: items by status and requests sent/answered/failed, from the saved results."""
    items = dict.fromkeys(STATUSES, 0)
    answered = failed = 0
    for doc in docs:
        result = doc["metadata"]["rollout_results"][0]
        items[result["status"]] += 1
        answered += len(result.get("attempts", []))
        failed += result.get("requests_failed", 0)
    return {
        "items": len(docs),
        **items,
        "requests": {"sent": answered + failed, "answered": answered, "failed": failed},
    }


def _quarantine_row(stage: str, doc: dict[str, Any], result: dict[str, Any]) -> dict[str, Any]:
    meta = {k: v for k, v in doc["metadata"].items() if k != "rollout_results"}
    return {
        "stage": stage,
        "id": doc["id"],
        "outcome": "failed" if result["status"] == "failed" else "quarantined",
        "reason": result["reason"],
        "detail": result["detail"],
        "request": meta,
        "raw": [a["text"] for a in result.get("attempts", [])],
    }


def _write_jsonl(path: Path, rows: list[dict[str, Any]]) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = b"".join(orjson.dumps(r, option=orjson.OPT_APPEND_NEWLINE) for r in rows)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    tmp.replace(path)
    return hashlib.sha256(data).hexdigest()


def _check_complete(stage: str, requests: list[dict], results: list[dict]) -> None:
    sent = {d["id"] for d in requests}
    got = [d["id"] for d in results]
    missing, extra = sent - set(got), set(got) - sent
    if missing or extra or len(got) != len(set(got)):
        raise LedgerError(
            f"synthesis stage {stage!r}: {len(requests)} requests, {len(got)} results "
            f"({len(missing)} missing, {len(extra)} unexpected, {len(got) - len(set(got))} repeated)"
        )


def synthesize(
    recipe: Recipe, out_dir: Path, *, progress: Progress | None = None, fresh: bool = False
) -> SynthResult:
    """Run the recipe's ``synthesis:`` section into ``out_dir`` (resuming a previous run there).

    Raises:
        SynthesisError: no synthesis section, the folder holds another run, or a stage failed.
        LedgerError: a request or item was lost on the way.
    """
    synth = recipe.synthesis
    if synth is None:
        raise SynthesisError(f"recipe {recipe.path}: has no 'synthesis:' section")
    progress = progress or (lambda _msg: None)
    out_dir = out_dir.resolve()

    prompts: dict[str, PromptTemplate] = {}
    if synth.characters.personas is not None:
        prompts["profile"] = load_prompt(synth.characters.personas.prompt)
    for d in synth.dialogues:
        prompts[d.strategy] = load_prompt(d.prompt_path)

    progress("synthesis: read inputs")
    inputs = Inputs()
    if synth.characters.personas is not None:
        specs = synth.characters.personas.inputs
        read_personas([(_label(recipe, s), s) for s in specs], inputs)
    read_characters([(_label(recipe, s), s) for s in synth.characters.inputs], inputs)
    for corpus in synth.questions:
        read_questions(corpus.corpus, [(_label(recipe, s), s) for s in corpus.inputs], inputs)

    work = _prepare(out_dir, _fingerprint(recipe, inputs, prompts), fresh)
    config = inference_config(synth.backend, synth.generation, work / "server-logs")
    stages: dict[str, Any] = {}
    quarantine: dict[str, list[dict[str, Any]]] = {"inputs": inputs.quarantine}

    # 1. profiles
    characters = [{**c, "generator": "import"} for c in inputs.characters]
    if synth.characters.personas is not None:
        settings = synth.characters.personas
        requests = [
            {
                "id": f"persona-{p['persona_id']}",
                "text": p["persona"],
                "metadata": {
                    "persona_id": p["persona_id"],
                    "persona": p["persona"],
                    "input": p["where"],
                    "source": p["source"],
                },
            }
            for p in inputs.personas
        ]
        progress(f"synthesis: profiles ({len(requests)} personas)")
        write_requests(work / "requests" / "profiles", requests)
        rollout = ProfileRollout(
            prompts["profile"], settings.max_attempts, synth.backend.request_timeout_s
        )
        docs = run_stage("profiles", work, rollout, config, synth.records_per_chunk)
        _check_complete("profiles", requests, docs)
        docs.sort(key=lambda doc: doc["id"])  # results arrive in completion order
        stages["profiles"] = _stage_tally(docs)
        quarantine["profiles"] = []
        for doc in docs:
            result = doc["metadata"]["rollout_results"][0]
            meta = doc["metadata"]
            if result["status"] != "ok":
                quarantine["profiles"].append(_quarantine_row("profiles", doc, result))
                continue
            characters.append(
                {
                    "character_id": doc["id"],
                    "persona": meta["persona"],
                    "persona_id": meta["persona_id"],
                    "profile": result["profile"],
                    "name": result["fields"]["name"],
                    "source": meta["source"],
                    "generator": synth.backend.model,
                    "generation": _generation(synth, prompts["profile"], result),
                }
            )
    characters.sort(key=lambda c: c["character_id"])
    character_rows = [{k: v for k, v in c.items() if k != "where"} for c in characters]
    outputs = {"characters.jsonl": _write_jsonl(out_dir / "characters.jsonl", character_rows)}
    counts = {"characters.jsonl": len(character_rows)}

    # 2. assignment and 3. dialogues
    pool = [c["character_id"] for c in characters]
    assignment = {
        "characters_per_question": synth.assignment.characters_per_question,
        "seed": synth.assignment.seed,
        "pool": len(pool),
        "questions": 0,
        "pairs": 0,
    }
    requests = []
    skipped: dict[str, int] = {}
    if synth.dialogues:
        if not pool:
            raise SynthesisError(
                "no character to assign questions to: every profile was quarantined or failed "
                f"(see {out_dir / 'quarantine'})"
            )
        assigned: dict[tuple[str, str], list[str]] = {}
        for corpus, rows in inputs.questions.items():
            for q in rows:
                assigned[(corpus, q["question_id"])] = assign_characters(
                    f"{corpus}:{q['question_id']}",
                    pool,
                    synth.assignment.characters_per_question,
                    synth.assignment.seed,
                )
        assignment["questions"] = len(assigned)
        assignment["pairs"] = sum(len(v) for v in assigned.values())
        for d in synth.dialogues:
            skipped[d.strategy] = 0
            for corpus in d.corpora:
                for q in inputs.questions[corpus]:
                    if d.strategy == "rewrite" and q["original_response"] is None:
                        skipped[d.strategy] += 1  # R needs the corpus' answer
                        continue
                    for cid in assigned[(corpus, q["question_id"])]:
                        meta = {
                            "order": len(requests),
                            "strategy": d.strategy,
                            "character_id": cid,
                            "question_id": q["question_id"],
                            "source_corpus": corpus,
                            "question": q["question"],
                            "input": q["where"],
                        }
                        if d.strategy == "rewrite":
                            meta["original_response"] = q["original_response"]
                        requests.append(
                            {
                                "id": content_id(
                                    "request", d.strategy, cid, corpus, q["question_id"]
                                ),
                                "text": q["question"],
                                "metadata": meta,
                            }
                        )
        progress(f"synthesis: dialogues ({len(requests)} requests)")
        write_requests(work / "requests" / "dialogues", requests)
        profiles = {
            c["character_id"]: {"profile": c["profile"], "name": c["name"]} for c in characters
        }
        rollout = DialogueRollout(
            {d.strategy: prompts[d.strategy] for d in synth.dialogues},
            synth.backend.request_timeout_s,
        )
        docs = run_stage(
            "dialogues",
            work,
            rollout,
            config,
            synth.records_per_chunk,
            shared_context={"characters": profiles},
        )
        _check_complete("dialogues", requests, docs)
        docs.sort(key=lambda doc: doc["metadata"]["order"])
        for d in synth.dialogues:
            mine = [doc for doc in docs if doc["metadata"]["strategy"] == d.strategy]
            stages[d.strategy] = {**_stage_tally(mine), "skipped_no_answer": skipped[d.strategy]}
            rows, quarantine[d.strategy] = [], []
            for doc in mine:
                result, meta = doc["metadata"]["rollout_results"][0], doc["metadata"]
                if result["status"] != "ok":
                    quarantine[d.strategy].append(_quarantine_row(d.strategy, doc, result))
                    continue
                row = {
                    "character_id": meta["character_id"],
                    "question_id": meta["question_id"],
                    "source_corpus": meta["source_corpus"],
                    "question": meta["question"],
                    "response": result["response"],
                }
                if d.strategy == "rewrite":
                    row["original_response"] = meta["original_response"]
                row["strategy"] = d.strategy
                row["generation"] = _generation(synth, prompts[d.strategy], result)
                rows.append(row)
            name = f"dialogues-{d.strategy}.jsonl"
            outputs[name] = _write_jsonl(out_dir / name, rows)
            counts[name] = len(rows)

    for stage, rows in quarantine.items():
        path = out_dir / "quarantine" / f"{stage}.jsonl"
        if rows or path.exists():
            _write_jsonl(path, rows)

    ledger = {
        "inputs": {k: t.as_dict() for k, t in inputs.tallies.items()},
        "assignment": assignment,
        "stages": stages,
    }
    manifest = {
        "recipe": recipe.name,
        "recipe_sha256": recipe.sha256,
        "backend": {
            "type": synth.backend.type,
            "model": synth.backend.model,
            "endpoint_url": synth.backend.endpoint_url,  # never the key: only its variable name
            "api_key_env": synth.backend.api_key_env,
        },
        "generation": generation_params(synth.generation),
        "prompts": {k: p.provenance for k, p in prompts.items()},
        "inputs": inputs.fingerprints,
        "outputs": {k: {"rows": counts[k], "sha256": v} for k, v in outputs.items()},
        "ledger": ledger,
    }
    (out_dir / "synthesis.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    check_ledger(ledger)
    return SynthResult(out_dir=out_dir, ledger=ledger, outputs={k: out_dir / k for k in outputs})


def check_ledger(ledger: dict[str, Any]) -> None:
    """``read == valid + duplicates + quarantined`` per input kind; ``items == ok + quarantined +
    failed`` and ``sent == answered + failed`` per stage.

    Raises:
        LedgerError: naming the first count that does not add up.
    """
    for kind, t in ledger["inputs"].items():
        if t["read"] != t["valid"] + t["duplicates"] + t["quarantined"]:
            raise LedgerError(
                f"synthesis inputs {kind}: read != valid + duplicates + quarantined ({t})"
            )
    for stage, t in ledger["stages"].items():
        if t["items"] != sum(t[s] for s in STATUSES):
            raise LedgerError(f"synthesis stage {stage}: items != ok + quarantined + failed ({t})")
        r = t["requests"]
        if r["sent"] != r["answered"] + r["failed"]:
            raise LedgerError(f"synthesis stage {stage}: sent != answered + failed ({r})")


def resolve_synthesized_inputs(recipe: Recipe, synth_dir: Path) -> Recipe:
    """The recipe with each ``synthesis: X`` input pointing at the file ``synthesize`` wrote."""
    files = {
        "characters": "characters.jsonl",
        "rewrite": "dialogues-rewrite.jsonl",
        "generate": "dialogues-generate.jsonl",
    }

    def resolve(specs: list[InputSpec]) -> list[InputSpec]:
        return [
            s.model_copy(update={"path": synth_dir / files[s.synthesis]}) if s.synthesis else s
            for s in specs
        ]

    characters = recipe.characters.model_copy(update={"inputs": resolve(recipe.characters.inputs)})
    dialogues = [d.model_copy(update={"inputs": resolve(d.inputs)}) for d in recipe.dialogues]
    return recipe.model_copy(update={"characters": characters, "dialogues": dialogues})


__all__ = ["SynthResult", "check_ledger", "resolve_synthesized_inputs", "synthesize"]
