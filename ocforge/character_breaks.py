"""Character breaks: answers that step out of character (AI disclaimers, refusals to role-play).

One detector for the curation filter (:class:`ocforge.filters.quality.CharacterBreakFilter`) and
the ``in_character`` eval metric, so that the two can never disagree on what a break is. The
phrase list is data: ``configs/character_breaks.yaml``.
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

import yaml

# a bytes.translate table for ASCII: letters lower-cased, digits, "_" and "'" kept (word
# characters), a space for everything else
ASCII_WORD_TABLE = bytes(
    ord(chr(c).lower()) if chr(c).isalnum() or chr(c) in "_'" else 32 for c in range(128)
) + bytes([32] * 128)


def fold(text: str) -> str:
    """Lower-case, punctuation to spaces, whitespace collapsed: 'As an A.I.-language model' matches
    'as an ai language model'. Dots are deleted rather than spaced so that 'A.I.' reads 'ai'."""
    if text.isascii():
        # NFKC and casefold leave ASCII as it is but for case: one translate does it all
        folded = text.encode("ascii").translate(ASCII_WORD_TABLE, b".").decode("ascii")
        return f" {' '.join(folded.split())} "
    text = unicodedata.normalize("NFKC", text).casefold().replace("’", "'").replace(".", "")
    text = re.sub(r"[^\w']+", " ", text)
    return f" {' '.join(text.split())} "


def load_patterns(path: Path) -> list[str]:
    """Read a pattern list (YAML: ``patterns: [...]``); raises ValueError naming the file."""
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    patterns = data.get("patterns") if isinstance(data, dict) else None
    if not isinstance(patterns, list) or not all(
        isinstance(p, str) and p.strip() for p in patterns
    ):
        raise ValueError(f"{path}: expected a mapping with 'patterns': a list of non-empty strings")
    return patterns


class BreakDetector:
    """Finds the first pattern an answer matches, case- and punctuation-insensitive, on whole
    words."""

    def __init__(self, patterns: list[str]):
        self.patterns = patterns
        self._folded = [fold(p) for p in patterns]
        self._words = [frozenset(f.split()) for f in self._folded]

    def match(self, text: str) -> str | None:
        """The pattern ``text`` matches, or None."""
        folded = fold(text)
        # a pattern can only occur when all its words do: set checks spare most substring scans
        words = set(folded.split())
        for pattern, needle, needed in zip(self.patterns, self._folded, self._words, strict=True):
            if needed <= words and needle in folded:
                return pattern
        return None
