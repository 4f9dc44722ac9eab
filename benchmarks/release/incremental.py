"""Incremental releases: the bytes v2 uploads after three kinds of change, through LFS and Xet.

    python benchmarks/release/bench_release.py incremental --dialogues 200000 --workdir /tmp/inc

v1 is a corpus of ``full_corpus.py`` (the scale benchmark's raw inputs, planted problems
included), built once by the real pipeline. Three v2 corpora are derived from it:

* ``a`` card only: the recipe's ``card.description`` edited; inputs unchanged;
* ``b`` +5% dialogues: a second ``full_corpus`` corpus of 5% of v1's characters and dialogues
  (other seed: new people, new questions; its raw ids prefixed ``new-``) appended to v1's
  input files, as a corpus grows;
* ``c`` 1% of the dialogue rows edited in place: one word of the answer replaced, on the same
  input line (a new answer, hence a new dialogue id).

Each v2 is built by the real CLI, ``ocforge release RECIPE --dry-run --build-dir DIR``, against
a local Hub that holds v1, so the build follows v1's layout (ocforge/parent_layout.py) as
``ocforge release`` does. Then v1 and v2 are published with ``ocforge publish dataset`` (a child
process each, unmodified huggingface_hub) to two fresh local Hubs per change: one client with
default settings (Xet through hf_xet), one with ``HF_HUB_DISABLE_XET=1`` (LFS). The v1 and v2
clients of a repo share one ``HF_HOME``, as one user's machine would.

Reported per change and path: what v2 sent as a fraction of v1's data bytes (the Parquet files),
from the server (``GET .../localhub-upload-stats/{rev}``: new xorb bytes, or new LFS bytes, of
the v2 commit: data files and plots) and from the client (Xet: hf_xet's own count,
``xorb_bytes_uploaded`` of a ``local://`` CAS that received v1's data files, per v2 file; LFS:
the bytes of the files ocforge's plan uploads); for ``c`` the floor: the bytes of v1's row
groups that lost a row (see ``_floor``). Upload throughput: v1's push, Xet against LFS, on the
same files. Writes WORKDIR/incremental.json.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pyarrow.parquet as pq

HERE = Path(__file__).resolve().parent
TOKEN = "hf_incremental_benchmark_token_0123456789"
CHANGES = {"a": "card only", "b": "+5% dialogues", "c": "1% of rows edited in place"}


def _ocforge() -> list[str]:
    script = Path(sys.executable).parent / "ocforge"
    return [str(script)] if script.is_file() else [sys.executable, "-m", "ocforge"]


def _run(args: list[str], env: dict[str, str], cwd: Path, log: Path) -> tuple[float, list]:
    """Run ``ocforge ARGS``; (seconds from the "pushing" line to the end, timestamped stderr)."""
    started = time.perf_counter()
    proc = subprocess.Popen(
        [*_ocforge(), *args], cwd=cwd, env=env, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    lines = []
    assert proc.stdout is not None
    for line in proc.stdout:
        lines.append((round(time.perf_counter() - started, 2), line.rstrip("\n")))
    rc = proc.wait()
    end = time.perf_counter() - started
    log.write_text("\n".join(f"{t:8.2f} {line}" for t, line in lines) + "\n")
    if rc != 0:
        raise RuntimeError(f"ocforge {' '.join(args[:2])} failed ({rc}); see {log}")
    push = next((t for t, line in lines if line.lstrip().startswith("pushing ")), None)
    return (round(end - push, 2) if push is not None else None), lines


# --------------------------------------------------------------------------- the corpora


def _copy_inputs(src: Path, dst: Path) -> None:
    shutil.rmtree(dst, ignore_errors=True)
    dst.mkdir(parents=True)
    for path in src.iterdir():
        if path.suffix in (".jsonl", ".yaml", ".json"):
            shutil.copy2(path, dst / path.name)


def card_edit(v1: Path, out: Path) -> Path:
    _copy_inputs(v1, out)
    recipe = (out / "recipe.yaml").read_text()
    edited = recipe.replace("with planted problems, released end to end", "with planted problems (edited description), released end to end")  # fmt: skip
    assert edited != recipe, "the recipe's description changed: update card_edit"
    (out / "recipe.yaml").write_text(edited)
    return out / "recipe.yaml"


def _prefixed(line: str) -> str:
    """A raw line of the second corpus with its raw ids made distinct from v1's."""
    try:
        row = json.loads(line)
    except json.JSONDecodeError:
        return line  # a planted malformed line stays malformed
    if isinstance(row, dict):
        for key in ("character_id", "question_id"):
            if isinstance(row.get(key), str):
                row[key] = "new-" + row[key]
    return json.dumps(row, ensure_ascii=False) + "\n"


def more_dialogues(v1: Path, out: Path, fraction: float, planted: dict) -> Path:
    import full_corpus

    _copy_inputs(v1, out)
    params = planted["params"]
    extra = out.parent / f"{out.name}-extra"
    full_corpus.generate(
        extra,
        max(1, round(params["characters"] * fraction)),
        max(2, round(params["dialogues"] * fraction)),
        files=1,
        seed=params["seed"] + 1000,
    )
    for path in sorted(extra.glob("*.jsonl")):
        with (out / path.name).open("a", encoding="utf-8") as fh:
            for line in path.read_text(encoding="utf-8").splitlines(keepends=True):
                fh.write(_prefixed(line))
    shutil.rmtree(extra)
    return out / "recipe.yaml"


def edit_rows(v1: Path, out: Path, fraction: float, seed: int = 7) -> tuple[Path, int]:
    _copy_inputs(v1, out)
    rng = random.Random(seed)
    edited = 0
    for path in sorted(out.glob("dialogues-*.jsonl")):
        lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
        for i in rng.sample(range(len(lines)), round(len(lines) * fraction)):
            try:
                row = json.loads(lines[i])
            except json.JSONDecodeError:
                continue
            words = str(row.get("response") or "").split(" ")
            if not isinstance(row, dict) or len(words) < 10:
                continue
            words[len(words) // 2] = rng.choice(("harbour", "lantern", "market", "river"))
            row["response"] = " ".join(words)
            lines[i] = json.dumps(row, ensure_ascii=False) + "\n"
            edited += 1
        path.write_text("".join(lines), encoding="utf-8")
    return out / "recipe.yaml", edited


# --------------------------------------------------------------------------- measurements


def upload_stats(endpoint: str, repo: str, revision: str) -> dict:
    url = f"{endpoint}/api/datasets/{repo}/localhub-upload-stats/{revision}"
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {TOKEN}"})
    with urllib.request.urlopen(request, timeout=60) as answer:
        return json.load(answer)


def data_files(build: Path) -> dict[str, Path]:
    return {p.relative_to(build).as_posix(): p for p in sorted((build / "data").rglob("*.parquet"))}


def xet_client_bytes(v1: Path, v2: Path, work: Path) -> dict[str, int]:
    """hf_xet's own count: v1's data files into a ``local://`` CAS, then each v2 data file in a
    commit of its own; path -> ``xorb_bytes_uploaded`` (what the client would send)."""
    import hf_xet

    cas, home = work / "local-cas", work / "local-home"
    for path in (cas, home):
        shutil.rmtree(path, ignore_errors=True)
    saved = os.environ.get("HF_HOME")
    os.environ["HF_HOME"] = str(home)  # a fresh client cache, read by hf_xet at each commit
    try:
        session = hf_xet.XetSession()

        def commit(paths: list[Path]) -> int:
            upload = session.new_upload_commit(
                endpoint=f"local://{cas}", token="x", token_expiry_unix_secs=int(time.time()) + 7200
            )
            for path in paths:
                upload.start_upload_file(str(path))
            return upload.wait_to_finish().dedup_metrics.xorb_bytes_uploaded

        commit(list(data_files(v1).values()))
        return {rel: commit([path]) for rel, path in data_files(v2).items()}
    finally:
        if saved is None:
            os.environ.pop("HF_HOME", None)
        else:
            os.environ["HF_HOME"] = saved


def _floor(v1: Path, v2: Path) -> dict:
    """Change ``c``'s floor: a row group keeps its bytes only if it keeps every row, so each
    edited row costs its whole v1 row group (every column chunk: the dictionary page holding
    the answers and the index pages after the removed row change) plus its new row."""
    touched = total = groups = hit = 0
    for rel, path in data_files(v1).items():
        if "/eval_" in rel or not (v2 / rel).is_file():
            continue
        column = pq.ParquetFile(path).schema_arrow.names[0]
        kept = set(pq.read_table(v2 / rel, columns=[column]).column(0).to_pylist())
        old = pq.ParquetFile(path)
        for g in range(old.metadata.num_row_groups):
            meta = old.metadata.row_group(g)
            size = sum(meta.column(c).total_compressed_size for c in range(meta.num_columns))
            ids = old.read_row_group(g, columns=[column]).column(0).to_pylist()
            total += size
            groups += 1
            if any(i not in kept for i in ids):
                touched += size
                hit += 1
    return {
        "row_groups": groups,
        "row_groups_touched": hit,
        "touched_bytes": touched,
        "bytes": total,
    }


# --------------------------------------------------------------------------- the run

REPO = "bench/incremental"
_RELEASED = "released v"


def _env(endpoint: str, home: Path, mode: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("HF_HUB_DISABLE_XET", "HF_XET_CACHE")}
    env.update(OCFORGE_HUB_URL=endpoint, OCFORGE_HUB_TOKEN=TOKEN, HF_HOME=str(home))
    env.update(PYTHONUNBUFFERED="1", COLUMNS="200", HF_HUB_OFFLINE="0")
    if mode == "lfs":
        env["HF_HUB_DISABLE_XET"] = "1"
    return env


def _publish(build: Path, endpoint: str, home: Path, mode: str, log: Path) -> dict:
    args = ["publish", "dataset", str(build), "--repo", REPO, "--no-verify"]
    push_s, lines = _run(args, _env(endpoint, home, mode), build.parent, log)
    tag = next(line.split(_RELEASED, 1)[1].split()[0] for _, line in lines if _RELEASED in line)
    pushing = next(line for _, line in lines if line.lstrip().startswith("pushing "))
    planned = int(pushing.split("(", 1)[1].split()[0].replace(",", ""))
    stats = upload_stats(endpoint, REPO, "v" + tag.lstrip("v"))
    return {
        "tag": "v" + tag.lstrip("v"),
        "push_s": push_s,
        "planned_bytes": planned,
        "stats": stats,
    }


def _v2_recipe(change: str, v1: Path, work: Path, planted: dict) -> tuple[Path, dict]:
    out = work / f"v2{change}"
    if change == "a":
        return card_edit(v1, out), {}
    if change == "b":
        return more_dialogues(v1, out, 0.05, planted), {}
    recipe, edited = edit_rows(v1, out, 0.01)
    return recipe, {"edited_input_lines": edited}


def one_change(change: str, v1: Path, b1: Path, work: Path, planted: dict) -> dict:
    """v1 and v2 of one change through both paths; the numbers for its table rows."""
    from ocforge.hub import LocalHub

    recipe, info = _v2_recipe(change, v1, work, planted)
    b2 = work / f"b2{change}"
    shutil.rmtree(b2, ignore_errors=True)
    out: dict = {"change": CHANGES[change], **info, "paths": {}}
    for m in ("xet", "lfs"):  # fresh servers and client caches for every change
        shutil.rmtree(work / f"hub-{change}-{m}", ignore_errors=True)
        shutil.rmtree(work / f"home-{change}-{m}", ignore_errors=True)
    hubs = {m: LocalHub(work / f"hub-{change}-{m}", tokens=[TOKEN]) for m in ("xet", "lfs")}
    for hub in hubs.values():
        hub.start()
    try:
        for m, hub in hubs.items():
            home = work / f"home-{change}-{m}"
            out["paths"][m] = {
                "v1": _publish(b1, hub.endpoint, home, m, work / f"{change}-{m}-v1.log")
            }
        # the v2 build, as `ocforge release` makes it: after the latest release on the Hub
        xet = hubs["xet"]
        t = time.perf_counter()
        args = ["release", str(recipe), "--repo", REPO, "--dry-run", "--build-dir", str(b2)]
        _run(
            args,
            _env(xet.endpoint, work / f"home-{change}-xet", "xet"),
            work,
            work / f"{change}-build.log",
        )
        out["v2_build_s"] = round(time.perf_counter() - t, 1)
        for m, hub in hubs.items():
            home = work / f"home-{change}-{m}"
            out["paths"][m]["v2"] = _publish(
                b2, hub.endpoint, home, m, work / f"{change}-{m}-v2.log"
            )
    finally:
        for hub in hubs.values():
            hub.stop()
    out["v2_client_xet_bytes"] = xet_client_bytes(b1, b2, work)
    out["v2_layout"] = json.loads((b2 / "release.json").read_text()).get("layout")
    if change == "c":
        out["floor"] = _floor(b1, b2)
    return out


def run(args) -> dict:
    """The whole benchmark (``bench_release.py incremental``); writes WORKDIR/incremental.json."""
    import tempfile

    sys.path.insert(0, str(HERE))
    import full_corpus

    work = Path(args.workdir or tempfile.mkdtemp(prefix="ocforge-bench-incremental-")).resolve()
    work.mkdir(parents=True, exist_ok=True)
    v1, b1 = work / "v1", work / "b1"
    chars = args.characters or max(1, args.dialogues // 20)
    params = {"characters": chars, "dialogues": args.dialogues, "seed": args.seed}
    planted_file = v1 / "planted.json"
    fresh = (
        not planted_file.is_file()
        or {k: json.loads(planted_file.read_text())["params"].get(k) for k in params} != params
        or json.loads(planted_file.read_text())["params"].get("generator")
        != full_corpus.fingerprint()
    )
    if fresh:
        shutil.rmtree(b1, ignore_errors=True)
        full_corpus.generate(v1, chars, args.dialogues, files=1, seed=args.seed, repo=REPO)
    planted = json.loads(planted_file.read_text())
    t = time.perf_counter()
    if not (b1 / "release.json").is_file():
        env = {k: v for k, v in os.environ.items() if not k.startswith("OCFORGE_HUB")}
        _run(["build", str(v1 / "recipe.yaml"), "--out", str(b1)], env, work, work / "v1-build.log")
    result: dict = {
        "params": params,
        "v1_build_s": round(time.perf_counter() - t, 1),
        "v1_data_bytes": sum(p.stat().st_size for p in data_files(b1).values()),
        "v1_data_files": {rel: p.stat().st_size for rel, p in data_files(b1).items()},
        "changes": {},
    }
    for change in args.changes:
        result["changes"][change] = one_change(change, v1, b1, work, planted)
        (work / "incremental.json").write_text(json.dumps(result, indent=2))
    return result


def _mb(n: float) -> str:
    return f"{n / 1e6:,.1f}"


def _changed_data_bytes(change: dict) -> int:
    """What LFS sends for the data: the v2 data files that are not byte for byte v1's."""
    return sum(
        f["size"]
        for p, f in change["paths"]["lfs"]["v2"]["stats"]["files"].items()
        if p.startswith("data/")
    )


def summary(result: dict) -> list[str]:
    """The README's tables: bytes v2 sent over v1's data bytes, per change and path; throughput."""
    base = result["v1_data_bytes"]
    lines = [
        f"v1: {result['params']['dialogues']:,} dialogues, {_mb(base)} MB of Parquet "
        f"in {len(result['v1_data_files'])} files",
        "",
        "| change | path | v2 commit, all files (server, MB) | / v1 data | data files only (MB) "
        "| / v1 data | LFS-mode files in the commit |",
        "|---|---|---|---|---|---|---|",
    ]
    for key, ch in result["changes"].items():
        for mode in ("lfs", "xet"):
            stats = ch["paths"][mode]["v2"]["stats"]
            server = stats["new_xorb_bytes"] + stats["new_lfs_bytes"] + stats["inline_bytes"]
            data = (
                _changed_data_bytes(ch)
                if mode == "lfs"
                else sum(ch["v2_client_xet_bytes"].values())
            )
            names = ", ".join(sorted(stats["files"])) or "none"
            lines.append(
                f"| ({key}) {ch['change']} | {mode.upper()} | {_mb(server)} | {server / base:.3f} "
                f"| {_mb(data)} | {data / base:.3f} | {names} |"
            )
    lines += [
        "",
        "| change | v1 push, LFS (s) | v1 push, Xet (s) | Xet throughput / LFS |",
        "|---|---|---|---|",
    ]
    for key, ch in result["changes"].items():
        lfs, xet = ch["paths"]["lfs"]["v1"]["push_s"], ch["paths"]["xet"]["v1"]["push_s"]
        lines.append(f"| ({key}) | {lfs} | {xet} | {lfs / xet:.2f} |")
    return lines
