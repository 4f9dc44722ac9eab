"""``ocforge build``: run a recipe's pipelines and write a dataset folder in the Hub layout.

This module only wires stages together; the steps themselves live in ``builders``, ``filters``,
``cards`` and ``publish``. Output folder::

    OUT/README.md                 dataset card (configs + dataset_info)
    OUT/release.json              manifest: counts, file hashes, recipe hash, ledger, tool versions
    OUT/data/<config>/<split>-NNNNN-of-NNNNN.parquet
    OUT/removed/<config>/<reason>/<step>-<rank>.parquet     dropped rows and duplicates
    OUT/quarantine/<config>/<reason>/<step>-<rank>.parquet  invalid rows with file, line, error
    OUT/logs/                     datatrove logs and stats per stage

Curation per config: validation -> filters -> exact dedup -> MinHash near dedup (-> semantic dedup
of profiles); dialogues are then decontaminated against the eval sets and the ``test`` split. A
build that is interrupted resumes when started again with the same recipe: ``.work/`` and the
stage logs are kept, and datatrove skips the tasks that have a completion marker.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.compute as pc

from ocforge.cards.dataset_card import render_card
from ocforge.errors import BuildError, EvalConfigError
from ocforge.evals.configs import write_eval_configs
from ocforge.filters.decontamination import (
    Decontaminate,
    NgramIndex,
    build_eval_index,
    test_question_index,
)
from ocforge.filters.io import removed_files
from ocforge.filters.linking import write_character_index
from ocforge.filters.pii import pii_counts
from ocforge.filters.quality import load_patterns
from ocforge.filters.record_batches import RecordBatchWriter, read_record_table
from ocforge.filters.released import released_steps
from ocforge.flows.curation import Curated, Stages
from ocforge.flows.pipelines import character_steps, dialogue_steps
from ocforge.inputs import count_input_records, input_fingerprint
from ocforge.layout import write_config
from ocforge.ledger import ConfigLedger, Ledger, config_ledger, read_removed
from ocforge.manifest import ReleaseManifest, as_manifest, build_manifest, write_manifest
from ocforge.outputs import ConfigOutput
from ocforge.parent_layout import ParentLayout
from ocforge.recipe import DialogueConfig, InputSpec, Recipe
from ocforge.records import CHARACTERS_SCHEMA, dialogue_schema

_OWNED = ("data", "removed", "quarantine", "logs", ".work", "README.md", "release.json")
# kept across builds: the output of a recipe's `synthesis:` section resumes instead of restarting
_KEPT = ("synthesis",)

Progress = Callable[[str], None]


@dataclass
class BuildResult:
    out_dir: Path
    outputs: dict[str, ConfigOutput]
    ledger: Ledger
    manifest: ReleaseManifest


def build(
    recipe: Recipe,
    out_dir: Path,
    progress: Progress | None = None,
    *,
    parent: ParentLayout | None = None,
) -> BuildResult:
    """Build every config of ``recipe`` into ``out_dir`` and check the ledger.

    If ``out_dir`` holds an unfinished build of the same recipe (it was interrupted), the build
    resumes: finished tasks are not run again and the output is the same as an uninterrupted
    build's. With ``parent`` (the latest release, :mod:`ocforge.parent_layout`) the Parquet
    files follow its layout, dedup keeps the rows it holds over new duplicates of them, and
    ``release.json`` records it under ``layout``.

    Raises:
        BuildError: a stage failed, the output folder holds foreign files, or a config kept
            fewer rows than its ``min_rows``.
        LedgerError: rows were lost or invented; the manifest is still written for inspection.
    """
    progress = progress or (lambda _msg: None)
    out_dir = out_dir.resolve()
    if _prepare_out_dir(out_dir, recipe, parent):
        progress(f"resuming the unfinished build in {out_dir}")
    if recipe.synthesis is not None:  # generate first, then curate what was generated
        from ocforge.builders.synthesis.run import resolve_synthesized_inputs, synthesize

        synthesize(recipe, out_dir / "synthesis", progress=progress)
        recipe = resolve_synthesized_inputs(recipe, out_dir / "synthesis")
    run = _Build(recipe, out_dir, progress, parent)
    twins = run.characters()
    curated = {d.config_name: run.filter_dialogues(d) for d in recipe.dialogues}
    screens = run.decontamination(curated)
    for dcfg in recipe.dialogues:
        run.write_dialogues(dcfg, curated[dcfg.config_name], screens.get(dcfg.config_name), twins)
    ledger = Ledger(run.ledgers, synthesis=_synthesis_set_aside(recipe, out_dir))
    progress("card and manifest")
    manifest = run.card_and_manifest(ledger)
    if recipe.dialogues and recipe.splits.test_fraction > 0:
        manifest = run.eval_configs(ledger) or manifest
    if parent is not None:  # the release the files follow, next to what they hold
        manifest = as_manifest({**manifest.to_dict(), "layout": parent.record()}, "release.json")
        write_manifest(out_dir, manifest)
    shutil.rmtree(run.stages.work)
    ledger.check()
    _check_min_rows(recipe, ledger)
    return BuildResult(out_dir=out_dir, outputs=run.outputs, ledger=ledger, manifest=manifest)


_STATE = "state.json"
_FORMAT = 2  # bump when the work-folder layout changes: an older unfinished build restarts


def _prepare_out_dir(out_dir: Path, recipe: Recipe, parent: ParentLayout | None = None) -> bool:
    """Clear what a previous build wrote, or keep it to resume; refuse a folder holding anything
    else. Returns True when resuming: an unfinished build of the same recipe (and parent) is
    there."""
    state: dict[str, Any] = {"recipe_sha256": recipe.sha256, "format": _FORMAT}
    if parent is not None:  # dedup and layout depend on it: another parent starts over
        state["layout_parent"] = parent.parent.to_dict()
    if out_dir.exists():
        foreign = sorted(p.name for p in out_dir.iterdir() if p.name not in (*_OWNED, *_KEPT))
        if foreign:
            raise BuildError(
                f"output folder {out_dir} holds files ocforge did not write ({', '.join(foreign[:5])}); "
                "choose an empty or new folder"
            )
        state_file = out_dir / ".work" / _STATE
        try:
            previous = orjson.loads(state_file.read_bytes()) if state_file.is_file() else None
        except orjson.JSONDecodeError:
            previous = None
        if previous == state:
            return True
        for name in _OWNED:
            path = out_dir / name
            if path.is_dir():
                shutil.rmtree(path)
            elif path.exists():
                path.unlink()
    (out_dir / ".work").mkdir(parents=True, exist_ok=True)
    (out_dir / ".work" / _STATE).write_bytes(orjson.dumps(state))
    return False


def _label(recipe: Recipe, spec: InputSpec) -> str:
    """How an input is named in errors, provenance and the manifest: relative to the recipe."""
    if spec.synthesis is not None:  # independent of where the build folder is
        return f"synthesis/{spec.path.name if spec.path else spec.synthesis}"
    if spec.path is None:
        return spec.hub.repo  # type: ignore[union-attr]
    return Path(os.path.relpath(spec.path, recipe.base_dir)).as_posix()


class _Build:
    """The steps of one build, in the order :func:`build` runs them. Each config's Parquet
    files, schema, ledger and input records are collected here as it is written."""

    def __init__(
        self, recipe: Recipe, out_dir: Path, progress: Progress, parent: ParentLayout | None
    ):
        self.recipe, self.out_dir, self.progress, self.parent = recipe, out_dir, progress, parent
        self.stages = Stages(recipe, out_dir, progress)
        self.index_path = self.stages.work / "character_index.json"
        self.schemas: dict[str, pa.Schema] = {}
        self.outputs: dict[str, ConfigOutput] = {}
        self.ledgers: dict[str, ConfigLedger] = {}
        self.inputs: list[dict[str, Any]] = []  # the manifest's input entries
        self.n_inputs: dict[str, int] = {}
        try:
            quality = recipe.filters.quality
            self.break_patterns = load_patterns(quality.character_break_patterns)
        except ValueError as exc:
            raise BuildError(str(exc)) from None

    def _labelled(self, config: str, specs: list[InputSpec]) -> list[tuple[str, InputSpec]]:
        """The config's inputs with their labels; their fingerprints go to the manifest."""
        out = []
        for spec in specs:
            label = _label(self.recipe, spec)
            n = count_input_records(spec)
            entry = {"config": config, "input": label, "format": spec.resolved_format}
            self.inputs.append({**entry, "records": n, **input_fingerprint(spec)})
            self.n_inputs[config] = self.n_inputs.get(config, 0) + n
            out.append((label, spec))
        return out

    def characters(self) -> set[str]:
        """Curate and write the characters; index the kept ones for the dialogue configs.
        Returns the source references of characters removed as duplicates (see
        :func:`~ocforge.filters.linking.write_character_index`)."""
        chars = self.recipe.characters
        steps = character_steps(self.recipe, self.stages, self._labelled(chars.name, chars.inputs))
        steps += self._released(chars.name)
        near = self.recipe.filters.dedup.near.profiles
        kept = self.stages.curate(chars.name, steps, near=near, semantic=True)
        records = [doc["metadata"]["record"] for doc in kept.docs()]
        table = pa.Table.from_pylist(records, schema=CHARACTERS_SCHEMA)
        self._write(chars.name, "characters", table, CHARACTERS_SCHEMA)
        return write_character_index(
            self.index_path,
            records,
            removed_files(self.out_dir / "removed" / chars.name),
            removed_files(self.out_dir / "quarantine" / chars.name),
        )

    def filter_dialogues(self, dcfg: DialogueConfig) -> Curated:
        """A dialogue config's filter stage and dedup, up to its last stage."""
        name = dcfg.config_name
        inputs = self._labelled(name, dcfg.inputs)
        steps = dialogue_steps(
            self.recipe, self.stages, dcfg, inputs, self.index_path, self.break_patterns
        )
        steps += self._released(name)
        near = self.recipe.filters.dedup.near.answers
        return self.stages.curate(name, steps, near=near, defer_near=True)

    def _released(self, config: str) -> list:
        """The step marking the rows the parent release holds, last in the filter stage."""
        rows = self.parent.released_rows(config) if self.parent else []
        return released_steps(rows, self.stages.work / config / "released-rows.jsonl")

    def decontamination(self, curated: dict[str, Curated]) -> dict[str, Decontaminate]:
        """The decontamination step of each dialogue config, against the eval sets and the
        questions of the ``test`` split; none when the recipe turns it off."""
        decon, splits = self.recipe.filters.decontamination, self.recipe.splits
        if not (decon.enabled and curated and (decon.own_test_split or decon.eval_sets)):
            return {}
        self.progress("decontamination index")
        test_index = self.stages.work / "decontamination-test.json"
        eval_index = self.stages.work / "decontamination-eval.json"
        records = (
            (config, doc["metadata"]["record"]) for config, c in curated.items() for doc in c.docs()
        )
        index = (
            test_question_index(records, decon.ngram, splits.test_fraction, splits.seed)
            if decon.own_test_split
            else NgramIndex(decon.ngram)
        )
        index.save(test_index)
        try:
            build_eval_index(decon.eval_sets, decon.ngram).save(eval_index)
        except ValueError as exc:
            raise BuildError(str(exc)) from None
        return {
            name: Decontaminate(
                str(eval_index),
                str(test_index),
                splits.test_fraction,
                splits.seed,
                exclusion_writer=self.stages.removed(name, "decontamination", "dropped"),
            )
            for name in curated
        }

    def write_dialogues(
        self,
        dcfg: DialogueConfig,
        curated: Curated,
        screen: Decontaminate | None,
        twins: set[str],
    ) -> None:
        """A dialogue config's last stage (near duplicates and contaminated rows out, the rows
        to Arrow in the stage's tasks), then its Parquet files and ledger."""
        name, schema = dcfg.config_name, dialogue_schema(dcfg.strategy)
        batches = self.stages.work / name / "records"
        parts = ["minhash-filter"] if curated.clusters else []
        parts += ["decontamination"] if screen else []
        steps = [*self.stages.final_steps(name, curated), *([screen] if screen else [])]
        self.stages.run(
            name, "+".join(parts) or "records", [*steps, RecordBatchWriter(str(batches), schema)]
        )
        self.stages.link_final(name, curated)
        table = read_record_table(batches, schema)
        self._write(name, "dialogues", table, schema)
        # the cascade rule, recorded: dialogues re-pointed from a removed duplicate character
        repointed = _count_sources(table, twins)
        del table
        # Arrow keeps freed buffers in its allocator's pools: hand the config's back
        pa.default_memory_pool().release_unused()
        if repointed:
            self.ledgers[name].modified["repointed_to_kept_twin"] = repointed

    def _write(self, config: str, kind: str, table: pa.Table, schema: pa.Schema) -> None:
        """Write a config's kept rows as Parquet and count its ledger."""
        self.progress(f"{config}: write parquet")
        splits = self.recipe.splits
        written = write_config(
            table,
            schema,
            config,
            self.out_dir,
            test_fraction=splits.test_fraction,
            seed=splits.seed,
            max_shard_rows=self.recipe.output.max_shard_rows,
            row_group_rows=self.recipe.output.row_group_rows,
            parent=self.parent.splits(config) if self.parent else None,
        )
        self.schemas[config] = schema
        self.outputs[config] = ConfigOutput(name=config, kind=kind, splits=written)
        removed = read_removed(
            removed_files(self.out_dir / "removed" / config, self.out_dir / "quarantine" / config)
        )
        self.ledgers[config] = config_ledger(self.n_inputs.get(config, 0), table.num_rows, removed)
        stats = self.out_dir / "logs" / config / "filter" / "stats"
        self.ledgers[config].modified.update(pii_counts(stats))

    def card_and_manifest(self, ledger: Ledger) -> ReleaseManifest:
        """Write README.md (the dataset card) and release.json; return the manifest."""
        recipe = self.recipe
        default = recipe.dialogues[0].config_name if recipe.dialogues else recipe.characters.name
        card = render_card(
            recipe.name,
            recipe.card,
            self.outputs,
            self.schemas,
            ledger,
            default,
            recipe.publish.repo,
        )
        (self.out_dir / "README.md").write_text(card, encoding="utf-8")
        assert recipe.path is not None
        manifest = build_manifest(
            name=recipe.name,
            recipe_file=recipe.path.name,
            recipe_text=recipe.path.read_text(encoding="utf-8"),
            recipe_sha256=recipe.sha256 or "",
            inputs=self.inputs,
            outputs=self.outputs,
            schemas=self.schemas,
            ledger=ledger,
        )
        write_manifest(self.out_dir, manifest)
        return manifest

    def eval_configs(self, ledger: Ledger) -> ReleaseManifest | None:
        """Eval-ready configs from the ``test`` split (held-out characters), so that lm-eval
        tasks registered against a release need no code; they read the manifest just written.
        Returns the manifest written again with them, or None when there are none."""
        self.progress("eval configs")
        try:
            evals = write_eval_configs(
                self.out_dir, row_group_rows=self.recipe.output.row_group_rows, parent=self.parent
            )
        except EvalConfigError as exc:
            self.progress(f"no eval configs: {exc}")
            return None
        self.outputs.update(evals.outputs)
        self.schemas.update(evals.schemas)
        return self.card_and_manifest(ledger)


def _synthesis_set_aside(recipe: Recipe, out_dir: Path) -> dict[str, Any]:
    """What this build's synthesis quarantined or skipped, from its synthesis.json."""
    manifest = out_dir / "synthesis" / "synthesis.json"
    if recipe.synthesis is None or not manifest.is_file():
        return {}
    return orjson.loads(manifest.read_bytes())["ledger"].get("quarantine", {})


def _check_min_rows(recipe: Recipe, ledger: Ledger) -> None:
    """A config that kept fewer rows than its recipe's ``min_rows`` fails the build (the folder is
    written for inspection). Without ``min_rows``, a config that kept nothing is an outcome."""
    short = []
    for cfg in [recipe.characters, *recipe.dialogues]:
        name = cfg.name if isinstance(cfg.name, str) else cfg.config_name
        counts = ledger.configs[name]
        if counts.kept < cfg.min_rows:
            removed = ", ".join(
                f"{o} {counts.count(o)}" for o in ("dropped", "duplicates", "quarantined")
            )
            short.append(
                f"config {name!r} kept {counts.kept} of {counts.input} input rows ({removed}), "
                f"fewer than its min_rows {cfg.min_rows}"
            )
    if short:
        raise BuildError("; ".join(short) + " (see release.json's ledger for the reasons)")


def _count_sources(table: pa.Table, sources: set[str]) -> int:
    """Rows whose ``provenance.record`` is one of ``sources``."""
    if not sources or not table.num_rows:
        return 0
    records = pc.struct_field(table.column("provenance"), "record")
    return pc.sum(pc.is_in(records, value_set=pa.array(sorted(sources)))).as_py() or 0
