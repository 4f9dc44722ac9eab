"""Deterministic character assignment: each question gets ``n`` distinct characters.

The draw for a question depends only on the seed, the question's key and the (sorted) pool, not
on the order of questions or on the other questions, so adding questions to a corpus does not
change the characters already assigned to the others.

Split-aware assignment (:class:`SplitPools`) decides a question's split first and draws its
characters from the characters of that split only. Both splits follow curation's rule
(:func:`ocforge.layout.split_of`): a character's split is that of the ``character_id`` curation
will give it (the hash of its profile), a question's split that of its words, so a question
asked twice (in two corpora, or with other punctuation) lands in one split. Curation's
``test_overlap`` rule then finds no question answered in both splits.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from ocforge.layout import split_of
from ocforge.records import character_id

# the words decontamination compares (lower-cased, punctuation dropped: filters.textnorm's
# plain_words), so that two questions it would see as one get one split
_WORD = re.compile(r"\w+(?:['’]\w+)*")


def assign_characters(question_key: str, pool: Sequence[str], n: int, seed: int) -> list[str]:
    """Draw ``min(n, len(pool))`` distinct character ids from ``pool`` for one question.

    Raises:
        ValueError: the pool is empty or ``n`` < 1.
    """
    if n < 1:
        raise ValueError("n must be >= 1")
    if not pool:
        raise ValueError("no characters to assign: the character pool is empty")
    return draw(question_key, sorted(set(pool)), n, seed)


def draw(question_key: str, ordered: Sequence[str], n: int, seed: int) -> list[str]:
    """:func:`assign_characters` from a pool already sorted and free of repeats: a run sorts
    its pool once, not once per question (a 20,000-character pool takes milliseconds)."""
    # str seeds are hashed with SHA-512 by random.Random: stable across runs and platforms
    rng = random.Random(f"ocforge-assignment:{seed}:{question_key}")
    return rng.sample(ordered, min(n, len(ordered)))


def question_split(question: str, test_fraction: float, seed: int) -> str:
    """``train`` or ``test`` for a question: curation's split rule applied to its words."""
    words = " ".join(_WORD.findall(question.lower()))
    return split_of(f"question:{words}", test_fraction, seed)


def character_split(profile: str, test_fraction: float, seed: int) -> str:
    """The split curation will put a character in: it identifies characters by the hash of
    their profile (``filters.validation``), whatever id the input gave them."""
    return split_of(character_id(profile.strip()), test_fraction, seed)


@dataclass(frozen=True)
class SplitPools:
    """The character pool cut by split. When one split has no character, the other holds every
    character, no dialogue can be in both splits and questions draw from the whole pool."""

    train: tuple[str, ...]
    test: tuple[str, ...]

    @classmethod
    def of(cls, splits: Iterable[tuple[str, str]]) -> SplitPools:
        """From ``(character id, split)`` pairs."""
        by_split: dict[str, set[str]] = {"train": set(), "test": set()}
        for cid, split in splits:
            by_split[split].add(cid)
        return cls(tuple(sorted(by_split["train"])), tuple(sorted(by_split["test"])))

    @property
    def both(self) -> bool:
        return bool(self.train and self.test)

    def pool(self, split: str) -> tuple[str, ...]:
        """The characters that may answer a question of ``split``, sorted."""
        if not self.both:
            return self.train or self.test
        return self.test if split == "test" else self.train


def overlap_waste(drawn: Sequence[str], test: frozenset[str] | set[str]) -> int:
    """Answers of ``train`` characters in a whole-pool draw that also holds a ``test``
    character: what curation's ``test_overlap`` rule removes from that question."""
    in_test = sum(cid in test for cid in drawn)
    return len(drawn) - in_test if in_test else 0
