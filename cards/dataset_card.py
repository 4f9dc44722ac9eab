"""The dataset card (README.md): Hub metadata with ``configs:`` and ``dataset_info`` for every
config, and a generated body (structure, splits, the ledger).

Metadata goes through huggingface_hub's ``DatasetCardData`` and datasets' ``DatasetInfosDict``,
so the YAML is what the Hub and ``load_dataset`` read. Generated sections sit between
``<!-- ocforge:generated -->`` markers so that a later release can replace them and keep the rest.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import datasets
import jinja2
import pyarrow as pa
from datasets.info import DatasetInfosDict
from huggingface_hub import DatasetCard, DatasetCardData

from ocforge.hashing import file_sha256
from ocforge.ledger import Ledger
from ocforge.outputs import ConfigOutput
from ocforge.recipe import CardSettings

#: the templates of the build card (README.md of a build folder) and of a release card, rendered
#: by :func:`render_template`
TEMPLATES_DIR = Path(__file__).parent
BUILD_TEMPLATE = "dataset_card_build.md.j2"
RELEASE_TEMPLATE = "dataset_card.md.j2"
TEMPLATE_PATH = TEMPLATES_DIR / RELEASE_TEMPLATE

GENERATED_START = "<!-- ocforge:generated:start -->"
GENERATED_END = "<!-- ocforge:generated:end -->"

_SIZE_CATEGORIES = [
    (1_000, "n<1K"),
    (10_000, "1K<n<10K"),
    (100_000, "10K<n<100K"),
    (1_000_000, "100K<n<1M"),
    (10_000_000, "1M<n<10M"),
]


def size_category(rows: int) -> str:
    for limit, name in _SIZE_CATEGORIES:
        if rows < limit:
            return name
    return "n>10M" if rows >= 10_000_000 else "1M<n<10M"


def card_data(
    settings: CardSettings,
    outputs: Mapping[str, ConfigOutput],
    schemas: Mapping[str, pa.Schema],
    default_config: str,
) -> DatasetCardData:
    """Hub metadata: card settings, ``configs`` (data files per split) and ``dataset_info``.

    Only splits with rows are listed (``datasets`` cannot load a split of 0 rows): a config
    without any is left out of ``configs`` and ``dataset_info`` alike."""
    outputs = {name: out for name, out in outputs.items() if out.splits}
    data = DatasetCardData(
        pretty_name=settings.pretty_name,
        license=settings.license,
        language=list(settings.language),
        tags=list(settings.tags),
        task_categories=list(settings.task_categories),
        size_categories=[size_category(max((o.rows for o in outputs.values()), default=0))],
        annotations_creators=["machine-generated"],
        language_creators=["machine-generated"],
    )
    data["configs"] = [
        {
            "config_name": name,
            **({"default": True} if name == default_config else {}),
            "data_files": [
                {"split": split, "path": f"data/{name}/{split}-*.parquet"} for split in out.splits
            ],
        }
        for name, out in outputs.items()
    ]
    infos = DatasetInfosDict()
    for name, out in outputs.items():
        splits = datasets.SplitDict()
        for split in out.splits.values():
            splits.add(
                datasets.SplitInfo(
                    name=split.name, num_bytes=split.num_bytes, num_examples=split.rows
                )
            )
        infos[name] = datasets.DatasetInfo(
            features=datasets.Features.from_arrow_schema(schemas[name]),
            splits=splits,
            download_size=sum(s.download_bytes for s in out.splits.values()),
            dataset_size=sum(s.num_bytes for s in out.splits.values()),
            config_name=name,
        )
    infos.to_dataset_card_data(data)
    return data


def card_body(
    name: str,
    settings: CardSettings,
    outputs: Mapping[str, ConfigOutput],
    ledger: Ledger,
    default_config: str,
    repo_id: str | None = None,
) -> str:
    """The generated part of a build's card body (between the generated markers, included)."""
    split_rows = [
        {
            "config": cfg,
            "kind": out.kind,
            **{s: out.splits[s].rows if s in out.splits else "-" for s in ("train", "test")},
        }
        for cfg, out in outputs.items()
    ]
    return render_template(
        BUILD_TEMPLATE,
        {
            "generated_start": GENERATED_START,
            "generated_end": GENERATED_END,
            "title": settings.pretty_name or name,
            "description": settings.description.strip()
            or "Synthetic role-play data built with ocforge.",
            "split_rows": split_rows,
            "partial_splits": any(set(out.splits) != {"train", "test"} for out in outputs.values()),
            "repo_id": repo_id or "ORG/NAME",
            "default_config": default_config,
            "ledger_summary": ledger.summary(),
            "ledger_rows": ledger.rows(),
            "ledger_modified": ledger.modified_rows(),
        },
    )


def render_card(
    name: str,
    settings: CardSettings,
    outputs: Mapping[str, ConfigOutput],
    schemas: Mapping[str, pa.Schema],
    ledger: Ledger,
    default_config: str,
    repo_id: str | None = None,
) -> str:
    """The whole README.md: YAML front matter and generated body."""
    data = card_data(settings, outputs, schemas, default_config)
    return f"---\n{data.to_yaml()}\n---\n\n" + card_body(
        name, settings, outputs, ledger, default_config, repo_id
    )


# --- release cards: statistics, plots, provenance, changelog; merged with the card on the Hub ---

HAND_EDIT_NOTE = (
    "<!-- Text outside the ocforge:generated markers is yours: later releases keep it. -->"
)
#: metadata keys ocforge computes from the data; always replaced on release
COMPUTED_KEYS = ("configs", "dataset_info", "size_categories")

FIELD_DOCS = {
    "character_id": "stable content hash of the normalised profile",
    "persona": "the persona the character was built from",
    "persona_id": "content hash of the persona",
    "name": "profile field",
    "age": "profile field, as written",
    "age_years": "whole years parsed from age (a range's midpoint, rounded down); null when no number",
    "gender": "profile field",
    "race": "profile field",
    "birth_place": "profile field",
    "appearance": "profile field",
    "general_experience": "profile field",
    "personality": "profile field",
    "profile": "full free-text profile (starts with `Name:`)",
    "source": "input the row came from",
    "generator": "model that wrote the row, or `import`",
    "provenance": "input file or repo, source record id, line",
    "dialogue_id": "content hash of strategy, character, question and answer",
    "strategy": "`rewrite` (OpenCharacter-R) or `generate` (OpenCharacter-G)",
    "source_corpus": "instruction corpus of the question (e.g. lima, alpaca)",
    "question_id": "content hash of the normalised question",
    "question": "the user instruction",
    "response": "the in-character answer",
    "original_response": "the corpus answer that was rewritten (rewrite only)",
    "messages": "chat format: system = character profile, user, assistant",
    "quality": "quality signals (e.g. answer length in words)",
}

LICENSE_NOTE = (
    "Released under `{license}`. Data derived from Persona Hub personas "
    "(proj-persona/PersonaHub, CC BY-NC-SA 4.0) inherits its non-commercial, share-alike terms; "
    "check the licenses of the instruction corpora and of the generator models' outputs before use."
)


def card_metadata(
    settings: CardSettings,
    outputs: Mapping[str, ConfigOutput],
    schemas: Mapping[str, pa.Schema],
    default_config: str,
) -> DatasetCardData:
    """Release metadata: :func:`card_data` plus source datasets and the ``datasets`` library tag."""
    data = card_data(settings, outputs, schemas, default_config)
    sources = list(getattr(settings, "source_datasets", []) or [])
    if sources:
        data["source_datasets"] = sources
    return data


def schema_fields(schema: pa.Schema) -> list[dict[str, str]]:
    return [
        {"name": f.name, "type": str(f.type).replace("|", "\\|"), "doc": FIELD_DOCS.get(f.name, "")}
        for f in schema
    ]


@functools.cache
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES_DIR)),
        keep_trailing_newline=True,
        autoescape=False,  # Markdown, not HTML
        undefined=jinja2.StrictUndefined,
    )


def render_template(name: str, context: Mapping[str, Any]) -> str:
    """Render one of the card templates (:data:`BUILD_TEMPLATE`, :data:`RELEASE_TEMPLATE`)."""
    return _environment().get_template(name).render(**context)


def render_release_body(context: dict[str, Any]) -> str:
    """The generated block (markers included) of a release card, from the Jinja template."""
    text = render_template(RELEASE_TEMPLATE, context).strip()
    return f"{GENERATED_START}\n{text}\n{GENERATED_END}\n"


def template_sha256() -> str:
    """SHA-256 of the release card's template (recorded with the card's digest)."""
    return file_sha256(TEMPLATE_PATH)


def merge_card(
    existing: str | None,
    metadata: DatasetCardData,
    generated_body: str,
    previous_generated: Mapping[str, Any] | None = None,
) -> str:
    """Combine a freshly generated card with the card currently on the Hub.

    * Body: the generated block (between the markers) is replaced; everything outside it, which
      a maintainer may have written on the Hub, is kept. A card without markers keeps its text
      below the new generated block.
    * Metadata: :data:`COMPUTED_KEYS` are always replaced. Other generated keys (license, tags,
      ...) are replaced unless the card on the Hub changed them by hand since the previous
      release (``previous_generated`` is that release's generated metadata); keys ocforge does
      not generate are kept as they are.
    """
    new = metadata.to_dict()
    if existing is None or not existing.strip():
        body = f"{generated_body}\n## Notes\n\n{HAND_EDIT_NOTE}\n"
        return _assemble(new, body)
    card = DatasetCard(existing, ignore_metadata_errors=True)
    merged = card.data.to_dict()
    previous = dict(previous_generated or {})
    for key, value in new.items():
        hand_edited = (
            key not in COMPUTED_KEYS
            and key in merged
            and key in previous
            and merged[key] != previous[key]
        )
        if not hand_edited:
            merged[key] = value
    for key in previous:
        # a generated key the new release no longer produces (e.g. source_datasets removed)
        if key not in new and key not in COMPUTED_KEYS and merged.get(key) == previous[key]:
            merged.pop(key, None)
    text = card.text
    start, end = text.find(GENERATED_START), text.find(GENERATED_END)
    if start != -1 and end > start:
        body = text[:start] + generated_body.rstrip("\n") + text[end + len(GENERATED_END) :]
    else:
        body = generated_body + "\n" + text.lstrip("\n")
    return _assemble(merged, body)


def _assemble(metadata: dict[str, Any], body: str) -> str:
    data = DatasetCardData(**metadata)
    return f"---\n{data.to_yaml()}\n---\n\n{body.lstrip(chr(10))}"
