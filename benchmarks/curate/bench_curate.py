"""Curation benchmark: ocforge's near-dedup and whole curation against the usual alternatives.

In one run, on the same generated corpus (benchmarks/curate/corpus.py), each method in its own
child process (interpreter start included), from JSONL on disk to the list of kept ids:

near-dedup stage
  ours     datatrove's 4 MinHash stages with ocforge's vectorised stage 1 (FastMinhashSignature)
           and bucket grouping; LocalPipelineExecutor, 2 tasks x 2 workers
  script   what a user would write: datasets ``map(num_proc=2)`` computing datasketch MinHash
           (112 permutations, word 5-grams), then ``MinHashLSH(params=(14, 8))`` + union-find
  stock    datatrove's stock MinhashDedupSignature (spaCy tokens) and stages 2-4, 2 x 2
whole curation (with ``--curation``)
  ours     ``ocforge build`` of a recipe over the corpus (all filters, exact + MinHash dedup,
           decontamination, Parquet), 2 tasks x 2 workers
  stock    the same build with datatrove's stock steps in the two hot places (Gopher filters with
           spaCy tokenisation, stock MinHash signatures): patched into the child process

Reported: dialogues/s, peak memory of the whole process tree (sum of PSS, sampled every 50 ms),
precision,
recall by true 5-gram Jaccard bucket, and ratios. ``--quick`` runs N=20k near-dedup only and
prints ``ratio=<ours/script> f1=<ours on exact + Jaccard>=0.8 pairs>`` as its last line.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

HERE = Path(__file__).resolve().parent
BANDS, ROWS, NGRAM = 14, 8, 5
# datatrove's local executor starts a process pool per stage; "fork" (set with --start-method)
# avoids re-importing in every pool, for both datatrove methods alike
START_METHOD = os.environ.get("BENCH_START_METHOD", "forkserver")


# --------------------------------------------------------------------------- methods (children)


def _read_ids_texts(corpus: Path):
    with (corpus / "dialogues.jsonl").open() as fh:
        for line in fh:
            row = json.loads(line)
            yield row["id"], row["response"]


def method_ours(corpus: Path, work: Path) -> list[str]:
    from datatrove.executor.local import LocalPipelineExecutor
    from datatrove.pipeline.readers import JsonlReader

    from ocforge.filters import minhash

    return _datatrove_minhash(
        corpus,
        work,
        lambda out, cfg: minhash.FastMinhashSignature(out, cfg),
        minhash.bucket_step,
        minhash.bucket_tasks,
        LocalPipelineExecutor,
        JsonlReader,
    )


def method_stock(corpus: Path, work: Path) -> list[str]:
    from datatrove.executor.local import LocalPipelineExecutor
    from datatrove.pipeline.dedup.minhash import MinhashDedupBuckets, MinhashDedupSignature
    from datatrove.pipeline.readers import JsonlReader

    return _datatrove_minhash(
        corpus,
        work,
        lambda out, cfg: MinhashDedupSignature(out, cfg),
        lambda sigs, out, cfg: MinhashDedupBuckets(
            input_folder=sigs, output_folder=out, config=cfg
        ),
        lambda cfg, tasks: cfg.num_buckets,
        LocalPipelineExecutor,
        JsonlReader,
    )


def _split_in_two(source: Path, first: Path, second: Path) -> int:
    """Copy the first half of ``source``'s lines to ``first``, the rest to ``second``."""
    with source.open("rb") as fh:
        total = sum(1 for _ in fh)
    half = total // 2
    with source.open("rb") as fh, first.open("wb") as a, second.open("wb") as b:
        for i, line in enumerate(fh):
            (a if i < half else b).write(line)
    return half


def _datatrove_minhash(corpus, work, signature, buckets, bucket_tasks, Executor, Reader):
    from datatrove.pipeline.dedup.minhash import MinhashDedupCluster, MinhashDedupFilter

    from ocforge.filters.minhash import minhash_config

    cfg = minhash_config(NGRAM, BANDS, ROWS)
    src = work / "input"
    src.mkdir(parents=True, exist_ok=True)
    # two input shards, so that two tasks share the work (datatrove splits by file); streamed
    _split_in_two(corpus / "dialogues.jsonl", src / "00000.jsonl", src / "00001.jsonl")
    kept_file = work / "kept.txt"

    def reader():
        return Reader(str(src), text_key="response", id_key="id")

    def collect(data, rank=0, world_size=1):
        with open(f"{kept_file}.{rank}", "w") as fh:
            for doc in data:
                fh.write(doc.id + "\n")
                yield doc

    stages = [
        ([reader(), signature(str(work / "sigs"), cfg)], 2),
        ([buckets(str(work / "sigs"), str(work / "buckets"), cfg)], bucket_tasks(cfg, 2)),
        ([MinhashDedupCluster(str(work / "buckets"), str(work / "clusters"), config=cfg)], 1),
        ([reader(), MinhashDedupFilter(str(work / "clusters")), collect], 2),
    ]
    for i, (pipeline, tasks) in enumerate(stages):
        Executor(
            pipeline,
            tasks=tasks,
            workers=min(2, tasks),
            logging_dir=str(work / f"logs{i}"),
            start_method=START_METHOD,
        ).run()
    kept = []
    for rank in range(2):
        kept += Path(f"{kept_file}.{rank}").read_text().split()
    return kept


def _script_minhash(batch):
    import re

    from datasketch import MinHash

    out = []
    for text in batch["response"]:
        words = re.findall(r"\w+", text.lower())
        m = MinHash(num_perm=BANDS * ROWS, seed=1)
        m.update_batch(
            [" ".join(words[i : i + NGRAM]).encode() for i in range(max(len(words) - NGRAM + 1, 1))]
        )
        out.append(m.hashvalues.tolist())
    return {"hashvalues": out}


def method_script(corpus: Path, work: Path) -> list[str]:
    import datasets
    from datasketch import MinHash, MinHashLSH

    datasets.disable_progress_bars()
    ds = datasets.load_dataset(
        "json",
        data_files=str(corpus / "dialogues.jsonl"),
        split="train",
        cache_dir=str(work / "cache"),
    )
    ds = ds.map(
        _script_minhash, batched=True, batch_size=256, num_proc=2, remove_columns=["response"]
    )
    lsh = MinHashLSH(num_perm=BANDS * ROWS, params=(BANDS, ROWS))
    scheme = MinHash(num_perm=BANDS * ROWS, seed=1).scheme  # the default the map used
    parent: dict[str, str] = {}

    def find(x):
        while parent.get(x, x) != x:
            parent[x] = parent.get(parent[x], parent[x])
            x = parent[x]
        return x

    removed = set()
    ids = ds["id"]
    for doc_id, hv in zip(ids, ds["hashvalues"], strict=True):
        m = MinHash(num_perm=BANDS * ROWS, seed=1, hashvalues=hv, scheme=scheme)
        matches = lsh.query(m)
        if matches:
            removed.add(doc_id)  # keep the first of each cluster, like datatrove
            parent[doc_id] = find(matches[0])
        lsh.insert(doc_id, m)
    return [i for i in ids if i not in removed]


CURATION_RECIPE = """
name: bench
characters:
  inputs: [{{path: {corpus}/characters.jsonl, fields: {{profile: character}}}}]
dialogues:
  - strategy: generate
    inputs: [{{path: {work}/dialogues-0.jsonl}}, {{path: {work}/dialogues-1.jsonl}}]
filters:
  quality: {{min_response_words: 5, max_response_words: 600}}
  dedup: {{exact: true, near: {{shingle_words: {ngram}, bands: {bands}, rows: {rows}}}}}
splits: {{test_fraction: 0.1, seed: 0}}
executor: {{type: local, tasks: 2, workers: 2}}
"""


def _curation(corpus: Path, work: Path, stock: bool) -> list[str]:
    import functools

    import pyarrow.parquet as pq

    from ocforge import build as build_module
    from ocforge.filters import minhash
    from ocforge.recipe import load_recipe

    if stock:
        from datatrove.pipeline.dedup.minhash import MinhashDedupSignature

        # the same pipeline from datatrove's stock steps: spaCy tokenisation in the Gopher
        # filters, stock MinHash signatures (the benchmark's baseline, not a product path)
        build_module.answer_quality_filters = functools.partial(
            build_module.answer_quality_filters, tokenizer="en"
        )

        class StockSignature(MinhashDedupSignature):
            """datatrove's stage 1; where the build has it pass documents on (written by the
            same stage), it keeps them and passes them on once it has hashed them all."""

            def __init__(self, out, cfg, forward: bool = False):
                super().__init__(out, cfg)
                self.forward = forward

            def run(self, data, rank: int = 0, world_size: int = 1):
                seen = []

                def keep(docs):
                    for doc in docs:
                        seen.append(doc)
                        yield doc

                super().run(keep(data) if self.forward else data, rank, world_size)
                yield from seen

        minhash.FastMinhashSignature = StockSignature
    # two inputs: ocforge's reader gives each task whole inputs
    half = _split_in_two(
        corpus / "dialogues.jsonl", work / "dialogues-0.jsonl", work / "dialogues-1.jsonl"
    )
    recipe = work / "recipe.yaml"
    recipe.write_text(
        CURATION_RECIPE.format(corpus=corpus, work=work, ngram=NGRAM, bands=BANDS, rows=ROWS)
    )
    result = build_module.build(load_recipe(recipe), work / "out")
    kept = []
    for path in sorted((work / "out" / "data" / "generate").glob("*.parquet")):
        kept += pq.read_table(path, columns=["provenance"]).column(0).to_pylist()
    print(json.dumps({"ledger": result.ledger.to_dict()["configs"]["generate"]}), file=sys.stderr)
    offset = {"dialogues-0.jsonl": 0, "dialogues-1.jsonl": half}
    return [str(offset[Path(p["input"]).name] + p["line"]) for p in kept]


METHODS = {
    "ours": method_ours,
    "script": method_script,
    "stock": method_stock,
    "curation-ours": lambda c, w: _curation(c, w, stock=False),
    "curation-stock": lambda c, w: _curation(c, w, stock=True),
}


# --------------------------------------------------------------------------- harness (parent)


def run_child(method: str, corpus: Path, work: Path) -> dict:
    """Run one method in a child process; wall time and peak RSS of the whole process tree."""
    out = work / f"{method}.kept.json"
    cmd = [
        sys.executable,
        __file__,
        "--child",
        method,
        "--corpus",
        str(corpus),
        "--work",
        str(work / method),
        "--kept",
        str(out),
    ]
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    root = psutil.Process(proc.pid)
    peak = 0
    while proc.poll() is None:
        try:
            procs = [root, *root.children(recursive=True)]
            rss = 0
            for p in procs:
                try:
                    # PSS: pages shared between forked workers are counted once in the sum
                    rss += p.memory_full_info().pss
                except psutil.Error:
                    pass
            peak = max(peak, rss)
        except psutil.Error:
            pass
        time.sleep(0.05)
    wall = time.perf_counter() - start
    stderr = proc.stderr.read() if proc.stderr else ""
    if proc.returncode != 0:
        raise RuntimeError(f"{method} failed:\n{stderr[-3000:]}")
    return {
        "method": method,
        "wall_s": wall,
        "peak_rss_mib": peak / 2**20,
        "kept": json.loads(out.read_text()),
    }


def score(kept: list[str], truth: dict, n: int, by_line: bool = False) -> dict:
    """Precision and recall per Jaccard bucket against the planted pairs."""
    all_ids = [f"d{i}" for i in range(n)]
    kept_set = set(kept) if not by_line else {f"d{int(x) - 1}" for x in kept}
    junk = set(truth.get("junk", []))
    removed = {i for i in all_ids if i not in kept_set and i not in junk}
    planted = {p["id"] for p in truth["pairs"]} | {p["source"] for p in truth["pairs"]}
    precision = len(removed & planted) / len(removed) if removed else 1.0
    buckets = {"0.6-0.7": (0.6, 0.7), "0.7-0.8": (0.7, 0.8), ">=0.8": (0.8, 1.01)}
    recall = {}
    for name, (lo, hi) in buckets.items():
        pairs = [p for p in truth["pairs"] if p["kind"] == "near" and lo <= p["jaccard"] < hi]
        found = sum(1 for p in pairs if p["id"] in removed or p["source"] in removed)
        recall[name] = (found / len(pairs)) if pairs else None
    exact = [p for p in truth["pairs"] if p["kind"] == "exact"]
    recall["exact"] = sum(1 for p in exact if p["id"] in removed or p["source"] in removed) / max(
        len(exact), 1
    )
    # F1 on exact copies and near-duplicates with J >= 0.8: positives are those copies
    targets = [p for p in truth["pairs"] if p["kind"] == "exact" or p["jaccard"] >= 0.8]
    tp = sum(1 for p in targets if p["id"] in removed or p["source"] in removed)
    rec = tp / max(len(targets), 1)
    f1 = 2 * precision * rec / (precision + rec) if precision + rec else 0.0
    return {
        "precision": precision,
        "recall": recall,
        "f1_exact_and_j08": f1,
        "removed": len(removed),
    }


def bench(n: int, methods: list[str], workdir: Path) -> list[dict]:
    sys.path.insert(0, str(HERE))
    from corpus import generate

    corpus = workdir / f"corpus-{n}"
    truth = generate(n, corpus)
    results = []
    for method in methods:
        res = run_child(method, corpus, workdir)
        res.update(score(res.pop("kept"), truth, n, by_line=method.startswith("curation")))
        res["n"] = n
        res["docs_per_s"] = n / res["wall_s"]
        results.append(res)
        print(json.dumps(res), flush=True)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="50000,200000,400000")
    parser.add_argument("--methods", default="ours,script,stock")
    parser.add_argument(
        "--curation", action="store_true", help="also whole curation: ours vs stock steps"
    )
    parser.add_argument("--quick", action="store_true", help="N=20k, near-dedup ours vs script")
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument(
        "--start-method", default="forkserver", choices=["forkserver", "fork", "spawn"]
    )
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--corpus", type=Path, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--work", type=Path, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--kept", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        os.environ.setdefault("TQDM_DISABLE", "1")
        args.work.mkdir(parents=True, exist_ok=True)
        kept = METHODS[args.child](args.corpus, args.work)
        args.kept.write_text(json.dumps(kept))
        return
    os.environ["BENCH_START_METHOD"] = args.start_method  # inherited by the children
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="ocforge-bench-curate-"))
    sizes = [20000] if args.quick else [int(s) for s in args.sizes.split(",")]
    methods = ["ours", "script"] if args.quick else args.methods.split(",")
    if args.curation and not args.quick:
        methods += ["curation-ours", "curation-stock"]
    all_results = []
    for n in sizes:
        results = {r["method"]: r for r in bench(n, methods, workdir)}
        all_results += results.values()
        line = [f"N={n}"]
        for m, r in results.items():
            line.append(
                f"{m}: {r['docs_per_s']:.0f} docs/s, {r['peak_rss_mib']:.0f} MiB, P={r['precision']:.3f}"
            )
        print(" | ".join(line), flush=True)
        if "ours" in results and "script" in results:
            print(
                f"N={n} ratio ours/script = {results['script']['wall_s'] / results['ours']['wall_s']:.2f}"
            )
        if "ours" in results and "stock" in results:
            print(
                f"N={n} ratio ours/stock = {results['stock']['wall_s'] / results['ours']['wall_s']:.2f}"
            )
        if "curation-ours" in results and "curation-stock" in results:
            ratio = results["curation-stock"]["wall_s"] / results["curation-ours"]["wall_s"]
            print(f"N={n} whole curation ratio ours/stock = {ratio:.2f}")
    (workdir / "results.json").write_text(json.dumps(all_results, indent=2))
    if args.quick:
        r = {x["method"]: x for x in all_results}
        print(
            f"ratio={r['script']['wall_s'] / r['ours']['wall_s']:.2f} f1={r['ours']['f1_exact_and_j08']:.3f}"
        )


if __name__ == "__main__":
    main()
