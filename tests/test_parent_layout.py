"""The layout that follows a parent release (ocforge/parent_layout.py, ocforge/layout.py).

Real Parquet files written by ``write_config`` and read back as a parent's layout; no Hub here
(tests/localhub/test_xet_release.py releases and measures Xet uploads).
"""

from __future__ import annotations

import contextlib
import random
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ocforge.hashing import file_sha256
from ocforge.layout import write_config
from ocforge.parent_layout import LayoutParent, ParentLayout, read_parent_layout
from ocforge.publish.rows_build import synthetic_corpus
from ocforge.records import dialogue_id

PARENT = LayoutParent(repo="org/data", version="1.0.0", tag="v1.0.0", commit="a" * 40)
KW = dict(test_fraction=0.2, seed=0, max_shard_rows=60, row_group_rows=16)


def _write(root: Path, rows: list[dict], schema: pa.Schema, parent=None, threads=None):
    splits = write_config(rows, schema, "generate", root, parent=parent, threads=threads, **KW)
    return {f.path: (root / f.path).read_bytes() for s in splits.values() for f in s.files}


def _layout(root: Path, files: dict[str, bytes]) -> ParentLayout:
    listed = [("dialogues", path, file_sha256(root / path)) for path in sorted(files)]

    @contextlib.contextmanager
    def open_file(path: str, sha256: str):
        assert file_sha256(root / path) == sha256
        with (root / path).open("rb") as fh:
            yield fh

    return read_parent_layout(PARENT, listed, open_file)


def _ids(data: bytes, column: str = "dialogue_id") -> list[list[str]]:
    pf = pq.ParquetFile(pa.BufferReader(data))
    return [
        pf.read_row_group(g, columns=[column]).column(0).to_pylist()
        for g in range(pf.metadata.num_row_groups)
    ]


@pytest.fixture(scope="module")
def corpus():
    configs = synthetic_corpus(40, 12, seed=5)
    gen = configs["generate"]
    # 10% more: new characters asking new questions (a second corpus, other ids)
    more = synthetic_corpus(4, 12, seed=99)["generate"].rows
    return gen.schema, gen.rows, more


def test_following_a_layout_of_the_same_rows_gives_the_same_bytes(tmp_path, corpus):
    schema, rows, _ = corpus
    first = _write(tmp_path / "v1", rows, schema)
    assert len(first) > 4  # several shards in both splits
    again = _write(
        tmp_path / "v2", rows, schema, parent=_layout(tmp_path / "v1", first).splits("generate")
    )
    assert again == first


def test_new_rows_follow_the_parents_rows_in_every_shard(tmp_path, corpus):
    schema, rows, more = corpus
    first = _write(tmp_path / "v1", rows, schema)
    parent = _layout(tmp_path / "v1", first)
    shuffled = random.Random(3).sample(rows + more, len(rows) + len(more))
    second = _write(tmp_path / "v2", shuffled, schema, parent=parent.splits("generate"))
    assert sorted(second) == sorted(first)  # same files: same shard counts
    new_ids = {r["dialogue_id"] for r in more}
    grew = 0
    for path, data in second.items():
        old_groups, new_groups = _ids(first[path]), _ids(data)
        k = len(old_groups)
        # the parent's row groups first, unchanged, then row groups of new rows only
        assert new_groups[:k] == old_groups
        tail = [i for g in new_groups[k:] for i in g]
        assert set(tail) <= new_ids and tail == sorted(tail)
        assert all(len(g) <= KW["row_group_rows"] for g in new_groups[k:])
        grew += bool(tail)
        # the bytes of the parent's row groups are the parent's bytes
        end = _row_groups_end(first[path])
        assert data[:end] == first[path][:end]
    assert grew >= 2
    # a rebuild from scratch against the same parent, in another order and with more threads
    again = _write(
        tmp_path / "v2b",
        list(reversed(shuffled)),
        schema,
        parent=parent.splits("generate"),
        threads=3,
    )
    assert again == second


def _row_groups_end(data: bytes) -> int:
    """Offset just past the last row group's column chunks (where the footer begins)."""
    meta = pq.ParquetFile(pa.BufferReader(data)).metadata
    end = 4  # the leading magic
    for g in range(meta.num_row_groups):
        for c in range(meta.num_columns):
            col = meta.row_group(g).column(c)
            start = min(o for o in (col.dictionary_page_offset, col.data_page_offset) if o)
            end = max(end, start + col.total_compressed_size)
    return end


def test_removed_and_edited_rows_leave_the_other_rows_in_place(tmp_path, corpus):
    schema, rows, _ = corpus
    first = _write(tmp_path / "v1", rows, schema)
    parent = _layout(tmp_path / "v1", first)
    rng = random.Random(7)
    edited = [dict(r) for r in rows]
    changed = set()
    for i in rng.sample(range(len(edited)), 12):
        row = edited[i]
        row["response"] += " (revised)"
        row["dialogue_id"] = dialogue_id(
            row["strategy"], row["character_id"], row["question"], row["response"]
        )
        changed.add(rows[i]["dialogue_id"])
    second = _write(tmp_path / "v2", edited, schema, parent=parent.splits("generate"))
    assert sorted(second) == sorted(first)
    for path, data in second.items():
        old = [[i for i in g if i not in changed] for g in _ids(first[path])]
        new = _ids(data)
        assert new[: len([g for g in old if g])] == [g for g in old if g]


def test_a_split_that_outgrew_its_parent_is_laid_out_afresh(tmp_path, corpus):
    schema, rows, _ = corpus
    small = rows[: len(rows) // 8]
    first = _write(tmp_path / "v1", small, schema)
    parent = _layout(tmp_path / "v1", first)
    followed = _write(tmp_path / "v2", rows, schema, parent=parent.splits("generate"))
    fresh = _write(tmp_path / "v3", rows, schema)
    assert followed == fresh


def test_layout_record_and_released_ids(tmp_path, corpus):
    schema, rows, _ = corpus
    first = _write(tmp_path / "v1", rows, schema)
    parent = _layout(tmp_path / "v1", first)
    assert parent.record() == {
        "parent": {"repo": "org/data", "version": "1.0.0", "tag": "v1.0.0", "commit": "a" * 40}
    }
    assert parent.released_ids("generate") == sorted(r["dialogue_id"] for r in rows)
    assert parent.released_ids("rewrite") == []
    # with where each row was read from, which tells verbatim copies (one id) apart
    want = sorted((r["dialogue_id"], "synthetic", r["provenance"]["line"]) for r in rows)
    assert parent.released_rows("generate") == want


def test_configs_ocforge_did_not_lay_out_are_left_out(tmp_path, corpus):
    """A config with a file of another name, or a split missing a shard, is not followed (its
    files are laid out afresh); the other configs still are."""
    schema, rows, _ = corpus
    first = _write(tmp_path / "v1", rows, schema)
    root = tmp_path / "v1"
    listed = [("dialogues", path, file_sha256(root / path)) for path in sorted(first)]
    opened = []

    @contextlib.contextmanager
    def open_file(path: str, sha256: str):
        opened.append(path)
        with (root / path).open("rb") as fh:
            yield fh

    odd = [("dialogues", "data/rewrite/part-0.parquet", "x")]
    gap = [(k, p.replace("generate", "other"), s) for k, p, s in listed[:-1]]  # no last shard
    layout = read_parent_layout(PARENT, listed + odd + gap, open_file)
    assert sorted(layout.configs) == ["generate"] and sorted(opened) == sorted(first)
