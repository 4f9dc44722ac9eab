"""datatrove's Gopher quality and repetition filters, tuned for dialogue answers.

The filters are datatrove's own classes (subclassed for two fixes, see below); what changes:

- tokenisation: they get :class:`~ocforge.filters.textnorm.FastWordTokenizer` instead of spaCy
  (datatrove accepts a ``WordTokenizer`` as ``language``), the cost of the stock filters;
- thresholds: Gopher's are for web pages. Answers are 20-600 words of one or a few paragraphs:

  ===========================  ==========  ============  ==============================================
  setting                      Gopher      ocforge       why
  ===========================  ==========  ============  ==============================================
  min/max_doc_words            50/100000   off           the per-strategy length bounds decide length
  max_ellipsis_lines_ratio     0.3         off           a one-line answer trailing off "..." is 100%
  max_bullet_lines_ratio       0.9         0.9           kept
  min/max_avg_word_length      3/10        3/10          kept
  max_symbol_word_ratio        0.1         0.1           kept ("#" and "..." per word)
  max_non_alpha_words_ratio    0.8         0.6           share of tokens with a letter: dialogue is
                                                         dense in commas, dashes and quotes (clean
                                                         demo answers go down to 0.72)
  min_stop_words               2           2             kept: any English answer has two (matched
                                                         on the lower-cased answer)
  dup_line/para_frac           0.3         0.3           kept
  top_n_grams                  2/3/4-gram  same          counted only for n-grams seen twice or more
  dup_n_grams                  5..10       same          kept
  ===========================  ==========  ============  ==============================================

The drop reasons are datatrove's (``gopher_below_avg_threshold``, ``dup_para_frac``,
``top_2_gram``, ``duplicated_5_n_grams``, ...).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

import numpy as np
from datatrove.data import Document
from datatrove.pipeline.filters.gopher_quality_filter import GopherQualityFilter
from datatrove.pipeline.filters.gopher_repetition_filter import (
    GopherRepetitionFilter,
    find_duplicates,
)
from datatrove.utils.text import PUNCTUATION_SET
from datatrove.utils.word_tokenizers import load_word_tokenizer

from ocforge.filters.tally import TalliedFilter
from ocforge.filters.textnorm import FastWordTokenizer

_TOKENIZER = FastWordTokenizer()


def _joined_ngrams(words: list[str], n: int, sep: str) -> list[str]:
    """``sep.join(words[i : i + n])`` for every position, built by C-level map/zip."""
    return list(map(sep.join, zip(*(words[i:] for i in range(n)), strict=False)))


def _repeated_chars(words: list[str], n: int) -> int:
    """datatrove's ``find_all_duplicate``: characters of n-grams (words joined without a
    separator) seen before, skipping ``n`` positions after each repeat."""
    grams = _joined_ngrams(words, n, "")
    seen: set[str] = set()
    repeated, idx = 0, 0
    while idx < len(grams):
        gram = grams[idx]
        if gram in seen:
            repeated += len(gram)
            idx += n
        else:
            seen.add(gram)
            idx += 1
    return repeated


_BASE = 0x9E3779B97F4A7C15  # odd, so invertible modulo 2**64
_BASE_INV = pow(_BASE, -1, 2**64)


def _ngram_hashes(words: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A polynomial hash (mod 2**64) of the words glued together, as prefix sums: the glued
    n-gram from word ``i`` hashes to ``(sums[ends[i + n]] - sums[ends[i]]) * unshift[ends[i]]``.
    Equal glued strings give equal hashes, whatever their word boundaries."""
    codes = np.frombuffer("".join(words).encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    size = len(codes)
    with np.errstate(over="ignore"):
        powers = np.cumprod(np.full(size, _BASE, dtype=np.uint64), dtype=np.uint64)
        sums = np.concatenate(([np.uint64(0)], np.cumsum((codes + 1) * powers, dtype=np.uint64)))
        unshift = np.concatenate(
            ([np.uint64(1)], np.cumprod(np.full(size, _BASE_INV, dtype=np.uint64), dtype=np.uint64))
        )
    ends = np.concatenate(([0], np.cumsum(np.fromiter(map(len, words), np.int64, len(words)))))
    return sums, unshift, ends


def _ngram_keys(hashes: tuple[np.ndarray, np.ndarray, np.ndarray], n: int) -> np.ndarray:
    sums, unshift, ends = hashes
    starts = ends[: max(len(ends) - n, 0)]
    with np.errstate(over="ignore"):
        return (sums[ends[n:]] - sums[starts]) * unshift[starts]


def _may_repeat(keys: np.ndarray) -> bool:
    """False only when no two glued n-grams are equal strings (their hashes all differ)."""
    if len(keys) < 2:
        return False
    ordered = np.sort(keys)  # faster than np.unique's hashing at these sizes
    return bool((ordered[1:] == ordered[:-1]).any())


_SALT = np.uint64(0xD6E8FEB86659FD93)


def _glued_may_repeat(words: list[str], n: int) -> bool:
    """False only when no glued m-gram, for any m >= ``n``, occurs twice. Two equal glued m-grams
    at different words each start with their own glued ``n``-gram, so the shorter of those two is a
    prefix of the other; in sorted order such a prefix pair has one adjacent. One sort of short
    strings rules out repeats for most answers before any hash is computed."""
    grams = sorted(_joined_ngrams(words, n, ""))
    return any(map(str.startswith, grams[1:], grams))


def _repeating_sizes(words: list[str], sizes: list[int]) -> list[int]:
    """The n in ``sizes`` for which some glued n-gram may occur twice; usually none, found with
    one sort of all sizes' hashes (salted by n) instead of one per size."""
    hashes = _ngram_hashes(words)
    keys = [_ngram_keys(hashes, n) for n in sizes]
    with np.errstate(over="ignore"):
        salted = np.concatenate(
            [k + _SALT * np.uint64(n) for k, n in zip(keys, sizes, strict=True)]
        )
    if not _may_repeat(salted):
        return []
    return [n for k, n in zip(keys, sizes, strict=True) if _may_repeat(k)]


class _WordKinds:
    """Which words are all punctuation, and which have no letter, remembered across documents:
    answers share most of their vocabulary, so a document's words are mostly looked up with
    C-level set operations instead of being classified character by character."""

    def __init__(self, limit: int = 1_000_000):
        self.limit = limit
        self.known: set[str] = set()
        self.symbolic: set[str] = set()
        self.letterless: set[str] = set()

    def learn(self, words) -> None:
        if self.known.issuperset(words):  # the usual case once a task is under way: no copies
            return
        new = words - self.known
        if not new:
            return
        if len(self.known) + len(new) > self.limit:
            self.known.clear()
            self.symbolic.clear()
            self.letterless.clear()
            new = set(words)
        for word in new:
            if all(ch in PUNCTUATION_SET for ch in word):
                self.symbolic.add(word)
            if not any(ch.isalpha() for ch in word):
                self.letterless.add(word)
        self.known |= new


class AnswerQualityFilter(TalliedFilter, GopherQualityFilter):
    """Gopher quality on the lower-cased answer: datatrove matches stop words case-sensitively,
    so "THE" or a sentence-initial "The" would not count; the other rules ignore case.

    The rules and their order are datatrove's; they are evaluated once per distinct word (a
    ``Counter``) instead of once per word, which gives the same verdicts at a fraction of the
    cost (tested against datatrove's ``filter``)."""

    name = "🥇 Gopher Quality (answers)"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._kinds = _WordKinds()

    def filter(self, doc: Document) -> bool | tuple[bool, str]:
        text = doc.text.lower()
        tokenizer = load_word_tokenizer(self.language)
        if isinstance(tokenizer, FastWordTokenizer) and doc.text.isascii():
            # ASCII lower-casing maps our tokens one to one: tokenise the answer as it is (the
            # repetition filter asks for the same tokens next) and lower-case them in one go
            tokens = tokenizer.word_tokenize(doc.text)
            words = " ".join(tokens).lower().split(" ") if tokens else []
        else:
            words = tokenizer.word_tokenize(text)
        n_words = len(words)
        if not n_words:  # datatrove divides by the word count: keep its behaviour
            return super().filter(Document(text=text, id=doc.id))
        counts = Counter(words)
        distinct = counts.keys()
        kinds = self._kinds
        kinds.learn(distinct)
        symbolic = distinct & kinds.symbolic
        n_symbolic = sum(counts[w] for w in symbolic)
        chars = sum(map(len, words)) - sum(len(w) * counts[w] for w in symbolic)
        n_alpha = n_words - sum(counts[w] for w in distinct & kinds.letterless)
        n_real = n_words - n_symbolic
        if self.min_doc_words and n_real < self.min_doc_words:
            return False, "gopher_short_doc"
        if self.max_doc_words and n_real > self.max_doc_words:
            return False, "gopher_long_doc"
        if n_real:  # datatrove's mean of no words is NaN, which passes both bounds
            avg = chars / n_real
            if self.min_avg_word_length and avg < self.min_avg_word_length:
                return False, "gopher_below_avg_threshold"
            if self.max_avg_word_length and avg > self.max_avg_word_length:
                return False, "gopher_above_avg_threshold"
        if self.max_symbol_word_ratio:
            if text.count("#") / n_words > self.max_symbol_word_ratio:
                return False, "gopher_too_many_hashes"
            ellipses = text.count("...") + text.count("…")
            if ellipses / n_words > self.max_symbol_word_ratio:
                return False, "gopher_too_many_ellipsis"
        lines = text.splitlines()
        if self.max_bullet_lines_ratio:
            bullets = sum(s.lstrip().startswith(("•", "-")) for s in lines)
            if bullets / len(lines) > self.max_bullet_lines_ratio:
                return False, "gopher_too_many_bullets"
        if self.max_ellipsis_lines_ratio:
            trailing = sum(s.rstrip().endswith(("...", "…")) for s in lines)
            if trailing / len(lines) > self.max_ellipsis_lines_ratio:
                return False, "gopher_too_many_end_ellipsis"
        if self.max_non_alpha_words_ratio and n_alpha / n_words < self.max_non_alpha_words_ratio:
            return False, "gopher_below_alpha_threshold"
        if self.min_stop_words and len(self.stop_words.intersection(counts)) < self.min_stop_words:
            return False, "gopher_enough_stop_words"
        return True


class AnswerRepetitionFilter(TalliedFilter, GopherRepetitionFilter):
    """Gopher repetition with the top-n-gram rule counting only n-grams that occur twice or more:
    datatrove's counts the most common n-gram even when it occurs once, which on a 15-word
    answer is 20% of the text by itself.

    The rules and their order are datatrove's; n-grams are built with C-level ``map``/``zip``
    and the sequential duplicate scan runs only when some n-gram repeats (tested against
    datatrove's ``filter``)."""

    name = "👯 Gopher Repetition (answers)"

    def __init__(self, top_n_grams=((2, 0.2), (3, 0.18), (4, 0.16)), **kwargs):
        super().__init__(top_n_grams=(), **kwargs)
        self.answer_top_n_grams = top_n_grams

    def filter(self, doc: Document) -> bool | tuple[bool, str]:
        text = doc.text
        if not text:
            return False, "empty"
        # datatrove splits paragraphs and lines on newlines: one line cannot repeat itself
        if "\n" in text:
            paragraphs = self.paragraph_exp.split(text.strip())
            duplicates, chars = find_duplicates(paragraphs)
            if self.dup_para_frac and duplicates / len(paragraphs) > self.dup_para_frac:
                return False, "dup_para_frac"
            if self.dup_para_char_frac and chars / len(text) > self.dup_para_char_frac:
                return False, "dup_para_char_frac"
            lines = self._line_splitter.split(text)
            duplicates, chars = find_duplicates(lines)
            if self.dup_line_frac and duplicates / len(lines) > self.dup_line_frac:
                return False, "dup_line_frac"
            if self.dup_line_char_frac and chars / len(text) > self.dup_line_char_frac:
                return False, "dup_line_char_frac"

        tokenizer = load_word_tokenizer(self.language)
        words = tokenizer.word_tokenize(text)
        sizes = [n for n, _ in self.dup_n_grams]
        if sizes and _glued_may_repeat(words, min(sizes)):
            repeating = _repeating_sizes(words, sizes)
            for n, n_frac in self.dup_n_grams:
                if n in repeating and _repeated_chars(words, n) / len(text) > n_frac:
                    return False, f"duplicated_{n}_n_grams"
        # our tokeniser's words hold no whitespace, so space-joined n-grams are equal exactly
        # when their word tuples are: count tuples, join only the winner
        spaceless = isinstance(tokenizer, FastWordTokenizer)
        longest = max(map(len, words), default=0)
        # an n-gram occurs at most as often as the top n-gram of any smaller n
        bound_n, bound = 0, 0
        for n, n_frac in self.answer_top_n_grams:
            # the top n-gram is at most n longest words long: most answers stop here
            if bound_n and n >= bound_n and (n * longest + n - 1) * bound / len(text) <= n_frac:
                continue
            if spaceless:
                grams = list(zip(*(words[i:] for i in range(n)), strict=False))
            else:
                grams = _joined_ngrams(words, n, " ")
            if not grams:
                continue
            counts = Counter(grams)
            top = max(counts.values())
            if not bound_n or n < bound_n:
                bound_n, bound = n, (top if top > 1 else 0)
            if top < 2 or (n * longest + n - 1) * top / len(text) <= n_frac:
                continue
            gram, count = counts.most_common(1)[0]
            length = len(" ".join(gram)) if spaceless else len(gram)
            if length * count / len(text) > n_frac:
                return False, f"top_{n}_gram"
        return True


def answer_quality_filters(
    writer: Callable[[str], object],
    *,
    min_avg_word_length: float = 3,
    max_avg_word_length: float = 10,
    max_symbol_word_ratio: float = 0.1,
    max_non_alpha_words_ratio: float = 0.6,
    min_stop_words: int = 2,
    repetition: bool = True,
    tokenizer=_TOKENIZER,
) -> list:
    """Gopher quality (+ repetition) for answers; ``writer(step)`` gives each its removed-row writer."""
    steps = [
        AnswerQualityFilter(
            min_doc_words=None,
            max_doc_words=None,
            min_avg_word_length=min_avg_word_length,
            max_avg_word_length=max_avg_word_length,
            max_symbol_word_ratio=max_symbol_word_ratio,
            max_bullet_lines_ratio=0.9,
            max_ellipsis_lines_ratio=None,
            max_non_alpha_words_ratio=max_non_alpha_words_ratio,
            min_stop_words=min_stop_words,
            exclusion_writer=writer("gopher-quality"),
            language=tokenizer,
        )
    ]
    if repetition:
        steps.append(
            AnswerRepetitionFilter(exclusion_writer=writer("gopher-repetition"), language=tokenizer)
        )
    return steps
