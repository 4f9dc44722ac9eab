"""Near-duplicate removal: MinHash LSH in datatrove's four stages, with a fast stage 1.

Stages 2-4 (buckets, clusters, filter) are datatrove's own. Stage 1 is
:class:`FastMinhashSignature`, a ``MinhashDedupSignature`` that writes the same signature files
(``bucket_XXX/RANK.minhash.sig``, sorted) but computes them in batches with numpy:

- words are datatrove's ``simplify_text`` + ``split`` (:func:`~ocforge.filters.textnorm.minhash_words`)
  instead of spaCy tokenisation, the cost of the stock step;
- each distinct word is hashed once (xxh64) and n-gram shingles are combined from word hashes
  arithmetically, for the whole batch at once;
- the ``num_buckets x hashes_per_bucket`` permutations are applied to the batch's shingle matrix
  and reduced per document with ``np.minimum.reduceat``.

Only one batch of documents (``batch_size``) and the task's signatures (``8 x hashes`` bytes per
document, on disk) are held: the corpus is never in memory. Documents shorter than ``n_grams``
words get one shingle of all their words (datatrove skips them).
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import xxhash
from datatrove.data import Document, DocumentsPipeline
from datatrove.pipeline.dedup.minhash import (
    MinhashConfig,
    MinhashDedupBuckets,
    MinhashDedupCluster,
    MinhashDedupFilter,
    MinhashDedupSignature,
)
from datatrove.pipeline.writers.disk_base import DiskWriter
from datatrove.utils.hashing import HashConfig
from datatrove.utils.typeshelper import StatHints

from ocforge.filters.io import iter_file_docs
from ocforge.filters.released import (
    copy_released_positions,
    prefer_released,
    released_level,
    write_released_positions,
)
from ocforge.filters.textnorm import FastWordTokenizer, minhash_words

# odd 64-bit constants: position weights of the n-gram combination and the final mixer
_MIX = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_PAD_HASH = 0x9E3779B97F4A7C15  # hash of the padding between documents
_MAX_VOCAB = 2_000_000  # the word-hash cache is cleared when it grows past this


def minhash_config(
    n_grams: int = 5, num_buckets: int = 14, hashes_per_bucket: int = 8, seed: int = 1
) -> MinhashConfig:
    """datatrove's MinhashConfig with 64-bit hashes (signature values below 2**61)."""
    return MinhashConfig(
        n_grams=n_grams,
        num_buckets=num_buckets,
        hashes_per_bucket=hashes_per_bucket,
        seed=seed,
        hash_config=HashConfig(precision=64, hash_fc="xxhash"),
    )


def _position_weights(n: int, seed: int) -> np.ndarray:
    rng = np.random.RandomState(seed + 7919)
    return rng.randint(1, 2**62, size=n, dtype=np.uint64) | np.uint64(1)


class _Vocab:
    """word -> number, numbering unseen words in order of appearance."""

    def __init__(self):
        self.numbers: dict[str, int] = {}
        self.words: list[str] = []

    def __len__(self) -> int:
        return len(self.words)

    def number(self, words: list[str]) -> list[int]:
        # a plain dict lookup per word in C; the few unseen words are numbered afterwards
        found = list(map(self.numbers.get, words))
        if None in found:
            for i, word in enumerate(words):
                if found[i] is None:
                    number = self.numbers.get(word)
                    if number is None:
                        number = self.numbers[word] = len(self.words)
                        self.words.append(word)
                    found[i] = number
        return found


class FastMinhashSignature(MinhashDedupSignature):
    """Stage 1, batched and vectorised; writes datatrove's signature files unchanged."""

    name = "🎯 MinHash stage 1 (vectorised)"

    def __init__(
        self,
        output_folder,
        config: MinhashConfig | None = None,
        batch_size: int = 128,
        forward: bool = False,
    ):
        """``forward``: pass every document on after hashing it (in order), so the stage that
        produces the documents writes their signatures instead of a pass that reads them back.

        ``batch_size``: 128 answers keep the batch's hashes x shingles matrix (4 bytes each) in
        the processor's cache; at 512 it is about 20 MB and the step took 1.4x as long."""
        # a WordTokenizer instance as `language` keeps datatrove from loading spaCy
        super().__init__(output_folder, config or minhash_config(), language=FastWordTokenizer())
        self.forward = forward
        if self.config.hash_config.precision != 64:
            raise ValueError("FastMinhashSignature writes 64-bit signatures")
        self.batch_size = batch_size
        rng = np.random.RandomState(self.config.seed)
        self._permutations = (
            (rng.randint(0, 2**31, size=(self.num_hashes, 1), dtype=np.int64) * 2 + 1).astype(
                np.uint32
            ),
            rng.randint(0, 2**32, size=(self.num_hashes, 1), dtype=np.int64).astype(np.uint32),
        )
        self._vocab = _Vocab()
        self._word_hashes = np.zeros(0, dtype=np.uint64)

    def _hash_new_words(self, new_words: list[str]) -> None:
        fresh = np.fromiter(
            (xxhash.xxh64_intdigest(w) for w in new_words), dtype=np.uint64, count=len(new_words)
        )
        self._word_hashes = np.concatenate([self._word_hashes, fresh])

    def _signatures(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """(signatures of shape (docs_with_words, num_hashes), indices of those docs in the batch)."""
        n = self.config.n_grams
        if len(self._vocab) > _MAX_VOCAB:
            self._vocab, self._word_hashes = _Vocab(), np.zeros(0, dtype=np.uint64)
        vocab = self._vocab
        n_before = len(vocab)
        ids: list[int] = []
        starts: list[int] = []
        counts: list[int] = []
        kept: list[int] = []
        pad = [-1] * (n - 1)
        for i, text in enumerate(texts):
            words = minhash_words(text)
            if not words:
                continue
            starts.append(len(ids))
            ids.extend(vocab.number(words))
            counts.append(max(len(words) - n + 1, 1))
            ids.extend(pad)
            kept.append(i)
        new_words = vocab.words[n_before:]
        if not kept:
            return np.zeros((0, self.num_hashes), dtype=np.uint64), np.zeros(0, dtype=np.int64)
        if new_words:
            self._hash_new_words(new_words)
        id_arr = np.asarray(ids, dtype=np.int64)
        hashes = np.where(id_arr >= 0, self._word_hashes[id_arr], np.uint64(_PAD_HASH))
        # shingle at every position: weighted sum of n word hashes (mod 2**64), then mixed
        weights = _position_weights(n, self.config.seed)
        m = len(hashes) - n + 1
        shingle = hashes[:m] * weights[0]
        for k in range(1, n):
            shingle += hashes[k : k + m] * weights[k]
        shingle ^= shingle >> np.uint64(31)
        shingle *= _MIX
        shingle ^= shingle >> np.uint64(29)
        shingle *= _MIX2
        shingle ^= shingle >> np.uint64(32)
        # the valid positions: the first `count` positions of each document
        starts_arr = np.asarray(starts, dtype=np.int64)
        counts_arr = np.asarray(counts, dtype=np.int64)
        offsets = np.repeat(starts_arr - np.cumsum(counts_arr) + counts_arr, counts_arr)
        positions = np.arange(int(counts_arr.sum()), dtype=np.int64) + offsets
        shingles = shingle[positions]
        a, b = self._permutations
        # 32-bit affine permutations a*h + b (mod 2**32, a odd: a bijection) of the mixed shingle
        # hash, as datasketch's default "affine32" scheme; laid out hashes x shingles, because
        # reducing along contiguous rows is several times faster. Values < 2**32 < 2**61, the
        # bound datatrove's stage 2 reads up to.
        phv = a * (shingles >> np.uint64(32)).astype(np.uint32)[None, :]
        phv += b
        seg_starts = np.concatenate([[0], np.cumsum(counts_arr)[:-1]])
        sig = np.minimum.reduceat(phv, seg_starts, axis=1).T.astype(np.uint64)
        return sig, np.asarray(kept, dtype=np.int64)

    def _batches(self, data: DocumentsPipeline) -> Iterator[list[Document]]:
        batch: list[Document] = []
        for doc in data:
            batch.append(doc)
            if len(batch) == self.batch_size:
                yield batch
                batch = []
        if batch:
            yield batch

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        cfg = self.config
        hpb, nb = cfg.hashes_per_bucket, cfg.num_buckets
        record = np.dtype([("h", "<u8", (hpb,)), ("doc", "<u4")])
        paths = [f"bucket_{bi:03d}/{rank:05d}.minhash.sig" for bi in range(nb)]
        files = [self.output_folder.open(p, mode="wb") for p in paths]
        doc_idx = 0
        released: list[tuple[int, int]] = []  # (position, level) of the parent release's rows
        for batch in self._batches(data):
            levels = [(doc_idx + i, released_level(d)) for i, d in enumerate(batch)]
            released += [(i, level) for i, level in levels if level]
            with self.track_time():
                sig, kept = self._signatures([d.text for d in batch])
                self.stat_update(StatHints.total, value=len(batch))
                if len(kept):
                    rows = np.empty(len(kept), dtype=record)
                    rows["doc"] = kept + doc_idx
                    for bi, fh in enumerate(files):
                        rows["h"] = sig[:, bi * hpb : (bi + 1) * hpb]
                        fh.write(rows.tobytes())
                doc_idx += len(batch)
            if self.forward:
                yield from batch
        if released:
            write_released_positions(self.output_folder, rank, released)
        with self.track_time():
            for fh in files:
                fh.close()
            for path in paths:  # sort each bucket file by (hashes..., doc), as stage 2 expects
                with self.output_folder.open(path, mode="rb") as fh:
                    rows = np.frombuffer(fh.read(), dtype=record).copy()
                keys = [rows["doc"], *(rows["h"][:, j] for j in reversed(range(hpb)))]
                rows = rows[np.lexsort(keys)]
                with self.output_folder.open(path, mode="wb") as fh:
                    fh.write(rows.tobytes())
        assert record.itemsize == struct.calcsize(f"<{hpb}QI")


class GroupedMinhashBuckets(MinhashDedupBuckets):
    """Stage 2 with several buckets per task and a vectorised match finder.

    Task ``rank`` of ``world_size`` handles buckets ``rank, rank + world_size, ...`` (datatrove
    needs one task per bucket, and each task costs about 0.1 s of start-up, which dominates
    small builds). Without an index, a bucket's signatures (8 x hashes + 4 bytes per document)
    are loaded, sorted and compared with numpy instead of datatrove's heap merge in Python; the
    ``.dups`` output is the same pairs, in the same format, as datatrove's (consecutive equal
    signatures in (signature, file, doc) order). With an index folder, datatrove's code runs.
    """

    def run(self, data: DocumentsPipeline = None, rank: int = 0, world_size: int = 1):
        if rank == 0:  # stage 3 reads the released rows' positions from this stage's output
            copy_released_positions(self.input_folder, self.output_folder)
        num_buckets = self.config.num_buckets
        if self.index_folder is not None or world_size % num_buckets == 0:
            buckets = (
                [(rank, world_size)]
                if world_size % num_buckets == 0
                else [(b, num_buckets) for b in range(rank, num_buckets, world_size)]
            )
            for bucket_rank, size in buckets:
                super().run(data, bucket_rank, size)
            return
        for bucket in range(rank, num_buckets, world_size):
            with self.track_time():
                self._find_matches(bucket)

    def _find_matches(self, bucket: int) -> None:
        hpb = self.config.hashes_per_bucket
        record = np.dtype([("h", "<u8", (hpb,)), ("doc", "<u4")])
        parts = []
        for path in self.input_folder.list_files(subdirectory=f"bucket_{bucket:03d}"):
            file_id = int(path.rsplit("/", 1)[-1].removesuffix(".minhash.sig"))
            with self.input_folder.open(path, "rb") as fh:
                rows = np.frombuffer(fh.read(), dtype=record)
            parts.append((rows, np.full(len(rows), file_id, dtype=np.uint32)))
        with self.output_folder.open(f"{bucket:05d}_00.dups", mode="wb") as out:
            if not parts:
                return
            rows = np.concatenate([p[0] for p in parts])
            files = np.concatenate([p[1] for p in parts])
            keys = [rows["doc"], files, *(rows["h"][:, j] for j in reversed(range(hpb)))]
            order = np.lexsort(keys)
            sigs, docs, files = rows["h"][order], rows["doc"][order], files[order]
            same = np.all(sigs[1:] == sigs[:-1], axis=1)
            idx = np.nonzero(same)[0]
            pairs = np.empty((len(idx), 4), dtype="<u4")
            pairs[:, 0], pairs[:, 1] = files[idx], docs[idx]
            pairs[:, 2], pairs[:, 3] = files[idx + 1], docs[idx + 1]
            out.write(pairs.tobytes())
            self.stat_update("total_matches", value=len(idx))


def bucket_tasks(config: MinhashConfig, tasks: int) -> int:
    """Tasks for stage 2: at most one per bucket."""
    return max(1, min(tasks, config.num_buckets))


def bucket_step(sig_folder: str, buckets_folder: str, config: MinhashConfig) -> MinhashDedupBuckets:
    return GroupedMinhashBuckets(
        input_folder=sig_folder, output_folder=buckets_folder, config=config
    )


class ReleasedFirstCluster(MinhashDedupCluster):
    """Stage 3, datatrove's, then a cluster with a row of the parent release keeps that row
    (:func:`~ocforge.filters.released.prefer_released`); unchanged without a parent."""

    def run(self, data: DocumentsPipeline = None, _: int = 0, world_size: int = 1):
        super().run(data, _, world_size)
        with self.track_time():
            swaps = prefer_released(self.input_folder, self.output_folder)
        if swaps:
            self.stat_update("kept_released", value=swaps)


def cluster_step(
    buckets_folder: str, clusters_folder: str, config: MinhashConfig
) -> MinhashDedupCluster:
    return ReleasedFirstCluster(
        input_folder=buckets_folder,
        output_folder=clusters_folder,
        config=config,
        save_cluster_id=True,
    )


def removed_positions(clusters_folder: Path, rank: int) -> np.ndarray:
    """Positions (in the order stage 4 reads task ``rank``'s documents) that stage 4 removes."""
    path = clusters_folder / f"{rank:06d}.remove"
    if not path.is_file():  # stage 3 wrote nothing for the task: it removes nothing
        return np.zeros(0, dtype="<u4")
    return np.fromfile(path, dtype="<u4")


def iter_near_kept(folder: Path, clusters_folder: Path) -> Iterator[dict]:
    """The documents of ``folder``'s shards (``RANK.jsonl``, as stage 4 would read them by rank)
    that stage 4 keeps, without running it."""
    for path in sorted(folder.glob("*.jsonl")):
        removed = set(removed_positions(clusters_folder, int(path.stem)).tolist())
        for position, doc in enumerate(iter_file_docs(path)):
            if position not in removed:
                yield doc


def filter_step(clusters_folder: str, exclusion_writer: DiskWriter | None) -> MinhashDedupFilter:
    """Stage 4, datatrove's: every document of a cluster gets ``minhash_cluster_id``, which the
    removed-row writer records so the build can name the kept document a duplicate belongs to."""
    return MinhashDedupFilter(
        input_folder=clusters_folder, exclusion_writer=exclusion_writer, load_cluster_ids=True
    )
