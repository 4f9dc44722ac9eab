"""Write a release-ready build folder straight from rows (no curation pipeline).

For rows that are already curated (imports, benchmarks, tests): the same layout, card and
``release.json`` as ``ocforge build``, with a ledger that records every row as kept.
"""

from __future__ import annotations

import hashlib
import random
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa

from ocforge.layout import write_config
from ocforge.ledger import ConfigLedger, Ledger
from ocforge.manifest import ReleaseManifest, build_manifest, write_manifest
from ocforge.outputs import ConfigOutput
from ocforge.records import (
    CHARACTERS_SCHEMA,
    PROFILE_FIELDS,
    character_id,
    dialogue_id,
    dialogue_schema,
    persona_id,
    question_id,
)


@dataclass
class RowsConfig:
    kind: str  # "characters" or "dialogues"
    schema: pa.Schema
    rows: list[dict[str, Any]]


def write_rows_build(
    root: Path,
    name: str,
    configs: Mapping[str, RowsConfig],
    *,
    recipe_text: str = "",
    test_fraction: float = 0.1,
    seed: int = 0,
    max_shard_rows: int = 100_000,
    row_group_rows: int = 1_000,
) -> ReleaseManifest:
    """Write ``root/data/...`` and ``root/release.json``; returns the manifest.

    ``recipe_text`` is stored as the recipe (its ``card:`` and ``publish:`` sections drive the
    release card and the secret-scan allow list).
    """
    root = Path(root)
    shutil.rmtree(root / "data", ignore_errors=True)  # no stale shards of an earlier layout
    root.mkdir(parents=True, exist_ok=True)
    outputs: dict[str, ConfigOutput] = {}
    schemas: dict[str, pa.Schema] = {}
    ledgers: dict[str, ConfigLedger] = {}
    for cfg, spec in configs.items():
        splits = write_config(
            spec.rows,
            spec.schema,
            cfg,
            root,
            test_fraction=test_fraction,
            seed=seed,
            max_shard_rows=max_shard_rows,
            row_group_rows=row_group_rows,
        )
        outputs[cfg] = ConfigOutput(name=cfg, kind=spec.kind, splits=splits)
        schemas[cfg] = spec.schema
        ledgers[cfg] = ConfigLedger(input=len(spec.rows), kept=len(spec.rows))
    manifest = build_manifest(
        name=name,
        recipe_file="recipe.yaml",
        recipe_text=recipe_text,
        recipe_sha256=hashlib.sha256(recipe_text.encode()).hexdigest(),
        inputs=[],
        outputs=outputs,
        schemas=schemas,
        ledger=Ledger(ledgers),
    )
    write_manifest(root, manifest)
    return manifest


_WORDS = (
    "the quiet harbour lantern remembered every storm my grandmother sang about while we mended "
    "nets at dawn and counted gulls over the grey water before the market opened its wooden doors"
).split()


def _text(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(_WORDS) for _ in range(n))


def synthetic_corpus(
    n_characters: int, dialogues_per_character: int, *, seed: int = 0
) -> dict[str, RowsConfig]:
    """A deterministic synthetic corpus in the released schemas: ``characters``, ``rewrite``
    and ``generate`` (half of the dialogues each), for tests and benchmarks."""
    rng = random.Random(seed)
    chars = []
    for i in range(n_characters):
        fields = {f: _text(rng, 3) for f in PROFILE_FIELDS}
        fields["name"] = f"Character {i}"
        fields["age"] = str(18 + i % 60)
        fields["gender"] = ("female", "male", "non-binary")[i % 3]
        profile = "\n".join(f"{f.replace('_', ' ').title()}: {v}" for f, v in fields.items())
        fields["age_years"] = 18 + i % 60  # parsed, as a build would: not a profile line
        persona = f"persona {i}: " + _text(rng, 8)
        chars.append(
            {
                "character_id": character_id(profile),
                "persona": persona,
                "persona_id": persona_id(persona),
                **fields,
                "profile": profile,
                "source": "synthetic",
                "generator": "synthetic",
                "provenance": {"input": "synthetic", "record": str(i), "line": i + 1},
            }
        )
    dialogues: dict[str, list[dict[str, Any]]] = {"rewrite": [], "generate": []}
    for c in chars:
        for j in range(dialogues_per_character):
            strategy = "rewrite" if j % 2 == 0 else "generate"
            question = f"question {j}: " + _text(rng, 10)
            response = _text(rng, rng.randint(20, 120))
            row = {
                "dialogue_id": dialogue_id(strategy, c["character_id"], question, response),
                "character_id": c["character_id"],
                "strategy": strategy,
                "source_corpus": ("lima", "alpaca", "ph-instruct")[j % 3],
                "question_id": question_id(question),
                "question": question,
                "response": response,
            }
            if strategy == "rewrite":
                row["original_response"] = _text(rng, 40)
            row["messages"] = [
                {"role": "system", "content": c["profile"]},
                {"role": "user", "content": question},
                {"role": "assistant", "content": response},
            ]
            row["quality"] = {"response_words": len(response.split())}
            row["provenance"] = {"input": "synthetic", "record": None, "line": j + 1}
            dialogues[strategy].append(row)
    return {
        "characters": RowsConfig("characters", CHARACTERS_SCHEMA, chars),
        "rewrite": RowsConfig("dialogues", dialogue_schema("rewrite"), dialogues["rewrite"]),
        "generate": RowsConfig("dialogues", dialogue_schema("generate"), dialogues["generate"]),
    }
