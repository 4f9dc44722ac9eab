"""Statistics for the dataset card, computed with polars over a build's Parquet files."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import polars as pl

from ocforge.profiles import parse_age

# answer length buckets (words) for the card's table; the plot shows the full histogram
_LENGTH_QUANTILES = (0.1, 0.5, 0.9)
_TOP = 8


@dataclass
class ConfigStats:
    name: str
    kind: str
    rows: dict[str, int]  # split -> rows
    characters: int
    response_words: dict[str, float] = field(default_factory=dict)  # mean, p10, p50, p90, max
    source_corpora: list[tuple[str, int]] = field(default_factory=list)
    generators: list[tuple[str, int]] = field(default_factory=list)
    genders: list[tuple[str, int]] = field(default_factory=list)
    age_buckets: list[tuple[str, int]] = field(default_factory=list)


def scan_config(root: Path, config: str, splits: list[str]) -> pl.LazyFrame:
    """All rows of a config with a ``split`` column (lazy)."""
    frames = [
        pl.scan_parquet(sorted((root / "data" / config).glob(f"{split}-*.parquet"))).with_columns(
            pl.lit(split).alias("split")
        )
        for split in splits
        if any((root / "data" / config).glob(f"{split}-*.parquet"))
    ]
    return pl.concat(frames, how="vertical_relaxed") if frames else pl.LazyFrame()


def _counts(frame: pl.DataFrame, expr: pl.Expr, name: str) -> list[tuple[str, int]]:
    counted = (
        frame.select(expr.fill_null("unknown").alias(name))
        .group_by(name)
        .len()
        .sort(["len", name], descending=[True, False])
        .head(_TOP)
    )
    return [(str(k), int(n)) for k, n in counted.iter_rows()]


def _age_bucket() -> pl.Expr:
    # age_years is parsed from the written age at validation ("forty-six" -> 46, "ageless" -> null)
    age = pl.col("age_years")
    return (
        pl.when(age.is_null())
        .then(pl.lit("unknown"))
        .when(age < 20)
        .then(pl.lit("<20"))
        .when(age < 30)
        .then(pl.lit("20-29"))
        .when(age < 40)
        .then(pl.lit("30-39"))
        .when(age < 50)
        .then(pl.lit("40-49"))
        .when(age < 65)
        .then(pl.lit("50-64"))
        .otherwise(pl.lit("65+"))
    )


def config_stats(root: Path, config: str, kind: str, splits: list[str]) -> ConfigStats:
    """Rows per split, characters, and the distributions the card shows for one config."""
    return stats_and_lengths(root, config, kind, splits)[0]


def stat_columns(kind: str, columns: Sequence[str]) -> list[pl.Expr]:
    """The per-row columns the statistics of a ``kind`` config need, from rows with ``columns``.

    Row by row: a reader that goes over the rows once for several purposes (the release's file
    pass, :mod:`ocforge.publish.file_pass`) applies them to each batch and keeps only these,
    and :func:`summarize` gives the same statistics as from the whole config at once."""
    if kind == "dialogues":
        # words as str.split(" ") counts them, without building the lists; only the counts are
        # kept, not the answers (most of a dialogue config's bytes with the messages)
        words = pl.col("response").str.count_matches(" ", literal=True) + 1
        return [pl.col("character_id"), words.alias("words"), pl.col("source_corpus")]
    if kind == "characters":
        age = pl.col("age_years")
        if "age_years" not in columns:
            # a build written before age_years existed: parse its ages as validation does
            age = pl.col("age").map_elements(parse_age, return_dtype=pl.Int32).alias("age_years")
        return [pl.col("character_id"), pl.col("gender"), age, pl.col("generator")]
    return [pl.col("character_id")]  # derived configs (e.g. kind "eval"): rows and characters


def stats_and_lengths(
    root: Path, config: str, kind: str, splits: list[str]
) -> tuple[ConfigStats, list[int]]:
    """:func:`config_stats` and, for a dialogue config, the answer lengths in words for the
    histogram (:func:`response_lengths`), from one read of the columns the card needs."""
    lazy = scan_config(root, config, splits)
    names = lazy.collect_schema().names()
    if not names:
        return ConfigStats(config, kind, dict.fromkeys(splits, 0), 0), []
    return summarize(
        config, kind, splits, lazy.select("split", *stat_columns(kind, names)).collect()
    )


def summarize(
    config: str, kind: str, splits: list[str], frame: pl.DataFrame
) -> tuple[ConfigStats, list[int]]:
    """:func:`stats_and_lengths` from ``frame``: the config's rows with a ``split`` column and
    the :func:`stat_columns` of its kind."""
    if frame.height == 0:
        return ConfigStats(config, kind, dict.fromkeys(splits, 0), 0), []
    rows = dict(frame.group_by("split").len().iter_rows())
    stats = ConfigStats(
        name=config,
        kind=kind,
        rows={s: int(rows.get(s, 0)) for s in splits},
        characters=frame.get_column("character_id").n_unique(),
    )
    lengths: list[int] = []
    if kind == "dialogues":
        words = frame.get_column("words")
        stats.response_words = {
            "mean": round(float(words.mean() or 0), 1),
            **{f"p{int(q * 100)}": float(words.quantile(q) or 0) for q in _LENGTH_QUANTILES},
            "max": float(words.max() or 0),
        }
        stats.source_corpora = _counts(frame, pl.col("source_corpus"), "source_corpus")
        lengths = words.to_list()
    elif kind == "characters":
        stats.genders = _counts(frame, pl.col("gender").str.to_lowercase(), "gender")
        stats.age_buckets = _counts(frame, _age_bucket(), "age")
        stats.generators = _counts(frame, pl.col("generator"), "generator")
    return stats, lengths


def response_lengths(root: Path, config: str, splits: list[str]) -> list[int]:
    """Answer lengths in words, for the histogram."""
    frame = scan_config(root, config, splits).select(
        # words as str.split(" ") counts them, without building the lists
        (pl.col("response").str.count_matches(" ", literal=True) + 1).alias("w")
    )
    return frame.collect().get_column("w").to_list()


def removed_examples(
    root: Path, config: str, per_reason: int = 2
) -> dict[str, list[dict[str, Any]]]:
    """A few removed or quarantined rows of ``config`` per ``outcome/reason`` for the card.

    Reads the build's ``removed/`` and ``quarantine/`` JSONL files line by line and stops taking
    rows of a reason once it has ``per_reason``; unknown keys are ignored.
    """
    out: dict[str, list[dict[str, Any]]] = {}
    files = [
        *sorted((root / "removed" / config).glob("**/*.jsonl")),
        *sorted((root / "quarantine" / config).glob("**/*.jsonl")),
    ]
    for path in files:
        with path.open("rb") as fh:
            for line in fh:
                if not line.strip():
                    continue
                row = orjson.loads(line)
                key = f"{row.get('outcome', '?')}/{row.get('reason', '?')}"
                bucket = out.setdefault(key, [])
                if len(bucket) < per_reason:
                    bucket.append(
                        {
                            "id": row.get("id"),
                            "where": f"{row.get('input', '')}:{row.get('line', '')}",
                            "detail": row.get("detail")
                            or (
                                f"duplicate of {row['duplicate_of']}"
                                if row.get("duplicate_of")
                                else ""
                            ),
                        }
                    )
    return dict(sorted(out.items()))
