"""The two steps of ``ocforge eval judge``, from references to files (and the Hub):

* :func:`prepare_release` - once per release: the frozen questions and rubric examples of its
  held-out characters, optionally published as ``ORG/NAME-personagym`` tagged like the release;
* :func:`judge_model` - per model: answers, verdicts and the results files;
* :func:`push_judge_results` - the results merged into the model card's ``model-index``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ocforge.errors import JudgeError
from ocforge.evals.judge.client import Endpoint
from ocforge.evals.judge.hubio import (
    PublishedSet,
    held_out_characters,
    load_prepared,
    publish_prepared,
)
from ocforge.evals.judge.judging import JudgeJob, judge_items
from ocforge.evals.judge.prepare import prepare
from ocforge.evals.judge.record import RESULTS_FILE, build_record, write_outputs
from ocforge.evals.judge.spec import JudgeSpec, load_spec
from ocforge.publish.dataset_ref import resolve_release


@dataclass(frozen=True)
class Prepared:
    manifest: dict[str, Any]
    out: Path
    repo_id: str
    published: PublishedSet | None


def default_repo(dataset_repo: str) -> str:
    return f"{dataset_repo}-personagym"


def prepare_release(
    api: Any,
    dataset: str,
    generator: Endpoint,
    out: Path,
    *,
    protocol: str = "light",
    repo_id: str | None = None,
    push: bool = False,
    concurrency: int = 16,
    spec: JudgeSpec | None = None,
) -> Prepared:
    """Prepare ``dataset`` (``ORG/NAME@vX.Y.Z``) into ``out``; with ``push``, publish it to
    ``repo_id`` (default ``ORG/NAME-personagym``) tagged with the release's version.

    Raises:
        ReleaseRefError: the release does not resolve.
        JudgeError: no test characters, a generator reply unusable, or the tag holds other content.
    """
    spec = spec or load_spec()
    spec.protocol(protocol)
    release = resolve_release(api, dataset)
    repo_id = repo_id or default_repo(release.repo_id)
    characters = held_out_characters(api, release)
    manifest = prepare(
        release,
        characters,
        generator,
        spec,
        Path(out),
        protocol=protocol,
        concurrency=concurrency,
        repo_id=repo_id,
    )
    published = None
    if push:
        published = publish_prepared(api, Path(out), repo_id, f"v{manifest['version']}")
    return Prepared(manifest, Path(out), repo_id, published)


def _model_identity(api: Any, model: str | None, endpoint: Endpoint) -> dict[str, Any]:
    from ocforge.evals.run import resolve_model

    ref = resolve_model(api, model) if model else None
    return {
        "path": str(ref.path) if ref and ref.path else None,
        "repo_id": ref.repo_id if ref else None,
        "revision": ref.revision if ref else None,
        "sha": ref.sha if ref else None,
        "served_as": endpoint.model,
    }


def judge_model(
    api: Any,
    prepared: str,
    model_endpoint: Endpoint,
    judges: list[Endpoint],
    output: Path,
    *,
    model: str | None = None,
    protocol: str = "light",
    concurrency: int = 16,
    answer_sampling: dict[str, Any] | None = None,
    spec: JudgeSpec | None = None,
) -> dict[str, Any]:
    """Judge the model served at ``model_endpoint`` on ``prepared`` (a folder or
    ``ORG/NAME@REV``) and write the results into ``output``; returns the record.

    ``model`` (a folder or ``ORG/NAME@REV``) names what is served, for the record and ``--push``.
    ``answer_sampling`` overrides keys of ``configs/judge``'s answer sampling.

    Raises:
        JudgeError: no judge, an unusable prepared set, or an endpoint failing.
    """
    from ocforge.evals.register import default_prefix

    if not judges:
        raise JudgeError("at least one judge endpoint is needed")
    spec = spec or load_spec()
    spec.protocol(protocol)
    prepared_set = load_prepared(api, prepared, protocol)
    identity = _model_identity(api, model, model_endpoint)
    sampling = {**spec.sampling["answer"], **(answer_sampling or {})}
    job = JudgeJob(prepared_set, model_endpoint, judges, spec, Path(output), concurrency, sampling)
    judged = judge_items(job)
    prefix = default_prefix(prepared_set.manifest["source"]["repo_id"])
    record = build_record(job, judged, identity, prefix)
    return write_outputs(Path(output), record, judged.stats)


def push_judge_results(api: Any, repo_id: str, output: Path) -> Any:
    """Merge ``output/results.json`` into ``repo_id``'s model card (``evals.run.push_results``:
    the same entries replace themselves, so pushing twice adds nothing).

    Raises:
        JudgeError: the results were judged on a prepared set read from a folder (not pinned).
    """
    import json

    from ocforge.evals.run import push_results

    path = Path(output) / RESULTS_FILE
    if not path.is_file():
        raise JudgeError(f"{path} not found: run 'ocforge eval judge run' first")
    record = json.loads(path.read_text(encoding="utf-8"))
    if not record.get("dataset", {}).get("repo_id"):
        raise JudgeError(
            f"{path}: judged on a prepared set read from a folder; push needs one published on "
            "the Hub (prepare with --push, then run with --prepared ORG/NAME@vX.Y.Z)"
        )
    return push_results(api, repo_id, path)
