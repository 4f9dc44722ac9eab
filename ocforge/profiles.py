"""Parse free-text character profiles (``Name: ...\\nAge: ...``) into the eight profile fields."""

from __future__ import annotations

import re

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


class ProfileParseError(ValueError):
    """The text has no ``Name:`` line, so it cannot be read as a character profile."""


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
