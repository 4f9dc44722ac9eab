"""Offline language identification with py3langid (its model ships inside the package).

datatrove's ``LanguageFilter`` downloads a fastText model at run time, which an offline build
cannot do; this filter has the same contract: keep documents whose most likely language is one
of ``languages`` with probability at least ``threshold``, and record the language found.
"""

from __future__ import annotations

from functools import lru_cache

from datatrove.data import Document
from datatrove.pipeline.filters.base_filter import BaseFilter


@lru_cache(maxsize=1)
def _identifier():
    """py3langid's model with normalised probabilities, loaded once per process (~1 s)."""
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


class LanguageIdFilter(BaseFilter):
    """Drop texts not in ``languages`` (ISO 639-1 codes) with reason ``wrong_language``."""

    name = "🌍 language id (py3langid)"
    _requires_dependencies = ["py3langid"]

    def __init__(
        self,
        languages: list[str],
        threshold: float = 0.5,
        min_chars: int = 20,
        exclusion_writer=None,
    ):
        super().__init__(exclusion_writer)
        self.languages = set(languages)
        self.threshold = threshold
        self.min_chars = min_chars
        self._identifier = None

    @property
    def identifier(self):
        if self._identifier is None:
            self._identifier = _identifier()
        return self._identifier

    def filter(self, doc: Document) -> bool | tuple[bool, str]:
        if len("".join(doc.text.split())) < self.min_chars:
            return True  # too short to tell (characters, not words: CJK has no spaces)
        lang, prob = self.identifier.classify(doc.text)
        if lang in self.languages and prob >= self.threshold:
            return True
        doc.metadata["detail"] = (
            f"language {lang!r} (p={prob:.2f}); expected {', '.join(sorted(self.languages))} "
            f"with p >= {self.threshold}"
        )
        return False, "wrong_language"
