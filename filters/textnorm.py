"""Fast word tokenisation behind datatrove's ``WordTokenizer`` interface.

datatrove's Gopher filters and MinHash signatures tokenise with spaCy, which costs about 3.7 ms
per 170-word answer: almost all of a curation run (see benchmarks/curate). Role-play answers are
plain prose, so a regular expression gives the same words: :class:`FastWordTokenizer` is passed
to datatrove's own filters as their ``language`` (datatrove accepts a ``WordTokenizer`` instance
there), and :func:`minhash_words` is datatrove's ``simplify_text`` followed by ``str.split``,
with a shortcut for ASCII text that gives the same result without the per-character Unicode pass.
"""

from __future__ import annotations

import re
from functools import lru_cache

from datatrove.utils.text import PUNCTUATION_TRANS, TextNormConfig, simplify_text
from datatrove.utils.word_tokenizers import WordTokenizer

from ocforge.character_breaks import ASCII_WORD_TABLE

# a word (letters/digits, inner apostrophes kept: "don't") or one punctuation character
_WORD_RE = re.compile(r"\w+(?:['’]\w+)*|[^\w\s]")
# the word alternative of _WORD_RE alone: the same words without the punctuation tokens
_PLAIN_WORD_RE = re.compile(r"\w+(?:['’]\w+)*")
_SENTENCE_END_RE = re.compile(r"(?<=[.!?…])\s+")
# datatrove's NUMBERS_PATTERN restricted to ASCII digits and separators
_ASCII_NUMBER_RE = re.compile(r"[0-9]+(?:[.,][0-9]+)?")
_NORM = TextNormConfig()


class FastWordTokenizer(WordTokenizer):
    """Regex word and sentence splitting; a drop-in ``WordTokenizer`` for datatrove steps."""

    def __init__(self, language: str | None = "en"):
        super().__init__(language)

    def word_tokenize(self, text: str) -> list[str]:
        return list(_tokens(text))

    def sent_tokenize(self, text: str) -> list[str]:
        return [s for s in _SENTENCE_END_RE.split(text) if s]

    def span_tokenize(self, text: str) -> list[tuple[int, int]]:
        spans, start = [], 0
        for m in _SENTENCE_END_RE.finditer(text):
            spans.append((start, m.start()))
            start = m.end()
        if start < len(text):
            spans.append((start, len(text)))
        return spans


def minhash_words(text: str) -> list[str]:
    """Words of ``simplify_text(text)`` (lower case, numbers to 0, punctuation and diacritics
    removed), as datatrove's MinHash sees them. ASCII text skips the Unicode normalisation,
    which cannot change it."""
    if text.isascii():
        lowered = text.lower()
        # the regex scans slowly and most answers hold no digit: ten substring searches are
        # several times cheaper than its scan
        if any(digit in lowered for digit in "0123456789"):
            lowered = _ASCII_NUMBER_RE.sub("0", lowered)
        return lowered.translate(PUNCTUATION_TRANS).split()
    return simplify_text(text, _NORM).split()


# _WORD_RE for ASCII text, about 1.4x as fast: ASCII classes instead of Unicode lookups (the
# separators \x1c-\x1f are whitespace to Unicode's \s, so they stay out of the punctuation class)
_ASCII_WORD_RE = re.compile(r"\w+(?:'\w+)*|[^\w\s\x1c-\x1f]", re.ASCII)


@lru_cache(maxsize=16)
def _tokens(text: str) -> tuple[str, ...]:
    # several filters tokenise the same answer in a row: the last few texts are remembered
    return tuple((_ASCII_WORD_RE if text.isascii() else _WORD_RE).findall(text))


@lru_cache(maxsize=16)
def plain_words(text: str) -> tuple[str, ...]:
    """Lower-cased alphanumeric words (punctuation dropped), for overlap measures. Remembered
    for the last few texts: the dialogue filters and decontamination ask for the same ones."""
    lowered = text.lower()
    if not lowered.isascii():
        return tuple(_PLAIN_WORD_RE.findall(lowered))
    # the regex's words for ASCII, a few times faster: split on everything but word characters
    # and apostrophes, then let the regex sort out the rare chunks holding an apostrophe
    words = lowered.encode("ascii").translate(ASCII_WORD_TABLE).decode("ascii").split()
    if "'" in lowered:
        words = [
            w
            for chunk in words
            for w in (_PLAIN_WORD_RE.findall(chunk) if "'" in chunk else (chunk,))
        ]
    return tuple(words)
