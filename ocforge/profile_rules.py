"""Whether a parsed character profile can be used: required fields present, no template
placeholders, an age that is an age. One rule for the curation filter
(:class:`ocforge.filters.profile_quality.ProfileCompletenessFilter`) and for synthesis, which
checks characters before it spends requests on them."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from ocforge.profiles import age_amounts

INCOMPLETE, PLACEHOLDER, INVALID_AGE = "incomplete_profile", "placeholder_profile", "invalid_age"

# "[Name]", "<name>", "{age}", "TBD", "N/A", "lorem ipsum", "XXX", "???", "insert ... here"
_PLACEHOLDER_RE = re.compile(
    r"\[[^\]\n]{1,40}\]|<[A-Za-z _]{1,30}>|\{[A-Za-z _]{1,30}\}|\b(?:TBD|TODO|N/?A|XXX+)\b"
    r"|lorem ipsum|\?\?\?|\binsert\b[^.\n]{0,30}\bhere\b",
    re.IGNORECASE,
)
_AGE_WORDS = re.compile(
    r"\b(?:teen|teens|twenties|thirties|forties|fifties|sixties|seventies|eighties|nineties|"
    r"centur(?:y|ies)|ageless|immortal|ancient|elderly|young|old|middle[- ]aged|adult|child|"
    r"infant|newborn|unknown|years?|months?|decades?|millennia|millennium)\b",
    re.IGNORECASE,
)


def age_problem(age: str, max_age: int) -> str | None:
    """Why ``age`` is not an age, or None. Accepts ages 0..``max_age`` (which allows long-lived
    fantasy beings) in digits, number words, ranges and decades ("forty-six", "30-35",
    "mid-40s": see :func:`ocforge.profiles.parse_age`) and descriptions such as "ageless"."""
    years = age_amounts(age)
    if years:
        # one plausible reading is enough: "300 (looks 30)" and "about 20000 (an elf, 300)"
        if all(y < 0 or y > max_age for y in years):
            return f"age {age!r} is outside 0..{max_age}"
        return None
    if _AGE_WORDS.search(age):
        return None
    return f"age {age!r} is neither a number nor an age description"


def profile_problem(
    record: dict[str, Any], required: Iterable[str], max_age: int
) -> tuple[str, str] | None:
    """``(reason, detail)`` of why a character record (the eight parsed fields and ``profile``)
    cannot be used, or None: a ``required`` field is empty (``incomplete_profile``), the profile
    holds a template placeholder (``placeholder_profile``), or its age is not an age
    (``invalid_age``), checked in that order."""
    missing = [f for f in required if not (record.get(f) or "").strip()]
    if missing:
        return INCOMPLETE, f"profile is missing {', '.join(missing)}"
    match = _PLACEHOLDER_RE.search(record["profile"])
    if match:
        return PLACEHOLDER, f"profile holds the placeholder {match.group(0)!r}"
    if record.get("age"):
        problem = age_problem(record["age"], max_age)
        if problem:
            return INVALID_AGE, problem
    return None
