"""Parse free-text character profiles (``Name: ...\\nAge: ...``) into the eight profile fields."""

from __future__ import annotations

import re

from ocforge.errors import ProfileParseError
from ocforge.records import PROFILE_FIELDS

_LABELS = {
    "name": "name",
    "age": "age",
    "gender": "gender",
    "race": "race",
    "birth place": "birth_place",
    "birthplace": "birth_place",
    "appearance": "appearance",
    "general experience": "general_experience",
    "personality": "personality",
}

# A label starts a line (optionally after markdown bullets/bold) and is followed by a colon.
_LABEL_RE = re.compile(
    r"^[ \t>*\-#]*\**(?P<label>"
    + "|".join(re.escape(k) for k in _LABELS)
    + r")\**[ \t]*:\**[ \t]*",
    re.IGNORECASE | re.MULTILINE,
)


def parse_profile(text: str) -> dict[str, str | None]:
    """Split a profile into the eight fields; absent fields are ``None``.

    A value runs from its label to the next label, so multi-line values survive. Raises
    :class:`ProfileParseError` when no ``Name:`` label is present.
    """
    fields: dict[str, str | None] = dict.fromkeys(PROFILE_FIELDS)
    matches = list(_LABEL_RE.finditer(text))
    for i, m in enumerate(matches):
        end = matches[i + 1].start() if i + 1 < len(matches) else len(text)
        key = _LABELS[m.group("label").lower()]
        value = text[m.end() : end].strip()
        if fields[key] is None and value:
            fields[key] = value
    if not fields["name"]:
        raise ProfileParseError("no 'Name:' line found in the profile text")
    return fields


# --- ages: the ``age`` field stays as written; ``parse_age`` gives whole years for statistics ---

_UNITS = {
    w: i
    for i, w in enumerate(
        "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
        "fifteen sixteen seventeen eighteen nineteen".split()
    )
}
_TENS = {
    w: 10 * i
    for i, w in enumerate("twenty thirty forty fifty sixty seventy eighty ninety".split(), 2)
}
_SCALES = {"hundred": 100, "thousand": 1000}
_NUMBER_WORD = "|".join(sorted([*_UNITS, *_TENS, *_SCALES], key=len, reverse=True))
# "forty-six", "Forty Six", "one hundred and two": "and" only joins after a scale word, so that
# "thirty and forty" stays two numbers; "no one knows" states no age
_WORD_RUN_RE = re.compile(
    rf"(?<!\bno )\b(?:{_NUMBER_WORD})(?:(?:[ \t-]+|(?:(?<=hundred)|(?<=thousand))[ \t]+and[ \t]+)"
    rf"(?:{_NUMBER_WORD}))*\b",
    re.IGNORECASE,
)
_DECADE_WORDS = {
    "teens": 10, "twenties": 20, "thirties": 30, "forties": 40, "fifties": 50,
    "sixties": 60, "seventies": 70, "eighties": 80, "nineties": 90,
}  # fmt: skip
# "late twenties", "mid-40s", "40's", "30-something" (after number words became digits)
_DECADE_RE = re.compile(
    r"\b(?:(?P<q>early|mid|late)[ \t-]*)?(?:(?P<word>" + "|".join(_DECADE_WORDS) + r")\b"
    r"|(?P<num>[1-9]0)(?:'?s\b|[ \t-]*something\b))",
    re.IGNORECASE,
)
# the years each qualifier names, as (first, last) offsets from the decade; teens are 13..19
_DECADE_PART = {None: (0, 9), "early": (0, 3), "mid": (4, 6), "late": (7, 9)}
_TEENS_PART = {None: (13, 19), "early": (13, 15), "mid": (15, 17), "late": (17, 19)}
_AMOUNT = r"\d{1,3}(?:,\d{3})+(?![\d,])|\d+(?:\.\d+)?"
# "35", "35 years old", "30-35", "300 to 400 years", "6 months", "3 centuries", "-4"
_YEARS_RE = re.compile(
    rf"(?<![\w.,])(?P<neg>-[ \t]*)?(?P<lo>{_AMOUNT})"
    rf"(?:[ \t]*(?:-|–|—|to|or)[ \t]*(?P<hi>{_AMOUNT}))?"
    r"(?:[ \t]*(?P<unit>days?|weeks?|months?|decades?|centur(?:y|ies)|millenni(?:um|a))\b)?",
    re.IGNORECASE,
)
# years per unit, keyed by the unit's first three letters; no unit means years
_MAX_YEARS = 2**31 - 1  # ``age_years`` is int32 (see ocforge.records.CHARACTERS_SCHEMA)
_UNIT_YEARS = {"day": 1 / 365, "wee": 1 / 52, "mon": 1 / 12, "dec": 10, "cen": 100, "mil": 1000}


def _word_number(run: str) -> int:
    total = current = 0
    for word in re.split(r"[ \t-]+", run.lower()):
        if word in _SCALES:
            # "hundred" alone is one hundred; "thousand" closes a group ("two thousand and five")
            current = max(current, 1) * _SCALES[word]
            if word == "thousand":
                total, current = total + current, 0
        else:  # "and" adds nothing
            current += _UNITS.get(word, 0) + _TENS.get(word, 0)
    return total + current


def _digits(text: str) -> str:
    """``text`` with number words written as digits ("forty-six" -> "46")."""
    return _WORD_RUN_RE.sub(lambda m: str(_word_number(m.group(0))), text)


def age_amounts(age: str) -> list[float]:
    """Every age the text states, in years and in text order; a range or a decade gives its
    midpoint. Negative values are kept so that callers can reject them (see :func:`parse_age`).
    """
    text = _digits(age)
    found: list[tuple[int, float]] = []
    for m in _DECADE_RE.finditer(text):
        q = m["q"] and m["q"].lower()
        if m["word"] and m["word"].lower() == "teens":
            first, last = _TEENS_PART[q]
        else:
            start = _DECADE_WORDS[m["word"].lower()] if m["word"] else int(m["num"])
            first, last = (start + offset for offset in _DECADE_PART[q])
        found.append((m.start(), (first + last) / 2))
    # blank the decades out (same length, so positions hold) so "mid-40s" is not read as 40 too
    text = _DECADE_RE.sub(lambda m: " " * len(m.group(0)), text)
    for m in _YEARS_RE.finditer(text):
        lo = float(m["lo"].replace(",", ""))
        hi = float(m["hi"].replace(",", "")) if m["hi"] else lo
        years = (lo + hi) / 2 * (_UNIT_YEARS[m["unit"][:3].lower()] if m["unit"] else 1)
        found.append((m.start(), -years if m["neg"] else years))
    return [years for _pos, years in sorted(found)]


def parse_age(age: str | None) -> int | None:
    """Whole years stated by a free-text age, or ``None`` when it states no number.

    Accepts digits ("35", "35 years old", "about 35", "3 (in dog years)"), number words
    ("forty-six", "Forty Six", "one hundred and two"), ranges ("30-35", "300 to 400") and
    decades ("40s", "mid-40s", "late twenties", "thirty-something"). A range gives its midpoint
    and a decade the middle of the part named (bare 0-9, early 0-3, mid 4-6, late 7-9; teens
    13-19), rounded down: "30-35" -> 32, "40s" -> 44, "mid-40s" -> 45, "late twenties" -> 28.
    Days, weeks, months, decades, centuries and millennia are converted. Where several ages are given the first counts; a negative one gives
    ``None`` ("ageless", "unknown" and "-4" all have no age in years), and so does one too
    large for the int32 ``age_years`` column.
    """
    amounts = age_amounts(age) if age else []
    if not amounts or not 0 <= amounts[0] <= _MAX_YEARS:
        return None
    return int(amounts[0])
