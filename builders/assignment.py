"""Deterministic character assignment: each question gets ``n`` distinct characters.

The draw for a question depends only on the seed, the question's key and the (sorted) pool, not
on the order of questions or on the other questions, so adding questions to a corpus does not
change the characters already assigned to the others.
"""

from __future__ import annotations

import random
from collections.abc import Sequence


def assign_characters(question_key: str, pool: Sequence[str], n: int, seed: int) -> list[str]:
    """Draw ``min(n, len(pool))`` distinct character ids from ``pool`` for one question.

    Raises:
        ValueError: the pool is empty or ``n`` < 1.
    """
    if n < 1:
        raise ValueError("n must be >= 1")
    if not pool:
        raise ValueError("no characters to assign: the character pool is empty")
    ordered = sorted(set(pool))
    # str seeds are hashed with SHA-512 by random.Random: stable across runs and platforms
    rng = random.Random(f"ocforge-assignment:{seed}:{question_key}")
    return rng.sample(ordered, min(n, len(ordered)))
