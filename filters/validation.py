"""Validation: the first step of every config. Invalid records are quarantined, never dropped.

A record that passes comes out with ``metadata["record"]`` holding the normalised row (ids
computed, profile parsed) and ``text`` set to the field the later filters look at.
"""

from __future__ import annotations

from abc import abstractmethod
from typing import Any

from datatrove.data import Document
from datatrove.pipeline.filters.base_filter import BaseFilter

from ocforge.errors import FieldError, ProfileParseError
from ocforge.fields import nonempty, text_field
from ocforge.filters.tally import TalliedFilter
from ocforge.profiles import parse_age, parse_profile
from ocforge.records import (
    character_id,
    dedup_key,
    persona_id,
    question_id,
    word_count,
)


class _ValidateRecords(TalliedFilter, BaseFilter):
    type = "✅ - VALIDATION"

    @abstractmethod
    def check(self, doc: Document, record: dict[str, Any]) -> dict[str, Any]:
        """Return the validated record (ids computed, fields normalised) or raise :class:`FieldError`."""

    def filter(self, doc: Document) -> bool | tuple[bool, str]:
        meta = doc.metadata
        where = f"{meta['input']}:{meta['line']}"
        if "error" in meta:
            reason, _, detail = meta["error"].partition(": ")
            meta["detail"] = f"{where}: {detail}"
            return False, reason
        try:
            meta["record"] = self.check(doc, meta["record"])
        except FieldError as exc:
            meta["detail"] = f"{where}: {exc.detail}"
            return False, exc.reason
        meta.pop("raw", None)  # the validated record carries everything now
        return True


class ValidateCharacters(_ValidateRecords):
    """Character rows need a source id, a persona and a profile whose ``Name:`` can be read."""

    name = "✅ validate characters"

    def check(self, doc: Document, record: dict[str, Any]) -> dict[str, Any]:
        source_id = text_field(record, "character_id", required=False, numeric_ok=True)
        persona = text_field(record, "persona")
        profile = text_field(record, "profile", nonempty_text=True, expected="profile text")
        assert persona is not None and profile is not None
        try:
            fields = parse_profile(profile)
        except ProfileParseError as exc:
            raise FieldError("unparseable_profile", f"field 'profile': {exc}") from None
        for name in fields:  # explicitly mapped profile columns win over parsed text
            if record.get(name) not in (None, ""):
                fields[name] = text_field(record, name, numeric_ok=True)
        profile = profile.strip()
        cid = character_id(profile)
        doc.id = cid
        doc.text = profile
        doc.metadata["source_id"] = source_id or cid
        doc.metadata["dedup_key"] = dedup_key(profile)
        return {
            "character_id": cid,
            "persona": persona,
            "persona_id": persona_id(persona),
            **fields,
            # statistics need a number; ``age`` keeps the text as written
            "age_years": parse_age(fields["age"]),
            "profile": profile,
            "source": doc.metadata["source"],
            # synthesized rows name the model that wrote them; anything else was imported
            "generator": text_field(record, "generator", required=False) or "import",
            "provenance": {
                "input": doc.metadata["input"],
                "record": source_id,
                "line": doc.metadata["line"],
            },
        }


class ValidateDialogues(_ValidateRecords):
    """Dialogue rows need a character reference, a question and a response (plus the original
    answer for the rewrite strategy). The character is resolved by a later step."""

    name = "✅ validate dialogues"

    def __init__(self, strategy: str, exclusion_writer=None):
        super().__init__(exclusion_writer)
        self.strategy = strategy

    def check(self, doc: Document, record: dict[str, Any]) -> dict[str, Any]:
        character_ref = text_field(record, "character_id", numeric_ok=True)
        question = text_field(record, "question")
        response = text_field(record, "response")
        assert character_ref is not None and question is not None and response is not None
        nonempty(question, "question", expected="the instruction")
        original = None
        if self.strategy == "rewrite":
            original = text_field(record, "original_response")
        qid = text_field(record, "question_id", required=False, numeric_ok=True) or question_id(
            question
        )
        doc.text = response
        out = {
            "character_ref": character_ref,
            "strategy": self.strategy,
            "source_corpus": text_field(record, "source_corpus", required=False)
            or doc.metadata["source"],
            "question_id": qid,
            "question": question,
            "response": response,
            "quality": {"response_words": word_count(response)},
            "provenance": {
                "input": doc.metadata["input"],
                "record": None,
                "line": doc.metadata["line"],
            },
        }
        if self.strategy == "rewrite":
            out["original_response"] = original
        return out
