"""Read and check synthesis inputs: personas, existing character profiles and questions.

Unusable rows are quarantined (with file, line, field and reason) and counted; exact repeats
(same persona text, same character id, same question id within a corpus) are counted as
duplicates and read once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ocforge.builders.sources import map_fields
from ocforge.errors import FieldError, ProfileParseError
from ocforge.fields import text_field
from ocforge.inputs import input_fingerprint, iter_input
from ocforge.profiles import parse_profile
from ocforge.recipe import CHARACTER_FIELDS, PERSONA_FIELDS, QUESTION_FIELDS, InputSpec
from ocforge.records import character_id, persona_id, question_id


@dataclass
class InputTally:
    """Ledger of one input kind: ``read == valid + duplicates + quarantined``."""

    read: int = 0
    valid: int = 0
    duplicates: int = 0
    quarantined: int = 0

    def as_dict(self) -> dict[str, int]:
        return {
            "read": self.read,
            "valid": self.valid,
            "duplicates": self.duplicates,
            "quarantined": self.quarantined,
        }


@dataclass
class Inputs:
    personas: list[dict[str, Any]] = field(default_factory=list)
    characters: list[dict[str, Any]] = field(default_factory=list)
    questions: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    tallies: dict[str, InputTally] = field(default_factory=dict)
    quarantine: list[dict[str, Any]] = field(default_factory=list)
    # input kind -> turns of multi-turn conversations (LIMA) after the first exchange, left out
    turns_left_out: dict[str, int] = field(default_factory=dict)
    fingerprints: list[dict[str, Any]] = field(default_factory=list)


def _text(record: dict[str, Any], name: str, *, required: bool = True) -> str | None:
    # ids may be numbers in sources; required text must hold more than white space
    return text_field(
        record, name, required=required, numeric_ok=name.endswith("_id"), nonempty_text=required
    )


def _rows(kind: str, label: str, spec: InputSpec, fields: tuple[str, ...], out: Inputs):
    """Yield ``(where, record, tally, row as read)`` for the rows of one input; quarantine what
    cannot be read. The row as read goes into the quarantine, not the renamed record: that may
    hold nothing but internal keys when the input's columns are wrong."""
    tally = out.tallies.setdefault(kind, InputTally())
    out.fingerprints.append({"kind": kind, "input": label, **input_fingerprint(spec)})
    for line, obj, raw_text, error in iter_input(spec):
        tally.read += 1
        where = f"{label}:{line}"
        try:
            if error is not None:
                reason, _, detail = error.partition(": ")
                raise FieldError(reason, detail)
            assert obj is not None
            record = map_fields(obj, spec, fields)
            yield where, {**record, "__source": spec.label}, tally, obj
        except FieldError as exc:
            tally.quarantined += 1
            out.quarantine.append(
                {
                    "stage": f"input-{kind}",
                    "outcome": "quarantined",
                    "reason": exc.reason,
                    "detail": f"{where}: {exc.detail}",
                    "input": label,
                    "line": line,
                    "raw": obj if obj is not None else raw_text,
                }
            )


def _guarded(kind, label, spec, fields, out, check):
    for where, record, tally, raw in _rows(kind, label, spec, fields, out):
        try:
            check(where, record, tally)
        except FieldError as exc:
            tally.quarantined += 1
            out.quarantine.append(
                {
                    "stage": f"input-{kind}",
                    "outcome": "quarantined",
                    "reason": exc.reason,
                    "detail": f"{where}: {exc.detail}",
                    "input": label,
                    "line": int(where.rsplit(":", 1)[1]),
                    "raw": raw,
                }
            )


def read_personas(inputs: list[tuple[str, InputSpec]], out: Inputs) -> None:
    seen: set[str] = set()

    def check(where: str, record: dict[str, Any], tally: InputTally) -> None:
        persona = _text(record, "persona")
        assert persona is not None
        pid = persona_id(persona)
        if pid in seen:
            tally.duplicates += 1
            return
        seen.add(pid)
        tally.valid += 1
        out.personas.append(
            {
                "persona_id": pid,
                "persona": persona.strip(),
                "where": where,
                "source": record["__source"],
            }
        )

    for label, spec in inputs:
        _guarded("personas", label, spec, PERSONA_FIELDS, out, check)


def read_characters(inputs: list[tuple[str, InputSpec]], out: Inputs) -> None:
    seen: set[str] = set()

    def check(where: str, record: dict[str, Any], tally: InputTally) -> None:
        persona = _text(record, "persona")
        profile = _text(record, "profile")
        assert persona is not None and profile is not None
        try:
            fields = parse_profile(profile)
        except ProfileParseError as exc:
            raise FieldError("unparseable_profile", f"field 'profile': {exc}") from None
        cid = _text(record, "character_id", required=False) or character_id(profile.strip())
        if cid in seen:
            tally.duplicates += 1
            return
        seen.add(cid)
        tally.valid += 1
        out.characters.append(
            {
                "character_id": cid,
                "persona": persona,
                "persona_id": persona_id(persona),
                "profile": profile.strip(),
                "name": fields["name"],
                "where": where,
                "source": record["__source"],
            }
        )

    for label, spec in inputs:
        _guarded("characters", label, spec, CHARACTER_FIELDS, out, check)


def read_questions(corpus: str, inputs: list[tuple[str, InputSpec]], out: Inputs) -> None:
    seen: set[str] = set()
    rows = out.questions.setdefault(corpus, [])

    def check(where: str, record: dict[str, Any], tally: InputTally) -> None:
        question = _text(record, "question")
        assert question is not None
        if record.get("dropped_turns"):
            kind = f"questions:{corpus}"
            out.turns_left_out[kind] = out.turns_left_out.get(kind, 0) + record["dropped_turns"]
        original = _text(record, "original_response", required=False)
        qid = _text(record, "question_id", required=False) or question_id(question)
        if qid in seen:
            tally.duplicates += 1
            return
        seen.add(qid)
        tally.valid += 1
        rows.append(
            {
                "question_id": qid,
                "source_corpus": corpus,
                "question": question,
                "original_response": original if original and original.strip() else None,
                "where": where,
            }
        )

    for label, spec in inputs:
        _guarded(f"questions:{corpus}", label, spec, QUESTION_FIELDS, out, check)
