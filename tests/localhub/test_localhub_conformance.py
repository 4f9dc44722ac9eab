"""Conformance of the local Hub with the unmodified huggingface_hub and datasets clients.

One client process (clients/hub_flow.py) drives every operation of issue 3 against an in-process
server and records each outcome; the tests below assert on those outcomes case by case.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from localhub_helpers import WRITE_TOKEN, client_environment, run_client

DS = "alice/roleplay"


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def flow(hub, fixtures_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    work = tmp_path_factory.mktemp("flow")
    env = client_environment(hub.endpoint, WRITE_TOKEN, work / "hf_home")
    return run_client("hub_flow.py", env, work / "out.json", str(fixtures_dir))


def ok(flow: dict, name: str):
    """Value of a step that must have succeeded."""
    result = flow[name]
    assert result["ok"], f"step {name} failed: {result.get('traceback') or result}"
    return result["value"]


def failed(flow: dict, name: str, error: str, status: int | None = None) -> dict:
    """A step that must have raised ``error`` (a class name in the exception's MRO)."""
    result = flow[name]
    assert not result["ok"], f"step {name} unexpectedly succeeded: {result['value']!r}"
    assert error in result["errors"], f"step {name}: {result['error']}: {result['message']}"
    if status is not None:
        assert result["status"] == status, result["message"]
    return result


def test_whoami(flow):
    assert ok(flow, "whoami") == "alice"


def test_create_repo_dataset_and_model_exist_ok(flow, hub):
    assert ok(flow, "create_dataset") == f"{hub.endpoint}/datasets/{DS}"
    assert ok(flow, "create_dataset_exist_ok") == f"{hub.endpoint}/datasets/{DS}"
    failed(flow, "create_dataset_again", "HfHubHTTPError", 409)
    assert ok(flow, "create_model") == f"{hub.endpoint}/alice/tiny-model"
    assert ok(flow, "create_model_exist_ok") == f"{hub.endpoint}/alice/tiny-model"
    assert len(ok(flow, "initial_sha")) == 40


def test_upload_folder_with_parquet_and_readme(flow):
    assert ok(flow, "files_after_folder") == [
        ".gitattributes",
        "README.md",
        "data/cfg_a/train-00000-of-00001.parquet",
        "data/cfg_b/train-00000-of-00001.parquet",
    ]
    assert ok(flow, "upload_folder") != ok(flow, "initial_sha")


def test_upload_file_regular_and_lfs(flow, fixtures_dir):
    info = ok(flow, "paths_info")
    assert info["notes/hello.txt"] == {"type": "RepoFile", "size": 16, "lfs_sha256": None}
    blob = fixtures_dir / "blob.bin"
    assert info["weights/blob.bin"]["lfs_sha256"] == sha256(blob)
    assert info["weights/blob.bin"]["size"] == blob.stat().st_size
    assert info["data"]["type"] == "RepoFolder"
    assert "missing.txt" not in info
    assert ok(flow, "download_lfs_sha256") == sha256(blob)
    assert ok(flow, "download_regular") == "hello local hub\n"


def test_readme_yaml_is_validated(flow):
    result = failed(flow, "upload_bad_readme", "ValueError")
    assert "Invalid YAML in README.md metadata" in result["message"]


def test_reupload_identical_content_is_noop(flow):
    before = ok(flow, "sha_before_noop")
    assert ok(flow, "noop_upload_file") == before
    assert ok(flow, "noop_upload_lfs") == before
    assert ok(flow, "noop_upload_folder") == before
    assert ok(flow, "commits_after_noop") == ok(flow, "commits_before_noop")


def test_create_tag_and_branch_with_slash(flow):
    assert ok(flow, "create_tag") is True
    failed(flow, "create_tag_again", "HfHubHTTPError", 409)
    assert ok(flow, "create_tag_exist_ok") is True
    assert ok(flow, "create_branch") is True
    assert ok(flow, "tag_sha") == ok(flow, "sha_before_noop")


def test_upload_to_branch(flow):
    assert ok(flow, "branch_sha") == ok(flow, "upload_to_branch")
    assert ok(flow, "file_exists_branch") is True
    assert ok(flow, "file_exists_branch_on_main") is False
    assert "branch-only.txt" in ok(flow, "list_files_branch")
    assert "branch-only.txt" not in ok(flow, "list_files")


def test_list_repo_refs(flow):
    refs = ok(flow, "refs")
    assert refs["branches"] == {"main": ok(flow, "main_sha"), "dev/feature": ok(flow, "branch_sha")}
    assert refs["tags"] == {"v1.0.0": ok(flow, "tag_sha")}


def test_list_repo_commits(flow):
    commits = ok(flow, "commits")
    assert [c["title"] for c in commits] == [
        "v2 data",
        "add lfs blob",
        "add note",
        "v1 data",
        "initial commit",
    ]
    assert commits[0]["id"] == ok(flow, "main_sha")
    assert all(c["authors"] == ["alice"] for c in commits)
    assert all(len(c["id"]) == 40 and int(c["id"], 16) >= 0 for c in commits)
    assert ok(flow, "commits_at_tag") == 4


def test_list_repo_files_and_tree(flow):
    assert ok(flow, "list_files") == [
        ".gitattributes",
        "README.md",
        "data/cfg_a/train-00000-of-00001.parquet",
        "data/cfg_b/train-00000-of-00001.parquet",
        "notes/hello.txt",
        "weights/blob.bin",
    ]
    assert ok(flow, "tree_subfolder") == [["data/cfg_a/train-00000-of-00001.parquet", "RepoFile"]]
    recursive = dict(map(tuple, ok(flow, "tree_recursive")))
    assert recursive["data"] == recursive["data/cfg_b"] == "RepoFolder"
    assert recursive["notes/hello.txt"] == "RepoFile"
    assert ok(flow, "tree_expand") == [["notes/hello.txt", ok(flow, "upload_regular")]]


def test_file_exists(flow):
    assert ok(flow, "file_exists_yes") is True
    assert ok(flow, "file_exists_no") is False


def test_repo_info_at_tag(flow):
    assert ok(flow, "repo_info_tag") == ok(flow, "tag_sha") != ok(flow, "main_sha")
    assert "weights/blob.bin" in ok(flow, "repo_info_siblings")


def test_hf_hub_download_at_tag(flow, fixtures_dir):
    v1 = fixtures_dir / "dataset_v1/data/cfg_b/train-00000-of-00001.parquet"
    v2 = fixtures_dir / "dataset_v2/data/cfg_b/train-00000-of-00001.parquet"
    assert ok(flow, "download_at_tag") == sha256(v1)
    assert ok(flow, "download_at_main") == sha256(v2)


def test_snapshot_download_at_branch(flow, fixtures_dir):
    snap = ok(flow, "snapshot_branch")
    assert snap["folder_name"] == ok(flow, "branch_sha")
    assert "branch-only.txt" in snap["files"] and "weights/blob.bin" in snap["files"]
    assert snap["branch_only"] == "only on the branch\n"
    v1 = fixtures_dir / "dataset_v1/data/cfg_b/train-00000-of-00001.parquet"
    assert snap["cfg_b_sha256"] == sha256(v1)


def test_hffilesystem_glob_and_ranged_reads(flow):
    fs = ok(flow, "hffs")
    assert fs["glob"] == [
        f"datasets/{DS}@v1.0.0/data/cfg_a/train-00000-of-00001.parquet",
        f"datasets/{DS}@v1.0.0/data/cfg_b/train-00000-of-00001.parquet",
    ]
    assert fs["size"] == fs["local_size"]
    assert fs["middle_ok"] and fs["tail_ok"]
    assert fs["rows"] == 3
    assert fs["ls_data"] == [f"datasets/{DS}@v1.0.0/data/cfg_a", f"datasets/{DS}@v1.0.0/data/cfg_b"]


def test_load_dataset_at_tag_and_main(flow):
    assert ok(flow, "load_dataset_tag") == {"splits": ["train"], "ids": [10, 20, 30]}
    assert ok(flow, "load_dataset_main") == {"splits": ["train"], "ids": [10, 20, 30, 40]}
    assert ok(flow, "load_dataset_cfg_a_main") == [1, 2]
    failed(flow, "load_dataset_missing", "DatasetNotFoundError")


def test_delete_tag_branch_and_repo(flow):
    assert ok(flow, "delete_tag") is True and ok(flow, "delete_branch") is True
    refs = ok(flow, "refs_after_delete")
    assert refs["tags"] == {} and list(refs["branches"]) == ["main"]
    assert ok(flow, "revision_exists_deleted_tag") is False
    assert ok(flow, "delete_model") is True
    assert ok(flow, "model_exists_after_delete") is False
    failed(flow, "delete_model_again", "RepositoryNotFoundError", 404)
    assert ok(flow, "delete_model_missing_ok") is True


def test_not_found_errors(flow):
    failed(flow, "missing_repo", "RepositoryNotFoundError", 404)
    failed(flow, "missing_repo_download", "RepositoryNotFoundError", 404)
    failed(flow, "missing_revision", "RevisionNotFoundError", 404)
    failed(flow, "missing_revision_info", "RevisionNotFoundError", 404)
    failed(flow, "missing_entry", "EntryNotFoundError", 404)
    failed(flow, "missing_tree_path", "EntryNotFoundError", 404)


def test_wrong_token_refused(flow):
    failed(flow, "wrong_token_whoami", "HfHubHTTPError", 401)
    failed(flow, "wrong_token_read", "HfHubHTTPError", 401)
    failed(flow, "wrong_token_upload", "HfHubHTTPError", 401)
    failed(flow, "anonymous_upload", "HfHubHTTPError", 401)
    result = failed(flow, "read_token_create", "HfHubHTTPError", 403)
    assert "read role" in result["message"]
    assert ok(flow, "read_token_read") == ok(flow, "anonymous_read_public")
    for step in ("wrong_token_whoami", "wrong_token_read", "wrong_token_upload"):
        assert "hf_this_token_is_not_configured" not in flow[step]["message"]


def test_private_repo_hidden(flow):
    assert ok(flow, "private_with_token") is True
    failed(flow, "private_anonymous_info", "RepositoryNotFoundError", 404)
    failed(flow, "private_anonymous_download", "RepositoryNotFoundError", 404)
    assert ok(flow, "private_anonymous_exists") is False
    assert ok(flow, "list_datasets_token") == [DS, "alice/secret-ds"]
    assert ok(flow, "list_datasets_anonymous") == [DS]


def test_concurrent_commits_same_parent(flow):
    race = ok(flow, "concurrent")
    outcomes = list(race["outcome"].values())
    winners = [o for o in outcomes if o["ok"]]
    losers = [o for o in outcomes if not o["ok"]]
    assert len(winners) == 1 and len(losers) == 1, outcomes
    assert losers[0]["status"] == 412
    assert "updated since you opened this page" in losers[0]["message"]
    assert race["new_head"] == winners[0]["oid"]
    assert race["second_commit"] == race["parent"]


def test_commit_deletions_and_tag_with_slash(flow, fixtures_dir):
    assert len(ok(flow, "delete_file")) == 40 and len(ok(flow, "delete_folder")) == 40
    files = ok(flow, "files_after_deletes")
    assert "notes/hello.txt" not in files
    assert not any(f.startswith("race/") for f in files)
    assert "weights/blob.bin" in files
    assert ok(flow, "create_slash_tag") == 1
    assert ok(flow, "download_at_slash_tag") == (fixtures_dir / "dataset_v1/README.md").read_text()
    assert ok(flow, "delete_slash_tag") == 1
