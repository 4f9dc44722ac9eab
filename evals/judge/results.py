"""Results of a judged run, in lm-eval's results format, plus every score and rationale.

* ``lm_eval_results.json``: ``results`` (per dimension task: ``score,none``, ``score_stderr,none``;
  the group: PScore, the unweighted mean of the five), ``groups``, ``group_subtasks``,
  ``n-samples``, ``higher_is_better``, ``versions``, ``n-shot`` and ``configs``;
* ``samples.jsonl``: one line per item: the chat, the answer, each judge's verdict (score, status,
  rationale, raw replies) and the combined score;
* ``results.json``: ocforge's record (model, prepared set and source release, metrics, judges,
  prompt versions, parse-failure rate), what ``--push`` merges into the model card;
* ``run_stats.json``: what this run sent and took from the cache (not part of the record, so the
  record of a re-run is byte-identical).
"""

from __future__ import annotations

import math
import statistics
from typing import Any

from ocforge.evals.judge.judging import NO_ANSWER, PARSE_FAILURE, JudgedItems, JudgeJob

TASK_VERSION = 1.0
METRIC = "score"
PSCORE = "pscore"


def mean_stderr(scores: list[float]) -> float | str:
    """Standard error of the mean (sample standard deviation / sqrt(n)), as lm-eval computes it;
    lm-eval's "N/A" below two values."""
    if len(scores) < 2:
        return "N/A"
    return statistics.stdev(scores) / math.sqrt(len(scores))


def group_stderr(stderrs: list[float | str]) -> float | str:
    """Standard error of an unweighted mean of k means: sqrt(sum se^2) / k (lm-eval's
    ``unweighted_mean_stderr``)."""
    if any(isinstance(s, str) for s in stderrs) or not stderrs:
        return "N/A"
    return math.sqrt(sum(s * s for s in stderrs)) / len(stderrs)  # type: ignore[operator]


def task_names(job: JudgeJob, prefix: str) -> tuple[str, dict[str, str]]:
    group = f"{prefix}_personagym_{job.prepared.config}"
    return group, {d.id: f"{group}_{d.id}" for d in job.spec.dimensions}


def sample_rows(judged: JudgedItems, tasks: dict[str, str], job: JudgeJob) -> list[dict]:
    rows = []
    for doc_id, s in enumerate(judged.samples):
        item = s["item"]
        rows.append(
            {
                "task": tasks[item["dimension"]],
                "doc_id": doc_id,
                "doc": {k: item[k] for k in ("item_id", "character_id", "dimension", "question")},
                "arguments": {"messages": s["messages"], "sampling": job.answer_sampling},
                "resps": [[s["answer"]]],
                "filtered_resps": [s["answer"]],
                "answer_problem": s["answer_problem"],
                METRIC: s["score"],
                "verdicts": s["verdicts"],
            }
        )
    return rows


def dimension_stats(rows: list[dict], tasks: dict[str, str]) -> dict[str, dict[str, Any]]:
    out = {}
    for task in tasks.values():
        mine = [r for r in rows if r["task"] == task]
        scores = [r[METRIC] for r in mine if r[METRIC] is not None]
        out[task] = {
            "mean": statistics.fmean(scores) if scores else None,
            "stderr": mean_stderr(scores),
            "n": len(scores),
            "items": len(mine),
        }
    return out


def character_scores(rows: list[dict]) -> dict[str, Any]:
    """Per character, the mean over dimensions of its mean per dimension (PersonaGym's
    PersonaScore); reported as mean and standard deviation over characters (ceiling effects)."""
    by: dict[str, dict[str, list[float]]] = {}
    for r in rows:
        if r[METRIC] is not None:
            by.setdefault(r["doc"]["character_id"], {}).setdefault(r["task"], []).append(r[METRIC])
    per = [statistics.fmean([statistics.fmean(v) for v in d.values()]) for d in by.values()]
    return {
        "n": len(per),
        "pscore_mean": statistics.fmean(per) if per else None,
        "pscore_std": statistics.stdev(per) if len(per) > 1 else None,
    }


def judge_summary(rows: list[dict], judges: list[str]) -> list[dict[str, Any]]:
    """Per judge: verdicts asked, parse failures (after the repair turn), repairs, missing."""
    out = []
    for index, name in enumerate(judges):
        verdicts = [r["verdicts"][index] for r in rows]
        asked = [v for v in verdicts if v["status"] != NO_ANSWER]
        failures = sum(v["status"] == PARSE_FAILURE for v in asked)
        out.append(
            {
                "model": name,
                "verdicts": len(asked),
                "parse_failures": failures,
                "parse_failure_rate": failures / len(asked) if asked else None,
                "repaired": sum(bool(v.get("repaired")) for v in asked),
                "missing": sum(v["score"] is None for v in verdicts),
                "no_reply": sum(v["status"] == "no_reply" for v in asked),
            }
        )
    return out
