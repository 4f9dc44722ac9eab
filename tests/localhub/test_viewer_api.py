"""The Dataset Viewer API of the local Hub (``/datasets-server/...``): the bundled demo released
to a real in-process Hub on 127.0.0.1, every endpoint's body checked against datasets-server's
documented shape and against pyarrow / polars / ``datasets`` on the same Parquet files, the
error codes, private repos, and the viewer-compatibility check on deliberately bad files.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from urllib.parse import quote, urlencode, urlsplit

import datasets
import orjson
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from localhub_helpers import Http

from ocforge.flows.release import release_build
from ocforge.hub import LocalHub
from ocforge.hub.validation import make_repo_key
from ocforge.hub.viewer import query, search_index
from ocforge.hub.viewer.compat import check_configs, check_split
from ocforge.hub.viewer.rows import features_dict
from ocforge.hub.viewer.snapshot import load_snapshot, open_split
from ocforge.publish.file_pass import read_build_files
from ocforge.publish.hub_client import connect
from ocforge.publish.local_build import read_build
from ocforge.publish.viewer_report import viewer_report_lines

ALICE = "hf_viewer_alice_token_0001"
BOB = "hf_viewer_bob_token_0002"  # a reader outside alice's namespace
REPO, PRIVATE = "alice/demo", "alice/long-cells"
LONG = 150_000  # characters per cell of the private repo: its first rows are over 1 MB
LONG_CARD = """---
configs:
- config_name: default
  data_files:
  - split: train
    path: data/train-*.parquet
---
"""


@pytest.fixture(scope="module")
def viewer(demo_build, tmp_path_factory):
    work = tmp_path_factory.mktemp("viewer")
    build = work / "build"
    shutil.copytree(demo_build.out_dir, build)
    long_dir = work / "long"
    (long_dir / "data").mkdir(parents=True)
    (long_dir / "README.md").write_text(LONG_CARD)
    table = pa.table({"n": list(range(30)), "text": [chr(97 + i % 26) * LONG for i in range(30)]})
    pq.write_table(table, long_dir / "data/train-00000-of-00001.parquet")
    with LocalHub(work / "hub", tokens={ALICE: "alice", BOB: "bob"}) as hub:
        progress: list[str] = []
        result = release_build(
            build, REPO, endpoint=hub.endpoint, token=ALICE, verify=False, progress=progress.append
        )
        broken, hidden = work / "broken", work / "hidden"
        for folder, card in ((broken, LONG_CARD), (hidden, "---\nviewer: false\n---\n")):
            (folder / "data").mkdir(parents=True)
            (folder / "README.md").write_text(card)
            (folder / "data/train-00000-of-00001.parquet").write_bytes(b"PAR1 not Parquet PAR1")
        with connect(endpoint=hub.endpoint, token=ALICE) as conn:
            conn.api.create_repo(PRIVATE, repo_type="dataset", private=True)
            conn.api.upload_folder(repo_id=PRIVATE, repo_type="dataset", folder_path=long_dir)
            for name, folder in (("alice/broken", broken), ("alice/hidden", hidden)):
                conn.api.create_repo(name, repo_type="dataset")
                conn.api.upload_folder(repo_id=name, repo_type="dataset", folder_path=folder)
            conn.api.update_repo_settings("alice/hidden", gated="auto", repo_type="dataset")
        yield {"hub": hub, "http": Http(hub.endpoint), "build": build, "release": result,
               "progress": progress}  # fmt: skip


def call(viewer, endpoint: str, token: str | None = None, host: str | None = None, **params):
    query = urlencode({"dataset": REPO, **params})
    headers = {"Host": host} if host else None
    status, headers, data = viewer["http"]("GET", f"/datasets-server/{endpoint}?{query}", None,
                                           token, headers)  # fmt: skip
    return status, headers, json.loads(data)


def ok(viewer, endpoint: str, **params) -> dict:
    status, headers, body = call(viewer, endpoint, **params)
    assert status == 200, body
    assert headers["X-Revision"] == viewer["release"].commit
    return body


def split_table(viewer, config: str, split: str) -> pa.Table:
    files = sorted((viewer["build"] / "data" / config).glob(f"{split}-*.parquet"))
    return pa.concat_tables([pq.read_table(f) for f in files])


def test_splits_and_is_valid(viewer):
    body = ok(viewer, "splits")
    manifest = json.loads((viewer["build"] / "release.json").read_text())
    expected = [(c, s) for c, entry in manifest["configs"].items() for s in entry["splits"]]
    assert {(s["config"], s["split"]) for s in body["splits"]} == set(expected)
    assert all(s["dataset"] == REPO for s in body["splits"])
    assert body["pending"] == [] and body["failed"] == []
    assert ok(viewer, "splits", config="rewrite")["splits"] == [
        {"dataset": REPO, "config": "rewrite", "split": s} for s in ("train", "test")
    ]
    valid = ok(viewer, "is-valid")
    assert valid == dict.fromkeys(("viewer", "preview", "search", "filter", "statistics"), True)
    # the release checked its files against the viewer's rules before pushing them
    assert any("viewer check:" in line and "can show every split" in line
               for line in viewer["progress"])  # fmt: skip


def test_first_rows_and_rows_pages(viewer):
    table = split_table(viewer, "rewrite", "train")
    first = ok(viewer, "first-rows", config="rewrite", split="train")
    assert set(first) == {"dataset", "config", "split", "features", "rows", "truncated"}
    features = datasets.Features.from_arrow_schema(table.schema).to_dict()
    assert first["features"] == [
        {"feature_idx": i, "name": n, "type": features[n]} for i, n in enumerate(features)
    ]
    assert first["truncated"] is False and len(first["rows"]) == table.num_rows < 100
    assert [r["row"] for r in first["rows"]] == table.to_pylist()
    page = ok(viewer, "rows", config="rewrite", split="train", offset="50", length="7")
    assert set(page) == {"features", "rows", "num_rows_total", "num_rows_per_page", "partial"}
    assert (page["num_rows_total"], page["num_rows_per_page"], page["partial"]) == (61, 100, False)
    assert [r["row_idx"] for r in page["rows"]] == list(range(50, 57))
    assert [r["row"] for r in page["rows"]] == table.slice(50, 7).to_pylist()
    assert all(r["truncated_cells"] == [] for r in page["rows"])
    tail = ok(viewer, "rows", config="rewrite", split="train", offset="60")
    assert [r["row_idx"] for r in tail["rows"]] == [60]
    assert ok(viewer, "rows", config="rewrite", split="train", offset="61")["rows"] == []


def test_first_rows_cut_long_cells_within_1mb(viewer):
    status, _, body = call(viewer, "first-rows", token=ALICE, dataset=PRIVATE, config="default",
                           split="train")  # fmt: skip
    assert status == 200, body
    assert len(orjson.dumps(body)) <= 1_000_000 and len(body["rows"]) >= 10
    assert body["truncated"] is True
    cut_rows = [item["row_idx"] for item in body["rows"] if item["truncated_cells"]]
    # as the viewer does: the last rows are cut first, only as many as the 1 MB needs
    assert cut_rows and cut_rows == list(range(10 - len(cut_rows), 10))
    for item in body["rows"]:
        letter = chr(97 + item["row_idx"] % 26)
        if item["truncated_cells"]:
            assert item["truncated_cells"] == ["text"]
            cut = item["row"]["text"]  # the cell's JSON text, cut to 100 bytes
            assert len(cut.encode()) <= 100 and cut.startswith('"' + letter * 10)
        else:
            assert item["row"]["text"] == letter * LONG
    # /rows never cuts: the page has the whole cells
    status, _, page = call(viewer, "rows", token=ALICE, dataset=PRIVATE, config="default",
                           split="train", length="2")  # fmt: skip
    assert [len(r["row"]["text"]) for r in page["rows"]] == [LONG, LONG]


def test_search_finds_a_known_string(viewer):
    table = pl.from_arrow(split_table(viewer, "rewrite", "train"))
    text_cols = [c for c, t in table.schema.items() if t == pl.String]
    word = "COFFEE"
    hits = (
        table.with_row_index("i")
        .filter(
            pl.any_horizontal(
                pl.col(c).str.to_lowercase().str.contains(word.lower()) for c in text_cols
            )
        )["i"]
        .to_list()
    )
    assert hits, "the demo has a dialogue about coffee"
    body = ok(viewer, "search", config="rewrite", split="train", query=word)
    assert body["num_rows_total"] == len(hits)
    assert [r["row_idx"] for r in body["rows"]] == hits
    assert all(word.lower() in json.dumps(r["row"]).lower() for r in body["rows"])
    second = ok(viewer, "search", config="rewrite", split="train", query=word, offset="1")
    assert [r["row_idx"] for r in second["rows"]] == hits[1:]
    none = ok(viewer, "search", config="rewrite", split="train", query="zzqx_nowhere%")
    assert (none["num_rows_total"], none["rows"]) == (0, [])
    # the search index (built in the background) and the scan of the Parquet files agree
    hub = viewer["hub"]
    repo = hub.store.get_repo(make_repo_key("dataset", *REPO.split("/")))
    snapshot = load_snapshot(hub.store.root, repo, repo.key, viewer["release"].commit)
    split = open_split(hub.store.root, hub.store.xet, repo, snapshot, "rewrite", "train")
    for _ in range(100):
        scanned = search_index.indexed_search(hub.store.root, split, "Coffee cup")
        if scanned is not None:
            break
        time.sleep(0.05)
    where_sql, values, columns = query.search_condition(split, "Coffee cup")
    direct = query.matching_rows(split, "direct", columns, where_sql, values, "")
    assert scanned is not None and scanned.tolist() == direct.tolist() and direct.size


def test_filter_by_column_and_order(viewer):
    table = pl.from_arrow(split_table(viewer, "rewrite", "train")).with_row_index("i")
    where = '"source_corpus" = \'lima\' AND "quality"."response_words" >= 60'
    expected = table.filter(
        (pl.col("source_corpus") == "lima")
        & (pl.col("quality").struct.field("response_words") >= 60)
    ).sort("dialogue_id", descending=True)
    assert 0 < expected.height < table.height
    body = ok(viewer, "filter", config="rewrite", split="train", where=where,
              orderby='"dialogue_id" DESC')  # fmt: skip
    assert body["num_rows_total"] == expected.height
    assert [r["row_idx"] for r in body["rows"]] == expected["i"].to_list()
    ids = [r["row"]["dialogue_id"] for r in body["rows"]]
    assert ids == sorted(ids, reverse=True)
    quoted = ok(viewer, "filter", config="rewrite", split="train",
                where="\"question\" ILIKE '%what''s%' OR \"question\" IS NULL")  # fmt: skip
    assert (
        quoted["num_rows_total"]
        == table.filter(
            pl.col("question").str.to_lowercase().str.contains("what's", literal=True)
        ).height
    )


def _count_in_bins(values: list[float], edges: list[float]) -> list[int]:
    counts = [0] * (len(edges) - 1)
    for v in values:
        i = next(i for i in range(len(counts)) if v < edges[i + 1] or i == len(counts) - 1)
        counts[i] += 1
    return counts


def test_statistics_match_polars(viewer):
    body = ok(viewer, "statistics", config="characters", split="train")
    table = pl.from_arrow(split_table(viewer, "characters", "train"))
    assert body["num_examples"] == table.height and body["partial"] is False
    stats = {s["column_name"]: s for s in body["statistics"]}
    assert list(stats) == sorted(stats)
    age = stats["age_years"]
    assert age["column_type"] == "int"
    col = table["age_years"].drop_nulls()
    got = age["column_statistics"]
    assert (got["min"], got["max"]) == (col.min(), col.max())
    assert got["mean"] == pytest.approx(col.mean(), abs=1e-5)
    assert got["median"] == pytest.approx(col.median(), abs=1e-5)
    assert got["std"] == pytest.approx(col.std(), abs=1e-5)
    assert got["nan_count"] == table["age_years"].null_count()
    hist = got["histogram"]
    assert hist["hist"] == _count_in_bins(col.to_list(), hist["bin_edges"])
    gender = stats["gender"]
    assert gender["column_type"] == "string_label"
    counts = dict(table["gender"].value_counts().iter_rows())
    assert gender["column_statistics"]["frequencies"] == counts
    profile = stats["profile"]
    assert profile["column_type"] == "string_text"
    lengths = table["profile"].str.len_chars()
    assert (profile["column_statistics"]["min"], profile["column_statistics"]["max"]) == (
        lengths.min(), lengths.max())  # fmt: skip
    assert sum(profile["column_statistics"]["histogram"]["hist"]) == table.height
    dialogues = ok(viewer, "statistics", config="rewrite", split="train")
    messages = {s["column_name"]: s for s in dialogues["statistics"]}["messages"]
    lens = pl.from_arrow(split_table(viewer, "rewrite", "train"))["messages"].list.len()
    assert messages["column_type"] == "list"
    assert messages["column_statistics"]["max"] == lens.max()


def test_features_are_datasets_features():
    schema = pa.schema({
        "s": pa.large_string(), "f": pa.float64(), "h": pa.float16(), "b": pa.bool_(),
        "u": pa.uint64(), "bin": pa.large_binary(), "ll": pa.large_list(pa.int16()),
        "fixed": pa.list_(pa.string(), 3), "nested": pa.list_(pa.list_(pa.int64())),
        "st": pa.struct({"x": pa.uint8(), "y": pa.list_(pa.struct({"r": pa.string()}))}),
        "t": pa.timestamp("ms", tz="UTC"), "d": pa.dictionary(pa.int32(), pa.string()),
    })  # fmt: skip
    for names in (schema.names[:-2], schema.names):  # without, then with the rarer types
        part = pa.schema([schema.field(n) for n in names])
        expected = datasets.Features.from_arrow_schema(part).to_dict()
        assert features_dict(part) == expected and list(features_dict(part)) == list(expected)


def test_info_is_what_datasets_reads(viewer):
    body = ok(viewer, "info")
    assert body["partial"] is False and not body["pending"] and not body["failed"]
    for config, raw in body["dataset_info"].items():
        info = datasets.DatasetInfo.from_dict(raw)
        for split in info.splits:
            table = split_table(viewer, config, split)
            assert info.features == datasets.Features.from_arrow_schema(table.schema)
            assert info.splits[split].num_examples == table.num_rows
        assert (info.config_name, info.builder_name) == (config, "parquet")
    one = ok(viewer, "info", config="rewrite")["dataset_info"]
    assert one == body["dataset_info"]["rewrite"]
    # datasets asks datasets-server.<HF_ENDPOINT host>/info: the same answer on that host
    host = "datasets-server." + urlsplit(viewer["hub"].endpoint).netloc
    status, headers, data = viewer["http"]("GET", f"/info?dataset={REPO}", headers={"Host": host})
    assert status == 200 and headers["X-Revision"] == viewer["release"].commit
    assert json.loads(data) == body


def test_size_and_parquet_urls(viewer):
    size = ok(viewer, "size")["size"]
    rows = {c: sum(s["rows"] for s in e["splits"].values())
            for c, e in json.loads((viewer["build"] / "release.json").read_text())["configs"].items()}  # fmt: skip
    assert {c["config"]: c["num_rows"] for c in size["configs"]} == rows
    assert size["dataset"]["num_rows"] == sum(rows.values())
    files = ok(viewer, "parquet", config="rewrite")["parquet_files"]
    assert {(f["split"], f["filename"]) for f in files} == {
        ("train", "train-00000-of-00001.parquet"), ("test", "test-00000-of-00001.parquet")}  # fmt: skip
    local = viewer["build"] / "data/rewrite/train-00000-of-00001.parquet"
    train = next(f for f in files if f["split"] == "train")
    status, _, data = viewer["http"]("GET", urlsplit(train["url"]).path)
    assert (
        status == 200
        and hashlib.sha256(data).digest() == hashlib.sha256(local.read_bytes()).digest()
    )
    assert train["size"] == local.stat().st_size
    status, _, data = viewer["http"]("GET", f"/api/datasets/{REPO}/parquet")
    urls = json.loads(data)
    assert status == 200 and set(urls["rewrite"]) == {"train", "test"}
    status, headers, _ = viewer["http"]("GET", urlsplit(urls["rewrite"]["train"][0]).path)
    assert status == 302 and headers["Location"] == train["url"]
    status, _, data = viewer["http"]("GET", f"/api/datasets/{REPO}/parquet/rewrite/test")
    assert json.loads(data) == urls["rewrite"]["test"]


@pytest.mark.parametrize(
    ("params", "status", "code", "words"),
    [
        ({"config": "rewrite"}, 422, "MissingRequiredParameter", "'split' is required"),
        ({"config": "nope", "split": "train"}, 404, "ResponseNotFound", "no config 'nope'"),
        ({"config": "rewrite", "split": "dev"}, 404, "ResponseNotFound", "no split 'dev'"),
        ({"config": "rewrite", "split": "train", "length": "101"}, 422, "InvalidParameter",
         "greater than 100"),
        ({"config": "rewrite", "split": "train", "offset": "-1"}, 422, "InvalidParameter",
         "must be positive"),
        ({"config": "rewrite", "split": "train", "revision": "v9.9.9"}, 404, "RevisionNotFound",
         "v9.9.9"),
    ],
)  # fmt: skip
def test_rows_errors(viewer, params, status, code, words):
    got_status, headers, body = call(viewer, "rows", **params)
    assert (got_status, headers["X-Error-Code"]) == (status, code)
    assert words in body["error"]


@pytest.mark.parametrize(
    ("where", "words"),
    [
        ('"nope" = 1', "column 'nope'"),
        ("\"question\" = 'x'; DROP TABLE data", "cannot be parsed"),
        ("\"question\" = 'x' -- comment", "cannot be parsed"),
        ('"question" = (SELECT 1)', "expects a value"),
        ("\"question\" = 'a' OR", "ends too early"),
        ('length("question") > 3', "calls a function"),
        ('"question" LIKE 3', "expects a 'pattern'"),
        ('"quality"."nope" > 3', "sub-field 'nope'"),
        ('"quality" > 3', "A query parameter is invalid"),
    ],
)
def test_filter_refuses_bad_where_clauses(viewer, where, words):
    status, headers, body = call(viewer, "filter", config="rewrite", split="train", where=where)
    assert (status, headers["X-Error-Code"]) == (422, "InvalidParameter"), body
    assert words in body["error"]


def test_private_repo_needs_its_owner(viewer):
    params = {"dataset": PRIVATE, "config": "default", "split": "train"}
    status, headers, body = call(viewer, "rows", **params)
    assert (status, headers["X-Error-Code"]) == (401, "ExternalUnauthenticatedError")
    assert "not accessible without authentication" in body["error"]
    status, headers, _ = call(viewer, "rows", token=BOB, **params)
    assert (status, headers["X-Error-Code"]) == (404, "ExternalAuthenticatedError")
    missing_status, _, missing = call(viewer, "rows", **{**params, "dataset": "alice/missing"})
    assert (missing_status, missing) == (401, body)  # a missing dataset looks like a private one
    status, _, page = call(viewer, "rows", token=ALICE, **params)
    assert status == 200 and page["num_rows_total"] == 30
    status, _, _ = viewer["http"]("GET", f"/api/datasets/{quote(PRIVATE)}/parquet")
    assert status == 401


def test_revision_parameter(viewer):
    commit = viewer["release"].commit
    for revision in ("v1.0.0", commit, "main"):
        body = ok(viewer, "splits", revision=revision)
        assert body["splits"]
    status, headers, _ = call(viewer, "nope")
    assert (status, headers["X-Error-Code"]) == (404, "NotFound")


def test_compatibility_flags_what_the_viewer_refuses(viewer, tmp_path):
    body = ok(viewer, "compatibility")
    assert (body["compatible"], body["errors"], body["warnings"]) == (True, [], [])
    # one row group of 301 MB uncompressed, written without a page index
    big = tmp_path / "big.parquet"
    blob = pa.repeat(pa.scalar("x" * 1_000_000), 301)
    pq.write_table(pa.table({"text": blob}), big, row_group_size=301, use_dictionary=False,
                   compression="lz4", write_page_index=False)  # fmt: skip
    wide = tmp_path / "wide.parquet"
    pq.write_table(pa.table({f"c{i}": [i] for i in range(1001)}), wide, write_page_index=True)
    junk = tmp_path / "junk.parquet"
    junk.write_bytes(b"PAR1 not really")
    report = check_configs({
        "big": {"train": [("big.parquet", big)]},
        "wide": {"train": [("wide.parquet", wide)]},
        "junk": {"train": [("junk.parquet", junk)]},
    })  # fmt: skip
    assert not report.ok
    rules = {(f.config, f.rule, f.level) for f in report.findings}
    assert ("big", "row-group-size", "error") in rules and ("big", "page-index", "warning") in rules
    assert ("wide", "columns", "error") in rules and ("junk", "readable", "error") in rules
    # a build with long first rows and no page index: warned, but the viewer shows it
    build = viewer["build"].parent / "warned"
    shutil.copytree(viewer["build"], build)
    shard = build / "data/rewrite/train-00000-of-00001.parquet"
    table = pq.read_table(shard)
    long_text = pa.array(["w" * 200_000] * table.num_rows)
    table = table.set_column(table.schema.get_field_index("response"), "response", long_text)
    pq.write_table(table, shard, write_page_index=False)
    local = read_build(build)
    lines = viewer_report_lines(read_build_files(local.root, local.manifest))
    assert lines[0].startswith("viewer check:") and "warnings" in lines[0]
    assert any("rewrite/train" in line and "cells cut" in line for line in lines)
    assert any("no page index" in line for line in lines)
    found = check_split("rewrite", "train", [(shard.name, shard)])
    assert {f.level for f in found} == {"warning"}


def test_unreadable_files_and_disabled_viewer(viewer):
    status, headers, body = call(viewer, "rows", dataset="alice/broken", config="default",
                                 split="train")  # fmt: skip
    assert (status, headers["X-Error-Code"]) == (500, "FileSystemError")
    assert "not a readable Parquet file" in body["error"]
    valid = call(viewer, "is-valid", dataset="alice/broken")[2]
    assert not any(valid.values())
    report = call(viewer, "compatibility", dataset="alice/broken")[2]
    assert report["compatible"] is False
    assert [e["rule"] for e in report["errors"]] == ["readable"]
    # alice/hidden is gated (only its namespace reads it) and says viewer: false
    hidden = {"dataset": "alice/hidden"}
    assert call(viewer, "is-valid", **hidden)[0] == 401
    assert (
        call(viewer, "is-valid", token=BOB, **hidden)[1]["X-Error-Code"]
        == "ExternalAuthenticatedError"
    )
    assert not any(call(viewer, "is-valid", token=ALICE, **hidden)[2].values())
    status, headers, _ = call(viewer, "splits", token=ALICE, **hidden)
    assert (status, headers["X-Error-Code"]) == (501, "DatasetViewerDisabledError")


def test_index_leftovers_of_dead_servers_are_removed(tmp_path):
    dead_pid = 2**31 - 2  # above any pid_max: no such process
    names = [
        f".abc.duckdb.{dead_pid}.7.tmp",  # a build killed with its server
        f".abc.duckdb.{dead_pid}.7.tmp.wal",  # and DuckDB's log beside it
        f".abc.duckdb.{os.getpid()}.7.tmp",  # a build under way in a live server
        "abc.duckdb",  # a finished index
    ]
    for name in names:
        (tmp_path / name).write_bytes(b"x")
    assert search_index.remove_dead_leftovers(tmp_path) == sorted(names[:2])
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(names[2:])
    assert search_index.remove_dead_leftovers(tmp_path / "missing") == []
