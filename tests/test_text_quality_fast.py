"""ocforge's Gopher filters give datatrove's verdicts, on every kind of answer we can think of.

The fast paths (per-distinct-word quality rules, C-level n-grams, scanning for repeated n-grams
only when one repeats) must not change a single verdict or reason: each text is checked against
datatrove's own ``filter`` with the same settings and tokeniser.
"""

from __future__ import annotations

import random
import sys
from collections import Counter
from pathlib import Path

import orjson
import pytest
from datatrove.data import Document
from datatrove.pipeline.filters.gopher_quality_filter import GopherQualityFilter
from datatrove.pipeline.filters.gopher_repetition_filter import GopherRepetitionFilter, get_n_grams
from datatrove.utils.text import split_into_words

from ocforge.filters.text_quality import AnswerQualityFilter, AnswerRepetitionFilter
from ocforge.filters.textnorm import FastWordTokenizer

ROOT = Path(__file__).resolve().parents[1]
TOK = FastWordTokenizer()
QUALITY = dict(
    min_doc_words=None,
    max_doc_words=None,
    min_avg_word_length=3,
    max_avg_word_length=10,
    max_symbol_word_ratio=0.1,
    max_bullet_lines_ratio=0.9,
    max_ellipsis_lines_ratio=None,
    max_non_alpha_words_ratio=0.6,
    min_stop_words=2,
)
TOP = ((2, 0.2), (3, 0.18), (4, 0.16))


def _stock_quality(text: str, **settings):
    return GopherQualityFilter(**{**QUALITY, **settings}, language=TOK).filter(
        Document(text=text.lower(), id="x")
    )


def _stock_repetition(text: str):
    verdict = GopherRepetitionFilter(top_n_grams=(), language=TOK).filter(
        Document(text=text, id="x")
    )
    if verdict is not True:
        return verdict
    words = split_into_words(text, TOK)
    for n, frac in TOP:
        grams = get_n_grams(words, n)
        if grams:
            gram, count = Counter(grams).most_common(1)[0]
            if count > 1 and len(gram) * count / len(text) > frac:
                return False, f"top_{n}_gram"
    return True


def _texts() -> list[str]:
    sys.path.insert(0, str(ROOT / "benchmarks" / "curate"))
    from corpus import JUNK, _Writer

    writer = _Writer(7)
    rng = random.Random(3)
    texts = [writer.answer() for _ in range(300)]
    texts += [writer.edit(t, 0.05) for t in texts[:50]]
    # repeated spans of every length, glued into otherwise clean answers
    for n in range(2, 13):
        for _ in range(6):
            base = writer.answer().split()
            span = base[: rng.randint(n, n + 3)]
            pos = rng.randrange(len(base))
            texts.append(" ".join(base[:pos] + span * rng.randint(2, 5) + base[pos:]))
    texts += list(JUNK) + [" ".join(["the same words"] * k) for k in (2, 5, 30)]
    for path in sorted((ROOT / "configs" / "demo" / "data").glob("dialogues-*.jsonl")):
        for line in path.read_bytes().splitlines():
            try:
                record = orjson.loads(line)
            except orjson.JSONDecodeError:
                continue
            if isinstance(record, dict) and isinstance(record.get("response"), str):
                texts.append(record["response"])
    texts += [
        "# ### ## # the and with to of boats nets " * 3,
        "Well... I think... maybe... the sea... and the boats... of course...",
        "- one of the items\n- two of the items\n- three and the rest\n- four to be",
        "• the first\n• and the second\n• with the third",
        "\n\nThe same paragraph and the sea.\n\nThe same paragraph and the sea.\n\nOther and the.",
        "Line of the text\nLine of the text\nLine of the text\nAnd the end",
        "___ ___ ___ the of and to be",
        "!!! ??? ... the of",
        "THE SEA AND THE BOATS ARE ALL I HAVE KNOWN FOR FORTY YEARS OF MY LIFE.",
        "ab c d e f g h i j k l a bc d e f g h i j k l",  # equal concatenations, other words
        "12 34 56 78 90 the and 11 22 33",
        "Supercalifragilisticexpialidocious antidisestablishmentarianism of the",
        "a b c d e f the of",
        "……… the of and … …",
        "Émile, naïve café owner — the best of the coast — and the sea's véritable ami.",
        "x" * 50,
    ]
    # on and around each ratio's threshold: bullets (0.9), hashes and ellipses per word (0.1)
    for bullets in (8, 9, 10):
        texts.append(
            "\n".join(["- the item of the list"] * bullets + ["and the end"] * (10 - bullets))
        )
    for marks in (1, 2, 3):
        texts.append(" ".join(["#"] * marks + ["the boats of the sea"] * 3 + ["and the end"]))
        texts.append(" ".join(["the boats of the sea..."] * marks + ["and the nets"] * 3))
    # datatrove divides by the word count: wordless texts never reach it (length filter first)
    return [t for t in texts if TOK.word_tokenize(t)]


TEXTS = _texts()


def test_quality_matches_datatrove_on_every_text():
    ours = AnswerQualityFilter(**QUALITY, language=TOK)
    verdicts = [ours.filter(Document(text=t, id=str(i))) for i, t in enumerate(TEXTS)]
    assert verdicts == [_stock_quality(t) for t in TEXTS]
    assert len({str(v) for v in verdicts}) >= 4  # the texts reach several rules


@pytest.mark.parametrize(
    "settings",
    [
        {"min_doc_words": 50, "max_doc_words": 120},
        {"max_ellipsis_lines_ratio": 0.3, "max_symbol_word_ratio": None},
        {"min_avg_word_length": 4, "max_avg_word_length": 6, "min_stop_words": 5},
    ],
)
def test_quality_matches_datatrove_with_other_settings(settings):
    ours = AnswerQualityFilter(**{**QUALITY, **settings}, language=TOK)
    verdicts = [ours.filter(Document(text=t, id="x")) for t in TEXTS]
    assert verdicts == [_stock_quality(t, **settings) for t in TEXTS]


def test_repetition_matches_datatrove_on_every_text():
    ours = AnswerRepetitionFilter(language=TOK)
    verdicts = [ours.filter(Document(text=t, id=str(i))) for i, t in enumerate(TEXTS)]
    assert verdicts == [_stock_repetition(t) for t in TEXTS]
    reasons = Counter(v[1] for v in verdicts if v is not True)
    assert len(reasons) >= 4, reasons  # paragraph, line, duplicated and top n-gram rules


def test_repetition_counts_concatenated_ngrams_like_datatrove():
    # datatrove joins the words of a 5-to-10-gram without a separator, so "ab c" repeats "a bc"
    words = ("ab c d e f g h i j k l " * 1).split() + "a bc d e f g h i j k l".split()
    text = " ".join(words)
    assert AnswerRepetitionFilter(language=TOK).filter(Document(text=text, id="x")) == (
        _stock_repetition(text)
    )


def test_repetition_finds_glued_ngrams_whose_first_words_differ_in_length():
    # "ab c d e f gh" and "a bc d e fg h" glue to the same 6-gram while their glued 5-grams only
    # share a prefix ("abcdef" / "abcdefg"): the quick no-repeat check must not rule it out
    text = "ab c d e f gh of the sea, a bc d e fg h and the"
    verdict = AnswerRepetitionFilter(language=TOK).filter(Document(text=text, id="x"))
    assert verdict == _stock_repetition(text)
    assert verdict == (False, "duplicated_6_n_grams")


def test_ascii_tokens_are_the_unicode_pattern_tokens():
    """ASCII text is tokenised with an ASCII-class pattern: every ASCII character, control
    characters and the \\x1c-\\x1f separators included, must give the Unicode pattern's tokens."""
    from ocforge.filters.textnorm import _ASCII_WORD_RE, _WORD_RE

    rng = random.Random(7)
    alphabet = [chr(c) for c in range(128)] + list("aeiou tns'.,") * 4
    texts = ["don't 'quote' it's-a test_1 x\x1cy\x1fz \x0b\x85"[:-1], "''a'' b'c'd '"]
    texts += ["".join(rng.choice(alphabet) for _ in range(rng.randrange(30))) for _ in range(20000)]
    for text in texts:
        assert text.isascii()
        assert _ASCII_WORD_RE.findall(text) == _WORD_RE.findall(text), repr(text)
        assert TOK.word_tokenize(text) == _WORD_RE.findall(text)
