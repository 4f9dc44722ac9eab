"""The dataset card (README.md): Hub metadata with ``configs:`` and ``dataset_info`` for every
config, and a generated body (structure, splits, the ledger).

Metadata goes through huggingface_hub's ``DatasetCardData`` and datasets' ``DatasetInfosDict``,
so the YAML is what the Hub and ``load_dataset`` read. Generated sections sit between
``<!-- ocforge:generated -->`` markers so that a later release can replace them and keep the rest.
"""

from __future__ import annotations

from collections.abc import Mapping

import datasets
import pyarrow as pa
from datasets.info import DatasetInfosDict
from huggingface_hub import DatasetCardData

from ocforge.ledger import Ledger
from ocforge.outputs import ConfigOutput
from ocforge.recipe import CardSettings

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
    """Hub metadata: card settings, ``configs`` (data files per split) and ``dataset_info``."""
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


def _table(header: list[str], rows: list[list[object]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def card_body(
    name: str,
    settings: CardSettings,
    outputs: Mapping[str, ConfigOutput],
    ledger: Ledger,
    default_config: str,
    repo_id: str | None = None,
) -> str:
    """The generated part of the card body (between the generated markers)."""
    split_rows = [
        [
            f"`{cfg}`",
            out.kind,
            *(out.splits[s].rows if s in out.splits else "-" for s in ("train", "test")),
        ]
        for cfg, out in outputs.items()
    ]
    ledger_rows = [
        [f"`{r['config']}`", r["outcome"], r["reason"] or "-", r["rows"]] for r in ledger.rows()
    ]
    title = settings.pretty_name or name
    return "\n".join(
        [
            GENERATED_START,
            f"# {title}",
            "",
            settings.description.strip() or "Synthetic role-play data built with ocforge.",
            "",
            "## Configs and splits",
            "",
            "`test` holds whole held-out characters (chosen by a stable hash of `character_id`), "
            "so evaluations measure generalisation to unseen characters.",
            "",
            _table(["config", "kind", "train", "test"], split_rows),
            "",
            "```python",
            "from datasets import load_dataset",
            f'ds = load_dataset("{repo_id or "ORG/NAME"}", "{default_config}")',
            "```",
            "",
            "## Curation ledger",
            "",
            f"Every input row ends in exactly one place: {ledger.summary()}. The removed rows, "
            "with their reasons, are kept in the build's `removed/` and `quarantine/` folders.",
            "",
            _table(["config", "outcome", "reason", "rows"], ledger_rows),
            GENERATED_END,
            "",
        ]
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
