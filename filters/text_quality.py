"""datatrove's Gopher quality and repetition filters, tuned for dialogue answers.

The filters are datatrove's own classes (subclassed for two fixes, see below); what changes:

- tokenisation: they get :class:`~ocforge.filters.textnorm.FastWordTokenizer` instead of spaCy
  (datatrove accepts a ``WordTokenizer`` as ``language``), the cost of the stock filters;
- thresholds: Gopher's are for web pages. Answers are 20-600 words of one or a few paragraphs:

  ===========================  ==========  ============  ==============================================
  setting                      Gopher      ocforge       why
  ===========================  ==========  ============  ==============================================
  min/max_doc_words            50/100000   off           the per-strategy length bounds decide length
  max_ellipsis_lines_ratio     0.3         off           a one-line answer trailing off "..." is 100%
  max_bullet_lines_ratio       0.9         0.9           kept
  min/max_avg_word_length      3/10        3/10          kept
  max_symbol_word_ratio        0.1         0.1           kept ("#" and "..." per word)
  max_non_alpha_words_ratio    0.8         0.6           share of tokens with a letter: dialogue is
                                                         dense in commas, dashes and quotes (clean
                                                         demo answers go down to 0.72)
  min_stop_words               2           2             kept: any English answer has two (matched
                                                         on the lower-cased answer)
  dup_line/para_frac           0.3         0.3           kept
  top_n_grams                  2/3/4-gram  same          counted only for n-grams seen twice or more
  dup_n_grams                  5..10       same          kept
  ===========================  ==========  ============  ==============================================

The drop reasons are datatrove's (``gopher_below_avg_threshold``, ``dup_para_frac``,
``top_2_gram``, ``duplicated_5_n_grams``, ...).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

from datatrove.data import Document
from datatrove.pipeline.filters.gopher_quality_filter import GopherQualityFilter
from datatrove.pipeline.filters.gopher_repetition_filter import GopherRepetitionFilter, get_n_grams
from datatrove.utils.text import split_into_words
from ocforge.filters.textnorm import FastWordTokenizer

_TOKENIZER = FastWordTokenizer()


class AnswerQualityFilter(GopherQualityFilter):
    """Gopher quality on the lower-cased answer: datatrove matches stop words case-sensitively,
    so "THE" or a sentence-initial "The" would not count; the other rules ignore case."""

    name = "🥇 Gopher Quality (answers)"

    def filter(self, doc: Document) -> bool | tuple[bool, str]:
        return super().filter(Document(text=doc.text.lower(), id=doc.id))


class AnswerRepetitionFilter(GopherRepetitionFilter):
    """Gopher repetition with the top-n-gram rule counting only n-grams that occur twice or more:
    datatrove's counts the most common n-gram even when it occurs once, which on a 15-word
    answer is 20% of the text by itself."""

    name = "👯 Gopher Repetition (answers)"

    def __init__(self, top_n_grams=((2, 0.2), (3, 0.18), (4, 0.16)), **kwargs):
        super().__init__(top_n_grams=(), **kwargs)
        self.answer_top_n_grams = top_n_grams

    def filter(self, doc: Document) -> bool | tuple[bool, str]:
        verdict = super().filter(doc)
        if verdict is not True:
            return verdict
        words = split_into_words(doc.text, self.language)
        for n, n_frac in self.answer_top_n_grams:
            grams = get_n_grams(words, n)
            if not grams:
                continue
            gram, count = Counter(grams).most_common(1)[0]
            if count > 1 and len(gram) * count / len(doc.text) > n_frac:
                return False, f"top_{n}_gram"
        return True


def answer_quality_filters(
    writer: Callable[[str], object],
    *,
    min_avg_word_length: float = 3,
    max_avg_word_length: float = 10,
    max_symbol_word_ratio: float = 0.1,
    max_non_alpha_words_ratio: float = 0.6,
    min_stop_words: int = 2,
    repetition: bool = True,
    tokenizer=_TOKENIZER,
) -> list:
    """Gopher quality (+ repetition) for answers; ``writer(step)`` gives each its removed-row writer."""
    steps = [
        AnswerQualityFilter(
            min_doc_words=None,
            max_doc_words=None,
            min_avg_word_length=min_avg_word_length,
            max_avg_word_length=max_avg_word_length,
            max_symbol_word_ratio=max_symbol_word_ratio,
            max_bullet_lines_ratio=0.9,
            max_ellipsis_lines_ratio=None,
            max_non_alpha_words_ratio=max_non_alpha_words_ratio,
            min_stop_words=min_stop_words,
            exclusion_writer=writer("gopher-quality"),
            language=tokenizer,
        )
    ]
    if repetition:
        steps.append(
            AnswerRepetitionFilter(exclusion_writer=writer("gopher-repetition"), language=tokenizer)
        )
    return steps
