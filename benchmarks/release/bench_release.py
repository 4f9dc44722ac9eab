"""Release benchmarks: incremental uploads and an end-to-end release at scale.

    python benchmarks/release/bench_release.py incremental --dialogues 200000 --change 0.01
    python benchmarks/release/bench_release.py scale --dialogues 460000 --characters 20000

``incremental``: release v1 of a synthetic corpus, change a fraction of the dialogue rows (new
answers, hence new ids), release v2; reports bytes uploaded for v2 against v1 (the baseline run
in the same process) and both times. ``datasets.push_to_hub`` would re-upload every shard of every
changed split, i.e. 100% of the changed configs' bytes, without Xet.

``scale``: write a corpus of the given size as a build folder, release it end to end to an
in-process local Hub (secret scan, statistics and plots, push, tag, load_dataset verification)
and report time per stage and the peak RSS of this process and of its children.
"""

from __future__ import annotations

import argparse
import copy
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ocforge.publish.release import release_build
from ocforge.publish.rows_build import synthetic_corpus, write_rows_build

from ocforge.records import dialogue_id

TOKEN = "hf_release_benchmark_token_0123456789"
RECIPE = "name: bench\ncard:\n  license: cc-by-nc-sa-4.0\n"


def _watch_tree(proc: subprocess.Popen, every_s: float = 0.1) -> float:
    """Peak of the summed RSS of ``proc`` and all its descendants (MiB), sampled until it exits.

    Sampling /proc is used because ``ru_maxrss`` survives ``execve``: a child forked from a big
    parent would report the parent's size.
    """
    import psutil

    root = psutil.Process(proc.pid)
    peak = 0.0
    while proc.poll() is None:
        total = 0
        try:
            for p in [root, *root.children(recursive=True)]:
                try:
                    total += p.memory_info().rss
                except psutil.Error:
                    continue
        except psutil.Error:
            break
        peak = max(peak, total / 2**20)
        time.sleep(every_s)
    return peak


def _hwm_mib() -> float:
    """This process's own peak RSS since its ``execve`` (VmHWM)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def _rss_mib() -> dict[str, float]:
    # ru_maxrss is in KiB on Linux; RUSAGE_CHILDREN is the largest child that has exited
    self_ = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return {"self_mib": round(self_, 1), "largest_child_mib": round(kids, 1)}


class Stages:
    def __init__(self) -> None:
        self.t0 = self.last = time.perf_counter()
        self.current = "start"
        self.times: dict[str, float] = {}
        self.peak_rss: dict[str, float] = {}

    def __call__(self, msg: str) -> None:
        now = time.perf_counter()
        self.times[self.current] = self.times.get(self.current, 0.0) + now - self.last
        self.peak_rss[self.current] = _hwm_mib()  # peak so far, at the stage's end
        self.current, self.last = msg.split(" (")[0].split(" on ")[0], now

    def done(self) -> dict[str, float]:
        self("end")
        return {k: round(v, 2) for k, v in self.times.items() if k != "start"}


def _corpus(dialogues: int, characters: int | None, seed: int):
    chars = characters or max(1, dialogues // 20)
    per = max(1, round(dialogues / chars))
    return synthetic_corpus(chars, per, seed=seed)


def incremental(args: argparse.Namespace) -> dict:
    from ocforge.publish.localhub import LocalHub

    configs = _corpus(args.dialogues, args.characters, 0)
    with tempfile.TemporaryDirectory() as tmp, LocalHub(Path(tmp) / "hub", tokens=[TOKEN]) as hub:
        kw = {"endpoint": hub.endpoint, "token": TOKEN, "verify": False}
        shard_kw = {"max_shard_rows": args.max_shard_rows}
        write_rows_build(Path(tmp) / "v1", "bench", configs, recipe_text=RECIPE, **shard_kw)
        t = time.perf_counter()
        v1 = release_build(Path(tmp) / "v1", "bench/incremental", **kw)
        t1 = time.perf_counter() - t

        changed = copy.deepcopy(configs)
        rng = random.Random(1)
        n_changed = 0
        for name in ("rewrite", "generate"):
            rows = changed[name].rows
            for i in rng.sample(range(len(rows)), int(len(rows) * args.change)):
                row = rows[i]
                row["response"] = row["response"] + " (revised)"
                row["dialogue_id"] = dialogue_id(
                    row["strategy"], row["character_id"], row["question"], row["response"]
                )
                n_changed += 1
        write_rows_build(Path(tmp) / "v2", "bench", changed, recipe_text=RECIPE, **shard_kw)
        t = time.perf_counter()
        v2 = release_build(Path(tmp) / "v2", "bench/incremental", **kw)
        t2 = time.perf_counter() - t

    def data_files(plan):
        return [f for f in plan.files if f.path.startswith("data/")]

    return {
        "dialogues": sum(len(configs[c].rows) for c in ("rewrite", "generate")),
        "changed_rows": n_changed,
        "max_shard_rows": args.max_shard_rows,
        "v1": {
            "version": v1.version,
            "seconds": round(t1, 2),
            "bytes_uploaded": v1.bytes_uploaded,
            "data_files": len(data_files(v1.plan)),
        },
        "v2": {
            "version": v2.version,
            "seconds": round(t2, 2),
            "bytes_uploaded": v2.bytes_uploaded,
            "data_files_uploaded": len([f for f in v2.plan.uploads if f.path.startswith("data/")]),
        },
        "v2_bytes_over_v1": round(v2.bytes_uploaded / v1.bytes_uploaded, 4),
        "rss": _rss_mib(),
    }


def scale(args: argparse.Namespace) -> dict:
    t = time.perf_counter()
    configs = _corpus(args.dialogues, args.characters, 0)
    gen_s = time.perf_counter() - t
    with tempfile.TemporaryDirectory() as tmp:
        build = Path(tmp) / "build"
        t = time.perf_counter()
        write_rows_build(
            build, "bench", configs, recipe_text=RECIPE, max_shard_rows=args.max_shard_rows
        )
        write_s = time.perf_counter() - t
        rows = {c: len(v.rows) for c, v in configs.items()}
        del configs
        # the release runs in a child process, so that its peak RSS (and its verification
        # grandchild's) is measured apart from the corpus generator's
        t = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, __file__, "_release", str(build), str(Path(tmp) / "hub")],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        tree_peak = _watch_tree(proc)
        stdout, stderr = proc.communicate()
        wall = time.perf_counter() - t
        if proc.returncode != 0:
            raise SystemExit(stderr[-3000:])
        child = json.loads(stdout.strip().splitlines()[-1])
    return {
        "rows": rows,
        "generate_rows_s": round(gen_s, 2),
        "write_build_s": round(write_s, 2),
        "release_wall_s": round(wall, 2),
        **child,
        "peak_rss_release_tree_mib": round(tree_peak, 1),
    }


def _release_child(build: str, hub_root: str) -> int:
    stages = Stages()
    result = release_build(
        build, "bench/scale", hub_root=Path(hub_root), verify=True, progress=stages
    )
    times = stages.done()
    print(
        json.dumps(
            {
                "version": result.version,
                "bytes_uploaded": result.bytes_uploaded,
                "verified_rows": sum(v.loaded for v in result.verified),
                "stage_s": times,
                "peak_rss_after_stage_mib": {
                    k: v for k, v in stages.peak_rss.items() if k != "start"
                },
                "release_s": round(sum(times.values()), 2),
                "release_process_peak_rss_mib": _hwm_mib(),
            }
        )
    )
    return 0


def main(argv: list[str]) -> int:
    if argv[:1] == ["_release"]:
        return _release_child(argv[1], argv[2])
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    inc = sub.add_parser("incremental")
    inc.add_argument("--dialogues", type=int, default=200_000)
    inc.add_argument("--characters", type=int, default=None)
    inc.add_argument("--change", type=float, default=0.01)
    inc.add_argument("--max-shard-rows", type=int, default=100_000)
    sc = sub.add_parser("scale")
    sc.add_argument("--dialogues", type=int, default=460_000)
    sc.add_argument("--characters", type=int, default=20_000)
    sc.add_argument("--max-shard-rows", type=int, default=100_000)
    args = parser.parse_args(argv)
    out = incremental(args) if args.cmd == "incremental" else scale(args)
    print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
