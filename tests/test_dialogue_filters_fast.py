"""The fast paths of the dialogue filters and text normalisation give the verdicts of the plain
definitions they replace, on demo data, generated answers and edge cases.

Each reference below is the filter's rule written the obvious way (n-gram sets, one regex over
the whole text); a fast path that changed a single verdict, reason or word would fail here.
"""

from __future__ import annotations

import itertools
import random
import re
import sys
import unicodedata
from pathlib import Path

import orjson
import pytest
from datatrove.data import Document

from ocforge.character_breaks import fold as _fold
from ocforge.character_breaks import load_patterns
from ocforge.filters.dialogue import (
    _INTRO_RES,
    NameConsistencyFilter,
    ProfileLeakageFilter,
    RewriteSanityFilter,
    content_words,
    introduced_names,
)
from ocforge.filters.quality import CharacterBreakFilter
from ocforge.filters.textnorm import plain_words
from ocforge.recipe import DEFAULT_CHARACTER_BREAKS

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "configs" / "demo" / "data"


def _ref_plain_words(text: str) -> tuple[str, ...]:
    return tuple(re.findall(r"\w+(?:['’]\w+)*", text.lower()))


def _ref_fold(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).casefold().replace("’", "'").replace(".", "")
    return " " + " ".join(re.sub(r"[^\w']+", " ", text).split()) + " "


def _ngrams(words, n):
    return set(zip(*(words[i:] for i in range(n)), strict=False))


def _ref_leakage(answer: str, profile: str, n: int, threshold: float):
    grams = list(zip(*(plain_words(answer)[i:] for i in range(n)), strict=False))
    if not grams:
        return True
    copied = _ngrams(plain_words(profile), n)
    share = sum(g in copied for g in grams) / len(grams)
    return (False, "profile_leakage") if share > threshold else True


def _ref_sanity(answer: str, original: str, max_similarity: float, min_kept: float):
    a, b = _ngrams(plain_words(answer), 3), _ngrams(plain_words(original), 3)
    if a and b and len(a & b) / len(a | b) >= max_similarity:
        return False, "not_rewritten"
    source = content_words(original)
    if source and len(source & content_words(answer)) / len(source) < min_kept:
        return False, "content_lost"
    return True


def _ref_names(text: str) -> list[str]:
    found = [(m.start(), m.group(1)) for p in _INTRO_RES for m in p.finditer(text)]
    return [name for _, name in sorted(found)]


def _demo(field: str, name: str) -> list[str]:
    out = []
    for line in (DEMO / name).read_bytes().splitlines():
        try:
            record = orjson.loads(line)
        except orjson.JSONDecodeError:
            continue
        if isinstance(record, dict) and isinstance(record.get(field), str):
            out.append(record[field])
    return out


PROFILES = _demo("character", "characters.jsonl")
ORIGINALS = _demo("original_response", "dialogues-rewrite.jsonl")
ANSWERS = _demo("response", "dialogues-rewrite.jsonl") + _demo(
    "response", "dialogues-generate.jsonl"
)
EDGE = [
    "",
    "   ",
    "Don't stop: rock 'n' roll, o'clock's chime, 'tis the season'' -- ''quoted'' words'",
    "l'été, naïve café — Émile's “quotes” and ’curly’ apostrophes ’tis",
    "\u212a is the Kelvin sign; ﬁ is a ligature; İstanbul; ß and SS",
    "__init__ snake_case 3.14 1,000 A.I. U.S.A. e-mail x@y.z #tag",
    "As an A.I.-language model, I cannot role-play... AS AN AI!",
    "I’M AN AI; i'm an ai; I'm\tan\nAI",
    "tab\tseparated\x1cfile\x1dgroup\x1erecord\x1funit separators",
]


def _answers() -> list[str]:
    sys.path.insert(0, str(ROOT / "benchmarks" / "curate"))
    from corpus import _Writer

    writer = _Writer(11)
    texts = [writer.answer() for _ in range(200)]
    return ANSWERS + texts + EDGE


TEXTS = _answers()


def test_plain_words_match_the_regex_on_every_text():
    texts = TEXTS + PROFILES + ORIGINALS
    assert [plain_words(t) for t in texts] == [_ref_plain_words(t) for t in texts]
    assert plain_words("rock 'n' roll, don't") == ("rock", "n", "roll", "don't")


def test_character_break_fold_matches_the_unicode_path():
    texts = TEXTS + load_patterns(DEFAULT_CHARACTER_BREAKS)
    assert [_fold(t) for t in texts] == [_ref_fold(t) for t in texts]


def test_character_break_verdicts_match_substring_search():
    patterns = load_patterns(DEFAULT_CHARACTER_BREAKS)
    folded = [_ref_fold(p) for p in patterns]
    step = CharacterBreakFilter(patterns)
    # every pattern planted once, in varied case and punctuation, inside real answers
    rng = random.Random(5)
    texts = TEXTS + [
        f"{rng.choice(ANSWERS)} {p.upper().replace(' ', rng.choice([' ', ', ', '-']))}! ok"
        for p in patterns
    ]
    for text in texts:
        expected = next(
            (p for p, f in zip(patterns, folded, strict=True) if f in _ref_fold(text)), None
        )
        verdict = step.filter(Document(text=text, id="x"))
        assert (verdict is True) == (expected is None), text
    assert sum(step.filter(Document(text=t, id="x")) is not True for t in texts) >= len(patterns)


def test_introduced_names_match_the_patterns():
    texts = TEXTS + [
        "Hello, I'm Margaret Dunleavy, and my name's Peg. They call me Old Inge.",
        "call me Ishmael; This is Major Tom; It is Ingrid Solberg; I’m Åsa Lindqvist",
        "MY NAME IS NOBODY; my name is nobody; I AM Ingrid Solberg",
    ]
    assert [introduced_names(t) for t in texts] == [_ref_names(t) for t in texts]
    assert sum(bool(introduced_names(t)) for t in texts) >= 3
    step = NameConsistencyFilter()
    doc = Document(
        text="I'm Margaret Dunleavy.",
        id="x",
        metadata={"record": {"messages": [{"content": PROFILES[0]}]}},
    )
    assert step.filter(doc) == (False, "wrong_name")


def _recitals(rng: random.Random) -> list[tuple[str, str]]:
    """(answer, profile) pairs copying spans of every length from the profile, in and around
    the threshold."""
    pairs = []
    for profile in PROFILES:
        words = profile.split()
        for span, clean in itertools.product((4, 7, 8, 9, 12, 20, 40), (0, 10, 30, 80)):
            start = rng.randrange(max(len(words) - span, 1))
            copied = " ".join(words[start : start + span])
            answer = " ".join(rng.choice(ANSWERS).split()[:clean])
            pairs.append(
                (f"{answer} {copied}" if rng.random() < 0.5 else f"{copied} {answer}", profile)
            )
        # the same profile words, shuffled: word overlap without copied n-grams
        pairs.append((" ".join(rng.sample(words, len(words))), profile))
        pairs.append((profile, profile))
    return pairs + [(t, rng.choice(PROFILES)) for t in TEXTS]


@pytest.mark.parametrize("n,threshold", [(8, 0.2), (8, 0.0), (5, 0.5), (13, 0.1)])
def test_profile_leakage_matches_ngram_sets(n, threshold):
    step = ProfileLeakageFilter(n=n, threshold=threshold)
    pairs = _recitals(random.Random(n))
    verdicts = []
    for answer, profile in pairs:
        doc = Document(
            text=answer, id="x", metadata={"record": {"messages": [{"content": profile}]}}
        )
        verdicts.append(step.filter(doc))
    assert verdicts == [_ref_leakage(a, p, n, threshold) for a, p in pairs]
    dropped = sum(v is not True for v in verdicts)
    assert 0 < dropped < len(pairs)


@pytest.mark.parametrize("max_similarity,min_kept", [(0.9, 0.1), (0.5, 0.6)])
def test_rewrite_sanity_matches_the_definitions(max_similarity, min_kept):
    rng = random.Random(2)
    pairs = list(zip(ANSWERS, ORIGINALS, strict=False))
    pairs += [(o, o) for o in ORIGINALS] + [(o + " Slowly.", o) for o in ORIGINALS]
    pairs += [(rng.choice(TEXTS), rng.choice(ORIGINALS)) for _ in range(200)]
    step = RewriteSanityFilter(max_similarity, min_kept)
    verdicts = []
    for answer, original in pairs:
        doc = Document(text=answer, id="x", metadata={"record": {"original_response": original}})
        verdicts.append(step.filter(doc))
    assert verdicts == [_ref_sanity(a, o, max_similarity, min_kept) for a, o in pairs]
    assert len({str(v) for v in verdicts}) == 3  # kept, not_rewritten and content_lost all occur
