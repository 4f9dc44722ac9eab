"""Judge throughput of ``ocforge eval judge``: bounded concurrency (16 requests in flight) against
sequential requests (1 in flight), on the same items in the same run.

The endpoint is the scripted judge of the tests (tests/judge_server.py: the real chat-completions
protocol on 127.0.0.1) with a fixed latency per request (``--latency-ms``, default 50 ms) and
threads enough for every connection, in its own process, so the endpoint is not the bottleneck:
what is measured is the client (ocforge's asyncio + httpx path, the SQLite cache, the repair
turns). Each arm has its own folder: the model's answers (a second scripted server) are put in
its cache first, untimed, then the judge calls are timed from an empty judge cache.
The items are synthetic (N characters x the five dimensions); nothing is downloaded. Usage::

    python benchmarks/evals/bench_judge.py [--characters 32] [--latency-ms 50] [--concurrency 16]
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests"))

from ocforge.evals.judge.client import Endpoint  # noqa: E402
from ocforge.evals.judge.hubio import PreparedSet  # noqa: E402
from ocforge.evals.judge.judging import JudgeJob, judge_items  # noqa: E402
from ocforge.evals.judge.spec import load_spec  # noqa: E402


def synthetic_set(characters: int) -> PreparedSet:
    spec = load_spec()
    items = [
        {
            "item_id": f"c{c:03d}:{d.id}:0",
            "character_id": f"c{c:03d}",
            "profile": f"Name: Character {c}\nAge: {20 + c}\nPersonality: patient, exact.",
            "settings": [spec.settings[c % len(spec.settings)]],
            "dimension": d.id,
            "question_index": 0,
            "question": f"Character {c}, what would you do about problem {d.id}?",
            "examples": [f"An answer worth {n}." for n in range(1, 6)],
        }
        for c in range(characters)
        for d in spec.dimensions
    ]
    manifest = {"source": {"repo_id": "bench/none"}, "protocols": {"light": {"name": "bench"}}}
    return PreparedSet(manifest, "light", items, None, None, None, "synthetic")


SERVER = Path(__file__).resolve().parents[2] / "tests" / "judge_server.py"


@contextlib.contextmanager
def scripted(*args: str):
    """The scripted endpoint in its own process; yields its URL, stops it by its id."""
    proc = subprocess.Popen([sys.executable, str(SERVER), *args], stdout=subprocess.PIPE, text=True)
    try:
        yield proc.stdout.readline().strip()
    finally:
        os.kill(proc.pid, signal.SIGTERM)
        proc.wait()


def arm(prepared: PreparedSet, answers: str, judge: str, concurrency: int) -> dict:
    spec = load_spec()
    with tempfile.TemporaryDirectory(prefix="bench-judge-") as tmp:
        job = JudgeJob(
            prepared,
            Endpoint(answers, "bench-model"),
            [Endpoint(judge, "bench-judge")],
            spec,
            Path(tmp),
            concurrency,
            {**spec.sampling["answer"], "max_tokens": 64},
        )
        # the answers first, into this arm's cache: the timed run then measures the judge calls
        judge_items(dataclasses.replace(job, judges=[]))
        start = time.perf_counter()
        judged = judge_items(job)
        seconds = time.perf_counter() - start
    sent = next(s["sent"] for k, s in judged.stats.items() if k.startswith("bench-judge"))
    scored = sum(s["score"] is not None for s in judged.samples)
    return {
        "concurrency": concurrency,
        "judge_requests": sent,
        "seconds": round(seconds, 3),
        "judge_requests_per_s": round(sent / seconds, 1),
        "items_scored": scored,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--characters", type=int, default=32)
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    prepared = synthetic_set(args.characters)
    latency = args.latency_ms / 1000
    # a share of malformed verdicts, so repair turns are part of the measured path
    judge_args = ("--delay-s", str(latency), "--malformed-every", "5")
    with scripted() as answers, scripted(*judge_args) as judge:
        sequential = arm(prepared, answers, judge, 1)
        bounded = arm(prepared, answers, judge, args.concurrency)
    report = {
        "items": len(prepared.items),
        "latency_ms": args.latency_ms,
        "sequential": sequential,
        "bounded": bounded,
        "speedup": round(sequential["seconds"] / bounded["seconds"], 2),
    }
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
