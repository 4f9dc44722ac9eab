"""Splits, shards and configs with no rows: the layout writes only what ``load_dataset`` can read,
and a release of such a build loads in full (issue 13, "Never tag what does not load")."""

from __future__ import annotations

import json

import datasets
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from release_helpers import RECIPE, TOKEN, client, corpus, refs, write_build

from ocforge.errors import OcforgeError, VerificationError
from ocforge.flows.release import release_build
from ocforge.hashing import file_sha256
from ocforge.hub import LocalHub
from ocforge.layout import write_config
from ocforge.publish.history import list_releases

# a positive test fraction that no character's hash falls under: the test split gets no rows
NO_TEST = 1e-12
NO_TEST_RECIPE = RECIPE + f"splits:\n  test_fraction: {NO_TEST}\n"


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    with LocalHub(tmp_path_factory.mktemp("hub"), tokens={TOKEN: "alice"}) as running:
        yield running


def _release(hub, build, repo, **kw):
    return release_build(build, repo, endpoint=hub.endpoint, token=TOKEN, **kw)


def _load_local(files: dict[str, list[str]], cache) -> datasets.DatasetDict:
    return datasets.load_dataset("parquet", data_files=files, cache_dir=str(cache))


def test_empty_split_is_left_out_and_named(tmp_path):
    spec = corpus(6, 2)["rewrite"]
    splits = write_config(
        spec.rows,
        spec.schema,
        "rewrite",
        tmp_path,
        test_fraction=NO_TEST,
        seed=0,
        max_shard_rows=100,
        row_group_rows=100,
    )
    assert list(splits) == ["train"] and splits.left_out == ("test",)
    assert splits["train"].rows == len(spec.rows)
    assert not list((tmp_path / "data" / "rewrite").glob("test-*"))  # no file for it
    loaded = _load_local(
        {"train": [str(tmp_path / f.path) for f in splits["train"].files]}, tmp_path / "c"
    )
    assert loaded["train"].num_rows == len(spec.rows)

    nothing = write_config(
        [],
        spec.schema,
        "empty",
        tmp_path,
        test_fraction=0.1,
        seed=0,
        max_shard_rows=10,
        row_group_rows=10,
    )
    assert dict(nothing) == {} and nothing.left_out == ("train", "test")


def test_empty_shard_of_a_split_loads(tmp_path):
    # 3 rows in shards of 1 row: 4 shards (a power of two), so at least one shard holds no row
    spec = corpus(3, 1)["characters"]
    splits = write_config(
        spec.rows,
        spec.schema,
        "characters",
        tmp_path,
        test_fraction=0.0,
        seed=0,
        max_shard_rows=1,
        row_group_rows=1,
    )
    files = splits["train"].files
    assert len(files) == 4 and any(f.rows == 0 for f in files)
    loaded = _load_local({"train": [str(tmp_path / f.path) for f in files]}, tmp_path / "c")
    assert loaded["train"].num_rows == 3
    assert loaded["train"].features == datasets.Features.from_arrow_schema(spec.schema)


def test_release_with_empty_split_and_empty_config_loads_every_split(hub, tmp_path):
    configs = corpus(8, 2)
    configs["generate"].rows = []  # every dialogue of this config was filtered
    build = write_build(tmp_path / "b", configs, recipe=NO_TEST_RECIPE, test_fraction=NO_TEST)
    result = _release(hub, build, "alice/empty-split", verify=True)
    assert (result.status, result.tag) == ("released", "v1.0.0")
    manifest = json.loads((build / "release.json").read_text())
    assert manifest["configs"]["generate"] == {
        **manifest["configs"]["generate"],
        "rows": 0,
        "splits": {},
    }
    assert list(manifest["configs"]["rewrite"]["splits"]) == ["train"]

    assert refs(hub, "alice/empty-split")["tags"] == {"v1.0.0": result.commit}
    assert {(v.config, v.split) for v in result.verified} == {
        ("characters", "train"),
        ("rewrite", "train"),
    }

    loaded = client(
        hub,
        """
        import json
        from datasets import get_dataset_config_names, load_dataset
        out = {"configs": sorted(get_dataset_config_names("alice/empty-split", revision="v1.0.0"))}
        for config in out["configs"]:
            ds = load_dataset("alice/empty-split", config, revision="v1.0.0")
            out[config] = {s: [d.num_rows, d.features.to_dict()] for s, d in ds.items()}
        print(json.dumps(out))
        """,
        tmp_path,
    )
    # the empty config is not offered; every split that is loads with its rows and features
    assert loaded["configs"] == ["characters", "rewrite"]
    for name in ("characters", "rewrite"):
        features = datasets.Features.from_arrow_schema(configs[name].schema).to_dict()
        assert loaded[name] == {"train": [len(configs[name].rows), features]}
    # the card's split table shows the left-out test split as "-"
    readme = client(
        hub,
        """
        import json
        from huggingface_hub import hf_hub_download
        path = hf_hub_download("alice/empty-split", "README.md", repo_type="dataset", revision="v1.0.0")
        print(json.dumps(open(path, encoding="utf-8").read()))
        """,
        tmp_path,
    )
    assert f"| `rewrite` | dialogues | {len(configs['rewrite'].rows)} | - |" in readme
    assert "data/rewrite/test-" not in readme and "config_name: generate" not in readme
    assert [
        r.rows for r in list_releases("alice/empty-split", endpoint=hub.endpoint, token=TOKEN)
    ] == [{"characters": 8, "rewrite": len(configs["rewrite"].rows), "generate": 0}]


def test_build_of_the_earlier_layout_is_not_tagged(hub, tmp_path):
    """A build folder written before this fix: its empty test split is one row group of 0 rows,
    which load_dataset rejects; the release stops before the tag."""
    configs = corpus(8, 2)
    build = write_build(
        tmp_path / "b",
        {"characters": configs["characters"]},
        recipe=NO_TEST_RECIPE,
        test_fraction=NO_TEST,
    )
    schema = configs["characters"].schema
    rel = "data/characters/test-00000-of-00001.parquet"
    pq.write_table(pa.Table.from_pylist([], schema=schema), build / rel)  # as the old layout did
    assert pq.ParquetFile(build / rel).metadata.num_row_groups == 1
    manifest = json.loads((build / "release.json").read_text())
    manifest["configs"]["characters"]["splits"]["test"] = {
        "rows": 0,
        "num_bytes": 0,
        "files": [
            {
                "path": rel,
                "rows": 0,
                "bytes": (build / rel).stat().st_size,
                "sha256": file_sha256(build / rel),
            }
        ],
    }
    (build / "release.json").write_text(json.dumps(manifest))
    with pytest.raises(VerificationError) as err:
        _release(hub, build, "alice/old-layout", verify=True)
    assert refs(hub, "alice/old-layout")["tags"] == {}
    message = str(err.value)
    assert message.startswith("v1.0.0 was not tagged: commit ") and "\n" not in message
    assert "characters: DatasetGenerationError" in message
    assert "ArrowInvalid: BatchSize must be greater than 0" in message
    assert list_releases("alice/old-layout", endpoint=hub.endpoint, token=TOKEN) == []


def test_build_with_no_rows_at_all_is_refused_before_pushing(hub, tmp_path):
    configs = corpus(2, 2)
    for spec in configs.values():
        spec.rows = []
    build = write_build(tmp_path / "b", configs)
    with pytest.raises(OcforgeError, match="nothing to release: every config .* has 0 rows"):
        _release(hub, build, "alice/nothing")
    from huggingface_hub.errors import RepositoryNotFoundError

    with pytest.raises(RepositoryNotFoundError):
        refs(hub, "alice/nothing")
