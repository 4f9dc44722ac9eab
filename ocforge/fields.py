"""Reading one field of an input row, with a reason code when it cannot be read.

The three readers of rows (the importers of public formats, the validation step of a build and
the synthesis input reader) check fields the same way; the :class:`~ocforge.errors.FieldError`
they raise becomes a quarantined row whose detail names what is at fault: our field
(``field 'question': ...``), or the source column and our field when a format or a recipe's
``fields:`` maps one to the other (``column 'synthesized text' (question): ...``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ocforge.errors import FieldError

__all__ = ["FieldError", "field_label", "nonempty", "text_field"]


def field_label(field: str, column: str | None = None) -> str:
    """How a message names the field: ``field 'f'`` or ``column 'c' (f)``."""
    return f"field '{field}'" if column is None else f"column '{column}' ({field})"


def nonempty(
    value: str, field: str, *, column: str | None = None, expected: str | None = None
) -> str:
    """``value`` when it holds more than white space.

    Raises:
        FieldError: ``missing_field``, the value is empty (``expected`` says what it should hold).
    """
    if not value.strip():
        what = f" (expected {expected})" if expected else ""
        raise FieldError("missing_field", f"{field_label(field, column)}: is empty{what}")
    return value


def text_field(
    record: Mapping[str, Any],
    field: str,
    *,
    column: str | None = None,
    required: bool = True,
    numeric_ok: bool = False,
    nonempty_text: bool = False,
    expected: str | None = None,
) -> str | None:
    """The text of ``field``, read from ``record[column]`` (``record[field]`` without a column).

    An absent or null value is None when not ``required``; a number is kept as text when
    ``numeric_ok`` (numeric ids and ages are common in sources); with ``nonempty_text`` a value of
    white space only is refused too.

    Raises:
        FieldError: ``missing_field`` (absent, null or empty) or ``wrong_type`` (not a string).
    """
    label = field_label(field, column)
    value = record.get(field if column is None else column)
    if value is None:
        if not required:
            return None
        if column is None:
            raise FieldError(
                "missing_field", f"{label}: required field is missing (expected a string)"
            )
        raise FieldError("missing_field", f"{label}: required column is missing")
    if numeric_ok and isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, str):
        raise FieldError("wrong_type", f"{label}: expected a string, got {type(value).__name__}")
    if nonempty_text:
        nonempty(value, field, column=column, expected=expected)
    return value
