"""What a build wrote: per config and split, the Parquet shards with their sizes and hashes."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class ShardFile:
    path: str  # relative to the dataset root, with forward slashes
    rows: int
    bytes: int
    sha256: str


@dataclass
class SplitOutput:
    name: str
    rows: int = 0
    num_bytes: int = 0  # in-memory Arrow size, what the Hub's dataset_info calls num_bytes
    files: list[ShardFile] = field(default_factory=list)

    @property
    def download_bytes(self) -> int:
        return sum(f.bytes for f in self.files)


@dataclass
class ConfigOutput:
    name: str
    kind: str  # "characters" or "dialogues"
    splits: dict[str, SplitOutput]

    @property
    def rows(self) -> int:
        return sum(s.rows for s in self.splits.values())
