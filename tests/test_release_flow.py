"""Releases against the real local Hub: versions, changelogs, recovery, dry runs, verification."""

from __future__ import annotations

import copy
import json

import pyarrow as pa
import pytest
from release_helpers import TOKEN, client, corpus, refs, write_build

from ocforge.errors import PublishError, VersionError
from ocforge.flows.release import release_build
from ocforge.hub import Identity, Limits, LocalHub
from ocforge.publish.history import diff_releases, list_releases
from ocforge.publish.rows_build import RowsConfig
from ocforge.publish.tagging import commit

# alice may act in the org `t`, where these tests create their repos
ALICE = Identity("alice", orgs=frozenset({"t"}))


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    with LocalHub(tmp_path_factory.mktemp("hub"), tokens={TOKEN: ALICE}) as running:
        yield running


def _release(hub, build, repo, **kw):
    # load_dataset verification runs in a child process (seconds): only where it is the point
    kw.setdefault("verify", False)
    return release_build(build, repo, endpoint=hub.endpoint, token=TOKEN, **kw)


def _changed_response(configs, config="rewrite", index=0, text="an edited answer, in character"):
    from ocforge.records import dialogue_id

    out = copy.deepcopy(configs)
    row = out[config].rows[index]
    old_id = row["dialogue_id"]
    row["response"] = text
    row["dialogue_id"] = dialogue_id(row["strategy"], row["character_id"], row["question"], text)
    return out, old_id, row["dialogue_id"]


def test_first_release_then_identical_rerelease_makes_no_commit(hub, tmp_path):
    build = write_build(tmp_path / "b", corpus())
    first = _release(hub, build, "t/first", verify=True)
    assert (first.status, first.version, first.tag) == ("released", "1.0.0", "v1.0.0")
    state = refs(hub, "t/first")
    assert state["tags"] == {"v1.0.0": first.commit} and state["main"] == first.commit
    manifest = json.loads((build / "release.json").read_text())
    expected = {
        (c, s): i["rows"]
        for c, cfg in manifest["configs"].items()
        for s, i in cfg["splits"].items()
    }
    assert {(v.config, v.split): v.loaded for v in first.verified} == expected

    again = _release(hub, build, "t/first")
    assert again.status == "up-to-date" and again.version == "1.0.0"
    assert again.commit == first.commit
    assert refs(hub, "t/first") == state  # no commit, no tag

    [info] = list_releases("t/first", endpoint=hub.endpoint, token=TOKEN)
    assert info.tag == "v1.0.0" and info.commit == first.commit
    assert info.rows == {c: cfg["rows"] for c, cfg in manifest["configs"].items()}


def test_changed_row_gives_minor_with_changelog_and_each_tag_loads_its_rows(hub, tmp_path):
    configs = corpus()
    v1 = _release(hub, write_build(tmp_path / "b1", configs), "t/minor", private=True)
    changed, old_id, new_id = _changed_response(configs)
    v2 = _release(hub, write_build(tmp_path / "b2", changed), "t/minor")
    assert (v2.status, v2.version, v2.plan.level) == ("released", "1.1.0", "minor")
    assert old_id in v2.plan.changelog and new_id in v2.plan.changelog
    assert v2.plan.parent is not None
    assert v2.plan.parent.to_dict() == {"version": "1.0.0", "tag": "v1.0.0", "commit": v1.commit}
    # a changed row has a new id: only the shards that held the old id and hold the new one
    # are uploaded again (plus card and manifest); every other shard is kept
    data = [f for f in v2.plan.files if f.path.startswith("data/")]
    uploaded = [f.path for f in v2.plan.uploads if f.path.startswith("data/")]
    assert 1 <= len(uploaded) <= 2 and len(data) >= 10, uploaded
    assert all(p.startswith("data/rewrite/") for p in uploaded)

    diff = diff_releases("t/minor", "v1.0.0", "v1.1.0", endpoint=hub.endpoint, token=TOKEN)
    touched = [s for s in diff.splits if not s.empty]
    assert len(touched) == 1
    assert touched[0].added == [new_id] and touched[0].removed == [old_id]
    assert "README.md (v1.0.0)" in diff.card_diff and "1.1.0" in diff.card_diff

    ids = client(
        hub,
        """
        import json
        from datasets import load_dataset
        out = {}
        for tag in ("v1.0.0", "v1.1.0"):
            ds = load_dataset("t/minor", "rewrite", revision=tag)
            out[tag] = sorted(i for split in ds.values() for i in split["dialogue_id"])
        print(json.dumps(out))
        """,
        tmp_path,
    )
    assert old_id in ids["v1.0.0"] and new_id not in ids["v1.0.0"]
    assert new_id in ids["v1.1.0"] and old_id not in ids["v1.1.0"]
    assert len(ids["v1.0.0"]) == len(ids["v1.1.0"]) == len(configs["rewrite"].rows)
    # the repo is private: without a token it does not exist
    anonymous = client(
        hub,
        """
        import json, os
        os.environ.pop("HF_TOKEN")
        from huggingface_hub import HfApi
        from huggingface_hub.errors import RepositoryNotFoundError
        try:
            HfApi().repo_info("t/minor", repo_type="dataset", token=False)
            print(json.dumps("visible"))
        except RepositoryNotFoundError:
            print(json.dumps("hidden"))
        """,
        tmp_path,
    )
    assert anonymous == "hidden"


def test_schema_change_is_major_and_card_change_is_patch(hub, tmp_path):
    configs = corpus()
    _release(hub, write_build(tmp_path / "b1", configs), "t/major")
    wider = copy.deepcopy(configs)
    chars = wider["characters"]
    wider["characters"] = RowsConfig(
        "characters",
        chars.schema.append(pa.field("voice", pa.string())),
        [{**r, "voice": "low"} for r in chars.rows],
    )
    major = _release(hub, write_build(tmp_path / "b2", wider), "t/major")
    assert (major.version, major.plan.level) == ("2.0.0", "major")
    assert "`characters`: schema changed" in major.plan.changelog
    # same rows, new card text: patch
    recipe = "name: release-test\ncard:\n  description: Now with a description.\n"
    patch = _release(hub, write_build(tmp_path / "b3", wider, recipe=recipe), "t/major")
    assert (patch.version, patch.plan.level) == ("2.0.1", "patch")
    assert not [f for f in patch.plan.uploads if f.path.startswith("data/")]
    assert {f.path for f in patch.plan.uploads} >= {"README.md", "release.json"}


def test_failed_push_leaves_no_tag_and_rerun_completes(tmp_path):
    root = tmp_path / "hub"
    build = write_build(tmp_path / "b", corpus())
    # the server refuses commit bodies above 1 KiB: the push fails at its commit, after the
    # files went up through Xet (an LFS client would hit the same limit)
    with LocalHub(root, tokens={TOKEN: ALICE}, limits=Limits(max_commit_body=1024)) as small:
        with pytest.raises(PublishError, match="no tag was created"):
            _release(small, build, "t/interrupted")
        state = refs(small, "t/interrupted")
        assert state["tags"] == {} and state["commits"] == 1  # only the repo's initial commit
    with LocalHub(root, tokens={TOKEN: ALICE}) as hub:
        done = _release(hub, build, "t/interrupted")
        assert (done.status, done.version) == ("released", "1.0.0")
        assert refs(hub, "t/interrupted")["tags"] == {"v1.0.0": done.commit}


def test_commit_without_tag_is_tagged_by_the_rerun(hub, tmp_path):
    configs = corpus()
    _release(hub, write_build(tmp_path / "b1", configs), "t/untagged")
    changed, _old, _new = _changed_response(configs)
    build = write_build(tmp_path / "b2", changed)
    # a run that pushed its commit and died before tagging: the commit is on main, untagged
    plan = _release(hub, build, "t/untagged", dry_run=True, staging_dir=tmp_path / "stage").plan
    from ocforge.publish.hub_client import connect

    with connect(endpoint=hub.endpoint, token=TOKEN) as conn:
        pushed = commit(conn, plan)
    assert "v1.1.0" not in refs(hub, "t/untagged")["tags"]
    finished = _release(hub, build, "t/untagged", verify=True)
    assert (finished.status, finished.version, finished.commit) == ("tagged", "1.1.0", pushed)
    state = refs(hub, "t/untagged")
    assert state["tags"]["v1.1.0"] == pushed and state["main"] == pushed
    assert sum(v.loaded for v in finished.verified) == sum(len(c.rows) for c in changed.values())


def test_existing_version_is_refused(hub, tmp_path):
    configs = corpus()
    first = _release(hub, write_build(tmp_path / "b1", configs), "t/tags")
    changed, _old, _new = _changed_response(configs)
    build = write_build(tmp_path / "b2", changed)
    before = refs(hub, "t/tags")
    with pytest.raises(VersionError, match="never moved or overwritten"):
        _release(hub, build, "t/tags", version="1.0.0")
    assert refs(hub, "t/tags") == before and before["tags"]["v1.0.0"] == first.commit
    explicit = _release(hub, build, "t/tags", version="3.0.0")
    assert explicit.tag == "v3.0.0"


def test_dry_run_pushes_nothing(hub, tmp_path):
    configs = corpus()
    build = write_build(tmp_path / "b1", configs)
    dry = _release(hub, build, "t/dry", dry_run=True)
    assert dry.status == "dry-run" and dry.commit is None and dry.version == "1.0.0"
    assert dry.plan.summary()["add"] == len(dry.plan.files) and dry.plan.bytes_to_upload > 0
    text = dry.plan.format()
    assert "add      data/characters/" in text and "+# Release test corpus" in text
    from huggingface_hub.errors import RepositoryNotFoundError

    with pytest.raises(RepositoryNotFoundError):
        refs(hub, "t/dry")
    _release(hub, build, "t/dry")
    before = refs(hub, "t/dry")
    changed, _old, _new = _changed_response(configs)
    dry2 = _release(hub, write_build(tmp_path / "b2", changed), "t/dry", dry_run=True)
    assert dry2.version == "1.1.0" and "-**Version 1.0.0**" in dry2.plan.card_diff
    assert refs(hub, "t/dry") == before


def _serve(root, token_file):
    """``ocforge hub serve`` as its own process; returns (process, endpoint)."""
    import subprocess
    import sys

    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ocforge",
            "hub",
            "serve",
            "--root",
            str(root),
            "--port",
            "0",
            "--token-file",
            str(token_file),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    for line in proc.stdout:
        if line.startswith("endpoint:"):
            return proc, line.split()[1]
    raise AssertionError("the server did not start")


def test_server_killed_mid_push_leaves_no_tag_and_rerun_completes(tmp_path):
    import signal

    tokens = tmp_path / "tokens"
    tokens.write_text(f"{TOKEN}\talice\twrite\tt\n")
    tokens.chmod(0o600)
    configs = corpus()
    changed, _old, new_id = _changed_response(configs)
    server, endpoint = _serve(tmp_path / "hub", tokens)
    hub = type("Endpoint", (), {"endpoint": endpoint})()

    def kill_when_pushing(msg):
        if msg.startswith("pushing"):  # the plan is made, the upload is about to start
            server.send_signal(signal.SIGKILL)
            server.wait()

    try:
        v1 = _release(hub, write_build(tmp_path / "b1", configs), "t/killed")
        with pytest.raises(PublishError, match="no tag was created"):
            _release(
                hub, write_build(tmp_path / "b2", changed), "t/killed", progress=kill_when_pushing
            )
    finally:
        server.kill()
        server.wait()
    server, endpoint = _serve(tmp_path / "hub", tokens)
    hub = type("Endpoint", (), {"endpoint": endpoint})()
    try:
        state = refs(hub, "t/killed")
        assert state["tags"] == {"v1.0.0": v1.commit} and state["main"] == v1.commit
        done = _release(hub, tmp_path / "b2", "t/killed")
        assert (done.status, done.version) == ("released", "1.1.0")
        assert new_id in done.plan.changelog
        assert refs(hub, "t/killed")["tags"] == {"v1.0.0": v1.commit, "v1.1.0": done.commit}
    finally:
        server.terminate()
        server.wait()
