"""Same inputs and recipe -> same ids, row order and file hashes, whatever the task layout."""

from __future__ import annotations

import hashlib
import json
import shutil

import pyarrow.parquet as pq
import yaml

from ocforge.flows.build import build
from ocforge.recipe import DEMO_RECIPE, load_recipe


def _hashes(root):
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted((root / "data").rglob("*.parquet"))
    }


def _ids(root):
    return {
        p.relative_to(root).as_posix(): pq.read_table(p).column(0).to_pylist()
        for p in sorted((root / "data").rglob("*.parquet"))
    }


def test_two_builds_are_identical(demo_build, demo_recipe, tmp_path):
    again = build(demo_recipe, tmp_path / "again")
    assert _ids(again.out_dir) == _ids(demo_build.out_dir)
    assert _hashes(again.out_dir) == _hashes(demo_build.out_dir)
    assert (again.out_dir / "release.json").read_bytes() == (
        demo_build.out_dir / "release.json"
    ).read_bytes()
    assert (again.out_dir / "README.md").read_bytes() == (
        demo_build.out_dir / "README.md"
    ).read_bytes()


def test_parallel_executor_gives_the_same_files(demo_build, tmp_path):
    """Two tasks on two worker processes: the same rows, ids and Parquet bytes as one task."""
    # a copy of the demo folder, so that input paths relative to the recipe stay the same
    shutil.copytree(DEMO_RECIPE.parent, tmp_path / "demo")
    data = yaml.safe_load(DEMO_RECIPE.read_text())
    data["executor"] = {"type": "local", "tasks": 2, "workers": 2}
    recipe_path = tmp_path / "demo" / "recipe.yaml"
    recipe_path.write_text(yaml.safe_dump(data, sort_keys=False))
    parallel = build(load_recipe(recipe_path), tmp_path / "parallel")
    assert _hashes(parallel.out_dir) == _hashes(demo_build.out_dir)
    assert parallel.ledger.to_dict() == demo_build.ledger.to_dict()


def test_manifest_file_hashes_match_the_files(demo_build):
    manifest = json.loads((demo_build.out_dir / "release.json").read_text())
    listed = {
        f["path"]: f["sha256"]
        for cfg in manifest["configs"].values()
        for split in cfg["splits"].values()
        for f in split["files"]
    }
    assert listed == _hashes(demo_build.out_dir)


def test_near_dedup_in_the_last_stage_gives_what_its_own_stage_gives(
    demo_build, demo_recipe, tmp_path, monkeypatch
):
    """Dialogue configs run MinHash stage 4 in their last stage, reading the exact-dedup shards
    (the test-question index skips what it removes). Running it as its own stage, as the
    characters config does, must give the same files, ledger and duplicate links."""
    from ocforge.flows.curation import Stages

    curate = Stages.curate

    def own_stage(self, *args, **kwargs):
        kwargs["defer_near"] = False
        return curate(self, *args, **kwargs)

    monkeypatch.setattr(Stages, "curate", own_stage)
    separate = build(demo_recipe, tmp_path / "separate")
    assert (separate.out_dir / "logs" / "rewrite" / "minhash-filter").is_dir()
    assert not (demo_build.out_dir / "logs" / "rewrite" / "minhash-filter").exists()
    assert _hashes(separate.out_dir) == _hashes(demo_build.out_dir)
    assert separate.ledger.to_dict() == demo_build.ledger.to_dict()

    def links(root):
        return sorted(
            (r["id"], r["reason"], r["duplicate_of"])
            for p in (root / "removed").rglob("*.parquet")
            for r in pq.read_table(p, columns=["id", "reason", "duplicate_of"]).to_pylist()
        )

    assert links(separate.out_dir) == links(demo_build.out_dir)
