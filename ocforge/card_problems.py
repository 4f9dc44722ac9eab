"""Findings of the card metadata check (:mod:`ocforge.card_metadata`) and the helpers its rules
share: each finding names the field's path, quotes the value and says what was expected."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Literal

Level = Literal["error", "warning", "note"]


@dataclass(frozen=True)
class CardProblem:
    """One finding: ``field`` is its path in the metadata ("" for the block as a whole), e.g.
    ``model-index[0].results[0].dataset.name``; ``message`` is the sentence the Hub would show."""

    field: str
    message: str
    level: Level = "error"

    def __str__(self) -> str:
        return self.message


@dataclass
class CardReport:
    """Errors (the Hub refuses the card), warnings (the Hub accepts it and answers with a
    warning) and notes (the Hub accepts it; its documentation asks for more). The
    local Hub answers errors and warnings, as huggingface.co does; ocforge's own check before a
    push also shows the notes."""

    errors: list[CardProblem] = field(default_factory=list)
    warnings: list[CardProblem] = field(default_factory=list)
    notes: list[CardProblem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


def show(value: Any) -> str:
    """``value`` as a message quotes it: JSON, cut short (a card may hold long text)."""
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= 80 else text[:77] + "..."


def is_count(value: Any) -> bool:
    """A non-negative integer (YAML's ``true`` is a bool, not a count)."""
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


class FieldCheck:
    """Collects the findings of one card. The helpers record an error and return False (or an
    empty list) when the value is not of the expected shape, so a rule can stop descending."""

    def __init__(self) -> None:
        self.report = CardReport()

    def error(self, path: str, message: str) -> None:
        self.report.errors.append(CardProblem(path, message))

    def warn(self, path: str, message: str) -> None:
        self.report.warnings.append(CardProblem(path, message, "warning"))

    def note(self, path: str, message: str) -> None:
        self.report.notes.append(CardProblem(path, message, "note"))

    def string(self, path: str, value: Any, what: str = "a non-empty string") -> bool:
        if isinstance(value, str) and value.strip():
            return True
        self.error(path, f'"{path}" must be {what}, got {show(value)}')
        return False

    def required(self, parent: str, mapping: dict[str, Any], key: str, what: str) -> bool:
        """``mapping[key]`` is there and not null (``parent.key`` is the error's path)."""
        path = f"{parent}.{key}"
        if mapping.get(key) is None:
            self.error(path, f'"{path}" is required ({what})')
            return False
        return True

    def mapping(self, path: str, value: Any, what: str) -> bool:
        if isinstance(value, dict):
            return True
        self.error(path, f'"{path}" must be a mapping ({what}), got {show(value)}')
        return False

    def items(self, path: str, value: Any, what: str, *, empty: bool = False) -> list[Any]:
        """``value`` if it is a list (non-empty unless ``empty``), else an error and ``[]``."""
        if isinstance(value, list) and (value or empty):
            return value
        size = "" if empty else "non-empty "
        self.error(path, f'"{path}" must be a {size}list of {what}, got {show(value)}')
        return []

    def count(self, path: str, value: Any, what: str = "a non-negative integer") -> None:
        if not is_count(value):
            self.error(path, f'"{path}" must be {what}, got {show(value)}')
