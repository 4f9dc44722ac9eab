"""Characters checked before questions are assigned to them, with the curation's profile rules,
so that synthesis spends no request on a character that ``ocforge build`` would remove."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ocforge.profile_rules import profile_problem
from ocforge.profiles import parse_profile


def screen_characters(
    characters: list[dict[str, Any]], required: Iterable[str], max_age: int
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """``(kept, skipped)``: the characters whose profile passes :func:`profile_problem`, and a
    quarantine row (outcome ``skipped``, the reason and where the character came from) for
    each of the others, in the order given."""
    required = list(required)
    kept, skipped = [], []
    for character in characters:
        record = {**parse_profile(character["profile"]), "profile": character["profile"]}
        problem = profile_problem(record, required, max_age)
        if problem is None:
            kept.append(character)
            continue
        where = character.get("where") or character["character_id"]
        skipped.append(
            {
                "stage": "screen",
                "id": character["character_id"],
                "outcome": "skipped",
                "reason": problem[0],
                "detail": f"{where}: {problem[1]}",
                "raw": {k: v for k, v in character.items() if k != "where"},
            }
        )
    return kept, skipped
