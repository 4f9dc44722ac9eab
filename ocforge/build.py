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
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.compute as pc

from ocforge.builders.sources import RecordReader, count_input_records, input_fingerprint
from ocforge.cards.dataset_card import render_card
from ocforge.errors import BuildError
from ocforge.filters import minhash
from ocforge.filters.decontamination import Decontaminate, NgramIndex, build_eval_index
from ocforge.filters.dialogue import (
    NameConsistencyFilter,
    ProfileLeakageFilter,
    RewriteSanityFilter,
)
from ocforge.filters.exact_dedup import filter_step, finder_step, signature_step
from ocforge.filters.executors import make_executor, run_chain
from ocforge.filters.io import (
    GroupRecorder,
    IntermediateReader,
    intermediate_writer,
    iter_docs,
    link_duplicates,
    removed_files,
    removed_writer,
)
from ocforge.filters.language import LanguageIdFilter
from ocforge.filters.linking import (
    CascadeCharacterRemoval,
    ResolveCharacter,
    write_character_index,
)
from ocforge.filters.pii import PiiMasker
from ocforge.filters.profile_quality import ProfileCompletenessFilter
from ocforge.filters.quality import CharacterBreakFilter, ResponseLengthFilter, load_patterns
from ocforge.filters.record_batches import RecordBatchWriter, read_record_table
from ocforge.filters.semantic import SemanticDedup
from ocforge.filters.text_quality import answer_quality_filters
from ocforge.filters.validation import ValidateCharacters, ValidateDialogues
from ocforge.ledger import Ledger, config_ledger, read_removed
from ocforge.outputs import ConfigOutput
from ocforge.publish.evals.configs import EvalConfigError, write_eval_configs
from ocforge.publish.layout import split_of, write_config
from ocforge.publish.manifest import build_manifest, write_manifest
from ocforge.recipe import CHARACTER_FIELDS, DIALOGUE_FIELDS, InputSpec, Recipe
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
    manifest: dict[str, Any]


_STATE = "state.json"
_FORMAT = 2  # bump when the work-folder layout changes: an older unfinished build restarts


def _prepare_out_dir(out_dir: Path, recipe: Recipe) -> bool:
    """Clear what a previous build wrote, or keep it to resume; refuse a folder holding anything
    else. Returns True when resuming: an unfinished build of the same recipe is there."""
    state = {"recipe_sha256": recipe.sha256, "format": _FORMAT}
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


@dataclass(frozen=True)
class Curated:
    """A config's curated documents: the shards in ``folder``, less the near duplicates that
    MinHash stage 4 removes when ``clusters`` is set. That stage is then left to the config's
    last stage (:meth:`_Stages.final_steps`), which reads every document anyway."""

    folder: Path
    clusters: Path | None = None

    def docs(self) -> Iterator[dict[str, Any]]:
        """The kept documents, in the order of the shards."""
        if self.clusters is None:
            return iter_docs(self.folder)
        return minhash.iter_near_kept(self.folder, self.clusters)


class _Stages:
    """The per-config stages of one build, all on the recipe's executor."""

    def __init__(self, recipe: Recipe, out_dir: Path, progress: Progress):
        self.recipe = recipe
        self.out = out_dir
        self.work = out_dir / ".work"
        self.progress = progress

    def _executor(
        self, config: str, stage: str, pipeline: list, tasks: int | None = None, depends=None
    ):
        return make_executor(
            self.recipe.executor,
            pipeline,
            str(self.out / "logs" / config / stage),
            tasks=tasks,
            depends=depends,
            job_name=f"{config}-{stage}",
        )

    def _run_chain(self, config: str, stages: list[tuple[str, list, int | None]]) -> None:
        """Run ``(stage, pipeline, tasks)`` in order (chained jobs on Slurm)."""
        self.progress(f"{config}: {', '.join(s for s, _, _ in stages)}")
        executors, previous = [], None
        for stage, pipeline, tasks in stages:
            previous = self._executor(config, stage, pipeline, tasks, depends=previous)
            executors.append(previous)
        try:
            run_chain(self.recipe.executor, executors)
        except BuildError:
            raise
        except Exception as exc:  # datatrove re-raises a task's error; name the stages
            names = ", ".join(s for s, _, _ in stages)
            raise BuildError(f"config {config!r}, stage(s) {names} failed: {exc}") from exc

    def run(self, config: str, stage: str, pipeline: list, tasks: int | None = None) -> None:
        self._run_chain(config, [(stage, pipeline, tasks)])

    def removed(
        self, config: str, step: str, outcome: str, reason: str = "", group_key: str | None = None
    ):
        base = "quarantine" if outcome == "quarantined" else "removed"
        return removed_writer(str(self.out / base / config), outcome, step, reason, group_key)

    def curate(
        self,
        config: str,
        steps: list,
        *,
        near: bool = False,
        semantic: bool = False,
        defer_near: bool = False,
    ) -> Curated:
        """Run ``steps`` (reader first), then exact, near and semantic dedup as the recipe asks;
        return where the kept documents are.

        Dedup signatures are written on the way by the stage that writes the documents they
        number (exact: the filter stage; MinHash: the stage before it), so no stage reads the
        documents back only to hash them; the stage filtering on them reads the same shards.
        ``defer_near``: MinHash stage 4 is not run here but left to the caller's last stage over
        the documents (:meth:`final_steps`), which spares writing and reading them once more;
        not with semantic dedup, which needs the near duplicates gone first."""
        dedup = self.recipe.filters.dedup
        near = near and dedup.near.enabled
        minhash_cfg = self._minhash_config() if near else None
        minhash_sigs = self.work / config / "minhash" / "signatures"

        def minhash_tee() -> list:
            if minhash_cfg is None:
                return []
            return [minhash.FastMinhashSignature(str(minhash_sigs), minhash_cfg, forward=True)]

        current = self.work / config / "filtered"
        sigs, dups = self.work / config / "sigs", self.work / config / "dups"
        tee = [signature_step(str(sigs), forward=True)] if dedup.exact else minhash_tee()
        self.run(config, "filter", [*steps, *tee, intermediate_writer(str(current))])
        current.mkdir(parents=True, exist_ok=True)
        if not any(current.glob("*.jsonl")):
            return Curated(current)  # every row was removed: nothing to deduplicate
        if dedup.exact:
            kept = self.work / config / "kept-exact"
            writer = self.removed(
                config, "exact-dedup", "duplicates", "exact_duplicate", group_key="dedup_key"
            )
            self._run_chain(
                config,
                [
                    ("dedup-find", [finder_step(str(sigs), str(dups))], 1),
                    (
                        "dedup-filter",
                        [
                            IntermediateReader(str(current), by_rank=True),
                            filter_step(str(dups), writer),
                            *minhash_tee(),
                            intermediate_writer(str(kept)),
                        ],
                        None,
                    ),
                ],
            )
            link_duplicates(kept, self.out / "removed" / config, "exact-dedup", "dedup_key")
            current = kept
        semantic = semantic and dedup.semantic.enabled
        if minhash_cfg is not None and defer_near and not semantic:
            return Curated(current, self._near_clusters(config, minhash_cfg, minhash_sigs))
        if minhash_cfg is not None:
            current = self._near_dedup(config, current, minhash_cfg, minhash_sigs)
        if semantic:
            kept = self.work / config / "kept-semantic"
            writer = self.removed(
                config,
                "semantic-dedup",
                "duplicates",
                "semantic_duplicate",
                group_key="semantic_group",
            )
            step = SemanticDedup(
                dedup.semantic.threshold, dedup.semantic.model, exclusion_writer=writer
            )
            self.run(
                config,
                "semantic-dedup",
                [IntermediateReader(str(current)), step, intermediate_writer(str(kept))],
                tasks=1,
            )
            link_duplicates(kept, self.out / "removed" / config, "semantic-dedup", "semantic_group")
            current = kept
        return Curated(current)

    def final_steps(self, config: str, curated: Curated) -> list:
        """The reader of ``curated`` and the dedup step left to the config's last stage, which
        must run with the recipe's number of tasks; :meth:`link_final` after it."""
        if curated.clusters is None:
            return [IntermediateReader(str(curated.folder))]
        return [
            IntermediateReader(str(curated.folder), by_rank=True),
            *self._near_filter(config, curated.clusters),
            GroupRecorder(str(self._near_groups(config)), "minhash_cluster_id"),
        ]

    def link_final(self, config: str, curated: Curated) -> None:
        """Name the kept row of every near duplicate that the last stage removed."""
        if curated.clusters is not None:
            link_duplicates(
                self._near_groups(config),
                self.out / "removed" / config,
                "near-dedup",
                "minhash_cluster_id",
            )

    def _near_groups(self, config: str) -> Path:
        return self.work / config / "minhash" / "kept-groups"

    def _near_filter(self, config: str, clusters: Path) -> list:
        writer = self.removed(
            config, "near-dedup", "duplicates", "near_duplicate", group_key="minhash_cluster_id"
        )
        return [minhash.filter_step(str(clusters), writer)]

    def _near_stages(self, cfg: minhash.MinhashConfig, sigs: Path) -> tuple[list, Path]:
        """MinHash stages 2 and 3 over the signatures in ``sigs``; and their clusters folder."""
        buckets, clusters = sigs.parent / "buckets", sigs.parent / "clusters"
        stages = [
            (
                "minhash-buckets",
                [minhash.bucket_step(str(sigs), str(buckets), cfg)],
                minhash.bucket_tasks(cfg, self.recipe.executor.tasks),
            ),
            ("minhash-clusters", [minhash.cluster_step(str(buckets), str(clusters), cfg)], 1),
        ]
        return stages, clusters

    def _near_clusters(self, config: str, cfg: minhash.MinhashConfig, sigs: Path) -> Path:
        stages, clusters = self._near_stages(cfg, sigs)
        self._run_chain(config, stages)
        return clusters

    def _minhash_config(self) -> minhash.MinhashConfig:
        near = self.recipe.filters.dedup.near
        bands, rows = near.banding()
        return minhash.minhash_config(near.shingle_words, bands, rows, near.seed)

    def _near_dedup(
        self, config: str, source: Path, cfg: minhash.MinhashConfig, sigs: Path
    ) -> Path:
        """Stages 2-4 of MinHash dedup over ``source``, whose signatures are in ``sigs``."""
        kept = self.work / config / "kept-near"
        stages, clusters = self._near_stages(cfg, sigs)
        stages.append(
            (
                "minhash-filter",
                [
                    IntermediateReader(str(source), by_rank=True),
                    *self._near_filter(config, clusters),
                    intermediate_writer(str(kept)),
                ],
                None,
            )
        )
        self._run_chain(config, stages)
        link_duplicates(kept, self.out / "removed" / config, "near-dedup", "minhash_cluster_id")
        return kept


def _removed_files(out_dir: Path, config: str) -> list[Path]:
    return removed_files(out_dir / "removed" / config, out_dir / "quarantine" / config)


def _pii_counts(out_dir: Path, config: str) -> dict[str, int]:
    """Masked PII per kind, summed over the filter stage's per-task datatrove stats on disk
    (each task writes its own when it completes; the merged file may come later on Slurm)."""
    counts: dict[str, int] = {}
    for path in sorted((out_dir / "logs" / config / "filter" / "stats").glob("*.json")):
        for step in orjson.loads(path.read_bytes()):
            if not str(step.get("name", "")).endswith(PiiMasker.name):
                continue
            for key, value in step.get("stats", {}).items():
                if key.startswith("pii_") or key == "rows_masked":
                    total = value.get("total", 0) if isinstance(value, dict) else value
                    counts[key] = counts.get(key, 0) + int(total)
    return counts


def _dialogue_steps(
    recipe: Recipe, stages: _Stages, dcfg, d_inputs, index_path: Path, break_patterns: list[str]
) -> list:
    """The filter stage of a dialogue config, in order."""
    name = dcfg.config_name
    f = recipe.filters
    quality, dialogue = f.quality, f.dialogue
    bounds = quality.length_by_strategy.get(dcfg.strategy)
    min_words = bounds.min_response_words if bounds else quality.min_response_words
    max_words = bounds.max_response_words if bounds else quality.max_response_words

    def dropped(step: str):
        return stages.removed(name, step, "dropped")

    steps: list = [
        RecordReader(d_inputs, DIALOGUE_FIELDS),
        ValidateDialogues(
            dcfg.strategy, exclusion_writer=stages.removed(name, "validation", "quarantined")
        ),
    ]
    if f.pii.enabled:  # before linking, so ids and chat messages hold the masked text
        steps.append(PiiMasker())
    steps += [
        ResolveCharacter(str(index_path), stages.removed(name, "resolve-character", "quarantined")),
        CascadeCharacterRemoval(str(index_path), dropped("cascade")),
        ResponseLengthFilter(min_words, max_words, exclusion_writer=dropped("response-length")),
    ]
    if quality.character_breaks:
        steps.append(
            CharacterBreakFilter(break_patterns, exclusion_writer=dropped("character-break"))
        )
    if f.language.enabled:
        steps.append(
            LanguageIdFilter(
                f.language.languages, f.language.threshold, exclusion_writer=dropped("language")
            )
        )
    if quality.gopher_quality or quality.gopher_repetition:
        gopher = answer_quality_filters(
            dropped,
            max_non_alpha_words_ratio=quality.max_non_alpha_words_ratio,
            repetition=quality.gopher_repetition,
        )
        steps += gopher if quality.gopher_quality else gopher[1:]
    if dialogue.name_consistency:
        steps.append(NameConsistencyFilter(exclusion_writer=dropped("name-consistency")))
    if dialogue.profile_leakage:
        steps.append(
            ProfileLeakageFilter(
                dialogue.leakage_ngram,
                dialogue.leakage_threshold,
                exclusion_writer=dropped("profile-leakage"),
            )
        )
    if dialogue.rewrite_sanity and dcfg.strategy == "rewrite":
        steps.append(
            RewriteSanityFilter(
                dialogue.rewrite_max_similarity,
                dialogue.rewrite_min_content_kept,
                exclusion_writer=dropped("rewrite-sanity"),
            )
        )
    return steps


def _test_question_index(recipe: Recipe, kept: dict[str, Curated]) -> NgramIndex:
    """Questions of the ``test`` split (all dialogue configs), for decontaminating ``train``."""
    index = NgramIndex(recipe.filters.decontamination.ngram)
    splits = recipe.splits
    for config, curated in kept.items():
        for doc in curated.docs():
            record = doc["metadata"]["record"]
            if split_of(record["character_id"], splits.test_fraction, splits.seed) == "test":
                index.add(record["question"], f"{config}/{record['dialogue_id']}")
    return index


def build(recipe: Recipe, out_dir: Path, progress: Progress | None = None) -> BuildResult:
    """Build every config of ``recipe`` into ``out_dir`` and check the ledger.

    If ``out_dir`` holds an unfinished build of the same recipe (it was interrupted), the build
    resumes: finished tasks are not run again and the output is the same as an uninterrupted
    build's.

    Raises:
        BuildError: a stage failed or the output folder holds foreign files.
        LedgerError: rows were lost or invented; the manifest is still written for inspection.
    """
    progress = progress or (lambda _msg: None)
    out_dir = out_dir.resolve()
    if _prepare_out_dir(out_dir, recipe):
        progress(f"resuming the unfinished build in {out_dir}")
    if recipe.synthesis is not None:  # generate first, then curate what was generated
        from ocforge.builders.synthesis.run import resolve_synthesized_inputs, synthesize

        synthesize(recipe, out_dir / "synthesis", progress=progress)
        recipe = resolve_synthesized_inputs(recipe, out_dir / "synthesis")
    stages = _Stages(recipe, out_dir, progress)
    filters = recipe.filters
    quality = filters.quality
    try:
        break_patterns = load_patterns(quality.character_break_patterns)
    except ValueError as exc:
        raise BuildError(str(exc)) from None

    schemas: dict[str, pa.Schema] = {}
    outputs: dict[str, ConfigOutput] = {}
    ledgers = {}
    inputs_manifest: list[dict[str, Any]] = []

    def labelled(config: str, specs: list[InputSpec]) -> list[tuple[str, InputSpec]]:
        out = []
        for spec in specs:
            label = _label(recipe, spec)
            n = count_input_records(spec)
            inputs_manifest.append(
                {
                    "config": config,
                    "input": label,
                    "format": spec.resolved_format,
                    "records": n,
                    **input_fingerprint(spec),
                }
            )
            out.append((label, spec))
        return out

    def finish(
        config: str,
        kind: str,
        rows: pa.Table | list[dict[str, Any]],
        schema: pa.Schema,
        n_input: int,
    ) -> int:
        """Write a config's kept rows as Parquet and its ledger; return the number of rows."""
        progress(f"{config}: write parquet")
        table = rows if isinstance(rows, pa.Table) else pa.Table.from_pylist(rows, schema=schema)
        kept = table.num_rows
        splits = write_config(
            table,
            schema,
            config,
            out_dir,
            test_fraction=recipe.splits.test_fraction,
            seed=recipe.splits.seed,
            max_shard_rows=recipe.output.max_shard_rows,
            row_group_rows=recipe.output.row_group_rows,
        )
        schemas[config] = schema
        outputs[config] = ConfigOutput(name=config, kind=kind, splits=splits)
        ledgers[config] = config_ledger(
            n_input, kept, read_removed(_removed_files(out_dir, config))
        )
        ledgers[config].modified.update(_pii_counts(out_dir, config))
        return kept

    # characters first: dialogues are linked to the characters that survive curation
    chars = recipe.characters
    char_inputs = labelled(chars.name, chars.inputs)
    char_steps: list = [
        RecordReader(char_inputs, CHARACTER_FIELDS),
        ValidateCharacters(
            exclusion_writer=stages.removed(chars.name, "validation", "quarantined")
        ),
    ]
    if filters.dialogue.profile_completeness:
        char_steps.append(
            ProfileCompletenessFilter(
                filters.dialogue.required_profile_fields,
                filters.dialogue.max_age,
                exclusion_writer=stages.removed(chars.name, "profile-completeness", "dropped"),
            )
        )
    kept_chars = stages.curate(
        chars.name, char_steps, near=filters.dedup.near.profiles, semantic=True
    )
    char_records = [doc["metadata"]["record"] for doc in kept_chars.docs()]
    finish(
        chars.name,
        "characters",
        char_records,
        CHARACTERS_SCHEMA,
        sum(i["records"] for i in inputs_manifest),
    )
    index_path = stages.work / "character_index.json"
    twins = write_character_index(
        index_path,
        char_records,
        removed_files(out_dir / "removed" / chars.name),
        removed_files(out_dir / "quarantine" / chars.name),
    )

    curated: dict[str, Curated] = {}
    n_inputs: dict[str, int] = {}
    for dcfg in recipe.dialogues:
        name = dcfg.config_name
        before = len(inputs_manifest)
        d_inputs = labelled(name, dcfg.inputs)
        n_inputs[name] = sum(i["records"] for i in inputs_manifest[before:])
        steps = _dialogue_steps(recipe, stages, dcfg, d_inputs, index_path, break_patterns)
        curated[name] = stages.curate(name, steps, near=filters.dedup.near.answers, defer_near=True)

    decon = filters.decontamination
    screens: dict[str, Decontaminate] = {}
    if decon.enabled and curated and (decon.own_test_split or decon.eval_sets):
        progress("decontamination index")
        test_index = stages.work / "decontamination-test.json"
        eval_index = stages.work / "decontamination-eval.json"
        index = (
            _test_question_index(recipe, curated)
            if decon.own_test_split
            else NgramIndex(decon.ngram)
        )
        index.save(test_index)
        try:
            build_eval_index(decon.eval_sets, decon.ngram).save(eval_index)
        except ValueError as exc:
            raise BuildError(str(exc)) from None
        # checked by the stage that hands the rows to the Parquet writer: their last pass
        for name in curated:
            screens[name] = Decontaminate(
                str(eval_index),
                str(test_index),
                recipe.splits.test_fraction,
                recipe.splits.seed,
                exclusion_writer=stages.removed(name, "decontamination", "dropped"),
            )

    for dcfg in recipe.dialogues:
        name = dcfg.config_name
        schema = dialogue_schema(dcfg.strategy)
        # the config's last stage: near duplicates and contaminated rows out, the rows to Arrow
        # in the stage's tasks; the Parquet writer then only sorts and encodes
        batches = stages.work / name / "records"
        screen = [screens[name]] if name in screens else []
        parts = ["minhash-filter"] if curated[name].clusters else []
        parts += ["decontamination"] if screen else []
        stages.run(
            name,
            "+".join(parts) or "records",
            [
                *stages.final_steps(name, curated[name]),
                *screen,
                RecordBatchWriter(str(batches), schema),
            ],
        )
        stages.link_final(name, curated[name])
        table = read_record_table(batches, schema)
        finish(name, "dialogues", table, schema, n_inputs[name])
        # the cascade rule, recorded: dialogues re-pointed from a removed duplicate character
        repointed = _count_sources(table, twins)
        del table
        # Arrow keeps freed buffers in its allocator's pools: hand the config's back
        pa.default_memory_pool().release_unused()
        if repointed:
            ledgers[name].modified["repointed_to_kept_twin"] = repointed

    ledger = Ledger(ledgers, synthesis=_synthesis_set_aside(recipe, out_dir))
    progress("card and manifest")
    default = recipe.dialogues[0].config_name if recipe.dialogues else chars.name
    assert recipe.path is not None

    def write_card_and_manifest() -> dict[str, Any]:
        (out_dir / "README.md").write_text(
            render_card(
                recipe.name, recipe.card, outputs, schemas, ledger, default, recipe.publish.repo
            ),
            encoding="utf-8",
        )
        manifest = build_manifest(
            name=recipe.name,
            recipe_file=recipe.path.name,
            recipe_text=recipe.path.read_text(encoding="utf-8"),
            recipe_sha256=recipe.sha256 or "",
            inputs=inputs_manifest,
            outputs=outputs,
            schemas=schemas,
            ledger=ledger,
        )
        write_manifest(out_dir, manifest)
        return manifest

    manifest = write_card_and_manifest()
    # eval-ready configs derived from the test split (held-out characters), so that lm-eval tasks
    # registered against a release need no code; they read the manifest just written
    if recipe.dialogues and recipe.splits.test_fraction > 0:
        progress("eval configs")
        try:
            evals = write_eval_configs(out_dir, row_group_rows=recipe.output.row_group_rows)
        except EvalConfigError as exc:
            progress(f"no eval configs: {exc}")
        else:
            outputs.update(evals.outputs)
            schemas.update(evals.schemas)
            manifest = write_card_and_manifest()
    shutil.rmtree(stages.work)
    ledger.check()
    _check_min_rows(recipe, ledger)
    return BuildResult(out_dir=out_dir, outputs=outputs, ledger=ledger, manifest=manifest)


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
