"""The data mix of a training recipe and the rows it loses, counted before training.

For each ``data:`` entry: the config's ``train`` rows, those of the selected source corpora
(``source_corpus``), minus the rows whose assistant answer lies wholly beyond ``max_length`` once
tokenised with the training chat template (TRL drops those without a word). Every row of the
split is accounted for: ``rows = used + dropped``, per config and reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ocforge.errors import TrainError
from ocforge.manifest import ReleaseManifest
from ocforge.train.recipe import DataSource

REQUIRED_COLUMNS = ("dialogue_id", "source_corpus", "messages")
CORPUS_NOT_SELECTED = "corpus_not_selected"
TRUNCATED = "no_assistant_token_within_max_length"
MAX_IDS = 100  # dropped row ids listed per reason in the manifest (all are counted)


@dataclass
class ConfigLedger:
    """What one ``data:`` entry gave: rows in the split, per corpus, used and dropped."""

    rows: int
    corpora: dict[str, int]  # rows per source corpus in the split
    selected: int
    used: int
    dropped: dict[str, int] = field(default_factory=dict)
    dropped_ids: dict[str, list[str]] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "corpora": dict(sorted(self.corpora.items())),
            "selected": self.selected,
            "used": self.used,
            "dropped": dict(sorted(self.dropped.items())),
            "dropped_ids": {k: v for k, v in sorted(self.dropped_ids.items())},
        }


def check_configs(manifest: ReleaseManifest, sources: list[DataSource]) -> None:
    """Every ``data:`` config is a dialogue config of the release with a ``train`` split.

    Raises:
        TrainError: naming the configs the release does have.
    """
    configs = manifest.configs
    for i, source in enumerate(sources):
        info = configs.get(source.config)
        if info is None:
            raise TrainError(
                f"data[{i}].config {source.config!r} is not a config of this release: it has "
                + ", ".join(sorted(configs))
            )
        if info.kind != "dialogues":
            raise TrainError(
                f"data[{i}].config {source.config!r} holds {info.kind}, not dialogues: train on "
                + ", ".join(sorted(n for n, c in configs.items() if c.kind == "dialogues"))
            )
        train = info.splits.get("train")
        if train is None or not train.rows:
            raise TrainError(
                f"data[{i}].config {source.config!r} has no train rows in this release"
            )


def assistant_within(
    tokenizer: Any, messages: list[dict], template: str | None, limit: int | None
) -> bool:
    """Whether any assistant token of ``messages`` lies in the first ``limit`` tokens, with the
    tokenisation TRL uses (``apply_chat_template(..., return_assistant_tokens_mask=True)``).

    Raises:
        TrainError: the template marks no assistant token at all.
    """
    out = tokenizer.apply_chat_template(
        messages,
        tokenize=True,
        return_dict=True,
        return_assistant_tokens_mask=True,
        chat_template=template,
    )
    mask = out["assistant_masks"]
    if 1 not in mask:
        raise TrainError(
            "the training chat template marks no assistant token: its {% generation %} markers "
            "must surround the assistant content"
        )
    return limit is None or 1 in mask[:limit]


def _select(ds: Any, source: DataSource, label: str) -> tuple[list[int], ConfigLedger]:
    missing = [c for c in REQUIRED_COLUMNS if c not in ds.column_names]
    if missing:
        raise TrainError(
            f"{label}: no column(s) {', '.join(missing)}: not a dialogue config (train on the "
            "configs whose rows carry chat `messages`, e.g. generate or rewrite)"
        )
    corpora = ds["source_corpus"]
    per_corpus: dict[str, int] = {}
    for c in corpora:
        per_corpus[str(c)] = per_corpus.get(str(c), 0) + 1
    wanted = set(source.corpora) if source.corpora is not None else None
    keep = [i for i, c in enumerate(corpora) if wanted is None or c in wanted]
    ledger = ConfigLedger(rows=ds.num_rows, corpora=per_corpus, selected=len(keep), used=0)
    if ds.num_rows - len(keep):
        ledger.dropped[CORPUS_NOT_SELECTED] = ds.num_rows - len(keep)
    return keep, ledger


def mix(
    folders: dict[str, Path],
    sources: list[DataSource],
    tokenizer: Any,
    template: str | None,
    max_length: int | None,
) -> tuple[Any, dict[str, ConfigLedger]]:
    """The training rows (a ``datasets.Dataset`` with one ``messages`` column, in recipe order)
    and the ledger per config.

    Raises:
        TrainError: a config is not a dialogue config, or no row is left to train on.
    """
    import datasets

    parts, ledgers = [], {}
    for source in sources:
        ds = datasets.load_from_disk(str(folders[source.config]))
        keep, ledger = _select(ds, source, f"config {source.config!r}")
        ids, messages = ds["dialogue_id"], ds["messages"]
        fits = [i for i in keep if assistant_within(tokenizer, messages[i], template, max_length)]
        lost = sorted(set(keep) - set(fits))
        if lost:
            ledger.dropped[TRUNCATED] = len(lost)
            ledger.dropped_ids[TRUNCATED] = [ids[i] for i in lost[:MAX_IDS]]
        ledger.used = len(fits)
        ledgers[source.config] = ledger
        parts.append(ds.select(fits).select_columns(["messages"]))
    train = datasets.concatenate_datasets(parts)
    if train.num_rows == 0:
        raise TrainError(
            "no row left to train on: "
            + "; ".join(f"{c}: {led.as_dict()['dropped']}" for c, led in ledgers.items())
        )
    return train, ledgers
