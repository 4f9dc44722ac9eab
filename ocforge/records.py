"""Record schemas (pyarrow) and content-hash ids for the released configs.

The schemas are the contract with ``load_dataset`` consumers: changing one is a major version.
Ids are content hashes so that the same inputs always give the same ids, rows and files.
"""

from __future__ import annotations

import hashlib
import unicodedata

import pyarrow as pa

PROFILE_FIELDS: tuple[str, ...] = (
    "name",
    "age",
    "gender",
    "race",
    "birth_place",
    "appearance",
    "general_experience",
    "personality",
)

STRATEGIES: tuple[str, ...] = ("rewrite", "generate")

PROVENANCE = pa.struct(
    [
        pa.field("input", pa.string()),  # file path relative to the recipe, or hub repo id
        pa.field("record", pa.string()),  # the id the source gave the row, if any
        pa.field("line", pa.int64()),  # 1-based line (JSONL) or row index (Parquet/Hub)
    ]
)

MESSAGE = pa.struct([pa.field("role", pa.string()), pa.field("content", pa.string())])

QUALITY = pa.struct([pa.field("response_words", pa.int32())])

_AFTER_AGE = PROFILE_FIELDS.index("age") + 1
CHARACTERS_SCHEMA = pa.schema(
    [
        pa.field("character_id", pa.string(), nullable=False),
        pa.field("persona", pa.string()),
        pa.field("persona_id", pa.string()),
        *[pa.field(f, pa.string()) for f in PROFILE_FIELDS[:_AFTER_AGE]],
        # ``age`` as written ("forty-six", "late twenties"); ``age_years`` its whole years from
        # ocforge.profiles.parse_age (a range's midpoint, rounded down), null when none is stated
        pa.field("age_years", pa.int32()),
        *[pa.field(f, pa.string()) for f in PROFILE_FIELDS[_AFTER_AGE:]],
        pa.field("profile", pa.string(), nullable=False),
        pa.field("source", pa.string()),
        pa.field("generator", pa.string()),
        pa.field("provenance", PROVENANCE),
    ]
)


def dialogue_schema(strategy: str) -> pa.Schema:
    """Schema of a dialogue config; ``original_response`` exists only for the rewrite strategy."""
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown strategy {strategy!r}: expected one of {', '.join(STRATEGIES)}")
    fields = [
        pa.field("dialogue_id", pa.string(), nullable=False),
        pa.field("character_id", pa.string(), nullable=False),
        pa.field("strategy", pa.string()),
        pa.field("source_corpus", pa.string()),
        pa.field("question_id", pa.string()),
        pa.field("question", pa.string()),
        pa.field("response", pa.string()),
    ]
    if strategy == "rewrite":
        fields.append(pa.field("original_response", pa.string()))
    fields += [
        pa.field("messages", pa.list_(MESSAGE)),
        pa.field("quality", QUALITY),
        pa.field("provenance", PROVENANCE),
    ]
    return pa.schema(fields)


def id_column(schema: pa.Schema) -> str:
    """The id column of a record schema (its first field)."""
    return schema.names[0]


def normalize_text(text: str) -> str:
    """Normal form used for exact-duplicate keys: NFKC, case-folded, whitespace collapsed.

    Punctuation is kept on purpose: removing it would turn light edits into exact duplicates,
    which belong to the near-duplicate stage.
    """
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def dedup_key(*parts: str) -> str:
    """The exact-duplicate key of ``parts`` (normalised with :func:`normalize_text`): a 128-bit
    digest, so that documents carry 32 characters between stages instead of their whole text."""
    h = hashlib.blake2b(digest_size=16)
    for part in parts:
        h.update(normalize_text(part).encode("utf-8"))
        h.update(b"\x1f")
    return h.hexdigest()


def content_id(kind: str, *parts: str) -> str:
    """A stable 16-hex-digit id for ``parts`` (already in the form that should be hashed)."""
    h = hashlib.blake2b(digest_size=8)
    h.update(kind.encode())
    for part in parts:
        h.update(b"\x1f")
        h.update(part.encode("utf-8"))
    return h.hexdigest()


def character_id(profile: str) -> str:
    """Characters are identified by their normalised profile: identical profiles are one character."""
    return content_id("character", normalize_text(profile))


def persona_id(persona: str) -> str:
    return content_id("persona", normalize_text(persona))


def question_id(question: str) -> str:
    return content_id("question", normalize_text(question))


def dialogue_id(strategy: str, character: str, question: str, response: str) -> str:
    return content_id("dialogue", strategy, character, question, response)


def word_count(text: str) -> int:
    return len(text.split())
