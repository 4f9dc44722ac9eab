"""Eval-ready configs of a dataset release, built from its ``test`` split (held-out characters).

They are plain Parquet configs next to the training data, so lm-eval tasks read them with
``load_dataset(repo, config, revision=...)`` and need no code to prepare documents:

* ``eval_character_choice``: one row per test dialogue whose question was also answered by other
  characters (in the same strategy config): the character's profile, the question, the answers the
  question's characters gave (one per character, ordered by dialogue id) and ``label``, the index
  of this character's answer;
* ``eval_dialogues``: one row per test dialogue: the chat context (system = profile, user =
  question) and the reference answer.

The documents are test rows only. Distractor answers are the other answers to the same question:
kept rows of any split, and the ``train`` answers that decontamination removed because their
question is a test question (``removed/<config>/test_overlap/``); neither is training data.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import polars as pl
import pyarrow as pa

from ocforge.errors import EvalConfigError
from ocforge.layout import write_config
from ocforge.manifest import ConfigEntry, ReleaseManifest, read_manifest
from ocforge.outputs import ConfigOutput
from ocforge.parent_layout import ParentLayout
from ocforge.records import MESSAGE

CHARACTER_CHOICE = "eval_character_choice"
DIALOGUES = "eval_dialogues"
EVAL_CONFIGS = (CHARACTER_CHOICE, DIALOGUES)
EVAL_KIND = "eval"
EVAL_SPLIT = "test"
#: the removed-rows folder of train dialogues whose question is a test question
TEST_OVERLAP = "test_overlap"
_ANSWER_COLUMNS = ["dialogue_id", "character_id", "strategy", "question_id", "question", "response"]

#: the columns every eval config starts with: which dialogue, character and question
_KEY_FIELDS = [
    pa.field("dialogue_id", pa.string(), nullable=False),
    pa.field("character_id", pa.string(), nullable=False),
    pa.field("strategy", pa.string()),
    pa.field("question_id", pa.string()),
    pa.field("profile", pa.string()),
    pa.field("question", pa.string()),
]

CHARACTER_CHOICE_SCHEMA = pa.schema(
    [
        *_KEY_FIELDS,
        pa.field("choices", pa.list_(pa.string())),
        pa.field("choice_ids", pa.list_(pa.string())),  # dialogue ids of the choices
        pa.field("label", pa.int64()),
    ]
)

DIALOGUES_SCHEMA = pa.schema(
    [
        *_KEY_FIELDS,
        pa.field("context", pa.list_(MESSAGE)),  # system + user turns, without the answer
        pa.field("reference", pa.string()),
    ]
)

SCHEMAS: dict[str, pa.Schema] = {
    CHARACTER_CHOICE: CHARACTER_CHOICE_SCHEMA,
    DIALOGUES: DIALOGUES_SCHEMA,
}


@dataclass
class EvalConfigs:
    """What :func:`write_eval_configs` wrote: outputs and schemas, keyed by config name.

    ``outputs``/``schemas`` have the shapes that ``cards.dataset_card.card_data`` and
    ``ocforge.manifest.build_manifest`` take, so a release can list these configs like the others.
    """

    outputs: dict[str, ConfigOutput]
    schemas: dict[str, pa.Schema]


def _dialogue_frames(root: Path, manifest: ReleaseManifest) -> pl.DataFrame:
    frames = []
    for name, info in manifest.configs.items():
        if info.kind != "dialogues":
            continue
        for split, split_info in info.splits.items():
            for f in split_info.files:
                # only the columns used: the chat messages are most of a file's bytes
                frame = pl.read_parquet(root / f.path, columns=_ANSWER_COLUMNS).select(
                    _ANSWER_COLUMNS
                )
                frames.append(frame.with_columns(config=pl.lit(name), split=pl.lit(split)))
        frames += _test_overlap_answers(root, name)
    if not frames:
        raise EvalConfigError(f"{root}: release.json lists no dialogue configs")
    return pl.concat(frames)


def _test_overlap_answers(root: Path, config: str) -> list[pl.DataFrame]:
    """Answers that decontamination removed from ``train`` because their question is a ``test``
    question: the other characters' answers to it, so they can serve as distractors (they are
    not training data, so using them here leaks nothing)."""
    files = sorted((root / "removed" / config / TEST_OVERLAP).glob("*.parquet"))
    if not files:
        return []
    records = pl.concat([pl.read_parquet(f, columns=["record"]) for f in files])
    rows = [orjson.loads(r) for r in records.get_column("record").to_list()]
    frame = pl.DataFrame(
        [{k: r.get(k) for k in _ANSWER_COLUMNS} for r in rows],
        schema={k: pl.String for k in _ANSWER_COLUMNS},
    )
    return [frame.with_columns(config=pl.lit(config), split=pl.lit(TEST_OVERLAP))]


def _profiles(root: Path, manifest: ReleaseManifest) -> pl.DataFrame:
    files = [
        root / f.path
        for info in manifest.configs.values()
        if info.kind == "characters"
        for f in info.files()
    ]
    if not files:
        raise EvalConfigError(f"{root}: release.json lists no characters config")
    columns = ["character_id", "profile"]
    return pl.concat([pl.read_parquet(p, columns=columns).select(columns) for p in files])


def eval_rows(build_dir: Path) -> dict[str, list[dict[str, Any]]]:
    """The rows of both eval configs for a build folder (``release.json`` + Parquet), in order.

    Raises:
        EvalConfigError: no ``release.json``, no dialogue configs, or no ``test`` split.
    """
    root = Path(build_dir)
    if not (root / "release.json").is_file():
        raise EvalConfigError(
            f"{root} has no release.json: not a folder written by 'ocforge build'"
        )
    manifest = read_manifest(root)
    dialogues = _dialogue_frames(root, manifest)
    # in id order, as write_config stores them; profiles joined to the test rows only (a
    # profile per dialogue of the whole build would be most of this step's memory)
    test = (
        dialogues.filter(pl.col("split") == EVAL_SPLIT)
        .join(_profiles(root, manifest), on="character_id", how="left")
        .sort("dialogue_id")
    )
    if not any(EVAL_SPLIT in info.splits for info in manifest.configs.values()):
        raise EvalConfigError(
            f"{root}: no rows in any '{EVAL_SPLIT}' split (splits.test_fraction is 0, or no "
            "kept character hashed into it)"
        )

    dialogue_rows = _dialogue_rows(test)
    choice_rows = _choice_rows(test, dialogues)
    return {CHARACTER_CHOICE: choice_rows, DIALOGUES: dialogue_rows}


def _dialogue_rows(test: pl.DataFrame) -> list[dict[str, Any]]:
    """``eval_dialogues``: each test dialogue's chat context and its reference answer."""
    return [
        {
            "dialogue_id": r["dialogue_id"],
            "character_id": r["character_id"],
            "strategy": r["strategy"],
            "question_id": r["question_id"],
            "profile": r["profile"],
            "question": r["question"],
            "context": [
                {"role": "system", "content": r["profile"]},
                {"role": "user", "content": r["question"]},
            ],
            "reference": r["response"],
        }
        for r in test.iter_rows(named=True)
    ]


def _choice_rows(test: pl.DataFrame, dialogues: pl.DataFrame) -> list[dict[str, Any]]:
    """``eval_character_choice``: each test dialogue's question with the answers the question's
    characters gave, the label being this character's."""
    # Candidate answers per (config, question): one per character (the lowest dialogue id), so
    # that the label is never ambiguous; the document's own answer always stands for its character.
    asked = test.select("config", "question_id").unique()
    candidates = (
        dialogues.join(asked, on=["config", "question_id"], how="semi")
        .sort("dialogue_id")
        .group_by("config", "question_id", "character_id", maintain_order=True)
        .first()
        .select("config", "question_id", "character_id", "dialogue_id", "response")
    )
    by_question: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for r in candidates.iter_rows(named=True):
        by_question.setdefault((r["config"], r["question_id"]), []).append(r)
    choice_rows = []
    for r in test.iter_rows(named=True):
        others = [
            c
            for c in by_question.get((r["config"], r["question_id"]), [])
            if c["character_id"] != r["character_id"]
        ]
        if not others:
            continue  # nobody else answered: nothing to choose between
        options = sorted(
            [(r["dialogue_id"], r["response"])]
            + [(c["dialogue_id"], c["response"]) for c in others]
        )
        ids = [o[0] for o in options]
        choice_rows.append(
            {
                "dialogue_id": r["dialogue_id"],
                "character_id": r["character_id"],
                "strategy": r["strategy"],
                "question_id": r["question_id"],
                "profile": r["profile"],
                "question": r["question"],
                "choices": [o[1] for o in options],
                "choice_ids": ids,
                "label": ids.index(r["dialogue_id"]),
            }
        )
    return choice_rows


def write_eval_configs(
    build_dir: Path, *, row_group_rows: int = 1000, parent: ParentLayout | None = None
) -> EvalConfigs:
    """Write ``data/eval_character_choice/test-*.parquet`` and ``data/eval_dialogues/test-*.parquet``
    into a build folder, built from its ``test`` split. Deterministic: same build, same bytes.

    The card and ``release.json`` are not touched; see :func:`declare_eval_configs`.

    Raises:
        EvalConfigError: see :func:`eval_rows`.
    """
    root = Path(build_dir)
    rows = eval_rows(root)
    outputs = {}
    for name, schema in SCHEMAS.items():
        # every row is a test row: test_fraction=1.0 puts them all in `test` whatever the hash
        splits = write_config(
            rows[name],
            schema,
            name,
            root,
            test_fraction=1.0,
            seed=0,
            max_shard_rows=100_000,
            row_group_rows=row_group_rows,
            parent=parent.splits(name) if parent else None,  # ocforge/parent_layout.py
        )
        splits.pop("train", None)
        for stale in (root / "data" / name).glob("train-*.parquet"):
            stale.unlink()
        outputs[name] = ConfigOutput(name=name, kind=EVAL_KIND, splits=splits)
    return EvalConfigs(outputs=outputs, schemas=dict(SCHEMAS))


def declare_eval_configs(build_dir: Path, configs: EvalConfigs) -> None:
    """Add the eval configs to a build folder's ``README.md`` (``configs:`` and ``dataset_info``)
    and ``release.json`` (``configs``, kind ``eval``), keeping everything else.

    For a build that was not made with the eval configs in its card from the start.
    """
    import datasets
    from huggingface_hub import DatasetCard

    from ocforge.manifest import write_manifest

    root = Path(build_dir)
    card = DatasetCard.load(root / "README.md")
    entries = [c for c in card.data.get("configs") or [] if c["config_name"] not in configs.outputs]
    infos = [
        i for i in card.data.get("dataset_info") or [] if i["config_name"] not in configs.outputs
    ]
    for name, out in configs.outputs.items():
        entries.append(
            {
                "config_name": name,
                "data_files": [
                    {"split": s, "path": f"data/{name}/{s}-*.parquet"} for s in out.splits
                ],
            }
        )
        info = datasets.DatasetInfo(
            features=datasets.Features.from_arrow_schema(configs.schemas[name]),
            config_name=name,
        )
        splits = datasets.SplitDict()
        for split in out.splits.values():
            splits.add(
                datasets.SplitInfo(
                    name=split.name, num_bytes=split.num_bytes, num_examples=split.rows
                )
            )
        info.splits = splits
        info.download_size = sum(s.download_bytes for s in out.splits.values())
        info.dataset_size = sum(s.num_bytes for s in out.splits.values())
        infos.append({"config_name": name, **info._to_yaml_dict()})
    card.data["configs"] = entries
    card.data["dataset_info"] = infos
    card.save(root / "README.md")

    manifest = read_manifest(root)
    entries = {
        name: ConfigEntry.from_output(out, configs.schemas[name])
        for name, out in configs.outputs.items()
    }
    # a config declared before keeps its place; new ones go after the others
    write_manifest(root, manifest.model_copy(update={"configs": {**manifest.configs, **entries}}))
