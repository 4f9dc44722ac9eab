"""First quality filters on dialogue answers: length bounds and character breaks.

The curation stage adds datatrove's Gopher filters, language id and the other dialogue filters.
"""

from __future__ import annotations

from datatrove.data import Document
from datatrove.pipeline.filters.base_filter import BaseFilter

from ocforge.character_breaks import BreakDetector, load_patterns
from ocforge.filters.tally import TalliedFilter


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


__all__ = ["CharacterBreakFilter", "ResponseLengthFilter", "load_patterns"]


class CharacterBreakFilter(TalliedFilter, BaseFilter):
    """Drop answers that step out of character: AI disclaimers, refusals to role-play.

    Matching is case- and punctuation-insensitive and on whole words.
    """

    name = "🎭 character break"

    def __init__(self, patterns: list[str], exclusion_writer=None):
        super().__init__(exclusion_writer)
        self.patterns = patterns
        self.detector = BreakDetector(patterns)

    def filter(self, doc: Document) -> bool | tuple[bool, str]:
        pattern = self.detector.match(doc.text)
        if pattern is None:
            return True
        doc.metadata["detail"] = f"matches character-break pattern {pattern!r}"
        return False, "character_break"
