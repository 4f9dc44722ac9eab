"""The dataset card of a prepared set: Hub metadata (configs, tags, source dataset) and a body
from the ``card`` template of ``configs/judge/personagym.yaml``."""

from __future__ import annotations

from typing import Any

from jinja2 import StrictUndefined
from jinja2.sandbox import SandboxedEnvironment

from ocforge.evals.judge.spec import JudgeSpec

_JINJA = SandboxedEnvironment(undefined=StrictUndefined, keep_trailing_newline=True)


def render_card(spec: JudgeSpec, manifest: dict[str, Any], repo_id: str = "") -> str:
    """README.md text; deterministic (same manifest, same text)."""
    from huggingface_hub import DatasetCardData

    source = manifest["source"]
    data = DatasetCardData(
        pretty_name=f"PersonaGym questions for {source['repo_id']} {source['revision']}",
        tags=["role-play", "evaluation", "personagym", "ocforge"],
        source_datasets=[source["repo_id"]],
        task_categories=["text-generation"],
        configs=[
            {
                "config_name": name,
                "data_files": [{"split": "test", "path": f"data/{name}/test-*.parquet"}],
            }
            for name in manifest["configs"]
        ],
    )
    body = _JINJA.from_string(spec.card).render(
        repo_id=repo_id or f"PersonaGym set of {source['repo_id']}",
        protocol_names=" and ".join(p["name"] for p in manifest["protocols"].values()),
        source=source,
        source_url=f"/datasets/{source['repo_id']}/tree/{source['revision']}",
        characters=manifest["characters"],
        dimensions=manifest["dimensions"],
        configs={k: v["rows"] for k, v in manifest["configs"].items()},
        generator={
            "model": manifest["generator"]["model"],
            "sampling": ", ".join(f"{k}={v}" for k, v in manifest["generator"]["sampling"].items()),
        },
        prompts=manifest["prompts"]["prompts"],
    )
    return f"---\n{data.to_yaml()}\n---\n\n{body.strip()}\n"
