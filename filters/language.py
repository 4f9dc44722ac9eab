"""Offline language identification with py3langid (its model ships inside the package).

datatrove's ``LanguageFilter`` downloads a fastText model at run time, which an offline build
cannot do; this filter has the same contract: keep documents whose most likely language is one
of ``languages`` with probability at least ``threshold``, and record the language found.

py3langid walks its byte DFA in pure Python, one text at a time (~1 ms for a 1.3 KB answer).
:func:`classify_batch` walks a whole batch at once with numpy and then scores each text with
the same numpy operations py3langid uses, on the same features in the same order, so its
results are bit-identical to ``LanguageIdentifier.classify``:

- the texts are cut into rows of ``_ROW_BYTES`` bytes, all walked in lock-step (one numpy step
  per byte position), each from the start state ``_WARMUP`` bytes before the row. py3langid
  0.4's DFA is an Aho-Corasick automaton of depth 6 (its state depends on the last 6 bytes
  only), so the warm-up brings a row to the state a walk of the whole text has there. This is
  checked for every row against the end of the row before it, never assumed: a text that
  fails is classified by py3langid itself;
- per text, the features visited are counted and kept in first-visit order, the order of
  py3langid's ``Counter``, on which the float32 matmul's summation order (hence result) depends.

The lookup tables for this (~130 MB) are made on the first batch, in ~0.2 s.
"""

from __future__ import annotations

import math
import unicodedata
from array import array
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from datatrove.data import Document
from datatrove.pipeline.filters.base_filter import BaseFilter
from numpy.lib.stride_tricks import as_strided
from py3langid.langid import RAW_FLOOR

_ROW_BYTES = 120
_WARMUP = 8  # > the DFA's depth (6): see the module docstring
# Rows walked per lock-step pass: bounds the walk's work arrays (~1 KB a row) for any input.
_PASS_ROWS = 1 << 11
# Texts counted and scored together: about 200 answers; one longer text makes a group alone.
_GROUP_BYTES = 1 << 18
_GROUP_TEXTS = 1 << 12
# Padding after every text. 0xFF never occurs in UTF-8, so no feature contains it: it takes the
# DFA back to its start state, ready for the next text (checked, as for any row).
_PAD = b"\xff"
# Visit keys are int64: text | feature | position in the group (32 bits).
_LOW = 0xFFFFFFFF
_HIGH = ~_LOW


@lru_cache(maxsize=1)
def _identifier():
    """py3langid's model with normalised probabilities, loaded once per process (~1 s)."""
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


def _as_numpy(values) -> np.ndarray:
    if isinstance(values, array):  # zero-copy view of the model's stdlib arrays
        return np.frombuffer(values, dtype=np.dtype(values.typecode))
    return np.asarray(values)


@dataclass(frozen=True)
class _Dfa:
    """The identifier's byte DFA, a state stood for by the offset of its row of transitions
    (states sharing a row walk alike and emit alike)."""

    start: int  # row offset of the start state
    # [row offset + byte] -> feature emitted (-1 for none) << 32 | row offset of the next state
    moves: np.ndarray
    feature_bits: int


_DFA: list = [None, None]  # [tk_nextmove it was made from, _Dfa]


def _dfa(identifier) -> _Dfa:
    """The identifier's DFA as one lookup table per byte (8 bytes a transition, ~78 MB), made
    once per model: identifiers sharing its arrays share it, and ``set_languages`` keeps it."""
    if _DFA[0] is not identifier.tk_nextmove:
        _DFA[:] = [identifier.tk_nextmove, _make_dfa(identifier)]
    return _DFA[1]


def _make_dfa(identifier) -> _Dfa:
    nextmove = _as_numpy(identifier.tk_nextmove)
    rowbase = _as_numpy(identifier.tk_row).astype(np.int64) << 8
    output = np.asarray(identifier.tk_output, dtype=np.int64)
    if len(nextmove) >= 1 << 32:
        raise ValueError("DFA too large for 32-bit row offsets")
    moves = output[nextmove] << 32
    moves |= rowbase[nextmove]
    return _Dfa(
        start=int(rowbase[0]),
        moves=moves,
        feature_bits=max(int(output.max()), 1).bit_length(),
    )


_TABLE32: list = [None, None]  # [nb_ptc it was made from, float32 copy]


def _table32(identifier) -> np.ndarray:
    """``nb_ptc`` (float16) as float32, made once (~57 MB).

    For ``weights @ nb_ptc[idx]`` numpy casts the gathered float16 rows to float32 (exactly)
    and runs the float32 matmul; gathering from a float32 copy hands that matmul the same
    matrix, without a per-text float16 cast that costs more than everything else.
    """
    if _TABLE32[0] is not identifier.nb_ptc:
        _TABLE32[:] = [identifier.nb_ptc, np.asarray(identifier.nb_ptc, dtype=np.float32)]
    return _TABLE32[1]


def _encode(text: str) -> bytes:
    """The bytes py3langid classifies: all-caps lowered, NFC, UTF-8 keeping lone surrogates."""
    if text.isupper():
        text = text.lower()
    return unicodedata.normalize("NFC", text).encode("utf8", errors="surrogatepass")


@dataclass
class _Layout:
    """Texts laid out in rows: text j fills rows ``first[j]:first[j] + rows[j]``, its bytes
    from ``_ROW_BYTES * first[j]`` on in the padded concatenation ``buf[_WARMUP:]``."""

    buf: np.ndarray
    lengths: np.ndarray
    rows: np.ndarray
    first: np.ndarray

    @classmethod
    def of(cls, texts: list[bytes]) -> _Layout:
        lengths = np.fromiter(map(len, texts), dtype=np.int64, count=len(texts))
        # >= _WARMUP pad bytes after each text: the warm-up of the next text's first row
        rows = -(-(lengths + _WARMUP) // _ROW_BYTES)
        padded = (rows * _ROW_BYTES).tolist()
        parts = [t.ljust(size, _PAD) for t, size in zip(texts, padded, strict=True)]
        buf = np.frombuffer(b"".join([_PAD * _WARMUP, *parts]), dtype=np.uint8)
        return cls(buf, lengths, rows, np.cumsum(rows) - rows)


def _walk(dfa: _Dfa, layout: _Layout, lo: int, hi: int) -> tuple[np.ndarray, ...]:
    """Walk rows ``lo:hi`` in lock-step, each from the start state ``_WARMUP`` bytes before it.

    Returns the moves made on the rows' own bytes ((_ROW_BYTES, rows) int64: feature emitted
    << 32 | next state), and each row's state after its warm-up and at its end.
    """
    n = hi - lo
    windows = as_strided(
        layout.buf[lo * _ROW_BYTES :], shape=(n, _ROW_BYTES + _WARMUP), strides=(_ROW_BYTES, 1)
    )
    data = np.ascontiguousarray(windows.T)  # (step, row): one step is contiguous
    moves = np.empty(data.shape, dtype=np.int64)
    row = np.full(n, dfa.start, dtype=np.int64)
    offset = np.empty(n, dtype=np.int64)
    warm = row
    for step in range(len(data)):
        np.add(row, data[step], out=offset)
        dfa.moves.take(offset, out=moves[step], mode="clip")  # unbuffered; offsets are valid
        np.bitwise_and(moves[step], _LOW, out=row)
        if step == _WARMUP - 1:
            warm = row.copy()
    return moves[_WARMUP:], warm, row


def _visit_keys(dfa: _Dfa, layout: _Layout, text_of_row: np.ndarray) -> tuple:
    """Sorted keys (text | feature | position) of every visit, and the rows whose warm-up
    did not reach the state a whole-text walk has there.

    A position is the byte's index in the padded concatenation of the texts.
    """
    total_rows = len(text_of_row)
    if total_rows * _ROW_BYTES > _LOW or len(layout.lengths) >> (31 - dfa.feature_bits):
        raise ValueError("too many texts or bytes for 64-bit visit keys")
    row_in_text = np.arange(total_rows) - layout.first[text_of_row]
    # bytes past a text's end (its padding) count for nothing; they fill its last row or two
    limit = np.minimum(layout.lengths[text_of_row] - row_in_text * _ROW_BYTES, _ROW_BYTES)
    row_key = (text_of_row << (32 + dfa.feature_bits)) + np.arange(total_rows) * _ROW_BYTES
    step_key = np.arange(_ROW_BYTES)[:, None]
    keys, failed = [], []
    previous_end = dfa.start
    for lo in range(0, total_rows, _PASS_ROWS):
        hi = min(lo + _PASS_ROWS, total_rows)
        moves, warm, end = _walk(dfa, layout, lo, hi)
        # a row must start where the row before it ended, a text's first row at the start
        should = np.concatenate(([previous_end], end[:-1]))
        should[row_in_text[lo:hi] == 0] = dfa.start
        failed.append(np.flatnonzero(warm != should) + lo)
        previous_end = end[-1]
        visited = moves >= 0  # a feature was emitted
        partial = np.flatnonzero(limit[lo:hi] < _ROW_BYTES)
        visited[:, partial] &= step_key < limit[lo:hi][partial]
        moves &= _HIGH  # feature << 32
        moves += row_key[lo:hi]
        moves += step_key
        keys.append(moves.ravel().take(np.flatnonzero(visited)))  # (faster than moves[visited])
    keys = np.concatenate(keys) if len(keys) > 1 else keys[0]
    keys.sort()
    return keys, np.concatenate(failed)


@dataclass
class _Counts:
    """Text j visited ``features[bounds[j]:bounds[j + 1]]`` (in order of first visit, as
    py3langid's Counter has them), each ``counts[...]`` times; ``failed``: texts whose walk
    failed its check."""

    features: np.ndarray
    counts: np.ndarray
    bounds: list[int]
    failed: set[int]


def _first_visit_counts(dfa: _Dfa, texts: list[bytes]) -> _Counts:
    """Count the features each text visits."""
    layout = _Layout.of(texts)
    text_of_row = np.repeat(np.arange(len(texts)), layout.rows)
    keys, failed_rows = _visit_keys(dfa, layout, text_of_row)
    group = keys >> 32  # text | feature
    lead = np.empty(len(keys), dtype=bool)  # first visit of each (text, feature)
    lead[:1] = True
    np.not_equal(group[1:], group[:-1], out=lead[1:])
    lead = np.flatnonzero(lead)
    counts = np.diff(lead, append=len(keys))  # visits per (text, feature)
    # one visit at most per position, so laying each (text, feature) out at its first visit
    # and reading them back in position order puts every text's features in first-visit order
    first = keys[lead]
    slot = np.zeros(len(text_of_row) * _ROW_BYTES, dtype=np.int64)
    slot[first & _LOW] = (first & (((1 << dfa.feature_bits) - 1) << 32)) | counts
    placed = np.flatnonzero(slot != 0)  # (on a bool array: much faster)
    packed = slot[placed]
    bounds = np.searchsorted(placed, np.append(layout.first, len(text_of_row)) * _ROW_BYTES)
    failed = set(text_of_row[failed_rows].tolist())
    return _Counts(packed >> 32, packed & _LOW, bounds.tolist(), failed)


def _scores(identifier, visits: _Counts, lengths: list[int]) -> np.ndarray:
    """py3langid's ``_decide`` for each text, one row each: the same numpy operations on the
    same float32 values. Elementwise ones run on all rows at once; each row's matmul and sum
    stay separate calls, as their summation order is the library's."""
    norm = identifier._norm_probs
    n_classes = len(identifier.nb_classes)
    scores = np.full((len(lengths), n_classes), 0.0 if norm else RAW_FLOOR, dtype=np.float32)
    table = _table32(identifier)
    # log1p of every count there is, computed as py3langid does: on a float32 array
    log1p = np.log1p(np.arange(visits.counts.max(initial=0) + 1, dtype=np.float32))
    weights, features = log1p.take(visits.counts), visits.features
    bounds = visits.bounds
    featured = [k for k in range(len(lengths)) if bounds[k + 1] > bounds[k]]
    for k in featured:
        a, b = bounds[k], bounds[k + 1]
        scores[k] = weights[a:b] @ table.take(features[a:b], axis=0)
    scores[featured] += identifier.nb_pc  # featureless texts skip it, as in py3langid
    if norm:
        scale = np.array([1.0 / math.sqrt(n or 1) for n in lengths], dtype=np.float32)
        scores *= scale[:, None]  # py3langid's length temperature, a float32 product
        np.exp(scores - scores.max(axis=1, keepdims=True), out=scores)
        scores /= np.array([row.sum() for row in scores], dtype=np.float32)[:, None]
    for i, j in identifier._alias_pairs:  # script aliases fold into their first column
        if norm:
            scores[:, i] += scores[:, j]
            scores[:, j] = 0.0
        else:  # the builtin max py3langid uses: the first unless the second is larger
            scores[:, i] = np.where(scores[:, j] > scores[:, i], scores[:, j], scores[:, i])
            scores[:, j] = RAW_FLOOR
    return scores


def _groups(lengths: list[int]) -> list[tuple[int, int]]:
    """[start, stop) runs of at most _GROUP_TEXTS texts and _GROUP_BYTES bytes (or one text)."""
    groups, start, size = [], 0, 0
    for i, length in enumerate(lengths):
        if i > start and (size + length > _GROUP_BYTES or i - start == _GROUP_TEXTS):
            groups.append((start, i))
            start, size = i, 0
        size += length
    if start < len(lengths):
        groups.append((start, len(lengths)))
    return groups


def classify_batch(texts: Sequence[str], identifier=None) -> list[tuple[str, float]]:
    """``identifier.classify(text)`` for every text (same label, identical float), batched.

    ``identifier`` defaults to the filter's py3langid model (normalised probabilities).
    """
    identifier = identifier if identifier is not None else _identifier()
    dfa = _dfa(identifier)
    encoded = [_encode(t) for t in texts]
    results: list[tuple[str, float]] = []
    for start, stop in _groups([len(t) for t in encoded]):
        group = encoded[start:stop]
        visits = _first_visit_counts(dfa, group)
        scores = _scores(identifier, visits, [len(t) for t in group])
        best = scores.argmax(axis=1)
        confs = scores[np.arange(len(group)), best].tolist()
        floor = identifier.min_confidence
        for k, (i, conf) in enumerate(zip(best.tolist(), confs, strict=True)):
            if k in visits.failed:  # not seen with py3langid 0.4's model; exact all the same
                results.append(identifier.classify(texts[start + k]))
            elif floor is not None and conf < floor:
                results.append(("und", conf))
            else:
                results.append((identifier.nb_classes[i], conf))
    return results


class LanguageIdFilter(BaseFilter):
    """Drop texts not in ``languages`` (ISO 639-1 codes) with reason ``wrong_language``.

    Documents are classified ``batch_size`` at a time (:func:`classify_batch`), with the
    verdicts of classifying each on its own.
    """

    name = "🌍 language id (py3langid)"
    _requires_dependencies = ["py3langid"]

    def __init__(
        self,
        languages: list[str],
        threshold: float = 0.5,
        min_chars: int = 20,
        exclusion_writer=None,
        batch_size: int = 512,
    ):
        super().__init__(exclusion_writer, batch_size=batch_size)
        self.languages = set(languages)
        self.threshold = threshold
        self.min_chars = min_chars
        self._identifier = None

    @property
    def identifier(self):
        if self._identifier is None:
            self._identifier = _identifier()
        return self._identifier

    def _too_short(self, doc: Document) -> bool:
        # non-space characters, not words: CJK has no spaces; enough in a prefix settles it
        prefix = doc.text[: 4 * self.min_chars + 64]
        if len("".join(prefix.split())) >= self.min_chars:
            return False
        return len("".join(doc.text.split())) < self.min_chars

    def _verdict(self, doc: Document, lang: str, prob: float) -> bool | tuple[bool, str]:
        if lang in self.languages and prob >= self.threshold:
            return True
        doc.metadata["detail"] = (
            f"language {lang!r} (p={prob:.2f}); expected {', '.join(sorted(self.languages))} "
            f"with p >= {self.threshold}"
        )
        return False, "wrong_language"

    def filter(self, doc: Document) -> bool | tuple[bool, str]:
        if self._too_short(doc):
            return True  # too short to tell
        return self._verdict(doc, *self.identifier.classify(doc.text))

    def filter_batch(self, batch: list[Document]) -> list[bool | tuple[bool, str]]:
        results: list[bool | tuple[bool, str]] = [True] * len(batch)
        todo = [i for i, doc in enumerate(batch) if not self._too_short(doc)]
        found = classify_batch([batch[i].text for i in todo], self.identifier)
        for i, (lang, prob) in zip(todo, found, strict=True):
            results[i] = self._verdict(batch[i], lang, prob)
        return results
