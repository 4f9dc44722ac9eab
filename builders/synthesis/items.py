"""The items of a synthesis run: requests sent to the model, the rows made of its answers, and
the JSONL files they are written to."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

from ocforge.builders.synthesis.prompts import PromptTemplate
from ocforge.builders.synthesis.runner import generation_params
from ocforge.hashing import bytes_sha256
from ocforge.recipe import SynthesisSettings
from ocforge.records import content_id


def generation(synth: SynthesisSettings, prompt: PromptTemplate, result: dict[str, Any]) -> dict:
    last = result["attempts"][-1] if result.get("attempts") else {}
    return {
        "backend": synth.backend.type,
        "model": synth.backend.model,
        "params": generation_params(synth.generation),
        "prompt": prompt.provenance,
        "attempts": len(result.get("attempts", [])),
        "finish_reason": last.get("finish_reason"),
        "usage": last.get("usage"),
        "request_sha256": last.get("messages_sha256"),
    }


def quarantine_row(stage: str, doc: dict[str, Any], result: dict[str, Any]) -> dict[str, Any]:
    meta = {k: v for k, v in doc["metadata"].items() if k != "rollout_results"}
    return {
        "stage": stage,
        "id": doc["id"],
        "outcome": "failed" if result["status"] == "failed" else "quarantined",
        "reason": result["reason"],
        "detail": result["detail"],
        "request": meta,
        "raw": [a["text"] for a in result.get("attempts", [])],
    }


def profile_request(persona: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": f"persona-{persona['persona_id']}",
        "text": persona["persona"],
        "metadata": {
            "persona_id": persona["persona_id"],
            "persona": persona["persona"],
            "input": persona["where"],
            "source": persona["source"],
        },
    }


def dialogue_request(
    strategy: str, cid: str, corpus: str, question: dict[str, Any], order: int
) -> dict[str, Any]:
    meta = {
        "order": order,
        "strategy": strategy,
        "character_id": cid,
        "question_id": question["question_id"],
        "source_corpus": corpus,
        "question": question["question"],
        "input": question["where"],
    }
    if strategy == "rewrite":
        meta["original_response"] = question["original_response"]
    return {
        "id": content_id("request", strategy, cid, corpus, question["question_id"]),
        "text": question["question"],
        "metadata": meta,
    }


def dialogue_row(strategy: str, meta: dict[str, Any], result: dict[str, Any]) -> dict[str, Any]:
    row = {
        "character_id": meta["character_id"],
        "question_id": meta["question_id"],
        "source_corpus": meta["source_corpus"],
        "question": meta["question"],
        "response": result["response"],
    }
    if strategy == "rewrite":
        row["original_response"] = meta["original_response"]
    row["strategy"] = strategy
    return row


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = b"".join(orjson.dumps(r, option=orjson.OPT_APPEND_NEWLINE) for r in rows)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    tmp.replace(path)
    return bytes_sha256(data)
