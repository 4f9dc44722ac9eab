"""Per-answer cost of ocforge's hot filters against the stock step each replaces, same process.

    python benchmarks/curate/bench_filters.py [--answers 3000] [--rounds 5]

Each pair runs over the same generated answers (benchmarks/curate/corpus.py's writer, 80-270
words); the best of ``--rounds`` rounds is reported per pair, and the verdicts of both sides are
checked equal before any time is printed (a fast path that changed a verdict would be no
replacement):

- Gopher quality: datatrove's ``GopherQualityFilter.filter`` (with our regex tokeniser; spaCy
  costs far more) vs ``AnswerQualityFilter`` (per-distinct-word rules, cached tokens);
- Gopher repetition: datatrove's ``GopherRepetitionFilter`` plus the answers' top-n-gram rule vs
  ``AnswerRepetitionFilter`` (hashed n-grams, scan only on a repeat);
- language id: py3langid's ``classify`` per answer vs ``LanguageIdFilter.filter_batch`` (numpy
  DFA walk over batches of 512);
- profile leakage: the n-gram-set rule (each answer's n-grams looked up in its profile's n-gram
  set, profiles' sets cached up to 4,096 as before) over 20,000 profiles in random order, as a
  full-scale build meets them, vs ``ProfileLeakageFilter`` (word runs bound the copied share);
  every tenth answer recites a span of its profile;
- rewrite sanity: trigram sets with their union built, content-word sets of both texts vs
  ``RewriteSanityFilter``; answers are edits of their originals;
- filter loop: datatrove's ``BaseFilter.run`` vs ``TalliedFilter.run`` around a filter that
  keeps everything (the per-document bookkeeping alone);
- intermediate writer: datatrove's ``JsonlWriter`` with our compact adapter vs
  ``IntermediateWriter`` (same bytes).
"""

from __future__ import annotations

import argparse
import random
import shutil
import sys
import tempfile
import time
import warnings
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from datatrove.data import Document
from datatrove.pipeline.filters.base_filter import BaseFilter
from datatrove.pipeline.filters.gopher_quality_filter import GopherQualityFilter
from datatrove.pipeline.filters.gopher_repetition_filter import GopherRepetitionFilter, get_n_grams
from datatrove.pipeline.writers.jsonl import JsonlWriter

from ocforge.filters.dialogue import ProfileLeakageFilter, RewriteSanityFilter, content_words
from ocforge.filters.io import _intermediate_adapter, intermediate_writer
from ocforge.filters.language import LanguageIdFilter, _identifier
from ocforge.filters.tally import TalliedFilter
from ocforge.filters.text_quality import AnswerQualityFilter, AnswerRepetitionFilter
from ocforge.filters.textnorm import FastWordTokenizer, plain_words

sys.path.insert(0, str(Path(__file__).parent))
from corpus import _Writer  # noqa: E402

TOK = FastWordTokenizer()
QUALITY = dict(
    min_doc_words=None,
    max_doc_words=None,
    max_ellipsis_lines_ratio=None,
    max_non_alpha_words_ratio=0.6,
    language=TOK,
)
TOP = ((2, 0.2), (3, 0.18), (4, 0.16))


def _stock_repetition(step: GopherRepetitionFilter, doc: Document):
    verdict = step.filter(doc)
    if verdict is not True:
        return verdict
    words = TOK.word_tokenize(doc.text)
    for n, frac in TOP:
        grams = get_n_grams(words, n)
        if grams:
            gram, count = Counter(grams).most_common(1)[0]
            if count > 1 and len(gram) * count / len(doc.text) > frac:
                return False, f"top_{n}_gram"
    return True


def _ngrams(words, n: int) -> set:
    return set(zip(*(words[i:] for i in range(n)), strict=False))


class _NgramSetLeakage:
    """The profile-leakage rule with n-gram sets, profiles' sets cached up to 4,096."""

    def __init__(self, n: int = 8, threshold: float = 0.2):
        self.n, self.threshold, self.cache = n, threshold, {}

    def filter(self, doc: Document):
        profile = doc.metadata["record"]["messages"][0]["content"]
        grams = self.cache.get(profile)
        if grams is None:
            if len(self.cache) >= 4096:
                self.cache.clear()
            grams = self.cache[profile] = _ngrams(plain_words(profile), self.n)
        answer = list(zip(*(plain_words(doc.text)[i:] for i in range(self.n)), strict=False))
        if not answer:
            return True
        share = sum(g in grams for g in answer) / len(answer)
        return (False, "profile_leakage") if share > self.threshold else True


def _set_sanity(doc: Document):
    """The rewrite-sanity rule with trigram and content-word sets (both texts)."""
    original = doc.metadata["record"]["original_response"]
    a, b = _ngrams(plain_words(doc.text), 3), _ngrams(plain_words(original), 3)
    if a and b and len(a & b) / len(a | b) >= 0.9:
        return False, "not_rewritten"
    source = content_words(original)
    if source and len(source & content_words(doc.text)) / len(source) < 0.1:
        return False, "content_lost"
    return True


class _KeepAll(BaseFilter):
    name = "keep"

    def filter(self, doc: Document) -> bool:
        return True


class _TalliedKeepAll(TalliedFilter, _KeepAll):
    """The same filter through TalliedFilter's loop."""


def _dialogues(docs: list[Document], writer: _Writer) -> list[Document]:
    """The answers as linked dialogues: a profile out of 20,000 (random order), an original."""
    rng = random.Random(2)
    profiles = [f"Name: P{i}\nGeneral Experience: {writer.answer()}" for i in range(20_000)]
    out = []
    for i, doc in enumerate(docs):
        profile = rng.choice(profiles)
        text = doc.text
        if i % 10 == 0:  # recites a span of its profile
            words = profile.split()
            start = rng.randrange(len(words) - 40)
            text = " ".join(words[start : start + 40]) + " " + text
        record = {
            "messages": [{"role": "system", "content": profile}],
            "original_response": writer.edit(text, 0.3),
        }
        out.append(Document(text, doc.id, metadata={"record": record}))
    return out


def _pairs() -> dict[str, tuple[Callable, Callable]]:
    stock_quality = GopherQualityFilter(**QUALITY)
    ours_quality = AnswerQualityFilter(**QUALITY)
    stock_repetition = GopherRepetitionFilter(top_n_grams=(), language=TOK)
    ours_repetition = AnswerRepetitionFilter(language=TOK)
    ours_language = LanguageIdFilter(["en"])
    identifier = _identifier()
    set_leakage, ours_leakage = _NgramSetLeakage(), ProfileLeakageFilter(8, 0.2)
    ours_sanity = RewriteSanityFilter(0.9, 0.1)
    scratch = tempfile.mkdtemp(prefix="ocforge-bench-filters-")
    stock_writer = JsonlWriter(
        f"{scratch}/stock",
        output_filename="${rank}.jsonl",
        compression=None,
        adapter=_intermediate_adapter,
    )

    def batched(docs):
        out = []
        for i in range(0, len(docs), 512):
            out += ours_language.filter_batch(docs[i : i + 512])
        return out

    return {
        "gopher quality": (
            lambda docs: [stock_quality.filter(Document(d.text.lower(), d.id)) for d in docs],
            lambda docs: [ours_quality.filter(d) for d in docs],
        ),
        "gopher repetition": (
            lambda docs: [_stock_repetition(stock_repetition, d) for d in docs],
            lambda docs: [ours_repetition.filter(d) for d in docs],
        ),
        "language id": (
            lambda docs: [identifier.classify(d.text) for d in docs],
            batched,
        ),
        "profile leakage": (
            lambda docs: [set_leakage.filter(d) for d in docs],
            lambda docs: [ours_leakage.filter(d) for d in docs],
        ),
        "rewrite sanity": (
            lambda docs: [_set_sanity(d) for d in docs],
            lambda docs: [ours_sanity.filter(d) for d in docs],
        ),
        "filter loop": (
            lambda docs: [d.id for d in _KeepAll().run(iter(docs))],
            lambda docs: [d.id for d in _TalliedKeepAll().run(iter(docs))],
        ),
        "intermediate writer": (
            lambda docs: _written(stock_writer, docs),
            lambda docs: _written(intermediate_writer(f"{scratch}/ours"), docs),
        ),
    }


def _written(writer, docs: list[Document]) -> bytes:
    folder = Path(writer.output_folder.path)
    shutil.rmtree(folder, ignore_errors=True)
    list(writer.run(iter(docs)))
    return (folder / "00000.jsonl").read_bytes()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--answers", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    warnings.simplefilter("ignore")  # datatrove's mean of no words
    writer = _Writer(1)
    docs = _dialogues([Document(writer.answer(), str(i)) for i in range(args.answers)], writer)
    print(f"{'filter':<20}{'stock ms/answer':>16}{'ours ms/answer':>16}{'ratio':>8}", flush=True)
    for name, (stock, ours) in _pairs().items():
        best = {"stock": float("inf"), "ours": float("inf")}
        for _ in range(args.rounds):
            results = {}
            for side, fn in (("stock", stock), ("ours", ours)):
                start = time.perf_counter()
                results[side] = fn(docs)
                best[side] = min(best[side], (time.perf_counter() - start) / len(docs) * 1e3)
            if name == "language id":  # stock gives (lang, p): compare the verdicts' inputs
                same = all(
                    (v is True) == (lang == "en" and p >= 0.5)
                    for v, (lang, p) in zip(results["ours"], results["stock"], strict=True)
                )
            else:
                same = results["ours"] == results["stock"]
            if not same:
                raise SystemExit(f"{name}: verdicts differ between stock and ours")
        ratio = best["stock"] / best["ours"]
        print(f"{name:<20}{best['stock']:>16.3f}{best['ours']:>16.4f}{ratio:>7.1f}x", flush=True)


if __name__ == "__main__":
    main()
