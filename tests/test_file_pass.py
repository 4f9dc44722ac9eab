"""The release's one read of the build's Parquet files (publish/file_pass.py): it gives what the
separate readers gave (secret scan, card statistics, changelog row keys), and a release opens
each data file once."""

from __future__ import annotations

import copy
import ctypes
import ctypes.util
import os
import struct
import threading
from collections import Counter
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from release_helpers import TOKEN, corpus, write_build

from ocforge.cards.statistics import stat_columns, stats_and_lengths, summarize
from ocforge.flows.release import release_build
from ocforge.hub import Identity, LocalHub
from ocforge.manifest import read_manifest
from ocforge.publish.diff import diff_manifests, keyed_files, read_keys
from ocforge.publish.file_pass import read_build_files
from ocforge.publish.secrets import scan_parquet
from ocforge.records import dialogue_id

HF_TOKEN = "hf_" + "Ab3dE5gH7jK9mN1pQ3sT5vW7yZ9bC1dE3f"


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    with LocalHub(
        tmp_path_factory.mktemp("hub"), tokens={TOKEN: Identity("alice", orgs=frozenset({"p"}))}
    ) as running:
        yield running


def _changed(configs, n: int, seed: int = 0):
    """``n`` dialogues per dialogue config with a new answer (and so a new id)."""
    out = copy.deepcopy(configs)
    for name in ("rewrite", "generate"):
        for row in out[name].rows[seed : seed + n]:
            row["response"] += " (revised)"
            row["dialogue_id"] = dialogue_id(
                row["strategy"], row["character_id"], row["question"], row["response"]
            )
    return out


def _kinds(manifest):
    return {name: cfg.kind for name, cfg in manifest.configs.items()}


def _select(manifest):
    kinds = _kinds(manifest)
    return lambda config, columns: stat_columns(kinds[config], columns)


def _assert_like_the_separate_readers(root: Path, old_manifest, key_sha256=None):
    """Findings, statistics, schemas and row keys of the pass against the readers it replaces,
    each called on its own (scan_parquet, stats_and_lengths, read_keys)."""
    manifest = read_manifest(root)
    keyed = keyed_files(old_manifest, manifest) if key_sha256 is None else key_sha256
    read = read_build_files(root, manifest, select=_select(manifest), key_sha256=keyed)
    files = [f for cfg in manifest.configs.values() for f in cfg.files()]
    assert [r.entry.path for r in read.files] == [f.path for f in files]
    want = [
        finding
        for f in files
        for finding in scan_parquet(root / f.path, f.path, pq.read_schema(root / f.path).names[0])
    ]
    assert read.findings == want
    for name, cfg in manifest.configs.items():
        if not cfg.splits:
            continue
        splits = list(cfg.splits)
        ours = summarize(name, cfg.kind, splits, read.selected(name))
        assert ours == stats_and_lengths(root, name, cfg.kind, splits), name
        first = root / next(cfg.files()).path
        assert read.schemas()[name] == pq.read_schema(first).remove_metadata()
    held = read.keyed()
    assert set(held) == {f.sha256 for f in files if f.sha256 in keyed}
    for f in files:
        if f.sha256 in held:
            id_column = pq.read_schema(root / f.path).names[0]
            assert held[f.sha256].id_column == id_column
            # the very hashes diff.py's own reader (pl.read_parquet) gives
            assert held[f.sha256].keys.equals(read_keys([root / f.path], id_column))
    return read


def test_the_pass_gives_what_the_separate_readers_give(tmp_path):
    configs = copy.deepcopy(corpus())
    configs["generate"].rows[3]["response"] += " key " + HF_TOKEN
    configs["rewrite"].rows[5]["messages"][1]["content"] += "\nAKIAIOSFODNN7EXAMPLE"
    configs["rewrite"].rows[9]["response"] += " AKIAIOSFODNN7EXAMPLE and " + HF_TOKEN
    old = write_build(tmp_path / "old", configs)
    new = write_build(tmp_path / "new", _changed(configs, 2))
    old_manifest = read_manifest(old)
    read = _assert_like_the_separate_readers(new, old_manifest)
    assert len(read.findings) == 4
    assert read.keyed(), "a changed split: its files are keyed"
    # the keyed files are exactly the changed splits' files (old ones kept byte for byte too)
    changed = {
        f.sha256
        for name, cfg in read_manifest(new).configs.items()
        for split, info in cfg.splits.items()
        if [f.sha256 for f in info.files]
        != [f.sha256 for f in old_manifest.configs[name].splits[split].files]
        for f in info.files
    }
    assert set(read.keyed()) == changed
    assert "characters" not in {r.config for r in read.files if r.keys is not None}
    # a first release keys nothing; every file keyed gives the same hashes too
    assert not _assert_like_the_separate_readers(new, None).keyed()
    every = {f.sha256 for cfg in read_manifest(new).configs.values() for f in cfg.files()}
    _assert_like_the_separate_readers(new, None, key_sha256=every)


def test_the_pass_on_a_real_build(demo_build):
    """The demo build: every kind of config (eval configs included), as the build wrote them."""
    root = demo_build.out_dir
    manifest = read_manifest(root)
    every = {f.sha256 for cfg in manifest.configs.values() for f in cfg.files()}
    read = _assert_like_the_separate_readers(root, None, key_sha256=every)
    assert {r.config for r in read.files} >= {"characters", "rewrite", "generate"}


def test_the_changelog_from_the_pass_keys_is_the_one_from_reading_the_files(tmp_path):
    configs = corpus()
    old = write_build(tmp_path / "old", configs)
    new = write_build(tmp_path / "new", _changed(configs, 3, seed=4))
    old_m, new_m = read_manifest(old), read_manifest(new)
    read = read_build_files(new, new_m, key_sha256=keyed_files(old_m, new_m))
    opened: list[str] = []

    def old_file(f):
        opened.append(f.path)
        return old / f.path

    args = (old_m, new_m, lambda f: old / f.path, lambda f: new / f.path, "v1.0.0", "v1.1.0")
    from_files = diff_manifests(*args)
    from_keys = diff_manifests(old_m, new_m, old_file, _no_read, "v1.0.0", "v1.1.0", read.keyed())
    assert from_keys == from_files and from_files.rows_changed
    # only the old files the build does not hold byte for byte are read (downloaded)
    local = {f.sha256 for cfg in new_m.configs.values() for f in cfg.files()}
    by_path = {f.path: f for cfg in old_m.configs.values() for f in cfg.files()}
    assert opened and all(by_path[p].sha256 not in local for p in opened)


def _no_read(f):
    raise AssertionError(f"{f.path}: the build's files are keyed by the pass, not read again")


# --------------------------------------------------------------------------- opens, counted


class _Opens:
    """Every open of a file in the watched folders, by any code in any library (inotify).

    inotify folds an event into the previous one when both are identical and the first is not
    read yet; with opens and closes both watched and a thread reading the queue as it fills,
    a file read again after it was closed (the separate readers: scan, then statistics, then
    the changelog) always counts twice. Two opens of one file at the same instant could still
    count once; the pass opens each file in one place, in one thread."""

    IN_OPEN, IN_CLOSE_WRITE, IN_CLOSE_NOWRITE, IN_Q_OVERFLOW = 0x20, 0x08, 0x10, 0x4000

    def __init__(self, folders: list[Path]):
        self.libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
        self.fd = self.libc.inotify_init1(os.O_NONBLOCK)
        if self.fd < 0:
            pytest.skip("inotify is not available here")
        mask = self.IN_OPEN | self.IN_CLOSE_WRITE | self.IN_CLOSE_NOWRITE
        self.folders = {
            self.libc.inotify_add_watch(self.fd, str(d).encode(), mask): d for d in folders
        }
        self.opens: Counter[str] = Counter()
        self.overflow, self.stop = False, threading.Event()
        self.thread = threading.Thread(target=self._drain, daemon=True)

    def _drain(self) -> None:
        while True:
            try:
                data = os.read(self.fd, 1 << 16)
            except BlockingIOError:
                if self.stop.is_set():
                    return
                self.stop.wait(0.001)
                continue
            at = 0
            while at < len(data):
                wd, mask, _cookie, size = struct.unpack_from("iIII", data, at)
                name = data[at + 16 : at + 16 + size].rstrip(b"\0").decode()
                at += 16 + size
                self.overflow |= bool(mask & self.IN_Q_OVERFLOW)
                if mask & self.IN_OPEN and name and wd in self.folders:  # files, not folders
                    self.opens[(self.folders[wd] / name).as_posix()] += 1

    def __enter__(self) -> _Opens:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join()
        os.close(self.fd)
        assert not self.overflow, "inotify queue overflowed: the counts are incomplete"


def test_a_release_opens_each_data_file_once(hub, tmp_path):
    """Secret scan, card statistics and the changelog against the previous release, from one
    open of each file (a dry run: uploading would read the files to send them)."""
    configs = corpus()
    release_build(
        write_build(tmp_path / "v1", configs),
        "p/once",
        endpoint=hub.endpoint,
        token=TOKEN,
        verify=False,
    )
    build = write_build(tmp_path / "v2", _changed(configs, 2))
    manifest = read_manifest(build)
    folders = sorted(
        {(build / f.path).parent for c in manifest.configs.values() for f in c.files()}
    )
    # the counter sees an open it did not make: it is listening
    with _Opens(folders) as probe:
        pq.read_metadata(build / next(manifest.configs["rewrite"].files()).path)
    assert sum(probe.opens.values()) == 1
    with _Opens(folders) as seen:
        dry = release_build(build, "p/once", endpoint=hub.endpoint, token=TOKEN, dry_run=True)
    assert dry.version == "1.1.0" and "2 added" in dry.plan.changelog  # the diff read rows
    paths = {(build / f.path).as_posix() for c in manifest.configs.values() for f in c.files()}
    assert set(seen.opens) == paths
    assert dict(seen.opens) == dict.fromkeys(paths, 1)
    # files of changed splits the release keeps byte for byte: the old side of the diff, read
    # from the build's copy before, came from the same single open
    v1 = read_manifest(tmp_path / "v1")
    old_shas = {f.sha256 for c in v1.configs.values() for f in c.files()}
    new_shas = {f.sha256 for c in manifest.configs.values() for f in c.files()}
    assert keyed_files(v1, manifest) & old_shas & new_shas, "no kept shard in a changed split"
