"""The InferenceRunner stage: a folder of request documents in, a folder of results out.

Resume is datatrove's: the runner checkpoints finished documents in chunks and caches each
request's result in SQLite (``checkpoints/``); a finished task leaves ``logs/completions/``. A
rerun with the same request folder skips finished chunks, finished documents of the unfinished
chunk and cached requests, so saved results are never requested again.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import orjson
from datatrove.data import Document
from datatrove.executor.local import LocalPipelineExecutor
from datatrove.pipeline.inference.run_inference import InferenceConfig, InferenceRunner
from datatrove.pipeline.readers.jsonl import JsonlReader
from datatrove.pipeline.writers.jsonl import JsonlWriter

from ocforge.errors import SynthesisError
from ocforge.recipe import BackendSettings, GenerationSettings

_LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1")


def generation_params(generation: GenerationSettings) -> dict[str, Any]:
    """The sampling parameters sent with every request (``seed`` only when set)."""
    params: dict[str, Any] = {
        "temperature": generation.temperature,
        "top_p": generation.top_p,
        "max_tokens": generation.max_tokens,
    }
    if generation.seed is not None:
        params["seed"] = generation.seed
    return params


def endpoint_base(url: str) -> str:
    """datatrove appends ``/v1/...`` itself for local http endpoints, but not for remote ones
    (they go through the ``openai`` client, whose base URL ends in ``/v1``)."""
    parsed = urlparse(url)
    url = url.rstrip("/")
    if parsed.scheme == "http" and parsed.hostname in _LOCAL_HOSTS:
        return url.removesuffix("/v1")
    return url


def inference_config(
    backend: BackendSettings, generation: GenerationSettings, server_log_folder: Path
) -> InferenceConfig:
    """Translate the recipe's backend into datatrove's InferenceConfig.

    Raises:
        SynthesisError: ``api_key_env`` names an environment variable that is not set.
    """
    api_key = None
    if backend.api_key_env:
        api_key = os.environ.get(backend.api_key_env)
        if not api_key:
            raise SynthesisError(
                f"synthesis.backend.api_key_env: environment variable {backend.api_key_env} is not set"
            )
    ready_timeout = backend.ready_timeout_s or (60.0 if backend.type == "endpoint" else 900.0)
    return InferenceConfig(
        server_type=backend.type,
        model_name_or_path=backend.model,
        endpoint_url=endpoint_base(backend.endpoint_url) if backend.endpoint_url else None,
        api_key=api_key,
        use_chat=True,
        model_max_context=backend.model_max_context,
        tp=backend.tp,
        dp=backend.dp,
        model_kwargs=dict(backend.server_args) or None,
        default_generation_params=generation_params(generation),
        max_concurrent_generations=backend.max_concurrent_generations,
        request_timeout=backend.request_timeout_s,
        server_log_folder=str(server_log_folder) if backend.type != "endpoint" else None,
        server_ready_max_attempts=max(1, math.ceil(ready_timeout / backend.ready_poll_s)),
        server_ready_delay_sec=backend.ready_poll_s,
        server_start_max_retries=0 if backend.type == "endpoint" else 1,
        metric_interval=600,
    )


def _result_adapter(_writer: JsonlWriter, document: Document) -> dict[str, Any]:
    return {"id": document.id, "metadata": document.metadata}


def write_requests(folder: Path, documents: list[dict[str, Any]]) -> None:
    """Write the request documents (``id``, ``text``, ``metadata``) in their final order."""
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / "00000.jsonl.tmp"
    with tmp.open("wb") as fh:
        for doc in documents:
            fh.write(orjson.dumps(doc, option=orjson.OPT_APPEND_NEWLINE))
    tmp.replace(folder / "00000.jsonl")


def run_stage(
    stage: str,
    work: Path,
    rollout,
    config: InferenceConfig,
    records_per_chunk: int,
    shared_context=None,
) -> list[dict[str, Any]]:
    """Run ``rollout`` over ``work/requests/<stage>`` and return the result documents.

    Raises:
        SynthesisError: the runner failed (server unreachable, a 5xx answer, ...).
    """
    requests = work / "requests" / stage
    results = work / "results" / stage
    runner = InferenceRunner(
        rollout,
        config,
        output_writer=JsonlWriter(
            str(results),
            output_filename="${rank}_chunk_${chunk_index}.jsonl",
            compression=None,
            adapter=_result_adapter,
        ),
        shared_context=shared_context,
        checkpoints_local_dir=str(work / "checkpoints" / stage),
        records_per_chunk=records_per_chunk,
    )
    executor = LocalPipelineExecutor(
        # request documents always have text (the persona or the question): none is skipped
        pipeline=[
            JsonlReader(
                str(requests), compression=None, glob_pattern="*.jsonl", add_file_path=False
            ),
            runner,
        ],
        tasks=1,
        workers=1,
        logging_dir=str(work / "logs" / stage),
        skip_completed=True,
    )
    try:
        executor.run()
    except Exception as exc:  # datatrove re-raises a task's error, of whatever type it was
        where = config.endpoint_url or config.server_type
        raise SynthesisError(
            f"synthesis stage {stage!r} failed against {where} (model {config.model_name_or_path}): {exc}"
        ) from exc
    docs = []
    for path in sorted(results.glob("*.jsonl")):
        docs += [orjson.loads(line) for line in path.read_bytes().splitlines() if line.strip()]
    return docs
