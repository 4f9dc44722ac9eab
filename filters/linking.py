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
from ocforge.filters.tally import TalliedFilter

from ocforge.records import dedup_key, dialogue_id

UNKNOWN = "unknown_character"
REMOVED = "character_removed"


def write_character_index(path: Path, kept: dict[str, str], references: dict[str, str]) -> None:
    """Save what the linking step needs: kept ``character_id -> profile`` and every known
    source reference (source id or content id) -> ``character_id``."""
    path.write_text(
        json.dumps({"kept": kept, "references": references}, sort_keys=True, ensure_ascii=False),
        encoding="utf-8",
    )


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
            doc.metadata["detail"] = f"{where}: character {ref!r} was removed from the build"
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
