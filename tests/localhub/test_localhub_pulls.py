"""Pull requests and discussions of the local Hub, through unmodified huggingface_hub and datasets.

One client process (clients/pulls_flow.py) opens pull requests (uploads with ``create_pr``,
``push_to_hub(create_pr=True)``, ``delete_from_hub``), reads ``refs/pr/N``, comments, renames,
closes and merges (fast-forward, with a merge commit, and a conflict); the tests assert on what
it recorded. Then the server is restarted on the same root and the discussions are read back.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from urllib.parse import quote

import pytest
from localhub_helpers import (
    CAROL_TOKEN,
    TOKENS_TEXT,
    WRITE_TOKEN,
    Http,
    client_environment,
    run_client,
)

from ocforge.hub import LocalHub, TokenStore

DS = "alice/pulls"
TOKENS = TOKENS_TEXT + f"{CAROL_TOKEN}\tcarol\n"


@pytest.fixture(scope="module")
def run(fixtures_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The client flow's results, and the hub root it ran against (the server is stopped)."""
    tmp = tmp_path_factory.mktemp("pulls")
    tokens = TokenStore.parse(TOKENS, source="pull request test tokens")
    with LocalHub(tmp / "root", tokens=tokens) as hub:
        env = client_environment(hub.endpoint, WRITE_TOKEN, tmp / "home")
        flow = run_client("pulls_flow.py", env, tmp / "out.json", str(fixtures_dir), CAROL_TOKEN)
        endpoint = hub.endpoint
    return {"flow": flow, "root": tmp / "root", "endpoint": endpoint, "fixtures": fixtures_dir}


def ok(flow: dict, name: str):
    result = flow[name]
    assert result["ok"], f"step {name} failed: {result.get('traceback') or result}"
    return result["value"]


def failed(flow: dict, name: str, error: str, status: int | None = None) -> str:
    result = flow[name]
    assert not result["ok"], f"step {name} unexpectedly succeeded: {result['value']!r}"
    assert error in result["errors"], f"step {name}: {result['errors']}: {result['message']}"
    if status is not None:
        assert result["status"] == status, result["message"]
    return result["message"]


def test_create_pr_upload_opens_refs_pr_1(run):
    flow = run["flow"]
    pr1 = ok(flow, "pr1")
    assert pr1["pr_url"] == f"{run['endpoint']}/datasets/{DS}/discussions/1"
    assert (pr1["pr_revision"], pr1["pr_num"]) == ("refs/pr/1", 1)
    assert pr1["commit_url"] == f"{run['endpoint']}/datasets/{DS}/commit/{pr1['oid']}"
    content, sha, blob_sha256 = ok(flow, "pr1_read")
    assert (content, sha) == ("pr one\n", pr1["oid"])
    # the LFS file went through Xet (its write token asked with create_pr) and reads back intact
    assert blob_sha256 == hashlib.sha256((run["fixtures"] / "blob.bin").read_bytes()).hexdigest()
    failed(flow, "pr1_on_main", "EntryNotFoundError", 404)
    assert ok(flow, "main_after_pr1") == ok(flow, "main_before")  # main did not move
    assert {"pr.txt", "weights/blob.bin", "README.md"} <= set(ok(flow, "pr1_files"))
    assert ok(flow, "pr1_paths_info") == ["pr.txt", "weights"]
    assert ok(flow, "refs_plain") is None
    assert ok(flow, "refs_pr1") == {"refs/pr/1": ["refs/pr/1", pr1["oid"]]}


def test_commits_to_refs_pr_n_add_to_the_pull_request(run):
    flow = run["flow"]
    assert ok(flow, "pr1_head") == ok(flow, "pr1_delete") != ok(flow, "pr1_push")
    # the initial commit, the folder upload, shared.txt, then the pull request's three commits
    assert ok(flow, "pr1_commits") == 6
    d1 = ok(flow, "details1")
    assert (d1["is_pr"], d1["status"], d1["title"], d1["target"]) == (
        True, "open", "Add pr.txt", "refs/heads/main",
    )  # fmt: skip
    assert d1["conflicts"] == []
    assert [e[0] for e in d1["events"]] == ["comment", "commit", "commit", "commit"]
    assert d1["events"][0][2] == "First pull request"
    assert d1["events"][1][2] == ok(flow, "pr1")["oid"]
    assert "+++ b/pr.txt\n@@ -0,0 +1 @@\n+pr one\n" in d1["diff"]
    assert "diff --git a/weights/blob.bin" in d1["diff"] and "+oid sha256:" in d1["diff"]
    assert "pr2.txt" not in d1["diff"]  # added, then deleted in the pull request
    assert d1["url"] == f"{run['endpoint']}/datasets/{DS}/discussions/1"


def test_discussions_listing_and_filters(run):
    flow = run["flow"]
    assert ok(flow, "disc2") == 2
    status, draft_sha = ok(flow, "draft3")
    assert status == "draft" and draft_sha == ok(flow, "main_before")  # based on main's head
    assert ok(flow, "list_all") == [
        [3, True, "draft", "Draft PR", "alice"],
        [2, False, "open", "Question about cfg_b", "alice"],
        [1, True, "open", "Add pr.txt", "alice"],
    ]
    assert [d[0] for d in ok(flow, "list_prs")] == [3, 1]
    assert [d[0] for d in ok(flow, "list_discussions")] == [2]
    assert ok(flow, "list_unknown_author") == []
    assert ok(flow, "list_alice") == 3
    assert ok(flow, "list_closed") == [[2, False, "closed", "Renamed question", "alice"]]
    assert ok(flow, "list_open") == [3, 1]  # drafts count as open


def test_comments_edits_hiding_rename_and_status(run):
    flow = run["flow"]
    assert len(ok(flow, "comment")) == 24
    assert ok(flow, "edit") == [True, "Edited answer", 2, True]
    assert ok(flow, "hide") == [True, ""]
    assert ok(flow, "rename") == ["Question about cfg_b", "Renamed question"]
    assert ok(flow, "close") == "closed"
    assert "already closed" in failed(flow, "close_again", "HfHubHTTPError", 400)
    d2 = ok(flow, "details2")
    assert (d2["is_pr"], d2["target"], d2["diff"], d2["title"]) == (
        False, None, None, "Renamed question",
    )  # fmt: skip
    assert [e[0] for e in d2["events"]] == [
        "comment", "comment", "title-change", "comment", "status-change",
    ]  # fmt: skip
    assert d2["events"][1][2] is None  # the hidden comment's text is gone
    assert d2["events"][3:5] == [["comment", "alice", "Answered"],
                                 ["status-change", "alice", "closed"]]  # fmt: skip
    assert ok(flow, "same_details") is True
    failed(flow, "missing", "HfHubHTTPError", 404)


def test_permissions(run):
    flow = run["flow"]
    failed(flow, "bob_comment", "HfHubHTTPError", 403)  # read token
    assert ok(flow, "bob_reads") == "Renamed question"
    assert len(ok(flow, "carol_comment")) == 24  # any writer may comment
    failed(flow, "carol_close", "HfHubHTTPError", 403)  # not hers, not her namespace
    failed(flow, "carol_main", "HfHubHTTPError", 403)
    assert ok(flow, "carol_pr") == 4  # but she may open a pull request on a foreign repo
    assert len(ok(flow, "carol_push_own")) == 40  # and push to it
    failed(flow, "carol_push_other", "HfHubHTTPError", 403)
    failed(flow, "carol_merge", "HfHubHTTPError", 403)
    failed(flow, "carol_edit_alice", "HfHubHTTPError", 403)


def test_merge_fast_forward_and_merge_commit(run):
    flow = run["flow"]
    assert "draft" in failed(flow, "merge_draft", "HfHubHTTPError", 400)
    ok(flow, "merge_ff")
    main, pr_text, status, merge_commit, last_events = ok(flow, "after_ff")
    assert main == merge_commit == ok(flow, "pr1_head")  # fast-forward: main is the PR's head
    assert (pr_text, status) == ("pr one\n", "merged")
    assert last_events == [["comment", "alice", "LGTM"], ["status-change", "alice", "merged"]]
    failed(flow, "merge_again", "HfHubHTTPError", 400)
    failed(flow, "push_merged", "HfHubHTTPError", 400)
    ok(flow, "merge_b")
    main, (first, second), b_text, main_text, merge_commit, pr_head = ok(flow, "after_merge_b")
    assert main == merge_commit == first and second == ok(flow, "main_moves")
    assert pr_head not in (main, second)  # a merge commit of both heads
    assert (b_text, main_text) == ("from pr b\n", "main only\n")


def test_merge_conflict_is_refused(run):
    flow = run["flow"]
    d = ok(flow, "details_c")
    assert d["conflicts"] == ["shared.txt"] and d["status"] == "open"
    assert "shared.txt" in failed(flow, "merge_c", "HfHubHTTPError", 409)
    assert ok(flow, "after_c") == ["open", "main side\n"]


def test_pull_requests_target_branches_only(run):
    flow = run["flow"]
    assert ok(flow, "branch_pr") == "refs/heads/dev"
    failed(flow, "pr_on_tag", "RevisionNotFoundError", 404)
    failed(flow, "pr_on_missing", "RevisionNotFoundError", 404)


def test_datasets_push_to_hub_create_pr_and_delete_from_hub(run):
    flow = run["flow"]
    revision, on_pr, on_main, refs = ok(flow, "push_to_hub_pr")
    assert (revision, on_pr, on_main) == ("refs/pr/1", [1, 2, 3], [1, 2])
    assert list(refs) == ["refs/pr/1"]
    num, data_files, has_a, has_b, main_has_a = ok(flow, "delete_from_hub")
    assert data_files == ["data/cfg_b/train-00000-of-00001.parquet"]
    assert (has_a, has_b, main_has_a) == (False, True, True)
    assert num == ok(flow, "final_list")[0][0] + 1


def test_discussions_survive_a_restart_and_go_with_the_repo(run):
    flow = run["flow"]
    tokens = TokenStore.parse(TOKENS, source="pull request test tokens")
    with LocalHub(run["root"], tokens=tokens) as hub:
        http = Http(hub.endpoint)
        base = f"/api/datasets/{DS}"
        status, _, body = http("GET", f"{base}/discussions")
        listed = json.loads(body)
        assert status == 200 and listed["count"] == len(ok(flow, "persisted")[0])
        assert [d["num"] for d in listed["discussions"]] == [d[0] for d in ok(flow, "persisted")[0]]
        status, _, body = http("GET", f"{base}/refs?include_prs=1")
        refs = {r["ref"]: [r["name"], r["targetCommit"]] for r in json.loads(body)["pullRequests"]}
        assert refs == ok(flow, "persisted")[1]
        status, _, body = http("GET", f"{base}/revision/{quote('refs/pr/1', safe='')}")
        assert json.loads(body)["sha"] == ok(flow, "pr1_head")
        status, _, body = http("GET", f"{base}/discussions/2")
        d2 = json.loads(body)
        assert d2["title"] == "Renamed question"
        assert d2["events"][-1]["data"]["latest"]["raw"] == "From carol"
        assert d2["events"][-1]["id"] == ok(flow, "carol_comment")

        payload = json.dumps({"name": "pulls", "organization": "alice", "type": "dataset"})
        status, _, _ = http("DELETE", "/api/repos/delete", payload, token=WRITE_TOKEN)
        assert status == 200
        assert not (run["root"] / "repos/dataset/alice/pulls").exists()
        status, headers, _ = http("GET", f"{base}/discussions")
        assert (status, headers["X-Error-Code"]) == (404, "RepoNotFound")
        payload = json.dumps({"name": "pulls", "organization": "alice", "type": "dataset"})
        assert http("POST", "/api/repos/create", payload, token=WRITE_TOKEN)[0] == 200
        status, _, body = http("GET", f"{base}/discussions")
        assert json.loads(body)["count"] == 0
