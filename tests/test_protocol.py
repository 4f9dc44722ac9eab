"""The release protocol (publish/protocol.py) against the real local Hub, on both of its paths:
dataset releases (ocforge.flows.release) and model publishing (ocforge.models.publish).

An interrupted publish is tagged by the next run, identical content makes no commit, a tag never
moves, and a Hub error becomes an ocforge error that the CLI prints as one line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx2
import pytest
from huggingface_hub import HfApi
from models_evals_helpers import tiny_model
from release_helpers import TOKEN, corpus, refs, write_build

from ocforge.errors import ModelPublishError, OcforgeError, PublishError, TagExistsError
from ocforge.flows.release import release_build
from ocforge.hub import Identity, LocalHub
from ocforge.models.publish import publish_model
from ocforge.publish import protocol
from ocforge.publish.hub_client import connect
from ocforge.publish.tagging import commit

DATASET = "t/protocol-data"
OCFORGE = Path(sys.executable).parent / "ocforge"
EXE = [str(OCFORGE)] if OCFORGE.exists() else [sys.executable, "-m", "ocforge"]


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    with LocalHub(
        tmp_path_factory.mktemp("hub"), tokens={TOKEN: Identity("alice", orgs=frozenset({"t"}))}
    ) as running:
        yield running


@pytest.fixture(scope="module")
def dataset(hub, tmp_path_factory):
    """A released dataset the model path links its card to."""
    build = write_build(tmp_path_factory.mktemp("ds") / "b", corpus(8, 2))
    released = release_build(build, DATASET, endpoint=hub.endpoint, token=TOKEN, verify=False)
    return f"{DATASET}@{released.tag}"


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> Path:
    return tiny_model(tmp_path_factory)


@pytest.fixture
def online(hub):
    """huggingface_hub in this process may talk to the loopback Hub (as ocforge's commands do:
    :func:`~ocforge.publish.hub_client.connect`)."""
    with connect(endpoint=hub.endpoint, token=TOKEN):
        yield


def _api(hub) -> HfApi:
    return HfApi(endpoint=hub.endpoint, token=TOKEN)


def _model_refs(hub, repo):
    r = _api(hub).list_repo_refs(repo)
    commits = _api(hub).list_repo_commits(repo)
    main = next(b.target_commit for b in r.branches if b.name == "main")
    return {
        "main": main,
        "tags": {t.name: t.target_commit for t in r.tags},
        "commits": len(commits),
    }


class _TagConnectionLost(HfApi):
    """huggingface_hub's client losing the connection right after the commit landed."""

    def create_tag(self, *args, **kwargs):
        raise httpx2.ConnectError("connection lost while tagging")


def test_dataset_publish_interrupted_before_its_tag_is_tagged_by_the_next_run(hub, tmp_path):
    build = write_build(tmp_path / "b", corpus())
    release = dict(endpoint=hub.endpoint, token=TOKEN)
    staged = tmp_path / "staged"  # the dry run's card and release.json stay there
    plan = release_build(build, "t/p-ds", dry_run=True, staging_dir=staged, **release).plan
    with connect(**release) as conn:
        # what a run killed between commit and tag leaves: the commit, on a new repo, untagged
        plan.base_commit = protocol.create_repo(conn.api, "t/p-ds", "dataset", False)
        landed = commit(conn, plan)
        state = protocol.read_refs(conn.api, "t/p-ds", "dataset", conn.display)
    assert state.head == landed and not state.head_tagged and state.latest is None
    done = release_build(build, "t/p-ds", verify=True, **release)
    assert (done.status, done.tag, done.commit) == ("tagged", "v1.0.0", landed)
    after = refs(hub, "t/p-ds")
    assert after["tags"] == {"v1.0.0": landed} and after["commits"] == 2  # no second commit
    # identical content: no commit, no tag
    again = release_build(build, "t/p-ds", verify=False, **release)
    assert again.status == "up-to-date" and refs(hub, "t/p-ds") == after


def test_model_publish_interrupted_before_its_tag_is_tagged_by_the_next_run(
    hub, dataset, model, online
):
    args = dict(base_model="meta-llama/Llama-3.1-8B", dataset=dataset, license="mit")
    lost = _TagConnectionLost(endpoint=hub.endpoint, token=TOKEN)
    with pytest.raises(PublishError, match="landed, but tag v1.0.0 could not be created"):
        publish_model(lost, model, "t/p-model", **args)
    state = _model_refs(hub, "t/p-model")
    assert state["tags"] == {} and state["commits"] == 2  # the repo's first commit + the publish
    title = _api(hub).list_repo_commits("t/p-model")[0].title
    assert title.startswith("Publish v1.0.0: fine-tuned on t/protocol-data@v1.0.0")

    done = publish_model(_api(hub), model, "t/p-model", **args)
    assert (done.tag, done.created_commit, done.created_tag) == ("v1.0.0", False, True)
    after = _model_refs(hub, "t/p-model")
    assert after["tags"] == {"v1.0.0": state["main"]} and after["commits"] == state["commits"]
    # identical content: no commit, no tag, the latest version named
    again = publish_model(_api(hub), model, "t/p-model", **args)
    assert (again.version, again.created_commit, again.created_tag) == ("1.0.0", False, False)
    assert again.uploaded == [] and _model_refs(hub, "t/p-model") == after


def test_a_tag_never_moves(hub, dataset, model, tmp_path, online):
    configs = corpus()
    first = release_build(
        write_build(tmp_path / "b1", configs),
        "t/p-tags",
        endpoint=hub.endpoint,
        token=TOKEN,
        verify=False,
    )
    before = refs(hub, "t/p-tags")
    api = _api(hub)
    with pytest.raises(TagExistsError, match="tag v1.0.0 already exists on t/p-tags"):
        protocol.create_tag(api, "t/p-tags", "dataset", "v1.0.0", before["main"], "again")
    changed = corpus(seed=1)
    with pytest.raises(OcforgeError, match="never moved or overwritten"):
        release_build(
            write_build(tmp_path / "b2", changed),
            "t/p-tags",
            version="1.0.0",
            endpoint=hub.endpoint,
            token=TOKEN,
            verify=False,
        )
    assert refs(hub, "t/p-tags") == before and before["tags"]["v1.0.0"] == first.commit

    args = dict(base_model="meta-llama/Llama-3.1-8B", dataset=dataset)
    publish_model(api, model, "t/p-model-tags", license="mit", **args)
    state = _model_refs(hub, "t/p-model-tags")
    with pytest.raises(ModelPublishError, match="tag v1.0.0 already exists"):
        publish_model(api, model, "t/p-model-tags", version="1.0.0", license="apache-2.0", **args)
    assert _model_refs(hub, "t/p-model-tags") == state


def _cli(hub, tmp_path, *args, endpoint=None):
    env = {
        **os.environ,
        "OCFORGE_HUB_URL": endpoint or hub.endpoint,
        "OCFORGE_HUB_TOKEN": TOKEN,
        "HF_HOME": str(tmp_path / "hf"),
        "COLUMNS": "200",
    }
    return subprocess.run(
        [*EXE, *args], env=env, capture_output=True, text=True, timeout=300, cwd=tmp_path
    )


def _one_error_line(proc) -> str:
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr
    errors = [ln for ln in proc.stderr.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1, proc.stderr
    assert TOKEN not in proc.stdout + proc.stderr
    return errors[0]


@pytest.mark.slow
def test_hub_errors_are_clean_one_line_errors_of_the_cli(hub, dataset, model, tmp_path):
    build = write_build(tmp_path / "b", corpus(8, 2))
    # alice may not create repos in bob's namespace: the Hub answers 403
    line = _one_error_line(_cli(hub, tmp_path, "publish", "dataset", str(build), "--repo", "bob/x"))
    assert line.startswith("error: could not create bob/x (") and "403" in line
    line = _one_error_line(
        _cli(
            hub,
            tmp_path,
            "publish",
            "model",
            str(model),
            "--repo",
            "bob/m",
            "--base-model",
            "meta-llama/Llama-3.1-8B",
            "--dataset",
            dataset,
        )
    )
    assert line.startswith("error: could not create bob/m (") and "403" in line
    # nothing listens there: the connection is refused before anything is pushed
    with socket_closed() as dead:
        line = _one_error_line(
            _cli(hub, tmp_path, "publish", "dataset", str(build), "--repo", "t/x", endpoint=dead)
        )
    assert line.startswith("error: cannot read t/x on local Hub at ") and "ConnectError" in line


class socket_closed:
    """The endpoint of a port nothing listens on."""

    def __enter__(self) -> str:
        import socket

        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))  # bound, never listening: connections are refused
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}"

    def __exit__(self, *exc) -> None:
        self.sock.close()
