"""First quality filters on dialogue answers: length bounds and character breaks.

The curation stage adds datatrove's Gopher filters, language id and the other dialogue filters.
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

import yaml
from datatrove.data import Document
from datatrove.pipeline.filters.base_filter import BaseFilter

from ocforge.filters.tally import TalliedFilter
from ocforge.filters.textnorm import ASCII_WORD_TABLE


class ResponseLengthFilter(TalliedFilter, BaseFilter):
    """Drop answers that are empty, shorter than ``min_words`` or longer than ``max_words``."""

    name = "📏 response length"

    def __init__(self, min_words: int, max_words: int, exclusion_writer=None):
        super().__init__(exclusion_writer)
        self.min_words = min_words
        self.max_words = max_words

    def filter(self, doc: Document) -> bool | tuple[bool, str]:
        words = doc.metadata["record"]["quality"]["response_words"]
        if words == 0:
            doc.metadata["detail"] = "the response is empty"
            return False, "empty_response"
        if words < self.min_words:
            doc.metadata["detail"] = (
                f"{words} words, fewer than min_response_words={self.min_words}"
            )
            return False, "too_short"
        if words > self.max_words:
            doc.metadata["detail"] = f"{words} words, more than max_response_words={self.max_words}"
            return False, "too_long"
        return True


def _fold(text: str) -> str:
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


class CharacterBreakFilter(TalliedFilter, BaseFilter):
    """Drop answers that step out of character: AI disclaimers, refusals to role-play.

    Matching is case- and punctuation-insensitive and on whole words.
    """

    name = "🎭 character break"

    def __init__(self, patterns: list[str], exclusion_writer=None):
        super().__init__(exclusion_writer)
        self.patterns = patterns
        self._folded = [_fold(p) for p in patterns]
        self._words = [frozenset(f.split()) for f in self._folded]

    def filter(self, doc: Document) -> bool | tuple[bool, str]:
        text = _fold(doc.text)
        # a pattern can only occur when all its words do: set checks spare most substring scans
        words = set(text.split())
        for pattern, folded, needed in zip(self.patterns, self._folded, self._words, strict=True):
            if needed <= words and folded in text:
                doc.metadata["detail"] = f"matches character-break pattern {pattern!r}"
                return False, "character_break"
        return True
