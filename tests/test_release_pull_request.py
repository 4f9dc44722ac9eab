"""``ocforge release --pr`` against the real local Hub: the release opens as a pull request,
verified but not tagged; merged and released again, it is tagged; one that does not load is
closed (issue 17)."""

from __future__ import annotations

import copy
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
from ocforge.publish.hub_client import connect

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


def _discussions(hub, repo: str) -> list[tuple[int, str, str]]:
    with connect(endpoint=hub.endpoint, token=TOKEN) as conn:
        found = conn.api.get_repo_discussions(repo, repo_type="dataset")
        return sorted((d.num, d.title, d.status) for d in found)


def _merge(hub, repo: str, num: int) -> None:
    with connect(endpoint=hub.endpoint, token=TOKEN) as conn:
        conn.api.merge_pull_request(repo, num, repo_type="dataset")


def test_pr_release_is_reviewed_at_its_ref_then_merged_and_tagged(hub, tmp_path):
    configs = corpus()
    build = write_build(tmp_path / "b", configs)
    opened = _ocforge(
        hub, "publish", "dataset", str(build), "--repo", "alice/rev", "--pr", cwd=tmp_path
    )
    assert opened.returncode == 0, opened.stdout + opened.stderr
    out = opened.stdout
    assert "opened pull request #1 for v1.0.0" in out
    assert "revision='refs/pr/1'" in out and "not tagged: merge the pull request" in out
    assert "loaded:  rewrite/train" in out  # verified with load_dataset at the PR's commit
    assert TOKEN not in out + opened.stderr
    state = refs(hub, "alice/rev")
    assert state["tags"] == {} and state["commits"] == 1  # main: only the repo's first commit
    assert _discussions(hub, "alice/rev") == [(1, "Release v1.0.0", "open")]

    # a reviewer loads the pull request's data as a consumer would
    rows = client(
        hub,
        """
        import json
        from datasets import load_dataset
        ds = load_dataset("alice/rev", "rewrite", split="train", revision="refs/pr/1")
        print(json.dumps(ds.num_rows))
        """,
        tmp_path,
    )
    manifest = json.loads((build / "release.json").read_text())
    assert rows == manifest["configs"]["rewrite"]["splits"]["train"]["rows"] > 0

    # the same release again while the pull request is open: no second one
    again = release_build(build, "alice/rev", endpoint=hub.endpoint, token=TOKEN, pull_request=True)
    assert again.status == "pull-request-open" and again.pull_request.num == 1
    assert again.bytes_uploaded == 0 and len(_discussions(hub, "alice/rev")) == 1

    _merge(hub, "alice/rev", 1)
    assert refs(hub, "alice/rev")["tags"] == {}  # merging tags nothing: the release does
    tagged = release_build(build, "alice/rev", endpoint=hub.endpoint, token=TOKEN)
    assert (tagged.status, tagged.tag) == ("tagged", "v1.0.0")
    state = refs(hub, "alice/rev")
    assert state["tags"] == {"v1.0.0": state["main"]}
    assert _discussions(hub, "alice/rev") == [(1, "Release v1.0.0", "merged")]


def test_pr_of_a_second_version_leaves_the_first_release_alone(hub, tmp_path):
    configs = corpus(seed=3)
    build = write_build(tmp_path / "b1", configs)
    first = release_build(build, "alice/two", endpoint=hub.endpoint, token=TOKEN, verify=False)
    assert first.status == "released"
    changed = copy.deepcopy(configs)
    changed["generate"].rows[0]["response"] = "a reviewed answer, in character"
    second = release_build(
        write_build(tmp_path / "b2", changed),
        "alice/two",
        endpoint=hub.endpoint,
        token=TOKEN,
        pull_request=True,
        verify=False,
    )
    assert (second.status, second.tag, second.pull_request.num) == ("pull-request", "v1.1.0", 1)
    state = refs(hub, "alice/two")
    assert state["tags"] == {"v1.0.0": first.commit} and state["main"] == first.commit


def test_pr_that_does_not_load_is_closed_and_nothing_is_tagged(hub, tmp_path):
    build = write_build(tmp_path / "b", corpus(seed=5))
    shard = sorted((build / "data" / "rewrite").glob("train-*.parquet"))[0]
    table = pq.read_table(shard)
    pq.write_table(table.slice(0, table.num_rows - 1), shard)  # release.json still counts it
    with pytest.raises(VerificationError, match=r"pull request #1 of alice/bad was closed"):
        release_build(build, "alice/bad", endpoint=hub.endpoint, token=TOKEN, pull_request=True)
    assert _discussions(hub, "alice/bad") == [(1, "Release v1.0.0", "closed")]
    assert refs(hub, "alice/bad")["tags"] == {}
