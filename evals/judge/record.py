"""The lm-eval-shaped results and ocforge's record of a judged run, written to the output folder
(see :mod:`ocforge.evals.judge.results` for the files)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ocforge.evals.judge.judging import JudgedItems, JudgeJob
from ocforge.evals.judge.results import (
    METRIC,
    PSCORE,
    TASK_VERSION,
    character_scores,
    dimension_stats,
    group_stderr,
    judge_summary,
    sample_rows,
    task_names,
)

RESULTS_FILE = "results.json"
LM_EVAL_FILE = "lm_eval_results.json"
SAMPLES_FILE = "samples.jsonl"
STATS_FILE = "run_stats.json"


def _task_config(job: JudgeJob, task: str, dim_id: str) -> dict[str, Any]:
    p = job.prepared
    return {
        "task": task,
        "dataset_path": p.repo_id or p.path,
        "dataset_name": p.config,
        "dataset_kwargs": {"revision": p.sha} if p.sha else {},
        "test_split": "test",
        "output_type": "generate_until",
        "doc_to_text": "{{question}}",
        "description": "{{profile}}",
        "generation_kwargs": dict(job.answer_sampling),
        "metric_list": [{"metric": METRIC, "aggregation": "mean", "higher_is_better": True}],
        "metadata": {
            "version": TASK_VERSION,
            "dimension": dim_id,
            "judge_prompt": job.spec.prompts["judge"].provenance,
            "rubric": job.spec.dimensions_version,
        },
    }


def lm_eval_results(job: JudgeJob, rows: list[dict], group: str, tasks: dict[str, str]) -> dict:
    """lm-eval's ``results`` dict: one generate task per dimension and their group (PScore)."""
    stats = dimension_stats(rows, tasks)
    means = [s["mean"] for s in stats.values()]
    pscore = sum(means) / len(means) if all(m is not None for m in means) else None
    group_entry = {
        "alias": group,
        f"{METRIC},none": pscore,
        f"{METRIC}_stderr,none": group_stderr([s["stderr"] for s in stats.values()]),
    }
    results = {group: group_entry}
    for task, s in stats.items():
        results[task] = {
            "alias": f" - {task}",
            f"{METRIC},none": s["mean"],
            f"{METRIC}_stderr,none": s["stderr"],
        }
    names = [group, *tasks.values()]
    return {
        "results": results,
        "groups": {group: dict(group_entry)},
        "group_subtasks": {group: list(tasks.values())},
        "configs": {t: _task_config(job, t, d) for d, t in tasks.items()},
        "versions": dict.fromkeys(names, TASK_VERSION),
        "n-shot": dict.fromkeys(tasks.values(), 0),
        "higher_is_better": {n: {METRIC: True} for n in names},
        "n-samples": {t: {"original": s["items"], "effective": s["n"]} for t, s in stats.items()},
    }


def _metric_args(job: JudgeJob, summary: list[dict], characters: dict) -> dict[str, Any]:
    """What the model-index entry says about how the numbers were obtained."""
    p, src = job.prepared, job.prepared.manifest["source"]
    asked = sum(s["verdicts"] for s in summary)
    failures = sum(s["parse_failures"] for s in summary)
    prompts = job.spec.prompts
    return {
        "protocol": p.manifest["protocols"][p.config]["name"],
        "judges": ", ".join(j.model for j in job.judges),
        "judge_prompt": f"{prompts['judge'].id} v{prompts['judge'].version}",
        "rubric": f"{job.spec.dimensions_version['id']} v{job.spec.dimensions_version['version']}",
        "prepared_set": p.display,
        "prepared_commit": p.sha,
        "source_dataset": f"{src['repo_id']}@{src['revision']}",
        "dataset_commit": src["sha"],
        "answer_sampling": ", ".join(f"{k}={v}" for k, v in job.answer_sampling.items()),
        "parse_failure_rate": round(failures / asked, 6) if asked else None,
        "characters": characters["n"],
    }


def build_record(job: JudgeJob, judged: JudgedItems, model: dict[str, Any], prefix: str) -> dict:
    """ocforge's record; ``metrics`` and ``dataset`` have the shapes ``evals.run`` pushes."""
    group, tasks = task_names(job, prefix)
    rows = sample_rows(judged, tasks, job)
    lm = lm_eval_results(job, rows, group, tasks)
    summary = judge_summary(rows, [j.model for j in job.judges])
    characters = character_scores(rows)
    metrics: dict[str, dict[str, float]] = {}
    for name in [group, *tasks.values()]:
        value = lm["results"][name][f"{METRIC},none"]
        if value is not None:
            metrics[name] = {PSCORE if name == group else METRIC: value}
    p = job.prepared
    return {
        "kind": "ocforge-judge",
        "model": model,
        "dataset": {
            "repo_id": p.repo_id,
            "revision": p.revision,
            "sha": p.sha,
            "version": p.manifest.get("version"),
        },
        "source_dataset": p.manifest["source"],
        "group": group,
        "tasks": dict.fromkeys([group, *tasks.values()], p.config),
        "task_version": TASK_VERSION,
        "protocol": p.config,
        "metrics": metrics,
        "metric_config": p.config,
        "metric_args": _metric_args(job, summary, characters),
        "judges": summary,
        "characters": characters,
        "answer_sampling": job.answer_sampling,
        "judge_sampling": job.judge_sampling,
        "prompts": job.spec.versions,
        "generator": p.manifest.get("generator"),
        "lm_eval": lm,
        "_rows": rows,
    }


def _dump(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True) + "\n"


def write_outputs(output: Path, record: dict[str, Any], stats: dict[str, Any]) -> dict[str, Any]:
    """Write the four files (see the module docstring); returns the record without its rows."""
    output = Path(output)
    rows = record.pop("_rows")
    with (output / SAMPLES_FILE).open("w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False, sort_keys=True) + "\n")
    (output / LM_EVAL_FILE).write_text(_dump(record["lm_eval"]), encoding="utf-8")
    (output / RESULTS_FILE).write_text(_dump(record), encoding="utf-8")
    (output / STATS_FILE).write_text(_dump(stats), encoding="utf-8")
    return record
