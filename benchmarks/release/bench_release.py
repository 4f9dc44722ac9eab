"""Release benchmarks: incremental uploads and an end-to-end release at scale.

    python benchmarks/release/bench_release.py incremental --dialogues 200000 --workdir /tmp/inc
    python benchmarks/release/bench_release.py scale --characters 20000 --dialogues 460000

``incremental`` (``incremental.py``): v1 of a ``full_corpus.py`` corpus, then three v2s (a
card-only edit, 5% more dialogues, 1% of the rows edited in place), each built by ``ocforge
release`` after v1's layout and published through Xet (hf_xet, default settings) and through
LFS (``HF_HUB_DISABLE_XET=1``) by child clients; reports the bytes v2 sent against v1's data
bytes, from the server's per-commit count of new bytes and from the client's, the floor of the
in-place edits, and v1's upload throughput through both paths.

``scale``: generate raw input files the size of the OpenCharacter release with planted problems
(``full_corpus.py``: characters.jsonl, ``--files`` inputs per dialogue strategy, recipe.yaml,
planted.json; timed apart, not part of the release), then run the real CLI
``ocforge release RECIPE --repo ORG/NAME --target local`` as a child process against an
in-process local Hub under WORKDIR/hub: build (curation on datatrove: validation, filters, exact
and MinHash dedup, decontamination, Parquet), secret scan, card statistics and plots, push, tag,
``load_dataset`` verification in a grandchild. Every progress line is timestamped as it arrives
(a stage lasts until the next line); the PSS and RSS of the whole process tree (datatrove's
forkserver workers, the verification child) are summed every second, and the machine's busy and
stolen CPU time (``/proc/stat``) is read at every stage line. Prints time, peak memory and cores
kept busy per stage, the ledger of ``release.json`` against ``planted.json``, and writes
WORKDIR/results.json. Exits non-zero when ``ocforge release`` fails.

    python benchmarks/release/bench_release.py scale --characters 20000 --dialogues 460000 \
        [--workdir DIR] [--keep]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

# --------------------------------------------------------------------------- scale

REPO = "bench/opencharacter-full"
# the progress lines `ocforge release` prints on stderr (ocforge/cli/release.py): the build's
# per-config stages (ocforge/flows/build.py), then the release's (ocforge/flows/release.py)
STAGE_RE = re.compile(
    r"^(?:building |resuming the unfinished build|build in .* is up to date"
    r"|[\w.-]+: (?:filter|dedup-|minhash-|semantic-dedup|decontamination|records|write parquet)"
    r"|decontamination index$|card and manifest$|eval configs$|no eval configs"
    r"|secret scan$|reading |card statistics and plots$|changelog$|content identical"
    r"|pushing \d+ files|tagging |verifying )"
)


def calibrate(rounds: int = 5) -> float:
    """Seconds a fixed single-core workload takes, best of ``rounds``: the filter stage's kind of
    work (JSON, regex tokenising, sets and counters of n-grams). This VM's speed drifts by up to
    2x between runs of the same code; this number, taken before and after a release, says how
    fast the machine was, so that runs can be compared."""
    text = "The harbour freezes in January, and the ferry stops running until the thaw. " * 12
    line = json.dumps({"response": text, "question": "Why would the ferry stop?", "n": 1})
    word = re.compile(r"\w+(?:'\w+)*|[^\w\s]")
    best = math.inf
    for _ in range(rounds):
        started = time.perf_counter()
        for _ in range(2000):
            words = word.findall(json.loads(line)["response"].lower())
            Counter(zip(words, words[1:], strict=False))
            len(set(zip(words, words[1:], words[2:], strict=False)))
        best = min(best, time.perf_counter() - started)
    return round(best, 3)


def _ocforge_command() -> list[str]:
    """The venv's ``ocforge`` entry point, else ``python -m ocforge``."""
    script = Path(sys.executable).parent / "ocforge"
    return [str(script)] if script.is_file() else [sys.executable, "-m", "ocforge"]


def _tree_memory(root) -> tuple[int, int, int]:
    """(PSS, RSS, processes) summed over ``root`` and all its descendants, in bytes.

    PSS counts a page shared by n processes 1/n in each, so forked workers sharing the parent's
    pages are not counted n times (RSS is reported too, for comparison with older numbers).
    """
    import psutil

    try:
        procs = [root, *root.children(recursive=True)]
    except psutil.Error:
        return 0, 0, 0
    pss = rss = 0
    for p in procs:
        # /proc/PID/smaps_rollup: the kernel sums PSS for us; psutil's memory_full_info parses
        # the whole smaps file, which cost this harness half a core on the 2-core machine
        try:
            fields = Path(f"/proc/{p.pid}/smaps_rollup").read_text().splitlines()
            values = {
                f.split(":")[0]: int(f.split()[1]) * 1024 for f in fields if f.endswith(" kB")
            }
            rss += values.get("Rss", 0)
            pss += values.get("Pss", values.get("Rss", 0))
        except (OSError, ValueError):
            try:
                rss += (r := p.memory_info().rss)
                pss += r
            except psutil.Error:
                continue
    return pss, rss, len(procs)


def _cpu_jiffies() -> tuple[int, int]:
    """Busy and stolen clock ticks of the whole machine so far (``/proc/stat``): busy ticks over
    a stage's wall time is how many cores it kept busy; steal is time the hypervisor took."""
    try:
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError):
        return 0, 0
    user, nice, system, _idle, _iowait, irq, softirq, steal = (fields + [0] * 8)[:8]
    return user + nice + system + irq + softirq, steal


_HZ = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


class _Timeline:
    """Stage lines with the time they arrived; memory peaks charged to the current stage, and
    the machine's busy and stolen CPU time between stage lines."""

    def __init__(self) -> None:
        self.t0 = time.perf_counter()
        self.stages: list[dict] = [self._stage("start (interpreter, recipe, build check)")]
        self.lock = threading.Lock()

    def _stage(self, name: str) -> dict:
        at = time.perf_counter() - getattr(self, "t0", time.perf_counter())
        busy, steal = _cpu_jiffies()
        return {
            "stage": name,
            "start_s": at,
            "peak_pss": 0,
            "peak_rss": 0,
            "procs": 0,
            "n": 0,
            "busy": busy,
            "steal": steal,
        }

    def begin(self, name: str) -> None:
        with self.lock:
            self.stages.append(self._stage(name))

    def sample(self, pss: int, rss: int, procs: int) -> None:
        with self.lock:
            cur = self.stages[-1]
            cur["peak_pss"] = max(cur["peak_pss"], pss)
            cur["peak_rss"] = max(cur["peak_rss"], rss)
            cur["procs"] = max(cur["procs"], procs)
            cur["n"] += 1

    def finish(self, end_s: float) -> list[dict]:
        out = []
        end_busy, end_steal = _cpu_jiffies()
        for cur, nxt in zip(self.stages, [*self.stages[1:], None], strict=True):
            stop = nxt["start_s"] if nxt else end_s
            wall = max(stop - cur["start_s"], 1e-9)
            busy = (nxt["busy"] if nxt else end_busy) - cur["busy"]
            steal = (nxt["steal"] if nxt else end_steal) - cur["steal"]
            out.append(
                {
                    "stage": cur["stage"],
                    "start_s": round(cur["start_s"], 2),
                    "seconds": round(stop - cur["start_s"], 2),
                    # None: the stage was shorter than the sampling period
                    "peak_pss_mib": round(cur["peak_pss"] / 2**20, 1) if cur["n"] else None,
                    "peak_rss_mib": round(cur["peak_rss"] / 2**20, 1) if cur["n"] else None,
                    "processes": cur["procs"] if cur["n"] else None,
                    "samples": cur["n"],
                    # cores kept busy (all processes on the machine, the harness included)
                    "busy_cores": round(busy / _HZ / wall, 2),
                    "steal_cores": round(steal / _HZ / wall, 2),
                }
            )
        return out


def _run_release(cmd: list[str], env: dict, cwd: Path, every_s: float) -> dict:
    """Run ``cmd``, timestamp its stage lines as they arrive, sample the tree's memory."""
    import psutil

    timeline = _Timeline()
    logs: dict[str, list[str]] = {"stdout": [], "stderr": []}

    def pump(stream, name: str) -> None:
        for raw in stream:
            line = raw.rstrip("\n")
            logs[name].append(line)
            if name == "stderr" and STAGE_RE.match(line):
                timeline.begin(line)
            elif name == "stdout" and len(logs["stdout"]) == 1:
                timeline.begin("report (stdout)")

    proc = subprocess.Popen(
        cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    readers = [
        threading.Thread(target=pump, args=(proc.stdout, "stdout"), daemon=True),
        threading.Thread(target=pump, args=(proc.stderr, "stderr"), daemon=True),
    ]
    for r in readers:
        r.start()
    root = psutil.Process(proc.pid)
    peak_pss = peak_rss = peak_procs = 0
    while proc.poll() is None:
        started = time.perf_counter()
        pss, rss, n = _tree_memory(root)
        timeline.sample(pss, rss, n)
        peak_pss, peak_rss, peak_procs = max(peak_pss, pss), max(peak_rss, rss), max(peak_procs, n)
        time.sleep(max(0.0, every_s - (time.perf_counter() - started)))
    wall = time.perf_counter() - timeline.t0
    for r in readers:
        r.join()
    return {
        "returncode": proc.returncode,
        "wall_s": round(wall, 2),
        "stages": timeline.finish(wall),
        "peak_tree_pss_mib": round(peak_pss / 2**20, 1),
        "peak_tree_rss_mib": round(peak_rss / 2**20, 1),
        "peak_processes": peak_procs,
        "logs": logs,
    }


def _phases(stages: list[dict], wall: float) -> dict[str, float]:
    """Seconds of the build, the publishing part of the release, verification and the rest."""

    def at(prefix: str) -> float | None:
        return next((s["start_s"] for s in stages if s["stage"].startswith(prefix)), None)

    build, scan, verify, report = (
        at("building "),
        at("secret scan"),
        at("verifying with load_dataset"),
        at("report"),
    )
    out = {"startup": build if build is not None else (scan or wall)}
    if build is not None and scan is not None:
        out["build (curation)"] = scan - build
    if scan is not None:
        out["publish (scan, card, push, tag)"] = (verify or report or wall) - scan
    if verify is not None:
        out["verify (load_dataset child)"] = (report or wall) - verify
    if report is not None:
        out["report"] = wall - report
    return {k: round(v, 2) for k, v in out.items()}


def _ledger_checks(planted: dict, ledger: dict) -> list[dict]:
    """Every expected (outcome, reason) count against the ledger, plus unplanted reasons.

    Exact: the count must match. Approximate (near duplicates, and what depends on them): within
    2 + 3 standard deviations of the MinHash misses the generator expects.
    """
    prefixes = tuple(planted.get("repetition_reasons", ("dup_", "duplicated_", "top_")))
    checks = []

    def add(config, what, expected, got, tol=0.0):
        ok = abs(got - expected) <= tol
        checks.append(
            {
                "config": config,
                "what": what,
                "expected": expected,
                "ledger": got,
                "tolerance": round(tol, 1),
                "ok": ok,
            }
        )

    for config, info in planted["configs"].items():
        led = ledger["configs"].get(config)
        if led is None:
            checks.append({"config": config, "what": "config missing", "ok": False})
            continue
        exp = info["expected"]
        missed = (info.get("near_copies") or {}).get("expected_missed", 0.0)
        tol = 2 + 3 * math.sqrt(missed) if missed else 0.0
        add(config, "input", info["input"], led["input"])
        for outcome in ("quarantined", "dropped", "duplicates"):
            got = dict(led["reasons"].get(outcome, {}))
            for reason, n in exp.get(outcome, {}).items():
                if reason.endswith(":*"):
                    hits = [r for r in got if r.startswith(prefixes)]
                    count = sum(got.pop(r) for r in hits)
                else:
                    count = got.pop(reason, 0)
                approx = reason in ("near_duplicate", "test_overlap")
                add(config, f"{outcome}/{reason}", n, count, tol if approx else 0.0)
            for reason, n in got.items():  # removed although nothing of the kind was planted
                add(config, f"{outcome}/{reason} (unplanted)", 0, n)
        add(config, "kept", exp["kept"], led["kept"], tol if isinstance(exp["kept"], float) else 0)
        for key, n in (info.get("expected_modified") or {}).items():
            got = led.get("modified", {}).get(key, 0)
            if isinstance(n, list):  # a range: [low, high]
                mid, half = (n[0] + n[1]) / 2, (n[1] - n[0]) / 2
                add(config, f"modified/{key} [{n[0]}..{n[1]}]", mid, got, half)
            else:
                add(config, f"modified/{key}", n, got)
    return checks


def _print_scale(res: dict) -> None:
    print(f"\ncorpus: {res['corpus']}  (generation {res['generate_s']} s, not part of the release)")
    print(f"command: {' '.join(res['command'])}")
    before, after = res["machine"]["calibration_s"]
    print(f"machine speed: calibrate() took {before} s before and {after} s after the release\n")
    head = (
        f"{'stage':<62} {'start s':>8} {'seconds':>8} {'PSS MiB':>8} {'RSS MiB':>8} {'procs':>5}"
        f" {'cores':>5} {'steal':>5}"
    )
    print(head)
    print("-" * len(head))
    for s in res["stages"]:
        name = s["stage"] if len(s["stage"]) <= 62 else s["stage"][:59] + "..."
        mem = (
            f"{s['peak_pss_mib']:>8.0f} {s['peak_rss_mib']:>8.0f} {s['processes']:>5}"
            if s["samples"]
            else f"{'-':>8} {'-':>8} {'-':>5}"
        )
        cpu = f"{s.get('busy_cores', 0):>5.2f} {s.get('steal_cores', 0):>5.2f}"
        print(f"{name:<62} {s['start_s']:>8.1f} {s['seconds']:>8.1f} {mem} {cpu}")
    print("-" * len(head))
    for k, v in res["phases_s"].items():
        print(f"{k:<62} {'':>8} {v:>8.1f}")
    print(
        f"{'total wall (ocforge release)':<62} {'':>8} {res['release_wall_s']:>8.1f} "
        f"{res['peak_tree_pss_mib']:>8.0f} {res['peak_tree_rss_mib']:>8.0f} "
        f"{res['peak_processes']:>5}"
    )
    if res.get("ledger_checks"):
        print(f"\n{'config':<11} {'ledger entry':<44} {'planted/expected':>16} {'ledger':>8}  ok")
        for c in res["ledger_checks"]:
            if "expected" not in c:
                print(f"{c['config']:<11} {c['what']}")
                continue
            exp = c["expected"]
            exp_s = f"{exp:,.1f}" if isinstance(exp, float) else f"{exp:,}"
            if c["tolerance"]:
                exp_s = f"~{exp_s}"
            mark = "ok" if c["ok"] else "NO"
            print(f"{c['config']:<11} {c['what']:<44} {exp_s:>16} {c['ledger']:>8,}  {mark}")
        verdict = "yes" if res["ledger_matches"] else "NO (see the rows marked NO)"
        print(f"\nledger matches the planted problems: {verdict}")


def _corpus_is_current(corpus: Path, params: dict) -> bool:
    path = corpus / "planted.json"
    if not path.is_file() or not (corpus / "recipe.yaml").is_file():
        return False
    data = json.loads(path.read_text())
    return data.get("params") == params and all(
        (corpus / f).is_file() for c in data["configs"].values() for f in c.get("files", [])
    )


def scale(args: argparse.Namespace) -> tuple[dict, int]:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import full_corpus

    work = Path(args.workdir or tempfile.mkdtemp(prefix="ocforge-bench-release-")).resolve()
    work.mkdir(parents=True, exist_ok=True)
    corpus, build, hub = work / "corpus", work / "build", work / "hub"
    for old in (build, hub, work / ".ocforge"):  # a fresh build and a first release every run
        shutil.rmtree(old, ignore_errors=True)

    params = {
        "characters": args.characters,
        "dialogues": args.dialogues,
        "questions": args.questions or max(10, args.dialogues // 2),
        "files": args.files,
        "seed": args.seed,
        "generator": full_corpus.fingerprint(),
    }
    reused = _corpus_is_current(corpus, params)
    t = time.perf_counter()
    if reused:
        planted = json.loads((corpus / "planted.json").read_text())
    else:
        planted = full_corpus.generate(
            corpus,
            args.characters,
            args.dialogues,
            questions=params["questions"],
            files=args.files,
            seed=args.seed,
            repo=args.repo,
        )
    gen_s = round(time.perf_counter() - t, 1)

    cmd = [
        *_ocforge_command(),
        "release",
        str(corpus / "recipe.yaml"),
        "--repo",
        args.repo,
        "--target",
        "local",
        "--build-dir",
        str(build),
    ]
    env = {**os.environ, "OCFORGE_HUB_ROOT": str(hub), "PYTHONUNBUFFERED": "1"}
    env.pop("OCFORGE_HUB_URL", None)  # the embedded in-process Hub, not a running server
    load_before = os.getloadavg()
    calibration_before = calibrate()
    run = _run_release(cmd, env, work, args.sample_s)
    calibration_after = calibrate()
    logs = run.pop("logs")
    for name, lines in logs.items():
        (work / f"release.{name}.txt").write_text("\n".join(lines) + "\n")

    res: dict = {
        "corpus": str(corpus),
        "params": params,
        "generate_s": gen_s if not reused else f"reused ({planted.get('seconds')} s when made)",
        "command": cmd,
        "returncode": run["returncode"],
        "release_wall_s": run["wall_s"],
        "phases_s": _phases(run["stages"], run["wall_s"]),
        **run,
        "machine": {
            "cpus": os.cpu_count(),
            "loadavg_before": [round(x, 2) for x in load_before],
            "loadavg_after": [round(x, 2) for x in os.getloadavg()],
            "python": sys.version.split()[0],
            # seconds of calibrate() before and after the release: lower is a faster machine
            "calibration_s": [calibration_before, calibration_after],
        },
    }
    manifest = build / "release.json"
    if run["returncode"] == 0 and manifest.is_file():
        ledger = json.loads(manifest.read_text())["ledger"]
        res["ledger"] = ledger["configs"]
        res["ledger_checks"] = _ledger_checks(planted, ledger)
        res["ledger_matches"] = all(c["ok"] for c in res["ledger_checks"])
        res["rows_published"] = {name: c["kept"] for name, c in ledger["configs"].items()}
    res["planted"] = planted
    (work / "results.json").write_text(json.dumps(res, indent=2))
    _print_scale(res)
    if not args.keep:
        for path in (corpus, build, hub, work / ".ocforge"):
            shutil.rmtree(path, ignore_errors=True)
    print(f"\nresults: {work / 'results.json'}  (logs: {work}/release.std*.txt)")
    if run["returncode"] != 0:
        print("\n".join(logs["stderr"][-40:]), file=sys.stderr)
        print(f"ocforge release failed with exit code {run['returncode']}", file=sys.stderr)
        return res, run["returncode"] or 1
    if not manifest.is_file():
        print(f"no {manifest} after the release", file=sys.stderr)
        return res, 1
    return res, 0


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    inc = sub.add_parser("incremental")
    inc.add_argument("--dialogues", type=int, default=200_000)
    inc.add_argument("--characters", type=int, default=None, help="default: dialogues / 20")
    inc.add_argument("--seed", type=int, default=0)
    inc.add_argument("--changes", default="abc", help="which of a (card), b (+5%%), c (1%% edited)")
    inc.add_argument("--workdir", default=None, help="default: a new temporary folder (kept)")
    sc = sub.add_parser("scale")
    sc.add_argument("--dialogues", type=int, default=460_000)
    sc.add_argument("--characters", type=int, default=20_000)
    sc.add_argument("--questions", type=int, default=None, help="question pool (dialogues/2)")
    sc.add_argument("--files", type=int, default=8, help="input files per dialogue strategy")
    sc.add_argument("--seed", type=int, default=0)
    sc.add_argument("--repo", default=REPO)
    sc.add_argument("--workdir", default=None, help="default: a new temporary folder")
    sc.add_argument(
        "--keep", action="store_true", help="keep corpus, build and hub (a rerun reuses the corpus)"
    )
    # reading smaps_rollup costs the kernel time on the machine being measured: once a second
    sc.add_argument("--sample-s", type=float, default=1.0, help="memory sampling period")
    args = parser.parse_args(argv)
    if args.cmd == "scale":
        return scale(args)[1]
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import incremental

    result = incremental.run(args)
    print("\n".join(incremental.summary(result)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
