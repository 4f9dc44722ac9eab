"""``ocforge build``: run a recipe's pipelines and write a dataset folder in the Hub layout.

This module only wires stages together; the steps themselves live in ``builders``, ``filters``,
``cards`` and ``publish``. Output folder::

    OUT/README.md                 dataset card (configs + dataset_info)
    OUT/release.json              manifest: counts, file hashes, recipe hash, ledger, tool versions
    OUT/data/<config>/<split>-NNNNN-of-NNNNN.parquet
    OUT/removed/<config>/<step>/  dropped rows and duplicates, with reasons (JSONL)
    OUT/quarantine/<config>/<step>/  invalid rows with file, line and error (JSONL)
    OUT/logs/                     datatrove logs and stats per stage
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

from ocforge.builders.sources import RecordReader, count_input_records, input_fingerprint
from ocforge.cards.dataset_card import render_card
from ocforge.errors import BuildError
from ocforge.filters.exact_dedup import filter_step, finder_step, signature_step
from ocforge.filters.executors import make_executor
from ocforge.filters.io import IntermediateReader, intermediate_writer, removed_writer
from ocforge.filters.linking import CascadeCharacterRemoval, ResolveCharacter, write_character_index
from ocforge.filters.quality import CharacterBreakFilter, ResponseLengthFilter, load_patterns
from ocforge.filters.validation import ValidateCharacters, ValidateDialogues
from ocforge.ledger import Ledger, config_ledger, read_removed
from ocforge.outputs import ConfigOutput
from ocforge.publish.layout import write_config
from ocforge.publish.manifest import build_manifest, write_manifest
from ocforge.recipe import CHARACTER_FIELDS, DIALOGUE_FIELDS, InputSpec, Recipe
from ocforge.records import CHARACTERS_SCHEMA, dialogue_schema

_OWNED = ("data", "removed", "quarantine", "logs", ".work", "README.md", "release.json")

Progress = Callable[[str], None]


@dataclass
class BuildResult:
    out_dir: Path
    outputs: dict[str, ConfigOutput]
    ledger: Ledger
    manifest: dict[str, Any]


def _prepare_out_dir(out_dir: Path) -> None:
    """Clear what a previous build wrote; refuse to touch a folder that holds anything else."""
    if out_dir.exists():
        foreign = sorted(p.name for p in out_dir.iterdir() if p.name not in _OWNED)
        if foreign:
            raise BuildError(
                f"output folder {out_dir} holds files ocforge did not write ({', '.join(foreign[:5])}); "
                "choose an empty or new folder"
            )
        for name in _OWNED:
            path = out_dir / name
            if path.is_dir():
                shutil.rmtree(path)
            elif path.exists():
                path.unlink()
    out_dir.mkdir(parents=True, exist_ok=True)


def _label(recipe: Recipe, spec: InputSpec) -> str:
    """How an input is named in errors, provenance and the manifest: relative to the recipe."""
    if spec.path is None:
        return spec.hub.repo  # type: ignore[union-attr]
    return Path(os.path.relpath(spec.path, recipe.base_dir)).as_posix()


class _Stages:
    """The per-config stages of one build, all on the recipe's executor."""

    def __init__(self, recipe: Recipe, out_dir: Path, progress: Progress):
        self.recipe = recipe
        self.out = out_dir
        self.work = out_dir / ".work"
        self.progress = progress

    def _run(self, config: str, stage: str, pipeline: list, tasks: int | None = None) -> None:
        self.progress(f"{config}: {stage}")
        executor = make_executor(
            self.recipe.executor, pipeline, str(self.out / "logs" / config / stage), tasks=tasks
        )
        try:
            executor.run()
        except Exception as exc:  # datatrove re-raises a task's error; name the stage
            raise BuildError(f"config {config!r}, stage {stage!r} failed: {exc}") from exc

    def removed(self, config: str, step: str, outcome: str, reason: str = ""):
        base = "quarantine" if outcome == "quarantined" else "removed"
        return removed_writer(str(self.out / base / config / step), outcome, step, reason)

    def curate(self, config: str, steps: list) -> Path:
        """Run ``steps`` (reader first), then exact dedup; return the folder of kept documents."""
        filtered = self.work / config / "filtered"
        self._run(config, "filter", [*steps, intermediate_writer(str(filtered))])
        if not self.recipe.filters.dedup.exact:
            return filtered
        kept = self.work / config / "kept"
        sigs, dups = self.work / config / "sigs", self.work / config / "dups"
        self._run(
            config,
            "dedup-signatures",
            [IntermediateReader(str(filtered)), signature_step(str(sigs))],
        )
        self._run(config, "dedup-find", [finder_step(str(sigs), str(dups))], tasks=1)
        dedup_writer = self.removed(config, "exact-dedup", "duplicates", "exact_duplicate")
        self._run(
            config,
            "dedup-filter",
            [
                IntermediateReader(str(filtered)),
                filter_step(str(dups), dedup_writer),
                intermediate_writer(str(kept)),
            ],
        )
        _link_duplicates(kept, self.out / "removed" / config / "exact-dedup")
        return kept


def _read_docs(folder: Path) -> list[dict[str, Any]]:
    docs = []
    for path in sorted(folder.glob("*.jsonl")):
        with path.open("rb") as fh:
            docs.extend(orjson.loads(line) for line in fh if line.strip())
    return docs


def _rewrite_jsonl(path: Path, rows: list[dict[str, Any]]) -> None:
    tmp = path.with_suffix(".tmp")
    with tmp.open("wb") as fh:
        for row in rows:
            fh.write(orjson.dumps(row, option=orjson.OPT_APPEND_NEWLINE))
    tmp.replace(path)


def _link_duplicates(kept_folder: Path, removed_folder: Path) -> None:
    """Record in each removed duplicate the id of the kept row it duplicates."""
    if not removed_folder.is_dir():
        return
    kept_by_key = {d["metadata"]["dedup_key"]: d["id"] for d in _read_docs(kept_folder)}
    for path in sorted(removed_folder.glob("*.jsonl")):
        rows = [orjson.loads(line) for line in path.read_bytes().splitlines() if line.strip()]
        for row in rows:
            row["duplicate_of"] = kept_by_key.get(row.pop("dedup_key", None))
        _rewrite_jsonl(path, rows)


def _removed_files(out_dir: Path, config: str) -> list[Path]:
    return sorted(
        [
            *(out_dir / "removed" / config).glob("*/*.jsonl"),
            *(out_dir / "quarantine" / config).glob("*/*.jsonl"),
        ]
    )


def build(recipe: Recipe, out_dir: Path, progress: Progress | None = None) -> BuildResult:
    """Build every config of ``recipe`` into ``out_dir`` and check the ledger.

    Raises:
        BuildError: a stage failed or the output folder holds foreign files.
        LedgerError: rows were lost or invented; the manifest is still written for inspection.
    """
    progress = progress or (lambda _msg: None)
    out_dir = out_dir.resolve()
    _prepare_out_dir(out_dir)
    stages = _Stages(recipe, out_dir, progress)
    stages.work.mkdir(parents=True)
    quality = recipe.filters.quality
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
        config: str, kind: str, kept_folder: Path, schema: pa.Schema, n_input: int
    ) -> list[dict]:
        docs = _read_docs(kept_folder)
        records = [d["metadata"]["record"] for d in docs]
        progress(f"{config}: write parquet")
        splits = write_config(
            records,
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
            n_input, len(records), read_removed(_removed_files(out_dir, config))
        )
        return records

    # characters first: dialogues are linked to the characters that survive curation
    chars = recipe.characters
    char_inputs = labelled(chars.name, chars.inputs)
    kept_chars = stages.curate(
        chars.name,
        [
            RecordReader(char_inputs, CHARACTER_FIELDS),
            ValidateCharacters(
                exclusion_writer=stages.removed(chars.name, "validation", "quarantined")
            ),
        ],
    )
    char_records = finish(
        chars.name,
        "characters",
        kept_chars,
        CHARACTERS_SCHEMA,
        sum(i["records"] for i in inputs_manifest),
    )
    index_path = stages.work / "character_index.json"
    write_character_index(index_path, *_character_index(char_records, out_dir, chars.name))

    for dcfg in recipe.dialogues:
        name = dcfg.config_name
        before = len(inputs_manifest)
        d_inputs = labelled(name, dcfg.inputs)
        steps = [
            RecordReader(d_inputs, DIALOGUE_FIELDS),
            ValidateDialogues(
                dcfg.strategy, exclusion_writer=stages.removed(name, "validation", "quarantined")
            ),
            ResolveCharacter(
                str(index_path), stages.removed(name, "resolve-character", "quarantined")
            ),
            CascadeCharacterRemoval(str(index_path), stages.removed(name, "cascade", "dropped")),
            ResponseLengthFilter(
                quality.min_response_words,
                quality.max_response_words,
                exclusion_writer=stages.removed(name, "response-length", "dropped"),
            ),
        ]
        if quality.character_breaks:
            steps.append(
                CharacterBreakFilter(
                    break_patterns,
                    exclusion_writer=stages.removed(name, "character-break", "dropped"),
                )
            )
        kept = stages.curate(name, steps)
        finish(
            name,
            "dialogues",
            kept,
            dialogue_schema(dcfg.strategy),
            sum(i["records"] for i in inputs_manifest[before:]),
        )

    ledger = Ledger(ledgers)
    progress("card and manifest")
    default = recipe.dialogues[0].config_name if recipe.dialogues else chars.name
    (out_dir / "README.md").write_text(
        render_card(
            recipe.name, recipe.card, outputs, schemas, ledger, default, recipe.publish.repo
        ),
        encoding="utf-8",
    )
    assert recipe.path is not None
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
    shutil.rmtree(stages.work)
    ledger.check()
    return BuildResult(out_dir=out_dir, outputs=outputs, ledger=ledger, manifest=manifest)


def _character_index(
    kept: list[dict[str, Any]], out_dir: Path, config: str
) -> tuple[dict[str, str], dict[str, str]]:
    """Kept profiles by id, and every source reference of a valid character row -> its id."""
    kept_profiles = {r["character_id"]: r["profile"] for r in kept}
    references: dict[str, str] = {}
    removed_rows = []
    for path in sorted((out_dir / "removed" / config).glob("*/*.jsonl")):
        removed_rows += [
            orjson.loads(line) for line in path.read_bytes().splitlines() if line.strip()
        ]
    for record in [*kept, *(r["record"] for r in removed_rows if r.get("record"))]:
        source_ref = (record.get("provenance") or {}).get("record")
        if source_ref:
            references.setdefault(source_ref, record["character_id"])
    # quarantined character rows: their dialogues are dropped as "character_removed" rather than
    # quarantined as referring to a character that does not exist
    for path in sorted((out_dir / "quarantine" / config).glob("*/*.jsonl")):
        for line in path.read_bytes().splitlines():
            row = orjson.loads(line) if line.strip() else {}
            source_ref = (row.get("record") or {}).get("character_id")
            if isinstance(source_ref, str):
                references.setdefault(source_ref, f"quarantined:{source_ref}")
    return kept_profiles, references
