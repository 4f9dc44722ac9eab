"""Per model: answers in character, then one judge call per (item, judge), one rubric each.

The model under test gets the character's profile as its system prompt, exactly as the training
rows' ``messages`` carry it, and the question as the user turn. Each answer goes to every judge
as soon as it arrives. All replies share one cache under the output folder, so a re-run sends no
request and a killed run resumes. A score that cannot be read after one repair turn is missing
(never 0); with two judges an item's score is the mean of the judges' scores it has.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ocforge.evals.judge.client import CACHE_FILE, ChatClient, Endpoint, ResponseCache
from ocforge.evals.judge.hubio import PreparedSet
from ocforge.evals.judge.parsing import ask, parse_score, rationale
from ocforge.evals.judge.spec import Dimension, JudgeSpec

OK, PARSE_FAILURE, NO_REPLY, NO_ANSWER = "ok", "parse_failure", "no_reply", "no_answer"


def answer_messages(item: dict[str, Any]) -> list[dict[str, str]]:
    """The chat the model under test answers: system = the profile, user = the question."""
    return [
        {"role": "system", "content": item["profile"]},
        {"role": "user", "content": item["question"]},
    ]


@dataclass
class JudgeJob:
    """What one run judges, and how."""

    prepared: PreparedSet
    model: Endpoint
    judges: list[Endpoint]
    spec: JudgeSpec
    output: Path
    concurrency: int = 16
    answer_sampling: dict[str, Any] = field(default_factory=dict)

    @property
    def judge_sampling(self) -> dict[str, Any]:
        return dict(self.spec.sampling["judge"])


@dataclass
class JudgedItems:
    """Every item with its answer and verdicts, plus per-endpoint call statistics."""

    samples: list[dict[str, Any]]
    stats: dict[str, dict[str, int]]  # endpoint display -> CallStats


async def _verdict(
    client: ChatClient, job: JudgeJob, dim: Dimension, item: dict[str, Any], answer: str
) -> dict[str, Any]:
    values = {
        "persona": item["profile"],
        "question": item["question"],
        "answer": answer,
        "dimension": dim.name,
        "criterion": dim.criterion,
        "levels": dim.levels,
        "examples": list(item["examples"]),
    }
    got = await ask(client, job.spec.prompts["judge"], values, job.judge_sampling, parse_score)
    status = OK if got.value is not None else PARSE_FAILURE if got.parse_failed else NO_REPLY
    return {
        "judge": client.endpoint.model,
        "score": got.value,
        "status": status,
        "repaired": got.repaired,
        # a repaired verdict's reasoning is in its first reply; the repair gives only the score
        "rationale": (got.replies[0].strip() if got.repaired else rationale(got.replies[0]))
        if got.replies
        else None,
        "replies": list(got.replies),
        "problem": got.problem,
    }


def combine(verdicts: list[dict[str, Any]]) -> float | None:
    """An item's score: the mean of the judges' scores it has; None when it has none."""
    scores = [v["score"] for v in verdicts if v["score"] is not None]
    return sum(scores) / len(scores) if scores else None


async def _unit(
    model: ChatClient, judges: list[ChatClient], job: JudgeJob, item: dict[str, Any]
) -> dict[str, Any]:
    dims = {d.id: d for d in job.spec.dimensions}
    messages = answer_messages(item)
    reply = await model.complete(messages, job.answer_sampling)
    if reply.text is None:
        verdicts = [
            {"judge": j.endpoint.model, "score": None, "status": NO_ANSWER, "problem": reply.error}
            for j in judges
        ]
    else:
        verdicts = list(
            await asyncio.gather(
                *(_verdict(j, job, dims[item["dimension"]], item, reply.text) for j in judges)
            )
        )
    return {
        "item": item,
        "messages": messages,
        "answer": reply.text,
        "answer_problem": reply.error,
        "verdicts": verdicts,
        "score": combine(verdicts),
    }


def judge_items(job: JudgeJob) -> JudgedItems:
    """Answer and judge every item of ``job.prepared`` (cached in ``job.output/cache.sqlite``).

    Raises:
        JudgeError: an endpoint cannot be reached or refused a request (4xx).
    """
    job.output.mkdir(parents=True, exist_ok=True)
    cache = ResponseCache(job.output / CACHE_FILE)

    async def run() -> JudgedItems:
        model = ChatClient(job.model, cache, job.concurrency)
        judges = [ChatClient(j, cache, job.concurrency) for j in job.judges]
        async with contextlib.AsyncExitStack() as stack:
            for client in [model, *judges]:
                await stack.enter_async_context(client)
            units = [_unit(model, judges, job, it) for it in job.prepared.items]
            samples = list(await asyncio.gather(*units))
        stats = {c.endpoint.display: c.stats.as_dict() for c in [model, *judges]}
        return JudgedItems(samples, stats)

    try:
        return asyncio.run(run())
    finally:
        cache.close()
