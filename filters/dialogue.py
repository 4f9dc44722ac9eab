"""Dialogue and character filters: the checks no web-text curation tool has.

Each is a datatrove ``BaseFilter`` on a validated dialogue (``metadata["record"]``) after it was
linked to its character (the profile is the first chat message), returning a reason code:

- :class:`NameConsistencyFilter` (``wrong_name``): the answer introduces itself ("my name is ...",
  "I'm <First Last>", "call me ...") with a name that shares no part with the profile's name;
- :class:`ProfileLeakageFilter` (``profile_leakage``): the answer copies long spans of the
  profile: the share of its word n-grams found in the profile is above a threshold;
- :class:`RewriteSanityFilter` (strategy R; ``not_rewritten`` / ``content_lost``): the rewrite is
  nearly the original answer, or keeps almost none of the original's content words.
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from collections.abc import Sequence

from datatrove.data import Document
from datatrove.pipeline.filters.base_filter import BaseFilter

from ocforge.errors import ProfileParseError
from ocforge.filters.tally import TalliedFilter
from ocforge.filters.textnorm import plain_words
from ocforge.profiles import parse_profile

_NAME = r"[A-ZÀ-ÖØ-Þ][\w'’\-]+"
# explicit introductions take one or more capitalised words; "I'm"/"I am" needs a full name
# (two capitalised words) because "I'm Welsh" or "I am Catholic" are not introductions
_INTRO_RES = [
    re.compile(
        rf"\b(?:[Mm]y name is|[Mm]y name's|[Cc]all me|[Tt]hey call me)\s+({_NAME}(?:\s+{_NAME})*)"
    ),
    re.compile(rf"\b(?:I'm|I’m|I am|It's|It is|This is)\s+({_NAME}(?:\s+{_NAME})+)"),
]
# every introduction above contains one of these: most answers are ruled out by substring search,
# which is far cheaper than trying the patterns at every position
_INTRO_TRIGGERS = ("y name", "all me", "I'm", "I’m", "I am", "It's", "It is", "This is")


def _fold(word: str) -> str:
    text = unicodedata.normalize("NFKD", word.casefold())
    return "".join(c for c in text if not unicodedata.combining(c))


def introduced_names(text: str) -> list[str]:
    """Names the text introduces itself with, in order."""
    if not any(trigger in text for trigger in _INTRO_TRIGGERS):
        return []
    found = []
    for pattern in _INTRO_RES:
        found += [(m.start(), m.group(1)) for m in pattern.finditer(text)]
    return [name for _, name in sorted(found)]


def _profile_of(doc: Document) -> str:
    return doc.metadata["record"]["messages"][0]["content"]


class NameConsistencyFilter(TalliedFilter, BaseFilter):
    """Drop answers that introduce themselves with a name other than the character's."""

    name = "🪪 name consistency"

    def filter(self, doc: Document) -> bool | tuple[bool, str]:
        names = introduced_names(doc.text)
        if not names:
            return True
        try:
            own = parse_profile(_profile_of(doc))["name"] or ""
        except ProfileParseError:
            return True
        own_parts = {_fold(p) for p in re.findall(r"[\w'’\-]+", own)}
        for name in names:
            parts = {_fold(p) for p in name.split()}
            if not parts & own_parts:
                doc.metadata["detail"] = (
                    f"the answer introduces itself as {name!r}; the character is {own!r}"
                )
                return False, "wrong_name"
        return True


def _ngrams(words: Sequence[str], n: int) -> set[tuple[str, ...]]:
    return set(zip(*[words[i:] for i in range(n)], strict=False))


class ProfileLeakageFilter(TalliedFilter, BaseFilter):
    """Drop answers whose word ``n``-grams come from the profile more than ``threshold`` of the
    time (an answer reciting its own character sheet)."""

    name = "📋 profile leakage"

    def __init__(self, n: int = 8, threshold: float = 0.2, exclusion_writer=None):
        super().__init__(exclusion_writer)
        self.n = n
        self.threshold = threshold
        self._copied_run = re.compile(f"1{{{n},}}")
        # a character answers many questions in any order: each profile's words are kept once,
        # space-joined (about 1 KB a profile), so a build's characters all fit
        self._profiles: dict[str, str] = {}

    def _profile_text(self, profile: str) -> str:
        joined = self._profiles.get(profile)
        if joined is None:
            if len(self._profiles) >= 100_000:
                self._profiles.clear()
            joined = self._profiles[profile] = f" {' '.join(plain_words(profile))} "
        return joined

    def filter(self, doc: Document) -> bool | tuple[bool, str]:
        answer = plain_words(doc.text)
        n = self.n
        total = len(answer) - n + 1  # the answer's n-grams
        if total <= 0:
            return True
        # words hold no spaces, so an n-gram is in the profile exactly when " w1 ... wn " is a
        # substring of the space-joined profile; it can only be when its n words all are
        profile = self._profile_text(_profile_of(doc))
        words = set(profile.split())
        flags = "".join(["1" if w in words else "0" for w in answer])
        runs = [m.span() for m in self._copied_run.finditer(flags)]
        # at most this many n-grams are copied: most answers stop here
        if sum(end - start - n + 1 for start, end in runs) / total <= self.threshold:
            return True
        copied = sum(
            f" {' '.join(answer[i : i + n])} " in profile
            for start, end in runs
            for i in range(start, end - n + 1)
        )
        share = copied / total
        if share > self.threshold:
            doc.metadata["detail"] = (
                f"{share:.0%} of the answer's {n}-grams are copied from the profile "
                f"(threshold {self.threshold:.0%})"
            )
            return False, "profile_leakage"
        return True


# function words carry no content: the content check looks at the rest
_STOP = set(
    "a an the and or but if then so of to in on at by for with from as is are was were be been "
    "being it its this that these those there here you your yours i me my we our they them their "
    "he him his she her not no do does did have has had can could will would should may might "
    "must shall than too very just also about into over under up down out more most some any all "
    "each which who whom what when where why how".split()
)


def content_words(text: str) -> set[str]:
    return set(itertools.filterfalse(str.isdigit, set(plain_words(text)).difference(_STOP)))


class RewriteSanityFilter(TalliedFilter, BaseFilter):
    """Strategy R: the rewrite must be a rewrite of the original answer.

    ``not_rewritten``: the word-trigram Jaccard similarity to the original is at least
    ``max_similarity``. ``content_lost``: fewer than ``min_content_kept`` of the original's
    content words survive in the rewrite.
    """

    name = "✍️ rewrite sanity"

    def __init__(
        self, max_similarity: float = 0.9, min_content_kept: float = 0.1, exclusion_writer=None
    ):
        super().__init__(exclusion_writer)
        self.max_similarity = max_similarity
        self.min_content_kept = min_content_kept

    def filter(self, doc: Document) -> bool | tuple[bool, str]:
        original = doc.metadata["record"].get("original_response") or ""
        if not original.strip():
            return True
        words = plain_words(doc.text)
        a, b = _ngrams(words, 3), _ngrams(plain_words(original), 3)
        if a and b:
            common = len(a & b)
            jaccard = common / (len(a) + len(b) - common)  # the union's size, without building it
            if jaccard >= self.max_similarity:
                doc.metadata["detail"] = (
                    f"word-trigram similarity to the original answer is {jaccard:.2f} "
                    f"(max_similarity {self.max_similarity})"
                )
                return False, "not_rewritten"
        source = content_words(original)
        if source:
            # source holds content words only, so its overlap with all the rewrite's words is
            # its overlap with the rewrite's content words
            kept = len(source.intersection(words)) / len(source)
            if kept < self.min_content_kept:
                doc.metadata["detail"] = (
                    f"only {kept:.0%} of the original answer's content words are kept "
                    f"(min_content_kept {self.min_content_kept:.0%})"
                )
                return False, "content_lost"
        return True
