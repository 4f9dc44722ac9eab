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
same generations always give the same files, however the requests were scheduled (they are sent
grouped by character profile, for prefix caching: ``plan.py``).
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ocforge.builders.synthesis.inputs import (
    Inputs,
    read_characters,
    read_personas,
    read_questions,
)
from ocforge.builders.synthesis.items import (
    dialogue_row,
    generation,
    profile_request,
    quarantine_row,
    write_jsonl,
)
from ocforge.builders.synthesis.ledger import (
    check_complete,
    check_ledger,
    quarantine_counts,
    stage_tally,
)
from ocforge.builders.synthesis.plan import plan_dialogues
from ocforge.builders.synthesis.prompts import PromptTemplate, load_prompt
from ocforge.builders.synthesis.rollouts import DialogueRollout, ProfileRollout
from ocforge.builders.synthesis.runner import (
    generation_params,
    inference_config,
    run_stage,
    write_requests,
)
from ocforge.builders.synthesis.screen import screen_characters
from ocforge.errors import SynthesisError
from ocforge.hashing import json_sha256
from ocforge.recipe import InputSpec, Recipe, SynthesisSettings

Progress = Callable[[str], None]
_OWNED = ("characters.jsonl", "quarantine", "synthesis.json", ".work")


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
        # the runner resumes chunks by position: a run sent in another order is another run
        "send_order": "prefix-grouped-v1",
        "prompts": {k: p.sha256 for k, p in prompts.items()},
        "inputs": inputs.fingerprints,
    }
    return json_sha256(data, style="spaced")


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
    prompts = _load_prompts(synth)
    progress("synthesis: read inputs")
    inputs = _read_inputs(recipe, synth)
    out_dir = out_dir.resolve()
    work = _prepare(out_dir, _fingerprint(recipe, inputs, prompts), fresh)
    run = _SynthesisRun(recipe, synth, out_dir, work, prompts, inputs, progress)
    characters = run.screen(run.profiles())
    run.write_characters(characters)
    if synth.dialogues:
        run.dialogues(characters)
    return run.finish()


def _load_prompts(synth: SynthesisSettings) -> dict[str, PromptTemplate]:
    prompts: dict[str, PromptTemplate] = {}
    if synth.characters.personas is not None:
        prompts["profile"] = load_prompt(synth.characters.personas.prompt)
    for d in synth.dialogues:
        prompts[d.strategy] = load_prompt(d.prompt_path)
    return prompts


def _read_inputs(recipe: Recipe, synth: SynthesisSettings) -> Inputs:
    inputs = Inputs()
    if synth.characters.personas is not None:
        specs = synth.characters.personas.inputs
        read_personas([(_label(recipe, s), s) for s in specs], inputs)
    read_characters([(_label(recipe, s), s) for s in synth.characters.inputs], inputs)
    for corpus in synth.questions:
        read_questions(corpus.corpus, [(_label(recipe, s), s) for s in corpus.inputs], inputs)
    return inputs


class _SynthesisRun:
    """The stages of one ``synthesize`` call, in order: :meth:`profiles`, :meth:`screen`,
    :meth:`write_characters`, :meth:`dialogues`, :meth:`finish`. Each stage records its tally in
    ``stages``, its unusable items in ``quarantine`` and its files in ``outputs``."""

    def __init__(self, recipe, synth, out_dir, work, prompts, inputs, progress):
        self.recipe, self.synth, self.out_dir, self.work = recipe, synth, out_dir, work
        self.prompts, self.inputs, self.progress = prompts, inputs, progress
        self.config = inference_config(synth.backend, synth.generation, work / "server-logs")
        self.stages: dict[str, Any] = {}
        self.quarantine: dict[str, list[dict[str, Any]]] = {"inputs": inputs.quarantine}
        self.outputs: dict[str, str] = {}  # file name -> sha256
        self.counts: dict[str, int] = {}
        self.avoided = 0  # answers split-aware assignment kept from curation's test_overlap
        self.assignment: dict[str, Any] = {
            "characters_per_question": synth.assignment.characters_per_question,
            "seed": synth.assignment.seed,
            "pool": 0,
            "questions": 0,
            "pairs": 0,
        }

    def profiles(self) -> list[dict[str, Any]]:
        """Imported characters, plus a profile generated for every persona."""
        characters = [{**c, "generator": "import"} for c in self.inputs.characters]
        settings = self.synth.characters.personas
        if settings is None:
            return characters
        requests = [profile_request(p) for p in self.inputs.personas]
        self.progress(f"synthesis: profiles ({len(requests)} personas)")
        write_requests(self.work / "requests" / "profiles", requests)
        rollout = ProfileRollout(
            self.prompts["profile"], settings.max_attempts, self.synth.backend.request_timeout_s
        )
        docs = run_stage("profiles", self.work, rollout, self.config, self.synth.records_per_chunk)
        check_complete("profiles", requests, docs)
        docs.sort(key=lambda doc: doc["id"])  # results arrive in completion order
        self.stages["profiles"] = stage_tally(docs)
        self.quarantine["profiles"] = []
        for doc in docs:
            result, meta = doc["metadata"]["rollout_results"][0], doc["metadata"]
            if result["status"] != "ok":
                self.quarantine["profiles"].append(quarantine_row("profiles", doc, result))
                continue
            characters.append(
                {
                    "character_id": doc["id"],
                    "persona": meta["persona"],
                    "persona_id": meta["persona_id"],
                    "profile": result["profile"],
                    "name": result["fields"]["name"],
                    "source": meta["source"],
                    "generator": self.synth.backend.model,
                    "generation": generation(self.synth, self.prompts["profile"], result),
                }
            )
        return characters

    def screen(self, characters: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The characters that the curation's profile checks keep (``filters.dialogue``): no
        request is spent on one that ``ocforge build`` would remove with all its dialogues."""
        rules = self.recipe.filters.dialogue
        if not rules.profile_completeness:
            return characters
        kept, self.quarantine["screen"] = screen_characters(
            characters, rules.required_profile_fields, rules.max_age
        )
        self.assignment["characters_skipped"] = len(self.quarantine["screen"])
        return kept

    def write_characters(self, characters: list[dict[str, Any]]) -> None:
        characters.sort(key=lambda c: c["character_id"])
        rows = [{k: v for k, v in c.items() if k != "where"} for c in characters]
        self._write("characters.jsonl", rows)

    def _write(self, name: str, rows: list[dict[str, Any]]) -> None:
        self.outputs[name] = write_jsonl(self.out_dir / name, rows)
        self.counts[name] = len(rows)

    def dialogues(self, characters: list[dict[str, Any]]) -> None:
        """Assign characters to questions and answer them in character, per strategy."""
        if not characters:
            raise SynthesisError(
                "no character to assign questions to: every profile was quarantined or failed "
                f"(see {self.out_dir / 'quarantine'})"
            )
        plan = plan_dialogues(self.synth, self.recipe.splits, self.inputs.questions, characters)
        self.assignment.update(plan.assignment)
        self.avoided, requests, skipped = plan.avoided, plan.requests, plan.skipped
        self.progress(f"synthesis: dialogues ({len(requests)} requests)")
        write_requests(self.work / "requests" / "dialogues", requests)
        profiles = {
            c["character_id"]: {"profile": c["profile"], "name": c["name"]} for c in characters
        }
        rollout = DialogueRollout(
            {d.strategy: self.prompts[d.strategy] for d in self.synth.dialogues},
            self.synth.backend.request_timeout_s,
        )
        docs = run_stage(
            "dialogues",
            self.work,
            rollout,
            self.config,
            self.synth.records_per_chunk,
            shared_context={"characters": profiles},
        )
        check_complete("dialogues", requests, docs)
        docs.sort(key=lambda doc: doc["metadata"]["order"])
        for d in self.synth.dialogues:
            mine = [doc for doc in docs if doc["metadata"]["strategy"] == d.strategy]
            self.stages[d.strategy] = {
                **stage_tally(mine),
                "skipped_no_answer": skipped[d.strategy],
            }
            rows, self.quarantine[d.strategy] = [], []
            for doc in mine:
                result, meta = doc["metadata"]["rollout_results"][0], doc["metadata"]
                if result["status"] != "ok":
                    self.quarantine[d.strategy].append(quarantine_row(d.strategy, doc, result))
                    continue
                row = dialogue_row(d.strategy, meta, result)
                row["generation"] = generation(self.synth, self.prompts[d.strategy], result)
                rows.append(row)
            self._write(f"dialogues-{d.strategy}.jsonl", rows)

    def finish(self) -> SynthResult:
        """Write the quarantine files and synthesis.json; check the ledger."""
        for stage, rows in self.quarantine.items():
            path = self.out_dir / "quarantine" / f"{stage}.jsonl"
            if rows or path.exists():
                write_jsonl(path, rows)
        ledger = {
            "inputs": {k: t.as_dict() for k, t in self.inputs.tallies.items()},
            "assignment": self.assignment,
            "stages": self.stages,
            "quarantine": quarantine_counts(
                self.quarantine, self.inputs.turns_left_out, self.avoided
            ),
        }
        backend = self.synth.backend
        manifest = {
            "recipe": self.recipe.name,
            "recipe_sha256": self.recipe.sha256,
            "backend": {
                "type": backend.type,
                "model": backend.model,
                "endpoint_url": backend.endpoint_url,  # never the key: only its variable name
                "api_key_env": backend.api_key_env,
            },
            "generation": generation_params(self.synth.generation),
            "prompts": {k: p.provenance for k, p in self.prompts.items()},
            "inputs": self.inputs.fingerprints,
            "outputs": {k: {"rows": self.counts[k], "sha256": v} for k, v in self.outputs.items()},
            "ledger": ledger,
        }
        text = json.dumps(manifest, indent=2, sort_keys=True) + "\n"
        (self.out_dir / "synthesis.json").write_text(text)
        check_ledger(ledger)
        outputs = {k: self.out_dir / k for k in self.outputs}
        return SynthResult(out_dir=self.out_dir, ledger=ledger, outputs=outputs)


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


__all__ = [
    "SynthResult",
    "check_ledger",
    "quarantine_counts",
    "resolve_synthesized_inputs",
    "synthesize",
]
