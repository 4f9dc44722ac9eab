"""Importers for public formats: one input row in, one record (ocforge field names) out.

Each importer knows the columns of a released format and how they become record fields; a
recipe's ``fields:`` renames those columns (``{instruction: prompt}`` reads Alpaca's instruction
from a column called ``prompt``). A row that does not have the expected shape raises
:class:`~ocforge.errors.FieldError` with a reason code, which the validation step turns into a quarantined
row with its file, line and the field at fault; every message names the source column and our
field: ``column 'synthesized text' (question): ...``.

Formats (columns by default):

- ``opencharacter``: the OpenCharacter release's character rows (``character_id``, ``persona``,
  ``character`` = free-text profile starting ``Name:``); the profile is parsed later.
- ``personahub``: Persona Hub's persona rows (``persona``).
- ``lima``: LIMA rows (``conversations`` = [question, answer, ...]). The first exchange is used;
  a row with more turns gets ``dropped_turns`` (how many turns were left out) so that synthesis
  can count them.
- ``alpaca``: Alpaca rows (``instruction``, ``input``, ``output``): the question is the instruction
  followed by the input, when there is one.
- ``ph-instruct``: Persona Hub's synthesized instructions (``synthesized text``), no answer.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ocforge.errors import FieldError
from ocforge.fields import text_field
from ocforge.recipe import InputSpec

# format -> key -> column read by default (a recipe's `fields` overrides single keys)
COLUMNS: dict[str, dict[str, str]] = {
    "opencharacter": {"character_id": "character_id", "persona": "persona", "profile": "character"},
    "personahub": {"persona": "persona"},
    "lima": {"question_id": "question_id", "conversations": "conversations"},
    "alpaca": {
        "question_id": "question_id",
        "instruction": "instruction",
        "input": "input",
        "output": "output",
    },
    "ph-instruct": {"question_id": "question_id", "question": "synthesized text"},
}


def _columns(spec: InputSpec) -> dict[str, str]:
    assert spec.importer is not None
    return {**COLUMNS[spec.importer], **spec.fields}


def _take(raw: dict[str, Any], columns: dict[str, str], keys: tuple[str, ...]) -> dict[str, Any]:
    return {k: raw[columns[k]] for k in keys if columns[k] in raw and raw[columns[k]] is not None}


def _text(raw: dict[str, Any], columns: dict[str, str], key: str, *, required: bool) -> str | None:
    return text_field(raw, key, column=columns[key], required=required)


def _opencharacter(raw: dict[str, Any], columns: dict[str, str]) -> dict[str, Any]:
    # types are checked here, to name the column; the validation step parses the profile
    persona = _text(raw, columns, "persona", required=True)
    profile = _text(raw, columns, "profile", required=True)
    return {**_take(raw, columns, ("character_id",)), "persona": persona, "profile": profile}


def _personahub(raw: dict[str, Any], columns: dict[str, str]) -> dict[str, Any]:
    return {"persona": _text(raw, columns, "persona", required=True)}


def _lima(raw: dict[str, Any], columns: dict[str, str]) -> dict[str, Any]:
    column = columns["conversations"]
    turns = raw.get(column)
    if turns is None:
        raise FieldError(
            "missing_field", f"column '{column}' (conversations): required column is missing"
        )
    if not isinstance(turns, list) or not turns or not all(isinstance(t, str) for t in turns):
        if not isinstance(turns, list):
            got = type(turns).__name__
        else:
            odd = next((t for t in turns if not isinstance(t, str)), None)
            got = f"a list holding {type(odd).__name__}" if turns else "an empty list"
        raise FieldError(
            "wrong_type",
            f"column '{column}' (conversations): expected a non-empty list of strings "
            f"[question, answer, ...], got {got}",
        )
    record: dict[str, Any] = {"question": turns[0], **_take(raw, columns, ("question_id",))}
    if len(turns) >= 2:
        record["original_response"] = turns[1]
    if len(turns) > 2:  # a multi-turn conversation: only its first exchange is used
        record["dropped_turns"] = len(turns) - 2
    return record


def _alpaca(raw: dict[str, Any], columns: dict[str, str]) -> dict[str, Any]:
    instruction = _text(raw, columns, "instruction", required=True)
    extra = _text(raw, columns, "input", required=False)
    output = _text(raw, columns, "output", required=False)
    assert instruction is not None
    question = f"{instruction}\n\n{extra}" if extra and extra.strip() else instruction
    record: dict[str, Any] = {"question": question, **_take(raw, columns, ("question_id",))}
    if output is not None:
        record["original_response"] = output
    return record


def _ph_instruct(raw: dict[str, Any], columns: dict[str, str]) -> dict[str, Any]:
    question = _text(raw, columns, "question", required=True)
    return {"question": question, **_take(raw, columns, ("question_id",))}


_CONVERTERS: dict[str, Callable[[dict[str, Any], dict[str, str]], dict[str, Any]]] = {
    "opencharacter": _opencharacter,
    "personahub": _personahub,
    "lima": _lima,
    "alpaca": _alpaca,
    "ph-instruct": _ph_instruct,
}


def import_row(raw: dict[str, Any], spec: InputSpec) -> dict[str, Any]:
    """Convert one row of ``spec``'s format into record fields (``spec.defaults`` fill gaps).

    Raises:
        FieldError: the row lacks a column the format needs or has the wrong type there.
    """
    assert spec.importer is not None
    record = _CONVERTERS[spec.importer](raw, _columns(spec))
    for field, value in spec.defaults.items():
        record.setdefault(field, value)
    return record
