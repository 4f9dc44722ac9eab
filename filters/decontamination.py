"""Decontamination: word n-gram overlap with evaluation sets and with our own ``test`` split.

Texts are normalised to lower-case words without punctuation (numbers are kept: "2 + 2" and
"3 + 3" are different questions) and cut into word ``n``-grams (13 by default, as in GPT-3 / lm-eval decontamination). A
reference text shorter than ``n`` words counts as one gram of its own length, and training
texts are checked for that gram too, so short questions are matched whole.

- eval sets (recipe ``filters.decontamination.eval_sets``): a training dialogue whose question or
  answer shares a gram with an eval set is dropped (``eval_contamination``), in every split;
- our own split: a ``train`` dialogue whose question shares a gram with a ``test`` question is
  dropped (``test_overlap``), so no question is in both ``train`` and ``test``.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import orjson
import xxhash
from datatrove.data import Document
from datatrove.pipeline.filters.base_filter import BaseFilter

from ocforge.errors import InputError
from ocforge.filters.tally import TalliedFilter
from ocforge.filters.textnorm import plain_words
from ocforge.inputs import eval_set_input, iter_input
from ocforge.layout import split_of
from ocforge.recipe import EvalSetSpec


def _gram_hash(words: list[str] | tuple[str, ...]) -> int:
    return xxhash.xxh64_intdigest("\x1f".join(words))


def reference_grams(text: str, n: int) -> tuple[int, set[int]]:
    """(gram length, gram hashes) of a reference text: its n-grams, or itself if shorter."""
    words = plain_words(text)
    if not words:
        return n, set()
    if len(words) < n:
        return len(words), {_gram_hash(words)}
    return n, {_gram_hash(words[i : i + n]) for i in range(len(words) - n + 1)}


class NgramIndex:
    """Gram hashes by gram length, each naming the source(s) it came from."""

    def __init__(self, n: int):
        self.n = n
        self.grams: dict[int, dict[int, str]] = {}

    def add(self, text: str, source: str) -> None:
        length, hashes = reference_grams(text, self.n)
        table = self.grams.setdefault(length, {})
        for h in hashes:
            table.setdefault(h, source)

    def match(self, text: str) -> str | None:
        """The source of the first reference gram found in ``text``, or None."""
        if not self.grams:  # no eval sets, say: nothing to tokenise the text for
            return None
        words = plain_words(text)
        for length, table in self.grams.items():
            grams = map("\x1f".join, zip(*(words[i:] for i in range(length)), strict=False))
            # hashing and lookups in C: answers are checked against every gram length
            source = next(filter(None, map(table.get, map(xxhash.xxh64_intdigest, grams))), None)
            if source is not None:
                return source
        return None

    def __len__(self) -> int:
        return sum(len(t) for t in self.grams.values())

    def save(self, path: Path) -> None:
        data = {"n": self.n, "grams": {str(k): list(v.items()) for k, v in self.grams.items()}}
        path.write_bytes(orjson.dumps(data))

    @classmethod
    def load(cls, path: Path) -> NgramIndex:
        data = orjson.loads(path.read_bytes())
        index = cls(data["n"])
        index.grams = {int(k): dict((int(h), s) for h, s in v) for k, v in data["grams"].items()}
        return index


def eval_set_texts(spec: EvalSetSpec) -> tuple[str, list[str]]:
    """(label, texts) of one eval set: the values of its ``fields`` in every row. The file is
    read like a recipe input (:mod:`ocforge.inputs`: JSON Lines, one JSON array or Parquet, by
    its suffix; or a Hub dataset).

    Raises:
        InputError: the file does not hold its format, or a row of it cannot be read.
        ValueError: a named field is missing from the eval set.
    """
    if spec.hub is not None:
        label = f"{spec.hub.repo}@{spec.hub.revision or 'main'}"
    else:
        assert spec.path is not None
        label = spec.path.name
    rows: list[dict[str, Any]] = []
    for line, obj, _raw, error in iter_input(eval_set_input(spec)):
        if error is not None:
            raise InputError(f"eval set {spec.path or label}:{line}: {error}")
        assert obj is not None
        rows.append(obj)
    columns = set().union(*(r.keys() for r in rows)) if rows else set()
    missing = [f for f in spec.fields if f not in columns]
    if missing:
        raise ValueError(
            f"eval set {label}: field(s) {', '.join(missing)} not found (has {', '.join(sorted(columns))})"
        )
    texts = [str(r[f]) for r in rows for f in spec.fields if r.get(f)]
    return label, texts


def build_eval_index(specs: list[EvalSetSpec], n: int) -> NgramIndex:
    index = NgramIndex(n)
    for spec in specs:
        label, texts = eval_set_texts(spec)
        for text in texts:
            index.add(text, label)
    return index


class Decontaminate(TalliedFilter, BaseFilter):
    """Drop dialogues that overlap an eval set (any split) or a ``test`` question (``train`` only)."""

    name = "🧪 decontamination"

    def __init__(
        self,
        eval_index: str | None,
        test_index: str | None,
        test_fraction: float,
        seed: int,
        exclusion_writer=None,
    ):
        super().__init__(exclusion_writer)
        self.eval_index_path = eval_index
        self.test_index_path = test_index
        self.test_fraction = test_fraction
        self.seed = seed
        self._eval: NgramIndex | None = None
        self._test: NgramIndex | None = None

    def _load(self) -> None:
        if self._eval is None:
            self._eval = (
                NgramIndex.load(Path(self.eval_index_path))
                if self.eval_index_path
                else NgramIndex(13)
            )
            self._test = (
                NgramIndex.load(Path(self.test_index_path))
                if self.test_index_path
                else NgramIndex(13)
            )

    def filter(self, doc: Document) -> bool | tuple[bool, str]:
        self._load()
        assert self._eval is not None and self._test is not None
        record = doc.metadata["record"]
        for field in ("question", "response"):
            source = self._eval.match(record[field])
            if source is not None:
                doc.metadata["detail"] = (
                    f"the {field} shares a {self._eval.n}-gram (or a whole short text) with eval set {source}"
                )
                return False, "eval_contamination"
        if split_of(record["character_id"], self.test_fraction, self.seed) == "train":
            source = self._test.match(record["question"])
            if source is not None:
                doc.metadata["detail"] = (
                    f"the question overlaps test question {source} ({self._test.n}-gram or whole question)"
                )
                return False, "test_overlap"
        return True


def test_question_index(
    records: Iterable[tuple[str, dict[str, Any]]], n: int, test_fraction: float, seed: int
) -> NgramIndex:
    """The questions of the ``test`` split, from ``(config, record)`` pairs of every dialogue
    config, for decontaminating ``train`` (a record's split follows its character)."""
    index = NgramIndex(n)
    for config, record in records:
        if split_of(record["character_id"], test_fraction, seed) == "test":
            index.add(record["question"], f"{config}/{record['dialogue_id']}")
    return index
