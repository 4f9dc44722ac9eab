"""Verification before the tag, against the real local Hub: a release that does not load gets no
tag and no version, and the next run with a fixed build releases it (issue 13)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from release_helpers import TOKEN, client, corpus, refs, write_build

from ocforge.errors import VerificationError
from ocforge.flows.release import release_build
from ocforge.hub import LocalHub
from ocforge.publish.history import list_releases

OCFORGE = Path(sys.executable).parent / "ocforge"
EXE = [str(OCFORGE)] if OCFORGE.exists() else [sys.executable, "-m", "ocforge"]


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    with LocalHub(tmp_path_factory.mktemp("hub"), tokens={TOKEN: "alice"}) as running:
        yield running


def _ocforge(hub, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "OCFORGE_HUB_URL": hub.endpoint,
        "OCFORGE_HUB_TOKEN": TOKEN,
        "HF_HOME": str(cwd / "hf"),
        "COLUMNS": "200",
    }
    return subprocess.run(
        [*EXE, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600
    )


def _drop_last_row(path: Path) -> None:
    """Overwrite a shard with a valid Parquet file of the same schema holding one row fewer: the
    secret scan and the push accept it, only loading it back shows the missing row."""
    table = pq.read_table(path)
    pq.write_table(table.slice(0, table.num_rows - 1), path)


def test_release_that_does_not_load_gets_no_tag_and_a_fixed_build_releases_v1(hub, tmp_path):
    configs = corpus()
    build = write_build(tmp_path / "b", configs)
    shard = sorted((build / "data" / "rewrite").glob("train-*.parquet"))[0]
    _drop_last_row(shard)  # corrupted after the build: release.json still counts the row

    failed = _ocforge(hub, "publish", "dataset", str(build), "--repo", "alice/vbt", cwd=tmp_path)
    assert failed.returncode == 1, failed.stdout + failed.stderr
    state = refs(hub, "alice/vbt")
    assert state["tags"] == {} and state["commits"] == 2  # the repo's first commit + the release
    untagged = state["main"]
    errors = [ln for ln in failed.stderr.splitlines() if ln.strip()]
    error = errors[-1]
    assert error.startswith(f"error: v1.0.0 was not tagged: commit {untagged[:12]} "), failed.stderr
    assert "rewrite/train: loaded" in error and "It is not a version" in error
    assert "Traceback" not in failed.stderr + failed.stdout
    assert not any(ln.startswith("error:") for ln in errors[:-1])  # one error line

    listed = _ocforge(hub, "releases", "alice/vbt", cwd=tmp_path)
    assert listed.returncode == 0 and "alice/vbt: no releases" in listed.stdout
    assert untagged[:12] not in listed.stdout
    assert list_releases("alice/vbt", endpoint=hub.endpoint, token=TOKEN) == []

    # the same broken build again: verified again, still no tag, no new commit
    with pytest.raises(VerificationError, match="holds exactly this build and does not load"):
        release_build(build, "alice/vbt", endpoint=hub.endpoint, token=TOKEN)
    assert refs(hub, "alice/vbt") == state

    # the fixed build: release.json is the broken commit's, the shard's bytes are not, so a new
    # commit replaces the shard (the untagged commit is superseded, never tagged)
    write_build(tmp_path / "b", configs)
    fixed = _ocforge(hub, "publish", "dataset", str(build), "--repo", "alice/vbt", cwd=tmp_path)
    assert fixed.returncode == 0, fixed.stderr
    assert "released v1.0.0" in fixed.stdout
    state = refs(hub, "alice/vbt")
    assert state["tags"] == {"v1.0.0": state["main"]} and state["main"] != untagged
    [info] = list_releases("alice/vbt", endpoint=hub.endpoint, token=TOKEN)
    assert (info.tag, info.commit) == ("v1.0.0", state["main"])
    rows = client(
        hub,
        """
        import json
        from datasets import load_dataset
        ds = load_dataset("alice/vbt", "rewrite", revision="v1.0.0")
        print(json.dumps(sum(split.num_rows for split in ds.values())))
        """,
        tmp_path,
    )
    assert rows == len(configs["rewrite"].rows)


def test_untagged_commit_that_does_not_load_is_never_tagged_by_a_later_run(hub, tmp_path):
    build = write_build(tmp_path / "b", corpus())
    good = json.loads((build / "release.json").read_text())
    bad = json.loads(json.dumps(good))
    bad["configs"]["rewrite"]["splits"]["train"]["rows"] += 1  # claims a row it lacks
    (build / "release.json").write_text(json.dumps(bad))

    def release(**kw):
        return release_build(build, "alice/never", endpoint=hub.endpoint, token=TOKEN, **kw)

    with pytest.raises(VerificationError, match="v1.0.0 was not tagged") as err:
        try:
            release()
        finally:
            first = refs(hub, "alice/never")
            assert first["tags"] == {}
    assert "rewrite/train: loaded" in str(err.value)
    # a later run of this very build re-verifies the untagged commit, refuses it and makes no
    # commit; --no-verify does not skip loading a commit that an earlier run left untagged
    for kw in ({}, {"verify": False}):
        with pytest.raises(VerificationError, match="holds exactly this build and does not load"):
            release(**kw)
        assert refs(hub, "alice/never") == first

    # fixed in release.json only (same data files): a commit of its own, verified, tagged
    (build / "release.json").write_text(json.dumps(good))
    done = release()
    assert (done.status, done.version) == ("released", "1.0.0")
    state = refs(hub, "alice/never")
    assert state["tags"] == {"v1.0.0": done.commit} and done.commit != first["main"]
    uploads = {f.path for f in done.plan.uploads}
    assert "release.json" in uploads and not [p for p in uploads if p.startswith("data/")]
    assert sum(v.loaded for v in done.verified) == sum(
        s["rows"] for c in good["configs"].values() for s in c["splits"].values()
    )
