"""Dataset Viewer API of the local Hub on a release of full size (460k dialogues).

    python benchmarks/hub/viewer/bench_viewer.py [--characters 20000] [--dialogues 460000]
        [--workdir DIR] [--repeat 5]

1. writes a release build in the released schemas (``publish/rows_build.py``: ``characters``,
   ``rewrite`` and ``generate`` with the release layout, 100k-row shards of 1,000-row groups),
   dialogues of 40-220 words drawn from a 30k-word Zipf vocabulary, each with its three
   messages (system profile, user, assistant); a rare phrase is planted in 0.01% of the rows;
2. releases it with ``ocforge.flows.release.release_build`` to a local Hub under WORKDIR/hub
   (the Parquet files go through Xet, as with huggingface.co), once: later runs reuse both;
3. starts ``ocforge hub serve`` on that root as a child process and times HTTP GETs of
   ``/datasets-server/...`` from this process (wall clock, response read and parsed):
   the first request of a split after the start (``cold``: the card, the split's files rebuilt
   from their xorbs into the viewer cache, footers), then the same with the viewer cache kept
   over a restart (``restart``), then warm requests (median of ``--repeat``); searches use a
   different query each time, so none is served from the per-split result cache.

Prints a table and writes WORKDIR/results.json. Exits non-zero if a target is missed (first
page of a config < 1 s, search < 2 s, on the warm server).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlencode

import numpy as np

from ocforge.publish.rows_build import RowsConfig, write_rows_build
from ocforge.records import (
    CHARACTERS_SCHEMA,
    PROFILE_FIELDS,
    character_id,
    dialogue_id,
    dialogue_schema,
    persona_id,
    question_id,
)

REPO = "bench/viewer-full"
TOKEN = "hf_viewer_bench_token_0123456789"
NEEDLE = "lighthouse almanac"
RECIPE = "name: viewer-bench\ncard: {license: cc-by-4.0}\n"


class Words:
    """Zipf-distributed pseudo-words, drawn a batch at a time (fast enough for 80M words)."""

    def __init__(self, seed: int, size: int = 30_000):
        rng = random.Random(seed)
        syllables = [a + b for a in "bcdfghjklmnprstvwz" for b in "aeiouy"]
        vocab = {
            "".join(rng.choice(syllables) for _ in range(rng.randint(1, 4)))
            for _ in range(size * 2)
        }
        self.vocab = np.array(sorted(vocab)[:size], dtype=object)
        ranks = np.arange(1, len(self.vocab) + 1)
        self.p = (1 / ranks) / (1 / ranks).sum()
        self.rng = np.random.default_rng(seed)
        self.buf, self.pos = np.empty(0, dtype=object), 0

    def text(self, n: int) -> str:
        if self.pos + n > len(self.buf):
            self.buf = self.vocab[self.rng.choice(len(self.vocab), size=2_000_000, p=self.p)]
            self.pos = 0
        out = " ".join(self.buf[self.pos : self.pos + n])
        self.pos += n
        return out


def _character(words: Words, i: int) -> dict:
    fields = {f: words.text(3) for f in PROFILE_FIELDS}
    fields.update(name=f"Character {i}", age=str(18 + i % 60), gender=("female", "male")[i % 2])
    profile = "\n".join(f"{f.replace('_', ' ').title()}: {v}" for f, v in fields.items())
    persona = words.text(12)
    return {
        "character_id": character_id(profile),
        "persona": persona,
        "persona_id": persona_id(persona),
        **fields,
        "age_years": 18 + i % 60,
        "profile": profile,
        "source": "synthetic",
        "generator": "bench",
        "provenance": {"input": "bench", "record": str(i), "line": i + 1},
    }


def corpus(n_chars: int, n_dialogues: int, seed: int = 0) -> dict[str, RowsConfig]:
    words, rng = Words(seed), random.Random(seed)
    chars = [_character(words, i) for i in range(n_chars)]
    dialogues: dict[str, list] = {"rewrite": [], "generate": []}
    for j in range(n_dialogues):
        c = chars[j % n_chars]
        strategy = "rewrite" if j % 23 < 12 else "generate"  # about 240k : 220k
        question = words.text(rng.randint(6, 20)).capitalize() + "?"
        response = words.text(rng.randint(40, 220))
        if j % 10_000 == 7:
            response += f" {NEEDLE}"
        row = {
            "dialogue_id": dialogue_id(strategy, c["character_id"], question, response),
            "character_id": c["character_id"],
            "strategy": strategy,
            "source_corpus": ("lima", "alpaca", "ph-instruct")[j % 3],
            "question_id": question_id(question),
            "question": question,
            "response": response,
        }
        if strategy == "rewrite":
            row["original_response"] = words.text(rng.randint(40, 160))
        row["messages"] = [
            {"role": "system", "content": c["profile"]},
            {"role": "user", "content": question},
            {"role": "assistant", "content": response},
        ]
        row["quality"] = {"response_words": len(response.split())}
        row["provenance"] = {"input": "bench", "record": None, "line": j + 1}
        dialogues[strategy].append(row)
    return {
        "characters": RowsConfig("characters", CHARACTERS_SCHEMA, chars),
        "rewrite": RowsConfig("dialogues", dialogue_schema("rewrite"), dialogues["rewrite"]),
        "generate": RowsConfig("dialogues", dialogue_schema("generate"), dialogues["generate"]),
    }


def prepare(work: Path, n_chars: int, n_dialogues: int) -> dict:
    """Build and release once; later runs with the same sizes reuse both."""
    from ocforge.flows.release import release_build
    from ocforge.hub import LocalHub

    stamp = work / "prepared.json"
    if stamp.is_file() and json.loads(stamp.read_text())["sizes"] == [n_chars, n_dialogues]:
        return json.loads(stamp.read_text())
    shutil.rmtree(work / "hub", ignore_errors=True)
    t0 = time.perf_counter()
    write_rows_build(
        work / "build", "viewer-bench", corpus(n_chars, n_dialogues), recipe_text=RECIPE
    )
    t1 = time.perf_counter()
    (work / "tokens").write_text(f"{TOKEN}\n")
    (work / "tokens").chmod(0o600)
    with LocalHub(work / "hub", token_file=work / "tokens") as hub:
        release_build(work / "build", REPO, endpoint=hub.endpoint, token=TOKEN, verify=False)
    t2 = time.perf_counter()
    data = sum(f.stat().st_size for f in (work / "build" / "data").rglob("*.parquet"))
    info = {
        "sizes": [n_chars, n_dialogues],
        "build_s": t1 - t0,
        "release_s": t2 - t1,
        "parquet_bytes": data,
    }
    stamp.write_text(json.dumps(info))
    return info


class Server:
    """``ocforge hub serve`` on the bench root, as a child process."""

    def __init__(self, work: Path):
        cli = Path(sys.executable).parent / "ocforge"
        cmd = [str(cli), "hub", "serve", "--root", str(work / "hub"),
               "--port", "0", "--token-file", str(work / "tokens")]  # fmt: skip
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, env={**os.environ})
        for line in self.proc.stdout:
            if line.startswith("endpoint:"):
                self.endpoint = line.split()[1]
                break
        else:
            raise SystemExit("ocforge hub serve did not start")

    def get(self, endpoint: str, **params: str) -> tuple[float, dict]:
        url = f"{self.endpoint}/datasets-server/{endpoint}?" + urlencode(
            {"dataset": REPO, **params}
        )
        t = time.perf_counter()
        with urllib.request.urlopen(url, timeout=600) as resp:
            body = json.loads(resp.read())
        return time.perf_counter() - t, body

    def page(self, path: str, **params: str) -> tuple[float, str]:
        """GET a web page (``/datasets/...``): seconds until the whole HTML body is read."""
        url = self.endpoint + path + ("?" + urlencode(params) if params else "")
        t = time.perf_counter()
        with urllib.request.urlopen(url, timeout=600) as resp:
            html = resp.read().decode("utf-8")
        return time.perf_counter() - t, html

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=30)


def _wait_for_index(work: Path, count: int, timeout: float = 300) -> float:
    """Seconds until ``count`` search indexes exist in the viewer cache."""
    t = time.perf_counter()
    while len(list((work / "hub" / "viewer-cache" / "search").glob("*.duckdb"))) < count:
        if time.perf_counter() - t > timeout:
            raise SystemExit("the search index was not built")
        time.sleep(0.05)
    return time.perf_counter() - t


def measure(work: Path, repeat: int) -> dict[str, float]:
    results: dict[str, float] = {}
    shutil.rmtree(work / "hub" / "viewer-cache", ignore_errors=True)
    split = {"config": "rewrite", "split": "train"}
    server = Server(work)
    try:
        results["cold: /splits"] = server.get("splits")[0]
        started = time.perf_counter()
        results["cold: first page of rewrite/train (/first-rows)"] = server.get(
            "first-rows", **split
        )[0]
        results["cold: first search, index still building (Parquet scan)"] = server.get(
            "search", **split, query=NEEDLE)[0]  # fmt: skip
        _wait_for_index(work, 1)
        results["cold: search index build, in the background"] = time.perf_counter() - started
        results["cold: first search with the index"] = server.get("search", **split, query="nope")[
            0
        ]
        results["cold: first page of generate/train (/rows)"] = server.get(
            "rows", config="generate", split="train", offset="0", length="100")[0]  # fmt: skip
        _wait_for_index(work, 2)
    finally:
        server.stop()
    server = Server(work)
    try:
        results["restart: first page of rewrite/train (/rows)"] = server.get("rows", **split)[0]
        results["restart: first search of rewrite/train"] = server.get(
            "search", **split, query="nopf"
        )[0]
        results.update(_warm(server, split, repeat))
    finally:
        server.stop()
    return results


def _median(fn, repeat: int) -> float:
    return statistics.median(fn(i) for i in range(repeat))


def _warm(server: Server, split: dict, repeat: int) -> dict[str, float]:
    out: dict[str, float] = {}
    _, total = server.get("rows", **split, length="1")
    n = total["num_rows_total"]
    out["warm: /rows offset 0"] = _median(lambda i: server.get("rows", **split)[0], repeat)
    out["warm: /rows middle page"] = _median(
        lambda i: server.get("rows", **split, offset=str(n // 2 + 1000 * i))[0], repeat)  # fmt: skip
    out["warm: /first-rows"] = _median(lambda i: server.get("first-rows", **split)[0], repeat)
    rare = [NEEDLE.split()[0] + suffix for suffix in ("", "s", "x", "y", "z", "q", "w")]
    out["warm: /search, rare word"] = _median(
        lambda i: server.get("search", **split, query=rare[i % 7])[0], repeat
    )
    first = server.get("rows", **split, length="1")[1]["rows"][0]["row"]["response"].split()
    common_word = max(first, key=first.count)  # frequent in the Zipf vocabulary
    out["warm: /search, common word"] = server.get("search", **split, query=common_word)[0]
    common = server.get("search", **split, query=common_word)
    out["warm: /search, two words"] = _median(
        lambda i: server.get("search", **split, query=f"ba{'ce'[i % 2]} {NEEDLE.split()[1]}{i}")[0], repeat)  # fmt: skip
    out["warm: /search, page 2 of a result (cached)"] = _median(
        lambda i: server.get("search", **split, query=NEEDLE, offset="100")[0], repeat)  # fmt: skip
    out["warm: /filter source_corpus + order by dialogue_id"] = _median(
        lambda i: server.get("filter", **split, where=f"\"source_corpus\" = 'lima' AND \"quality\".\"response_words\" > {100 + i}",
                             orderby='"dialogue_id" DESC')[0], repeat)  # fmt: skip
    out["first: /statistics rewrite/train"] = server.get("statistics", **split)[0]
    out["warm: /statistics (cached)"] = _median(
        lambda i: server.get("statistics", **split)[0], repeat
    )
    out["_rows_total"] = n
    out["_common_hits"] = common[1]["num_rows_total"]
    return out


# ------------------------------------------------------------------ the web pages (hub/web/)

DATASET_PAGE = f"/datasets/{REPO}"
VIEWER_PAGE = f"{DATASET_PAGE}/viewer/rewrite/train"
GENERATE_PAGE = f"{DATASET_PAGE}/viewer/generate/train"
HISTOGRAM = 'class="hist"'  # an <svg> histogram in a column header (_viewer.j2)
WHERE = '"source_corpus" = \'lima\' AND "quality"."response_words" > {}'


def _page(server: Server, path: str, **params: str) -> float:
    """Seconds of one page; a page that shows no rows (an error, a viewer message) stops the run,
    so a fast error page is never timed as a page."""
    seconds, html = server.page(path, **params)
    if 'id="viewer-message"' in html or 'id="rows"' not in html:
        at = html.find('id="viewer-message"')
        raise SystemExit(f"{path} {params} shows no rows: {html[at : at + 300]!r}")
    return seconds


def _wait_for_histograms(server: Server, started: float, timeout: float = 300) -> float:
    """Seconds from ``started`` until the viewer page of rewrite/train shows histograms: the page
    is reloaded every 0.5 s, as a person would (each view waits up to 0.5 s for them)."""
    while True:
        _, html = server.page(VIEWER_PAGE)
        if HISTOGRAM in html:
            return time.perf_counter() - started
        if time.perf_counter() - started > timeout:
            raise SystemExit("the viewer page never showed histograms")
        time.sleep(0.5)


def _pages_first(server: Server, phase: str, out: dict[str, float]) -> float:
    """The first views of a server: the dataset page (its default config is rewrite), the viewer
    page of rewrite/train, a search (a rare word), a filter, page 2, then the first page of
    another config (generate/train); returns when the dataset page was asked for."""
    started = time.perf_counter()
    out[f"page {phase}: dataset page (first page of rewrite/train, the default config)"] = _page(
        server, DATASET_PAGE
    )
    out[f"page {phase}: viewer page, first page of rewrite/train"] = _page(server, VIEWER_PAGE)
    out[f"page {phase}: search, rare word (?q=)"] = _page(server, VIEWER_PAGE, q=NEEDLE)
    out[f"page {phase}: filter (?where=)"] = _page(server, VIEWER_PAGE, where=WHERE.format(100))
    out[f"page {phase}: page 2 (?p=1)"] = _page(server, VIEWER_PAGE, p="1")
    out[f"page {phase}: first page of generate/train"] = _page(server, GENERATE_PAGE)
    return started


def measure_pages(work: Path, repeat: int) -> dict[str, float]:
    """The pages cold (viewer cache deleted, fresh server), after a restart, and warm."""
    out: dict[str, float] = {}
    shutil.rmtree(work / "hub" / "viewer-cache", ignore_errors=True)
    server = Server(work)
    try:
        started = _pages_first(server, "cold", out)
        out["page cold: histograms of rewrite/train shown, from the first view"] = (
            _wait_for_histograms(server, started)
        )
        _wait_for_index(work, 2)  # rewrite and generate
    finally:
        server.stop()
    server = Server(work)
    try:
        started = _pages_first(server, "restart", out)
        out["page restart: histograms shown again (statistics are kept in memory only)"] = (
            _wait_for_histograms(server, started)
        )
        out.update(_pages_warm(server, repeat))
    finally:
        server.stop()
    return out


def _pages_warm(server: Server, repeat: int) -> dict[str, float]:
    out: dict[str, float] = {}
    out["page warm: dataset page"] = _median(lambda i: _page(server, DATASET_PAGE), repeat)
    out["page warm: viewer page, first page of rewrite/train"] = _median(
        lambda i: _page(server, VIEWER_PAGE), repeat
    )
    out["page warm: page 2 (?p=1)"] = _median(lambda i: _page(server, VIEWER_PAGE, p="1"), repeat)
    rare = [NEEDLE.split()[1] + suffix for suffix in ("", "s", "x", "y", "z", "q", "w")]
    out["page warm: search, rare word (?q=)"] = _median(
        lambda i: _page(server, VIEWER_PAGE, q=rare[i % 7]), repeat
    )
    out["page warm: filter (?where=)"] = _median(
        lambda i: _page(server, VIEWER_PAGE, where=WHERE.format(101 + i)), repeat
    )
    return out


def _missed(results: dict[str, float]) -> list[str]:
    """Rows over a target: a first page (and page 2) 1 s or more, a search 2 s or more."""
    missed = []
    for name, seconds in results.items():
        if "in the background" in name or "histograms" in name:
            continue  # background work (the index build, statistics): reported, no target
        page = "first page" in name or "dataset page" in name or "page 2 (?p=1)" in name
        limit = 1.0 if page else 2.0 if "search" in name else None
        if limit is not None and seconds >= limit:
            missed.append(f"{name}: {seconds:.2f} s (target < {limit:.0f} s)")
    return missed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--characters", type=int, default=20_000)
    parser.add_argument("--dialogues", type=int, default=460_000)
    parser.add_argument(
        "--workdir", type=Path, default=Path(tempfile.gettempdir()) / "ocforge-viewer-bench"
    )
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument(
        "--only", choices=("api", "pages"), help="time the API or the web pages only"
    )
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    prepared = prepare(args.workdir, args.characters, args.dialogues)
    print(f"build {prepared['build_s']:.0f} s, release {prepared['release_s']:.0f} s, "
          f"{prepared['parquet_bytes'] / 1e6:.0f} MB of Parquet")  # fmt: skip
    results = measure(args.workdir, args.repeat) if args.only != "pages" else {}
    if args.only != "api":
        results.update(measure_pages(args.workdir, args.repeat))
    total, common = results.pop("_rows_total", None), results.pop("_common_hits", None)
    rows = f"{total:,} rows in rewrite/train" if total is not None else "rewrite/train"
    print(f"\n| request ({rows}) | seconds |")
    print("|---|---|")
    for name, seconds in results.items():
        print(f"| {name} | {seconds:.3f} |")
    if common is not None:
        print(f"\n(the common word matches {common:,} rows)")
    (args.workdir / "results.json").write_text(
        json.dumps({**prepared, "results": results}, indent=1)
    )
    missed = _missed(results)
    if missed:
        raise SystemExit("target missed:\n" + "\n".join(missed))


if __name__ == "__main__":
    main()
