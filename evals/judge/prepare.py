"""``ocforge eval judge prepare``: the frozen question set of a release's held-out characters.

Per ``test`` character, a generator model (through the versioned prompts of ``configs/judge``)
picks settings, writes questions per dimension (Light: 1, full: 10) and, per question and
dimension, one example answer per rubric level. Example answers never depend on the answer being
judged, so they are written here once, and a model then costs only its answers and the judge
calls. Every reply is cached under the output folder: a killed run resumes, a re-run is free.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from ocforge.errors import JudgeError
from ocforge.evals.judge.client import CACHE_FILE, ChatClient, Endpoint, ResponseCache
from ocforge.evals.judge.parsing import (
    Exchange,
    ask,
    parse_examples,
    parse_questions,
    parse_settings,
)
from ocforge.evals.judge.spec import JudgeSpec, Template
from ocforge.publish.dataset_ref import DatasetRelease

MANIFEST = "personagym.json"
ITEM_SCHEMA = pa.schema(
    [
        pa.field("item_id", pa.string(), nullable=False),
        pa.field("character_id", pa.string(), nullable=False),
        pa.field("profile", pa.string()),
        pa.field("settings", pa.list_(pa.string())),
        pa.field("dimension", pa.string()),
        pa.field("question_index", pa.int32()),
        pa.field("question", pa.string()),
        pa.field("examples", pa.list_(pa.string())),  # score 1..5
    ]
)


def configs_for(protocol: str) -> list[str]:
    """The configs a prepared set holds: a full set also holds Light (its first questions)."""
    return ["light", "full"] if protocol == "full" else [protocol]


@dataclass
class _Generator:
    client: ChatClient
    spec: JudgeSpec
    sampling: dict[str, Any]

    async def need(self, role: str, values: dict[str, Any], parse, where: str, **repair) -> Any:
        template: Template = self.spec.prompts[role]
        got: Exchange = await ask(self.client, template, values, self.sampling, parse, repair)
        if got.value is None:
            raise JudgeError(
                f"generator {self.client.endpoint.display}: {where}: {role} reply unusable after "
                f"one repair turn ({got.problem})"
            )
        return got.value

    async def settings(self, char: dict[str, Any]) -> list[str]:
        most = self.spec.max_settings
        values = {"persona": char["profile"], "settings": list(self.spec.settings)}
        return await self.need(
            "settings",
            {**values, "max_settings": most},
            lambda t: parse_settings(t, self.spec.settings, most),
            f"character {char['character_id']}",
            max_settings=most,
        )

    async def questions(self, char: dict[str, Any], settings: list[str], dim, n: int) -> list[str]:
        values = {
            "persona": char["profile"],
            "settings": settings,
            "dimension": dim.name,
            "brief": dim.brief,
            "count": n,
        }
        where = f"character {char['character_id']}, dimension {dim.id}"
        return await self.need("questions", values, lambda t: parse_questions(t, n), where, count=n)

    async def examples(self, char: dict[str, Any], question: str, dim) -> list[str]:
        values = {
            "persona": char["profile"],
            "question": question,
            "dimension": dim.name,
            "criterion": dim.criterion,
            "levels": dim.levels,
        }
        where = f"character {char['character_id']}, dimension {dim.id}, question {question[:60]!r}"
        return await self.need("examples", values, parse_examples, where)


async def _items(gen: _Generator, characters: list[dict[str, Any]], n: int) -> list[dict]:
    dims = gen.spec.dimensions
    settings = await asyncio.gather(*(gen.settings(c) for c in characters))
    asked = [(c, s, d) for c, s in zip(characters, settings, strict=True) for d in dims]
    questions = await asyncio.gather(*(gen.questions(c, s, d, n) for c, s, d in asked))
    units = [
        (c, s, d, i, q)
        for (c, s, d), qs in zip(asked, questions, strict=True)
        for i, q in enumerate(qs)
    ]
    examples = await asyncio.gather(*(gen.examples(c, q, d) for c, _, d, _, q in units))
    return [
        {
            "item_id": f"{c['character_id']}:{d.id}:{i}",
            "character_id": c["character_id"],
            "profile": c["profile"],
            "settings": s,
            "dimension": d.id,
            "question_index": i,
            "question": q,
            "examples": ex,
        }
        for (c, s, d, i, q), ex in zip(units, examples, strict=True)
    ]


def _write_config(out: Path, name: str, rows: list[dict[str, Any]]) -> dict[str, Any]:
    path = out / "data" / name / "test-00000-of-00001.parquet"
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows, schema=ITEM_SCHEMA), path)
    rel = path.relative_to(out).as_posix()
    return {"rows": len(rows), "path": rel, "sha256": hashlib.sha256(path.read_bytes()).hexdigest()}


def prepare(
    release: DatasetRelease,
    characters: list[dict[str, Any]],
    generator: Endpoint,
    spec: JudgeSpec,
    out: Path,
    *,
    protocol: str = "light",
    concurrency: int = 16,
    repo_id: str = "",
) -> dict[str, Any]:
    """Write the prepared set into ``out`` (data/<config>/*.parquet, personagym.json, README.md;
    replies cached in ``out/cache.sqlite``) and return its manifest.

    Raises:
        JudgeError: a generator reply stayed unusable after its repair turn, or the endpoint failed.
    """
    from ocforge.evals.judge.prepared_card import render_card

    n = spec.protocol(protocol)["questions_per_dimension"]
    out = Path(out)
    cache = ResponseCache(out / CACHE_FILE)
    sampling = dict(spec.sampling["generator"])

    async def run() -> list[dict[str, Any]]:
        async with ChatClient(generator, cache, concurrency) as client:
            return await _items(_Generator(client, spec, sampling), characters, n)

    try:
        items = asyncio.run(run())
    finally:
        cache.close()
    configs = {}
    for name in configs_for(protocol):
        keep = spec.protocol(name)["questions_per_dimension"]
        configs[name] = _write_config(out, name, [r for r in items if r["question_index"] < keep])
    version = release.version or release.revision.removeprefix("v")
    manifest = {
        "manifest_version": 1,
        "kind": "ocforge-personagym",
        "version": version,
        "source": {
            "repo_id": release.repo_id,
            "revision": release.revision,
            "sha": release.sha,
            "version": release.version,
        },
        "protocol": protocol,
        "protocols": {name: spec.protocol(name) for name in configs},
        "characters": len(characters),
        "dimensions": [d.id for d in spec.dimensions],
        "generator": {"model": generator.model, "sampling": sampling},
        "prompts": spec.versions,
        "configs": configs,
    }
    (out / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n", "utf-8")
    (out / "README.md").write_text(render_card(spec, manifest, repo_id), encoding="utf-8")
    return manifest
