"""Character profiles that cannot be used: missing fields, template placeholders, impossible ages.

Runs on the ``characters`` config after validation (which already quarantines profiles without
a ``Name:`` line). Dropped characters take their dialogues with them (``character_removed``).
"""

from __future__ import annotations

import re

from datatrove.data import Document
from datatrove.pipeline.filters.base_filter import BaseFilter
from ocforge.filters.tally import TalliedFilter

from ocforge.records import PROFILE_FIELDS

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
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")


def age_problem(age: str, max_age: int) -> str | None:
    """Why ``age`` is not an age, or None. Accepts numbers 0..max_age (``max_age`` allows
    long-lived fantasy beings) and descriptions such as "mid-thirties" or "ageless"."""
    numbers = [float(n) for n in _NUMBER.findall(age)]
    if numbers:
        bad = [n for n in numbers if n < 0 or n > max_age]
        if bad and len(bad) == len(numbers):
            return f"age {age!r} is outside 0..{max_age}"
        return None
    if _AGE_WORDS.search(age):
        return None
    return f"age {age!r} is neither a number nor an age description"


class ProfileCompletenessFilter(TalliedFilter, BaseFilter):
    """Drop profiles that miss ``required`` fields (``incomplete_profile``), still hold template
    placeholders (``placeholder_profile``) or give an age that is not an age (``invalid_age``)."""

    name = "🧾 profile completeness"

    def __init__(
        self,
        required: list[str] | None = None,
        max_age: int = 10_000,
        exclusion_writer=None,
    ):
        super().__init__(exclusion_writer)
        self.required = list(PROFILE_FIELDS if required is None else required)
        self.max_age = max_age

    def filter(self, doc: Document) -> bool | tuple[bool, str]:
        record = doc.metadata["record"]
        missing = [f for f in self.required if not (record.get(f) or "").strip()]
        if missing:
            doc.metadata["detail"] = f"profile is missing {', '.join(missing)}"
            return False, "incomplete_profile"
        match = _PLACEHOLDER_RE.search(record["profile"])
        if match:
            doc.metadata["detail"] = f"profile holds the placeholder {match.group(0)!r}"
            return False, "placeholder_profile"
        if record.get("age"):
            problem = age_problem(record["age"], self.max_age)
            if problem:
                doc.metadata["detail"] = problem
                return False, "invalid_age"
        return True
