"""The release's local reads of a build's Parquet files: the separate readers of before (secret
scan, card statistics, changelog row keys, each opening every file) against the one pass
(``ocforge.publish.file_pass``), on the same builds, in the same process, as a ratio.

    python benchmarks/release/bench_file_pass.py --dialogues 50000 --change 0.01 \\
        --max-shard-rows 5000 [--repeat 5] [--memory]

Writes two builds of the synthetic corpus of ``bench_release.py incremental`` (v1; v2 with a
fraction ``--change`` of the dialogues given a new answer, hence a new id) and times, for

- ``first``: a first release of v2 (no parent: no changelog to diff): before, the scan of every
  file (two threads, ``scan_parquet``), the schema of each config's first file and
  ``stats_and_lengths`` per config (polars, its own read); now, the pass and ``summarize``;
- ``now-first-every-file-keyed``: the pass keying every file (what it would cost to compute the
  changelog's keys before knowing whether there is a release to diff against);
- ``next``: v2 released after v1: the same plus the changelog's ``diff_manifests`` against v1
  (before: ``read_keys`` of each changed split's files, the kept ones from the build's copy;
  now: the keys the pass computed for those files). v1's files that v2 does not keep stand for
  the downloads of a real release (already in the cache): both sides read them the same way.

Every variant's output is checked equal (findings, statistics, changelog diff) before it is
timed. Runs alternate (before, now, before, now, ...); the best of ``--repeat`` is reported.
``--memory``: each variant once more in a fresh child process: its peak RSS (``VmHWM``), and what
the run added to the peak after the imports and the manifests.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pyarrow.parquet as pq

from ocforge.cards.statistics import stat_columns, stats_and_lengths, summarize
from ocforge.manifest import read_manifest
from ocforge.publish.diff import diff_manifests, keyed_files
from ocforge.publish.file_pass import read_build_files
from ocforge.publish.rows_build import synthetic_corpus, write_rows_build
from ocforge.publish.secrets import scan_parquet
from ocforge.records import dialogue_id

RECIPE = "name: bench\ncard:\n  license: cc-by-nc-sa-4.0\n"
VARIANTS = ("before-first", "now-first", "now-first-every-file-keyed", "before-next", "now-next")


def write_builds(work: Path, dialogues: int, change: float, max_shard_rows: int) -> int:
    """v1 and v2 under ``work`` (as ``bench_release.py incremental`` changes rows)."""
    chars = max(1, dialogues // 20)
    configs = synthetic_corpus(chars, max(1, round(dialogues / chars)), seed=0)
    write_rows_build(
        work / "v1", "bench", configs, recipe_text=RECIPE, max_shard_rows=max_shard_rows
    )
    changed, rng, n = copy.deepcopy(configs), random.Random(1), 0
    for name in ("rewrite", "generate"):
        rows = changed[name].rows
        for i in rng.sample(range(len(rows)), int(len(rows) * change)):
            row = rows[i]
            row["response"] += " (revised)"
            row["dialogue_id"] = dialogue_id(
                row["strategy"], row["character_id"], row["question"], row["response"]
            )
            n += 1
    write_rows_build(
        work / "v2", "bench", changed, recipe_text=RECIPE, max_shard_rows=max_shard_rows
    )
    return n


class Case:
    """The two builds and the work of each variant."""

    def __init__(self, work: Path):
        self.v1, self.v2 = work / "v1", work / "v2"
        self.old, self.new = read_manifest(self.v1), read_manifest(self.v2)
        self.outputs = {n: c for n, c in self.new.configs.items() if c.splits}
        self.files = [f for c in self.new.configs.values() for f in c.files()]
        local = {f.sha256: self.v2 / f.path for f in self.files}
        # a kept file is read from the build's copy, the others stand for v1's downloads
        self.old_file = lambda f: local.get(f.sha256, self.v1 / f.path)
        self.new_file = lambda f: self.v2 / f.path

    # ---- before: each reader on its own

    def scan(self) -> list:
        root = self.v2

        def one(path: str) -> list:
            return scan_parquet(root / path, path, pq.read_schema(root / path).names[0])

        with ThreadPoolExecutor(max_workers=min(2, os.cpu_count() or 1)) as pool:
            return [x for found in pool.map(one, [f.path for f in self.files]) for x in found]

    def before(self, changelog: bool) -> tuple:
        findings = self.scan()
        for cfg in self.outputs.values():  # read_build's schemas
            pq.read_schema(self.v2 / next(cfg.files()).path)
        stats = {
            n: stats_and_lengths(self.v2, n, c.kind, list(c.splits))
            for n, c in self.outputs.items()
        }
        diff = self._diff(None) if changelog else None
        return findings, stats, diff

    # ---- now: one pass

    def now(self, changelog: bool, key_every_file: bool = False) -> tuple:
        kinds = {n: c.kind for n, c in self.new.configs.items()}
        keyed = keyed_files(self.old if changelog else None, self.new)
        read = read_build_files(
            self.v2,
            self.new,
            select=lambda config, columns: stat_columns(kinds[config], columns),
            key_sha256={f.sha256 for f in self.files} if key_every_file else keyed,
        )
        stats = {
            n: summarize(n, c.kind, list(c.splits), read.selected(n))
            for n, c in self.outputs.items()
        }
        diff = self._diff(read.keyed()) if changelog else None
        return read.findings, stats, diff

    def _diff(self, keyed):
        args = (self.old, self.new, self.old_file, self.new_file, "v1.0.0", "v1.1.0")
        return diff_manifests(*args, keyed)

    def run(self, variant: str) -> tuple:
        return {
            "before-first": lambda: self.before(False),
            "now-first": lambda: self.now(False),
            "before-next": lambda: self.before(True),
            "now-first-every-file-keyed": lambda: self.now(False, key_every_file=True),
            "now-next": lambda: self.now(True),
        }[variant]()


def _vm_hwm_mib() -> float:
    # VmHWM, this process's peak RSS; not ru_maxrss, which Linux carries over from the parent
    # across fork and exec (a child would report the parent's peak)
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    raise RuntimeError("no VmHWM in /proc/self/status")


def _child(work: Path, variant: str) -> None:
    case = Case(work)
    base = _vm_hwm_mib()
    case.run(variant)
    print(json.dumps({"peak_mib": _vm_hwm_mib(), "before_run_mib": base}))


def _memory(work: Path) -> dict[str, dict[str, float]]:
    out = {}
    for variant in VARIANTS:
        cmd = [sys.executable, __file__, "--child", variant, "--workdir", str(work)]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=True)
        got = json.loads(proc.stdout.strip().splitlines()[-1])
        out[variant] = {
            "peak_mib": got["peak_mib"],
            "added_mib": round(got["peak_mib"] - got["before_run_mib"], 1),
        }
    return out


def bench(args: argparse.Namespace, work: Path) -> dict:
    t = time.perf_counter()
    changed = write_builds(work, args.dialogues, args.change, args.max_shard_rows)
    written = time.perf_counter() - t
    case = Case(work)
    # the same answers first: findings, statistics and the changelog's diff
    for mode in ("first", "next"):
        assert case.run(f"before-{mode}") == case.run(f"now-{mode}"), mode
    times: dict[str, list[float]] = {v: [] for v in VARIANTS}
    for _ in range(args.repeat):
        for variant in VARIANTS:
            t = time.perf_counter()
            case.run(variant)
            times[variant].append(time.perf_counter() - t)
    best = {v: min(ts) for v, ts in times.items()}
    res = {
        "dialogues": args.dialogues,
        "changed_rows": changed,
        "data_files": len(case.files),
        "data_bytes": sum(f.bytes for f in case.files),
        "files_keyed_for_next": len(keyed_files(case.old, case.new)),
        "builds_written_s": round(written, 1),
        "best_s": {v: round(s, 3) for v, s in best.items()},
        "median_s": {v: round(statistics.median(ts), 3) for v, ts in times.items()},
        "now_over_before": {
            m: round(best[f"now-{m}"] / best[f"before-{m}"], 3) for m in ("first", "next")
        },
        # what hashing every row costs the pass (a first release does not pay it)
        "keys_cost_over_pass": round(best["now-first-every-file-keyed"] / best["now-first"] - 1, 3),
    }
    if args.memory:
        res["child_peak_rss"] = _memory(work)
    return res


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dialogues", type=int, default=50_000)
    parser.add_argument("--change", type=float, default=0.01)
    parser.add_argument("--max-shard-rows", type=int, default=5_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--memory", action="store_true", help="peak RSS of each variant")
    parser.add_argument("--workdir", default=None, help="default: a temporary folder")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        _child(Path(args.workdir), args.child)
        return 0
    if args.workdir:
        Path(args.workdir).mkdir(parents=True, exist_ok=True)
        res = bench(args, Path(args.workdir))
    else:
        with tempfile.TemporaryDirectory(prefix="ocforge-file-pass-") as tmp:
            res = bench(args, Path(tmp))
    print(json.dumps(res, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
