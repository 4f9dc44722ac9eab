"""A dataset repo at one commit as the viewer sees it: configs and splits from the card's
``configs:`` metadata, each split's Parquet files resolved in the commit's tree, and a path on
disk for each file.

The Hub's viewer reads the dataset card (README.md front matter) of the revision; a config's
``data_files`` are glob patterns (``*`` within a folder, ``**`` across folders) matched against
the repo's files, as ``datasets`` does. Without ``configs:``, one ``default`` config gets every
Parquet file, split by the usual names in the path (``train``, ``test``, ``validation``).

Files stored as blobs are read where they lie; files stored only through Xet are rebuilt once
from their xorbs into ``ROOT/viewer-cache/`` (named by SHA-256, so shared by every commit and
repo that holds the same bytes). Everything here is keyed by commit id, which never changes
meaning, so it is cached in memory.
"""

from __future__ import annotations

import io
import os
import re
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from ..objects import FileEntry, LRUCache
from ..storage import Repo
from ..validation import RepoKey
from ..xet.reconstruct import iter_file_bytes
from ..yamlcheck import load_card_data
from .errors import (
    ConfigNamesError,
    DataFilesNotFoundError,
    FileFormatError,
    ResponseNotFoundError,
    SchemaMismatchError,
)

CARD_MAX_BYTES = 1024 * 1024
_SPLIT_WORDS = {"train": "train", "test": "test", "validation": "validation", "valid": "validation"}
_SPLIT_WORDS |= {"val": "validation", "dev": "validation", "eval": "test"}


@dataclass(frozen=True)
class DataFile:
    """One Parquet file of a split: where it is in the repo and on disk, and its row groups."""

    path: str
    size: int
    local: Path
    row_groups: tuple[int, ...]
    row_group_bytes: tuple[int, ...]

    @property
    def num_rows(self) -> int:
        return sum(self.row_groups)


@dataclass
class Split:
    """A config's split at a commit, with its files opened (footers read) in order."""

    config: str
    name: str
    files: tuple[DataFile, ...]
    schema: pa.Schema
    cache: dict[str, Any] = field(default_factory=dict)  # statistics, search text, ...

    @property
    def num_rows(self) -> int:
        return sum(f.num_rows for f in self.files)

    @property
    def num_bytes_parquet(self) -> int:
        return sum(f.size for f in self.files)

    @property
    def num_bytes_memory(self) -> int:
        """Uncompressed size of the data (the Parquet footers' row group sizes)."""
        return sum(sum(f.row_group_bytes) for f in self.files)

    @cached_property
    def file_offsets(self) -> tuple[int, ...]:
        """Index of each file's first row in the split."""
        offsets, total = [], 0
        for f in self.files:
            offsets.append(total)
            total += f.num_rows
        return tuple(offsets)


@dataclass(frozen=True)
class ConfigSpec:
    """A config from the card: its splits, in card order, each a list of repo paths."""

    name: str
    splits: dict[str, tuple[str, ...]]
    default: bool = False


@dataclass
class Snapshot:
    """A dataset repo at one commit: card metadata, configs, and (lazily) opened splits."""

    key: RepoKey
    commit_id: str
    card: dict[str, Any]
    configs: dict[str, ConfigSpec]
    entries: dict[str, FileEntry]
    #: why the configs could not be read (``configs`` is then empty)
    config_error: str | None = None
    _splits: dict[tuple[str, str], Split] = field(default_factory=dict)

    @property
    def viewer_enabled(self) -> bool:
        return self.card.get("viewer") is not False

    def config(self, name: str) -> ConfigSpec:
        if self.config_error is not None:
            raise ConfigNamesError(
                f"Cannot get the config names for the dataset: {self.config_error}"
            )
        spec = self.configs.get(name)
        if spec is None:
            known = ", ".join(self.configs) or "none"
            raise ResponseNotFoundError(
                f"Not found: the dataset has no config {name!r} (configs: {known})."
            )
        return spec

    def split_paths(self, config: str, split: str) -> tuple[str, ...]:
        spec = self.config(config)
        paths = spec.splits.get(split)
        if paths is None:
            known = ", ".join(spec.splits) or "none"
            raise ResponseNotFoundError(
                f"Not found: config {config!r} has no split {split!r} (splits: {known})."
            )
        return paths


_SNAPSHOTS = LRUCache(64)
_FILES = LRUCache(4096)


def load_snapshot(store_root: Path, repo: Repo, key: RepoKey, commit_id: str) -> Snapshot:
    """The snapshot of ``repo`` at ``commit_id`` (cached: a commit never changes)."""
    cache_key = (str(store_root), key, commit_id)
    cached = _SNAPSHOTS.get(cache_key)
    if cached is not None:
        return cached
    commit = repo.get_commit(commit_id)
    entries = dict(repo.get_tree(commit.tree).files)
    card = _read_card(repo, entries.get("README.md"))
    try:
        configs = card_configs(card, sorted(entries))
        error = None
    except ValueError as exc:
        configs, error = {}, str(exc)
    snapshot = Snapshot(key, commit_id, card, configs, entries, error)
    _SNAPSHOTS.put(cache_key, snapshot)
    return snapshot


def _read_card(repo: Repo, entry: FileEntry | None) -> dict[str, Any]:
    if entry is None or entry.size > CARD_MAX_BYTES or not repo.has_blob(entry.sha256):
        return {}
    return load_card_data(repo.blob_path(entry.sha256).read_text("utf-8", errors="replace")) or {}


def glob_regex(pattern: str) -> re.Pattern[str]:
    """``datasets``' data-file patterns: ``**`` crosses folders, ``*`` and ``?`` do not."""
    out, i = [], 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return re.compile("".join(out) + r"\Z")


def _match(patterns: list[str], paths: list[str]) -> tuple[str, ...]:
    regexes = [glob_regex(p.lstrip("/")) for p in patterns]
    return tuple(p for p in paths if any(r.match(p) for r in regexes))


def _patterns(value: Any, where: str) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return list(value)
    raise ValueError(f"{where}: 'path' must be a string or a list of strings")


def _config_splits(
    entry: dict[str, Any], name: str, paths: list[str]
) -> dict[str, tuple[str, ...]]:
    data_files = entry.get("data_files")
    if data_files is None:
        raise ValueError(f"config {name!r} has no 'data_files'")
    if isinstance(data_files, (str, list)) and not (
        isinstance(data_files, list) and data_files and isinstance(data_files[0], dict)
    ):
        specs: list[tuple[str, list[str]]] = [("train", _patterns(data_files, f"config {name!r}"))]
    elif isinstance(data_files, list):
        specs = []
        for item in data_files:
            if not isinstance(item, dict) or not isinstance(item.get("split"), str):
                raise ValueError(f"config {name!r}: each data_files item needs a 'split' name")
            specs.append((item["split"], _patterns(item.get("path"), f"config {name!r}")))
    else:
        raise ValueError(f"config {name!r}: 'data_files' must be a string or a list")
    splits: dict[str, tuple[str, ...]] = {}
    for split, patterns in specs:
        matched = _match(patterns, paths)
        if matched:  # a split whose patterns match nothing is not offered, as in datasets
            splits[split] = tuple(sorted(set(splits.get(split, ()) + matched)))
    return splits


def card_configs(card: dict[str, Any], paths: list[str]) -> dict[str, ConfigSpec]:
    """Configs from the card's ``configs:`` (or the automatic ``default``); ValueError if bad."""
    raw = card.get("configs")
    if raw is None:
        return _auto_configs(paths)
    if not isinstance(raw, list):
        raise ValueError("'configs' must be a list")
    configs: dict[str, ConfigSpec] = {}
    for entry in raw:
        if not isinstance(entry, dict):
            raise ValueError("each item of 'configs' must be a mapping")
        name = entry.get("config_name", "default")
        if not isinstance(name, str) or not name:
            raise ValueError("'config_name' must be a non-empty string")
        if name in configs:
            raise ValueError(f"config {name!r} is defined twice")
        splits = _config_splits(entry, name, paths)
        if splits:  # a config without any file is not offered (datasets leaves it out too)
            configs[name] = ConfigSpec(name, splits, bool(entry.get("default")))
    if not configs:
        raise ValueError("no config of the card matches a data file")
    return configs


def _auto_configs(paths: list[str]) -> dict[str, ConfigSpec]:
    parquet = [p for p in paths if p.endswith(".parquet")]
    if not parquet:
        raise ValueError("the card has no 'configs' and the repo holds no Parquet file")
    splits: dict[str, list[str]] = {}
    for path in parquet:
        words = re.split(r"[^a-z]+", path.lower())
        split = next((_SPLIT_WORDS[w] for w in words if w in _SPLIT_WORDS), "train")
        splits.setdefault(split, []).append(path)
    order = sorted(splits, key=lambda s: (["train", "validation", "test"] + [s]).index(s))
    return {"default": ConfigSpec("default", {s: tuple(splits[s]) for s in order}, True)}


def default_config(snapshot: Snapshot) -> str | None:
    """The config the page opens first: the card's ``default: true``, else the first."""
    for spec in snapshot.configs.values():
        if spec.default:
            return spec.name
    return next(iter(snapshot.configs), None)


class XetRangeReader(io.RawIOBase):
    """A Xet-stored file read by byte ranges rebuilt on demand (seekable, read-only): a Parquet
    footer or one row group is read without rebuilding the whole file."""

    def __init__(self, xet: Any, record: Any):
        super().__init__()
        self._xet, self._record, self._pos = xet, record, 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._record.size}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def readinto(self, buffer: Any) -> int:
        end = min(self._pos + len(buffer), self._record.size)
        data = b"".join(iter_file_bytes(self._xet, self._record, self._pos, end - 1))
        buffer[: len(data)] = data
        self._pos += len(data)
        return len(data)


def _xet_record(xet: Any, key: RepoKey, entry: FileEntry) -> Any:
    record = xet.lookup_sha256(key, entry.sha256, entry.size)
    if record is None:
        raise FileFormatError(f"The content of a data file ({entry.sha256}) is not stored.")
    return record


def _cached(store_root: Path, entry: FileEntry) -> Path:
    return store_root / "viewer-cache" / entry.sha256[:2] / entry.sha256


def data_source(
    store_root: Path, xet: Any, key: RepoKey, repo: Repo, entry: FileEntry
) -> Path | XetRangeReader:
    """The file on disk when it is there (the blob, or rebuilt before), else a reader of its Xet
    ranges: what the compatibility check reads (footers, first rows) of files nobody showed."""
    if repo.has_blob(entry.sha256, entry.size):
        return repo.blob_path(entry.sha256)
    dest = _cached(store_root, entry)
    if dest.is_file() and dest.stat().st_size == entry.size:
        return dest
    return XetRangeReader(xet, _xet_record(xet, key, entry))


def materialize(store_root: Path, xet: Any, key: RepoKey, repo: Repo, entry: FileEntry) -> Path:
    """A path on disk holding the file's bytes (the blob, or the Xet file rebuilt once)."""
    if repo.has_blob(entry.sha256, entry.size):
        return repo.blob_path(entry.sha256)
    record = _xet_record(xet, key, entry)
    dest = _cached(store_root, entry)
    if dest.is_file() and dest.stat().st_size == entry.size:
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.{os.getpid()}.{id(entry)}.tmp")
    with open(tmp, "wb") as fh:
        for piece in iter_file_bytes(xet, record, 0, entry.size - 1):
            fh.write(piece)
    os.replace(tmp, dest)  # content-addressed: a concurrent writer wrote the same bytes
    return dest


def open_data_file(path: str, entry: FileEntry, local: Path) -> tuple[DataFile, pa.Schema]:
    """Read one Parquet footer (cached by content hash)."""
    cached = _FILES.get(entry.sha256)
    if cached is None:
        if not path.endswith(".parquet"):
            raise FileFormatError(f"{path}: the local viewer reads Parquet data files only.")
        try:
            meta = pq.ParquetFile(local).metadata
            schema = meta.schema.to_arrow_schema()
        except (pa.ArrowException, OSError) as exc:
            raise FileFormatError(f"{path} is not a readable Parquet file: {exc}") from None
        groups = tuple(meta.row_group(i).num_rows for i in range(meta.num_row_groups))
        sizes = tuple(meta.row_group(i).total_byte_size for i in range(meta.num_row_groups))
        cached = (groups, sizes, schema)
        _FILES.put(entry.sha256, cached)
    groups, sizes, schema = cached
    return DataFile(path, entry.size, local, groups, sizes), schema


def open_split(
    store_root: Path, xet: Any, repo: Repo, snapshot: Snapshot, config: str, split: str
) -> Split:
    """The split with every file on disk and its footer read (cached per snapshot)."""
    paths = snapshot.split_paths(config, split)
    opened = snapshot._splits.get((config, split))
    if opened is not None:
        return opened
    files, schema = [], None
    for path in paths:
        entry = snapshot.entries[path]
        local = materialize(store_root, xet, snapshot.key, repo, entry)
        data_file, file_schema = open_data_file(path, entry, local)
        if schema is None:
            schema = file_schema
        elif not file_schema.remove_metadata().equals(schema.remove_metadata()):
            raise SchemaMismatchError(
                f"The Parquet files of {config}/{split} have different schemas: {path} differs "
                f"from {files[0].path}."
            )
        files.append(data_file)
    if schema is None:
        raise DataFilesNotFoundError(f"No data file in {config}/{split}.")
    opened = Split(config, split, tuple(files), schema)
    snapshot._splits[(config, split)] = opened
    return opened
