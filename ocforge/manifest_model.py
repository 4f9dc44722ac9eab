"""The typed form of ``release.json`` (:class:`ReleaseManifest`), shared by its writer and readers.

A build writes the keys up to ``tools``; a release adds ``repo``, ``card_sha256``,
``card_metadata`` and ``changelog`` and sets ``version`` and ``parent``. Every model remembers
which of its keys were read or given (pydantic's "fields set") and :meth:`to_dict` writes back
exactly those, in the order declared here (the order the writers have always used): a manifest
read and written again is byte for byte the file it came from, an old manifest without a key
added since (``modified`` of a config ledger) stays without it, and a build's manifest gets no
release keys as ``null``.

Types are strict: the file is machine-written JSON, so ``"3"`` or ``3.0`` where a count belongs is
damage to report, not a spelling to coerce (coercing would also change the bytes on the way back).
Nested entries reject unknown keys; the top level keeps them (``extra="allow"``), so a release
written by a newer ocforge with a section this one does not know is read, and written back with
it, rather than refused.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Literal

import pyarrow as pa
from pydantic import BaseModel, ConfigDict, field_validator

from ocforge.hashing import bytes_sha256
from ocforge.ledger import Ledger
from ocforge.outputs import ConfigOutput, ShardFile, SplitOutput

#: the ``manifest_version`` this ocforge writes and reads
MANIFEST_VERSION = 1
ConfigKind = Literal["characters", "dialogues", "eval"]


class ManifestEntry(BaseModel):
    """Base of every part of the manifest: strict, frozen, unknown keys refused."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)

    def to_dict(self) -> dict[str, Any]:
        """The JSON form: the keys that were read or given, in the declared order."""
        return self.model_dump(mode="json", exclude_unset=True)


class FileEntry(ManifestEntry):
    """One Parquet shard: its repo path (forward slashes), rows, bytes on disk and sha256."""

    path: str
    rows: int
    bytes: int
    sha256: str

    @classmethod
    def from_shard(cls, shard: ShardFile) -> FileEntry:
        return cls(path=shard.path, rows=shard.rows, bytes=shard.bytes, sha256=shard.sha256)

    def to_shard(self) -> ShardFile:
        return ShardFile(path=self.path, rows=self.rows, bytes=self.bytes, sha256=self.sha256)


class SplitEntry(ManifestEntry):
    rows: int
    num_bytes: int  # in-memory Arrow size, what the Hub's dataset_info calls num_bytes
    files: list[FileEntry]


class ConfigEntry(ManifestEntry):
    """One config: its kind, schema hash, rows and the splits that have rows."""

    kind: ConfigKind
    schema_sha256: str
    rows: int
    splits: dict[str, SplitEntry]

    @classmethod
    def from_output(cls, out: ConfigOutput, schema: pa.Schema) -> ConfigEntry:
        """The entry of a config a build (or the eval configs) just wrote."""
        return cls(
            kind=out.kind,  # type: ignore[arg-type]  # validated against ConfigKind here
            schema_sha256=schema_sha256(schema),
            rows=out.rows,
            splits={
                split.name: SplitEntry(
                    rows=split.rows,
                    num_bytes=split.num_bytes,
                    files=[FileEntry.from_shard(f) for f in split.files],
                )
                for split in out.splits.values()
            },
        )

    def to_output(self, name: str) -> ConfigOutput:
        splits = {
            split: SplitOutput(
                name=split,
                rows=info.rows,
                num_bytes=info.num_bytes,
                files=[f.to_shard() for f in info.files],
            )
            for split, info in self.splits.items()
        }
        return ConfigOutput(name=name, kind=self.kind, splits=splits)

    def files(self) -> Iterator[FileEntry]:
        """Every shard of every split, in split and shard order."""
        for split in self.splits.values():
            yield from split.files


class RecipeEntry(ManifestEntry):
    """The recipe file's name (relative to nothing: a label), its sha256 and its whole text."""

    file: str
    sha256: str
    text: str


class InputEntry(ManifestEntry):
    """One input of a config: a file (``sha256``, and ``synthesis`` when ``ocforge synth`` made
    it) or a Hub dataset (``hub``, ``revision``); the keys of the other kind are absent."""

    config: str
    input: str
    format: str
    records: int
    sha256: str | None = None
    synthesis: dict[str, Any] | None = None
    hub: str | None = None
    revision: str | None = None

    def fingerprint(self) -> dict[str, Any]:
        """The keys that identify the input's content (compared with ``input_fingerprint``)."""
        return {k: v for k, v in self.to_dict().items() if k in ("sha256", "hub", "revision")}


class ParentRef(ManifestEntry):
    """The release a version follows: version, tag and commit of the latest release then."""

    version: str
    tag: str
    commit: str


class LayoutParentEntry(ManifestEntry):
    """The release a build's Parquet layout followed: repo, version, tag and commit."""

    repo: str
    version: str
    tag: str
    commit: str


class LayoutEntry(ManifestEntry):
    """``layout``: the parent release whose shards, row order and row groups the build's files
    follow (:mod:`ocforge.parent_layout`); absent for a build laid out without a parent."""

    parent: LayoutParentEntry


class ConfigLedgerEntry(ManifestEntry):
    """:meth:`ocforge.ledger.ConfigLedger.to_dict` as stored."""

    input: int
    kept: int
    dropped: int
    duplicates: int
    quarantined: int
    reasons: dict[str, dict[str, int]]
    modified: dict[str, int] = {}  # absent in manifests written before PII counts
    balanced: bool


class LedgerEntry(ManifestEntry):
    """:meth:`ocforge.ledger.Ledger.to_dict` as stored; :meth:`to_ledger` gives the ledger."""

    configs: dict[str, ConfigLedgerEntry]
    total: dict[str, int]
    invariant: str
    # stage -> outcome -> reason -> rows; written only when synthesis set rows aside
    synthesis: dict[str, dict[str, dict[str, int]]] = {}

    @classmethod
    def from_ledger(cls, ledger: Ledger) -> LedgerEntry:
        return cls.model_validate(ledger.to_dict())

    def to_ledger(self) -> Ledger:
        return Ledger.from_dict(self.to_dict())


class ReleaseManifest(ManifestEntry):
    """``release.json``: what a build or release contains, enough to verify and diff it later."""

    model_config = ConfigDict(strict=True, extra="allow", frozen=True)

    manifest_version: int
    name: str
    version: str | None
    parent: ParentRef | None
    recipe: RecipeEntry
    inputs: list[InputEntry]
    configs: dict[str, ConfigEntry]
    ledger: LedgerEntry
    tools: dict[str, str]
    # written by a build that followed a parent release (ocforge/flows/build.py)
    layout: LayoutEntry | None = None
    # set by a release (publish/release.py), absent from a build's manifest
    repo: str | None = None
    card_sha256: str | None = None
    card_metadata: dict[str, Any] | None = None
    changelog: str | None = None

    @field_validator("manifest_version")
    @classmethod
    def _known_version(cls, value: int) -> int:
        if value != MANIFEST_VERSION:
            raise ValueError(
                f"manifest_version {value} is not one this ocforge reads ({MANIFEST_VERSION}); "
                "a newer ocforge wrote it: upgrade ocforge"
            )
        return value

    def data_files(self) -> dict[str, str]:
        """repo path -> sha256 of every data file."""
        return {f.path: f.sha256 for cfg in self.configs.values() for f in cfg.files()}

    def get(self, key: str, default: Any = None) -> Any:
        """The JSON form of one top-level key, for readers written against the plain dict
        (``models/publish.py``, ``publish/tagging.py``); new code reads the attributes."""
        return self.to_dict().get(key, default)


def schema_sha256(schema: pa.Schema) -> str:
    return bytes_sha256(schema.to_string(show_schema_metadata=False).encode())
