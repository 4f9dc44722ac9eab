"""Statistics for the dataset card, computed with polars over a build's Parquet files."""

from __future__ import annotations

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


def stats_and_lengths(
    root: Path, config: str, kind: str, splits: list[str]
) -> tuple[ConfigStats, list[int]]:
    """:func:`config_stats` and, for a dialogue config, the answer lengths in words for the
    histogram (:func:`response_lengths`), from one read of the ``response`` column."""
    # only the columns the card needs: the messages and profiles are most of a config's bytes
    extra = {
        "dialogues": ["response", "source_corpus"],
        "characters": ["gender", "age_years", "generator"],
    }.get(kind, [])  # derived configs (e.g. kind "eval") only get rows and characters
    wanted = ["split", "character_id", *extra]
    lazy = scan_config(root, config, splits)
    if not lazy.collect_schema().names():
        return ConfigStats(config, kind, dict.fromkeys(splits, 0), 0), []
    if kind == "characters" and "age_years" not in lazy.collect_schema().names():
        # a build written before age_years existed: parse its ages the same way validation does
        lazy = lazy.with_columns(
            pl.col("age").map_elements(parse_age, return_dtype=pl.Int32).alias("age_years")
        )
    frame = lazy.select(wanted).collect()
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
        # words as str.split(" ") counts them, without building the lists
        words = frame.get_column("response").str.count_matches(" ", literal=True) + 1
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
