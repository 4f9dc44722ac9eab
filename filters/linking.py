"""Attach each dialogue to its character (the kept characters of the same build).

The cascade rule: characters are identified by their profile's content hash, so a character
removed as an exact duplicate has the same ``character_id`` as its kept twin and its dialogues
are re-pointed to the twin automatically. Dialogues of a character that was dropped by a filter
or quarantined are dropped with reason ``character_removed``; dialogues naming a character that
no character input contains are quarantined (``unknown_character``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from datatrove.data import Document
from datatrove.pipeline.filters.base_filter import BaseFilter

from ocforge.filters.io import read_removed_rows
from ocforge.filters.tally import TalliedFilter
from ocforge.records import dedup_key, dialogue_id

UNKNOWN = "unknown_character"
REMOVED = "character_removed"


def _source_ref(record: dict[str, Any] | None, key: str) -> str | None:
    """A character row's source reference; numeric ids are text, as the dialogue side reads them."""
    value = (record or {}).get(key)
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return None
    return str(value) or None


def _why(row: dict[str, Any]) -> str:
    detail = row.get("detail") or ""
    return f"{row['outcome']} as {row['reason']}" + (f" ({detail})" if detail else "")


def write_character_index(
    path: Path, kept: list[dict[str, Any]], removed: list[Path], quarantined: list[Path]
) -> set[str]:
    """Save what the linking step needs, from the kept character records and the files of the
    removed and quarantined character rows; return the source references of the characters
    removed as duplicates (their dialogues are re-pointed, counted in the ledger).

    The index holds the kept ``character_id -> profile``; every source reference (source id or
    content id) -> the ``character_id`` its dialogues attach to; and, for each removed character,
    why it was removed, which a dialogue dropped with it carries in its ``detail``.

    The cascade rule: a character removed as a duplicate (exact, near or semantic) has its
    dialogues re-pointed to the kept twin (``duplicate_of``); a character dropped by a filter or
    quarantined takes its dialogues with it (``character_removed``)."""
    references: dict[str, str] = {}
    reasons: dict[str, str] = {}
    twins: set[str] = set()
    for record in kept:
        source_ref = _source_ref(record.get("provenance"), "record")
        if source_ref:
            references.setdefault(source_ref, record["character_id"])
    for row in read_removed_rows(removed):
        record = row.get("record")
        source_ref = _source_ref((record or {}).get("provenance"), "record")
        if not record or not source_ref:
            continue
        target = record["character_id"]
        if row["outcome"] == "duplicates" and row.get("duplicate_of"):
            target = row["duplicate_of"]
            twins.add(source_ref)
        else:
            reasons.setdefault(target, _why(row))
        references.setdefault(source_ref, target)
    # quarantined character rows carry their input record as read: its source id names them
    for row in read_removed_rows(quarantined):
        source_ref = _source_ref(row.get("record"), "character_id")
        if source_ref:
            target = references.setdefault(source_ref, f"quarantined:{source_ref}")
            reasons.setdefault(target, _why(row))
    index = {"kept": {r["character_id"]: r["profile"] for r in kept}, "references": references}
    index["removed"] = reasons
    path.write_text(json.dumps(index, sort_keys=True, ensure_ascii=False), encoding="utf-8")
    return twins


class _CharacterIndexStep(TalliedFilter, BaseFilter):
    def __init__(self, index_path: str, exclusion_writer=None):
        super().__init__(exclusion_writer)
        self.index_path = index_path
        self._index: dict[str, Any] | None = None

    @property
    def index(self) -> dict[str, Any]:
        if self._index is None:
            self._index = json.loads(Path(self.index_path).read_text(encoding="utf-8"))
        return self._index


class ResolveCharacter(_CharacterIndexStep):
    """Quarantine dialogues whose character reference matches no character input row."""

    name = "🔗 resolve character"

    def filter(self, doc: Document) -> bool | tuple[bool, str]:
        record = doc.metadata["record"]
        ref = record["character_ref"]
        cid = self.index["references"].get(ref) or (ref if ref in self.index["kept"] else None)
        if cid is None:
            where = f"{doc.metadata['input']}:{doc.metadata['line']}"
            doc.metadata["detail"] = (
                f"{where}: field 'character_id': no character {ref!r} in the inputs"
            )
            return False, UNKNOWN
        record["character_id"] = cid
        return True


class CascadeCharacterRemoval(_CharacterIndexStep):
    """Drop dialogues of removed characters; attach the profile as the system message."""

    name = "🔗 cascade character removal"

    def filter(self, doc: Document) -> bool | tuple[bool, str]:
        record = doc.metadata["record"]
        ref = record.pop("character_ref")
        cid = record["character_id"]
        if cid not in self.index["kept"]:
            where = f"{doc.metadata['input']}:{doc.metadata['line']}"
            why = self.index.get("removed", {}).get(cid, "removed by the build")
            doc.metadata["detail"] = f"{where}: character {ref!r} was {why}"
            return False, REMOVED
        record["provenance"]["record"] = ref
        record["messages"] = [
            {"role": "system", "content": self.index["kept"][cid]},
            {"role": "user", "content": record["question"]},
            {"role": "assistant", "content": record["response"]},
        ]
        record["dialogue_id"] = dialogue_id(
            record["strategy"], cid, record["question"], record["response"]
        )
        doc.id = record["dialogue_id"]
        doc.metadata["dedup_key"] = dedup_key(cid, record["question"], record["response"])
        return True
