"""``ocforge eval run`` / ``ocforge eval push``: run a registered task group with lm-eval and merge
the results into the model card's ``model-index``.

Results are recorded with the dataset commit the tasks are pinned to, so a model page says exactly
which data version it was scored on. Merging replaces this group's earlier entries for the same
dataset config, split, revision and metric, and keeps every other entry: pushing twice does not
duplicate anything.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ocforge.errors import EvalRunError
from ocforge.evals.register import Registration
from ocforge.publish.dataset_ref import download_text

RESULTS_FILE = "results.json"
#: where results files go in the model repo (``ocforge publish model`` keeps them with the results)
EVALS_DIR = "evals/"
LM_EVAL_FILE = "lm_eval_results.json"
BACKENDS = ("hf", "vllm")


@dataclass(frozen=True)
class ModelRef:
    """What ``--model`` names: a local folder, or a Hub repo at a revision resolved to a commit."""

    path: Path | None
    repo_id: str | None
    revision: str | None
    sha: str | None

    @property
    def display(self) -> str:
        return str(self.path) if self.path else f"{self.repo_id}@{self.revision}"


def resolve_model(api: Any, model: str) -> ModelRef:
    """``PATH`` (an existing folder) or ``ORG/NAME[@REV]`` (resolved to its commit with ``api``).

    Raises:
        EvalRunError: neither a folder nor a model repo/revision on the target.
    """
    from huggingface_hub.errors import RepositoryNotFoundError, RevisionNotFoundError

    if Path(model).is_dir():
        return ModelRef(Path(model).resolve(), None, None, None)
    repo_id, _, revision = model.partition("@")
    revision = revision or "main"
    if repo_id.count("/") != 1:
        raise EvalRunError(f"--model {model!r}: not a folder, and not ORG/NAME[@REVISION]")
    try:
        sha = api.model_info(repo_id, revision=revision).sha
    except RevisionNotFoundError:
        raise EvalRunError(f"model {repo_id} has no revision {revision!r}") from None
    except RepositoryNotFoundError:
        raise EvalRunError(f"model repo {repo_id} not found on {api.endpoint}") from None
    return ModelRef(None, repo_id, revision, sha)


def model_args(model: ModelRef, backend: str, dtype: str = "float32") -> str:
    """lm-eval ``model_args``; a Hub model is loaded at its resolved commit, not the moving name."""
    if backend not in BACKENDS:
        raise EvalRunError(f"unknown backend {backend!r}: expected one of {', '.join(BACKENDS)}")
    if model.path:
        args = f"pretrained={model.path}"
    else:
        args = f"pretrained={model.repo_id},revision={model.sha}"
    return f"{args},dtype={dtype}"


def metric_values(
    lm_results: dict[str, Any], registration: Registration
) -> dict[str, dict[str, float]]:
    """Finite metric values per task, from lm-eval's ``results`` (``"acc,none"`` -> ``acc``).

    Raises:
        EvalRunError: a registered task has no result, or no finite value at all.
    """
    out: dict[str, dict[str, float]] = {}
    for task in registration.tasks:
        entry = lm_results.get("results", {}).get(task)
        if entry is None:
            raise EvalRunError(f"lm-eval returned no result for task {task}")
        values = {}
        for key, value in entry.items():
            metric, sep, filt = key.partition(",")
            if not sep or metric.endswith("_stderr") or isinstance(value, bool):
                continue
            if isinstance(value, int | float) and math.isfinite(value):
                values[metric if filt == "none" else f"{metric}[{filt}]"] = float(value)
        if not values:
            raise EvalRunError(f"task {task}: no finite metric value in lm-eval's results")
        out[task] = values
    return out


def _run_child(spec: dict[str, Any], client_env: dict[str, str]) -> None:
    """Run lm-eval in a child process with the target Hub's environment."""
    with tempfile.TemporaryDirectory(prefix="ocforge-eval-") as tmp:
        spec_path = Path(tmp) / "spec.json"
        spec_path.write_text(json.dumps(spec), encoding="utf-8")
        proc = subprocess.run(
            [sys.executable, "-m", "ocforge.evals.runner", str(spec_path)],
            env={**os.environ, **client_env},
            capture_output=True,
            text=True,
        )
    if proc.returncode != 0:
        tail = "\n".join(proc.stderr.strip().splitlines()[-15:])
        raise EvalRunError(f"lm-eval failed (exit {proc.returncode}):\n{tail}")


def run_eval(
    api: Any,
    client_env: dict[str, str],
    model: str,
    tasks_dir: Path,
    output: Path,
    *,
    backend: str = "hf",
    limit: int | None = None,
    batch_size: int | str = 4,
    device: str = "cpu",
    dtype: str = "float32",
    apply_chat_template: bool = False,
) -> dict[str, Any]:
    """Run the group registered in ``tasks_dir`` on ``model`` and write ``output/results.json``
    (ocforge's record: model, dataset release, metrics, and lm-eval's results) and
    ``output/samples_<task>.jsonl``. Returns the record.

    lm-eval runs in a child process with ``client_env`` (the target Hub's environment).

    Raises:
        RegisterError: ``tasks_dir`` was not written by ``ocforge eval register``.
        EvalRunError: the model cannot be resolved, or lm-eval failed (its stderr tail is shown).
    """
    registration = Registration.load(tasks_dir)
    ref = resolve_model(api, model)
    output = Path(output)
    output.mkdir(parents=True, exist_ok=True)
    spec = {
        "backend": backend,
        "model_args": model_args(ref, backend, dtype),
        "tasks_dir": str(Path(tasks_dir).resolve()),
        "group": registration.group,
        "output": str(output.resolve()),
        "device": device,
        "batch_size": batch_size,
        "limit": limit,
        "apply_chat_template": apply_chat_template,
    }
    _run_child(spec, client_env)
    lm_results = json.loads((output / LM_EVAL_FILE).read_text(encoding="utf-8"))
    record = {
        "model": {
            "path": str(ref.path) if ref.path else None,
            "repo_id": ref.repo_id,
            "revision": ref.revision,
            "sha": ref.sha,
        },
        "dataset": {
            "repo_id": registration.dataset_repo,
            "revision": registration.dataset_revision,
            "sha": registration.dataset_sha,
            "version": registration.dataset_version,
        },
        "group": registration.group,
        "tasks": registration.tasks,
        "task_version": registration.task_version,
        "backend": backend,
        "limit": limit,
        "apply_chat_template": apply_chat_template,
        "metrics": metric_values(lm_results, registration),
        "lm_eval": {
            k: lm_results.get(k)
            for k in ("results", "groups", "configs", "versions", "n-shot", "n-samples", "config")
        },
        "lm_eval_version": lm_results.get("lm_eval_version"),
    }
    (output / RESULTS_FILE).write_text(
        json.dumps(record, indent=2, ensure_ascii=False, default=str) + "\n", encoding="utf-8"
    )
    return record


def eval_results(record: dict[str, Any]) -> list[Any]:
    """``EvalResult`` entries for a results record: one per task and metric.

    Every entry of one group shares ``task_name`` (the group) and the dataset commit; the metric's
    ``name`` says which task it comes from. ``model-index`` groups metrics by dataset config.
    """
    from huggingface_hub import EvalResult

    ds = record["dataset"]
    out = []
    for task, metrics in record["metrics"].items():
        for metric, value in metrics.items():
            out.append(
                EvalResult(
                    task_type="text-generation",
                    task_name=record["group"],
                    dataset_type=ds["repo_id"],
                    dataset_name=f"{ds['repo_id']} {ds['version'] or ds['revision']}",
                    dataset_config=record["tasks"][task],
                    dataset_split="test",
                    dataset_revision=ds["sha"],
                    metric_type=metric,
                    metric_value=round(value, 6),
                    metric_name=f"{task} {metric}",
                    metric_config=record.get("metric_config"),
                    metric_args=_metric_args(record),
                )
            )
    return out


def _metric_args(record: dict[str, Any]) -> dict[str, Any] | None:
    """How the numbers were obtained when it differs from a full plain-prompt run, plus what a
    record declares itself (a judged run: judges, protocol, prompt versions, dataset commit)."""
    args = {
        "limit": record.get("limit"),
        "apply_chat_template": record.get("apply_chat_template") or None,
        **(record.get("metric_args") or {}),
    }
    return {k: v for k, v in args.items() if v is not None and v is not False} or None


def _key(result: Any) -> tuple:
    return (
        result.dataset_type,
        result.dataset_config,
        result.dataset_split,
        result.dataset_revision,
        result.metric_type,
        result.metric_name,
    )


def merge_eval_results(existing: list[Any], new: list[Any]) -> list[Any]:
    """``existing`` with entries of the same key replaced by ``new`` ones (in place), the rest of
    ``new`` appended. The key is dataset (repo, config, split, revision) plus metric type and name."""
    fresh = {_key(r): r for r in new}
    merged = [fresh.pop(_key(r), r) for r in existing]
    return merged + [r for r in new if _key(r) in fresh]


def update_card_text(card_text: str, record: dict[str, Any], model_name: str) -> str:
    """The model card with ``record``'s results merged into ``model-index`` and the evaluation
    table in the body (see :func:`ocforge.cards.model_card.apply_eval_results`)."""
    from huggingface_hub import ModelCard

    from ocforge.cards.model_card import apply_eval_results

    existing = ModelCard(card_text).data.eval_results or []
    merged = merge_eval_results(existing, eval_results(record))
    return apply_eval_results(card_text, merged, model_name)


@dataclass(frozen=True)
class PushResult:
    repo_id: str
    commit: str | None  # None: nothing changed, no commit made
    results_path: str
    entries: int  # eval results in the card after the merge


def push_results(api: Any, repo_id: str, results: Path, *, revision: str = "main") -> PushResult:
    """Merge ``results`` (a ``results.json`` of :func:`run_eval`) into ``repo_id``'s model card and
    upload the file to ``evals/<group>_<dataset version>.json``, in one commit on ``revision``.

    Raises:
        EvalRunError: no model card in the repo (publish the model first) or no such repo.
    """
    from huggingface_hub import CommitOperationAdd
    from huggingface_hub.errors import EntryNotFoundError, RepositoryNotFoundError

    results = Path(results)
    record = json.loads(results.read_text(encoding="utf-8"))
    try:
        head = api.model_info(repo_id, revision=revision).sha
        text = download_text(api, repo_id, "README.md", head)
    except RepositoryNotFoundError:
        raise EvalRunError(f"model repo {repo_id} not found on {api.endpoint}") from None
    except EntryNotFoundError:
        raise EvalRunError(
            f"{repo_id} has no README.md: publish the model with 'ocforge publish model' first"
        ) from None
    from ocforge.publish.card_check import check_card_text

    # the merged card as the Hub would check it, before the commit (as a model publish does)
    updated = check_card_text(update_card_text(text, record, repo_id.split("/")[-1]), "model")
    ds = record["dataset"]
    label = ds["version"] or ds["sha"][:12]
    path_in_repo = f"{EVALS_DIR}{record['group']}_{label}.json"
    ops = [
        CommitOperationAdd("README.md", updated.encode("utf-8")),
        CommitOperationAdd(path_in_repo, results.read_bytes()),
    ]
    info = api.create_commit(
        repo_id,
        ops,
        commit_message=f"Eval results: {record['group']} on {ds['repo_id']}@{ds['revision']}",
        revision=revision,
        parent_commit=head,
    )
    from huggingface_hub import ModelCard

    entries = len(ModelCard(updated).data.eval_results or [])
    commit = info.oid if info.oid != head else None
    return PushResult(repo_id, commit, path_in_repo, entries)
