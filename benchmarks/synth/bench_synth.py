"""Requests per second through datatrove's InferenceRunner (concurrent) vs a plain sequential loop
of single requests, against the same local ``transformers serve``, in the same run.

For each server mode (default one-at-a-time generation, and ``--continuous-batching``):

* baseline: N chat requests sent one after another with ``http.client`` (one connection each,
  like datatrove's local-endpoint client), each awaited before the next;
* runner: the same N requests as N documents through ``InferenceRunner`` (server_type
  ``endpoint``, ``max_concurrent_generations`` = C, checkpointing on, as ``ocforge synth`` runs
  it), timed from the first request to the last answer (the executor's start-up is reported apart).

The model is the tiny random-weight chat model (``ocforge.builders.synthesis.tiny_model``); every
request asks for exactly ``--max-tokens`` tokens (``ignore_eos`` is not portable, so a random
model that stops early is counted by its completion tokens, reported too). Usage::

    python benchmarks/synth/bench_synth.py [--requests 48] [--concurrency 8] [--max-tokens 32]
"""

from __future__ import annotations

import argparse
import http.client
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests"))

from synth_server import transformers_serve  # noqa: E402

from ocforge.builders.synthesis.tiny_model import build_tiny_chat_model  # noqa: E402


def _messages(i: int) -> list[dict[str, str]]:
    # a shared system prompt (like a character profile) and a distinct question per request
    return [
        {
            "role": "system",
            "content": "You are Hannah Okafor, a night-shift nurse. Stay in character.",
        },
        {
            "role": "user",
            "content": f"Question number {i}: how do I get better at public speaking?",
        },
    ]


def sequential(url: str, model: str, n: int, max_tokens: int) -> tuple[float, int]:
    host = url.removeprefix("http://")
    tokens = 0
    start = time.perf_counter()
    for i in range(n):
        conn = http.client.HTTPConnection(host, timeout=600)
        body = json.dumps({"model": model, "messages": _messages(i), "max_tokens": max_tokens})
        conn.request("POST", "/v1/chat/completions", body, {"Content-Type": "application/json"})
        resp = conn.getresponse()
        data = json.loads(resp.read())
        conn.close()
        assert resp.status == 200, data
        tokens += data["usage"]["completion_tokens"]
    return time.perf_counter() - start, tokens


class _Timed:
    """Rollout that records when each request was sent and answered."""

    def __init__(self, log: Path):
        self.log = str(log)

    async def __call__(self, document, generate):
        sent = time.time()
        result = await generate({"messages": _messages(int(document.id))})
        with open(self.log, "a") as fh:
            fh.write(
                json.dumps([sent, time.time(), result.usage.get("completion_tokens", 0)]) + "\n"
            )
        return {"text": result.text}


def through_runner(url: str, model: str, n: int, max_tokens: int, concurrency: int, work: Path):
    from ocforge.builders.synthesis.runner import inference_config, run_stage, write_requests
    from ocforge.recipe import BackendSettings, GenerationSettings

    backend = BackendSettings(
        type="endpoint",
        model=model,
        endpoint_url=url,
        max_concurrent_generations=concurrency,
        ready_timeout_s=30,
        ready_poll_s=0.5,
    )
    generation = GenerationSettings(temperature=0.0, top_p=1.0, max_tokens=max_tokens, seed=None)
    config = inference_config(backend, generation, work / "server-logs")
    write_requests(
        work / "requests" / "bench",
        [{"id": str(i), "text": f"q{i}", "metadata": {}} for i in range(n)],
    )
    log = work / "timings.jsonl"
    start = time.perf_counter()
    docs = run_stage("bench", work, _Timed(log), config, records_per_chunk=max(1, n // 4))
    total = time.perf_counter() - start
    assert len(docs) == n
    rows = [json.loads(line) for line in log.read_text().splitlines()]
    first_sent, last_done = min(r[0] for r in rows), max(r[1] for r in rows)
    return last_done - first_sent, sum(r[2] for r in rows), total - (last_done - first_sent)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=48)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--max-tokens", type=int, default=32)
    args = parser.parse_args()
    from loguru import logger

    logger.disable("datatrove")
    results = {}
    with tempfile.TemporaryDirectory(prefix="ocforge-bench-synth-") as tmp:
        root = Path(tmp)
        model = build_tiny_chat_model(root / "tiny-chat")
        for mode, cb in (("one-at-a-time", False), ("continuous-batching", True)):
            work = root / mode
            work.mkdir()
            with transformers_serve(model, work, continuous_batching=cb) as url:
                sequential(url, str(model), 4, args.max_tokens)  # warm-up, not counted
                seq_s, seq_tok = sequential(url, str(model), args.requests, args.max_tokens)
                run_s, run_tok, overhead = through_runner(
                    url, str(model), args.requests, args.max_tokens, args.concurrency, work
                )
            results[mode] = {
                "sequential_rps": round(args.requests / seq_s, 2),
                "runner_rps": round(args.requests / run_s, 2),
                "ratio_runner_vs_sequential": round(seq_s / run_s, 2),
                "sequential_completion_tokens": seq_tok,
                "runner_completion_tokens": run_tok,
                "runner_startup_and_teardown_s": round(overhead, 2),
            }
    print(json.dumps({"args": vars(args), "results": results}, indent=2))


if __name__ == "__main__":
    main()
