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
  DFA walk over batches of 512).
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from datatrove.data import Document
from datatrove.pipeline.filters.gopher_quality_filter import GopherQualityFilter
from datatrove.pipeline.filters.gopher_repetition_filter import GopherRepetitionFilter, get_n_grams
from ocforge.filters.language import LanguageIdFilter, _identifier
from ocforge.filters.text_quality import AnswerQualityFilter, AnswerRepetitionFilter
from ocforge.filters.textnorm import FastWordTokenizer

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


def _pairs() -> dict[str, tuple[Callable, Callable]]:
    stock_quality = GopherQualityFilter(**QUALITY)
    ours_quality = AnswerQualityFilter(**QUALITY)
    stock_repetition = GopherRepetitionFilter(top_n_grams=(), language=TOK)
    ours_repetition = AnswerRepetitionFilter(language=TOK)
    ours_language = LanguageIdFilter(["en"])
    identifier = _identifier()

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
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--answers", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    warnings.simplefilter("ignore")  # datatrove's mean of no words
    writer = _Writer(1)
    docs = [Document(writer.answer(), str(i)) for i in range(args.answers)]
    print(f"{'filter':<20}{'stock ms/answer':>16}{'ours ms/answer':>16}{'ratio':>8}")
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
        print(f"{name:<20}{best['stock']:>16.3f}{best['ours']:>16.3f}{ratio:>7.1f}x")


if __name__ == "__main__":
    main()
