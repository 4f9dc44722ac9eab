"""Repo ids, revisions and repo settings as huggingface.co has them (issue 17).

Bare names and missing repos, implicit folder deletes, short commit ids, a branch named like
a tag, case-insensitive ids, ``auth-check`` and gating, the order of checks, repo settings,
``move_repo``, ``super_squash_history``, LFS file listing and deletion, ``X-Request-Id`` and
whoami, and the test suites' usernames: driven by unmodified huggingface_hub and datasets in
one client process (clients/ids_settings_flow.py) against an in-process server, plus a few
raw HTTP checks for what the clients do not show.
"""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys

import pytest
from localhub_helpers import Http, client_environment, run_client

from ocforge.hub import LocalHub, TokenConfigError, TokenStore
from ocforge.hub.validation import RepoKey

TOKENS = {
    "dummy": "hf_ids_dummy_token_0001",
    "alice": "hf_ids_alice_token_0002",
    "bob": "hf_ids_bob_token_0003",
}
TOKEN_FILE = f"""# TOKEN USERNAME ROLE [fullname=...] [ORG[=Display%20Name] ...]
{TOKENS["dummy"]}\t__DUMMY_HUB_USER__\twrite\tfullname=Dummy%20User
{TOKENS["alice"]}\talice\twrite\tfullname=Alice%20Liddell\twonderland=Wonder%20Land
{TOKENS["bob"]}\tbob
"""
DUMMY = "__DUMMY_HUB_USER__"
HEX40 = re.compile(r"^[0-9a-f]{40}$")


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory):
    work = tmp_path_factory.mktemp("ids")
    (work / "tokens").write_text(TOKEN_FILE)
    (work / "tokens.json").write_text(json.dumps(TOKENS))
    tokens = TokenStore.from_sources(token_file=work / "tokens", env={})
    with LocalHub(work / "hub", tokens=tokens) as hub:
        env = client_environment(hub.endpoint, None, work / "hf_home")
        args = (str(work / "tokens.json"), str(work))
        flow = run_client("ids_settings_flow.py", env, work / "out.json", *args, timeout=600)
        yield {"hub": hub, "flow": flow, "http": Http(hub.endpoint), "root": work / "hub"}


@pytest.fixture(scope="module")
def flow(run) -> dict:
    return run["flow"]


def ok(flow: dict, name: str):
    result = flow[name]
    assert result["ok"], f"step {name} failed: {result.get('traceback') or result}"
    return result["value"]


def failed(flow: dict, name: str, error: str, status: int | None, match: str = "") -> dict:
    result = flow[name]
    assert not result["ok"], f"step {name} unexpectedly succeeded: {result['value']!r}"
    assert error in result["errors"], f"step {name}: {result['error']}: {result['message']}"
    assert result["status"] == status, f"step {name}: {result['message']}"
    assert re.search(match, result["message"]), f"step {name}: {result['message']}"
    return result


def test_suite_usernames_and_whoami(flow):
    dummy = ok(flow, "dummy_whoami")
    assert (dummy["name"], dummy["fullname"], dummy["orgs"]) == (DUMMY, "Dummy User", [])
    alice = ok(flow, "alice_whoami")
    assert alice["fullname"] == "Alice Liddell" and alice["auth"]["accessToken"]["role"] == "write"
    assert [(o["type"], o["name"], o["fullname"]) for o in alice["orgs"]] == [
        ("org", "wonderland", "Wonder Land")
    ]
    assert re.fullmatch(r"[0-9a-f]{24}", alice["id"])
    assert ok(flow, "underscore_name").endswith(f"/{DUMMY}/_under_score_")


@pytest.mark.parametrize("name", ["../x", "-x", ".x", "x-", "a..b", "a--b", "x.git", "a/b", "é"])
def test_usernames_the_hub_refuses_stay_refused(name):
    with pytest.raises(TokenConfigError):
        TokenStore.parse(f"hf_token_0000000001 {name}", source="t")
    assert TokenStore.parse("hf_token_0000000001 __DUMMY_DATASETS_USER__", source="t")


def test_bare_name_push_to_hub_and_load_dataset(flow):
    assert all(HEX40.match(oid) for oid in ok(flow, "bare_push"))
    assert ok(flow, "bare_load") == [4, 5]  # the second push replaced the split
    assert ok(flow, "bare_files") == [".gitattributes", "README.md", "data/train-00000-of-00001.parquet"]  # fmt: skip
    assert ok(flow, "bare_create").endswith(f"/{DUMMY}/bare-model")
    ok(flow, "bare_delete")  # delete_repo("bare-model"): the token's namespace too
    assert ok(flow, "bare_deleted") is False


def test_missing_repos_are_repo_not_found_everywhere(flow):
    failed(flow, "bare_info", "RepositoryNotFoundError", 404)
    for name in (
        "bare_repo_exists", "bare_ds_exists", "bare_file_exists", "bare_revision_exists",
        "unknown_ns_exists", "unknown_ns_file", "unknown_ns_revision",
    ):  # fmt: skip
        assert ok(flow, name) is False, name


@pytest.mark.parametrize(
    "method,path",
    [
        ("GET", "/api/datasets/my-ds"),
        ("GET", "/api/models/my-model/revision/main"),
        ("GET", "/api/datasets/my-ds/tree/main/data"),
        ("POST", "/api/models/my-model/preupload/main"),
        ("HEAD", "/my-model/resolve/main/config.json"),
        ("GET", "/datasets/my-ds/resolve/main/README.md"),
        ("POST", "/datasets/my-ds.git/info/lfs/objects/batch"),
        ("GET", "/api/models/nobody-here/x/refs"),
    ],
)
def test_bare_names_over_raw_http(run, method, path):
    status, headers, _ = run["http"](method, path, body=b"{}" if method == "POST" else None)
    assert (status, headers["X-Error-Code"]) == (404, "RepoNotFound")


def test_implicit_folder_delete(flow):
    assert HEX40.match(ok(flow, "delete_dir"))
    assert ok(flow, "after_delete_dir") == [".gitattributes", "2/c.md"]
    failed(flow, "delete_missing", "EntryNotFoundError", 404)


def test_short_commit_ids(flow):
    c1, c2 = ok(flow, "commits")
    ok(flow, "tag_short")
    assert ok(flow, "tag_short_sha") == c2
    assert ok(flow, "info_short") == c1
    assert ok(flow, "download_short") == "a"
    assert ok(flow, "tree_short") == [".gitattributes", "1", "1/a.md", "1/b.md", "2", "2/c.md"]
    assert ok(flow, "paths_short") == ["2/c.md"]
    ok(flow, "branch_short")
    assert ["refs/heads/from-short", c1] in ok(flow, "refs_both")
    assert ok(flow, "unknown_short") is False


def test_branch_and_tag_share_a_name(flow):
    c1, c2 = ok(flow, "commits")
    on_branch = ok(flow, "commit_both")
    assert ok(flow, "read_both") == on_branch  # the branch wins (revisions.py)
    assert ok(flow, "read_branch_both") == on_branch
    assert ok(flow, "read_tag_both") == c1
    ok(flow, "tag_named_branch")
    refs = [tuple(r) for r in ok(flow, "refs_both")]
    assert {("refs/tags/both", c1), ("refs/heads/both", on_branch)} <= set(refs)
    assert ("refs/tags/from-short", c2) in refs
    failed(flow, "branch_again", "HfHubHTTPError", 409, "Reference refs/heads/both already exists")


def test_missing_revision_is_checked_before_the_tag_name(flow):
    failed(flow, "tag_missing_revision", "RevisionNotFoundError", 404)
    failed(flow, "tag_bad_name", "BadRequestError", 400)


def test_case_insensitive_repo_ids(run, flow):
    url = ok(flow, "case_create")
    assert url.endswith("/datasets/alice/My-Repo")
    assert HEX40.match(ok(flow, "case_commit"))
    assert ok(flow, "case_info_id") == "alice/My-Repo"
    assert ok(flow, "case_files") == [".gitattributes", "x.txt"]
    assert ok(flow, "case_download") == "x"
    failed(flow, "case_conflict", "HfHubHTTPError", 409)
    assert ok(flow, "case_exist_ok") == url
    assert ok(flow, "case_listed") == ["alice/My-Repo"]
    repos = run["hub"].store.root / "repos" / "dataset" / "alice"
    assert sorted(p.name for p in repos.iterdir()) == ["My-Repo", "scheduled"]


def test_auth_check_and_gated_repos(flow):
    assert ok(flow, "auth_check_owner") is None
    failed(flow, "auth_check_missing", "RepositoryNotFoundError", 404)
    failed(flow, "auth_check_write_other", "HfHubHTTPError", 403)
    assert ok(flow, "gated_value") == "auto"
    failed(flow, "gated_auth_check_bob", "GatedRepoError", 403)
    failed(flow, "gated_auth_check_anon", "GatedRepoError", 401)
    failed(flow, "gated_download_bob", "GatedRepoError", 403)
    assert ok(flow, "gated_files_bob") == [".gitattributes", "weights.txt"]  # listings stay open
    assert ok(flow, "gated_download_owner") == "w"


def test_repo_settings_visibility_and_gating(flow):
    assert ok(flow, "manual_private") == ["manual", True]
    failed(flow, "private_bob", "RepositoryNotFoundError", 404)
    assert ok(flow, "private_exists_anon") is False
    assert ok(flow, "ungated") == [False, False]
    assert ok(flow, "ungated_download_bob") == "w"
    failed(flow, "settings_bob", "HfHubHTTPError", 403)


def test_settings_refuse_bad_values(run):
    http, token = run["http"], TOKENS["alice"]
    for body, word in [({"gated": True}, "gated"), ({"visibility": "hidden"}, "visibility"),
                       ({"discussionsDisabled": True}, "discussionsDisabled"), ({}, "At least")]:  # fmt: skip
        status, headers, data = http(
            "PUT", "/api/datasets/alice/My-Repo/settings", json.dumps(body), token=token
        )
        assert (status, headers["X-Error-Code"]) == (400, "BadRequest"), body
        assert word in json.loads(data)["error"]


def test_move_repo(flow):
    ok(flow, "move")
    # the old id leads to the moved repo, as on the Hub; a delete names only the id it is given
    assert ok(flow, "moved_exists") == [True, True]
    assert ok(flow, "moved_download") == "w"
    assert ok(flow, "moved_old_id") == "alice/moved-model"
    assert ok(flow, "moved_old_download") == "w"
    assert ok(flow, "moved_old_private_bob") is True  # public again at this point
    failed(flow, "moved_delete_old_id", "RepositoryNotFoundError", 404)
    failed(flow, "move_onto_existing", "HfHubHTTPError", 409, r"A model repository called .* already exists")  # fmt: skip
    failed(flow, "move_by_bob", "HfHubHTTPError", 403)
    ok(flow, "move_case_only")
    assert ok(flow, "move_case_id") == "alice/Moved-Model"
    assert ok(flow, "move_chain_id") == "alice/Moved-Model"
    # a repo created under an old id replaces its redirect; the moved repo keeps its new id
    url, files = ok(flow, "old_id_recreated")
    assert url.endswith("/alice/gated-model") and files == [".gitattributes"]
    assert ok(flow, "old_id_after_recreate") == "alice/Moved-Model"


def test_super_squash_history(flow):
    assert ok(flow, "squashed") == ["Super-squash branch 'main' using huggingface_hub"]
    assert ok(flow, "squash_other_branch") == 4  # v0.1 keeps its history
    assert ok(flow, "squash_content") == "v2"
    assert ok(flow, "squash_pr") == 1  # refs/pr/N (huggingface_hub's special-ref case)
    failed(flow, "squash_tag", "BadRequestError", 400)
    # CommitScheduler(squash_history=True): two pushes, one commit left
    assert ok(flow, "scheduler") == ["1", ".gitattributes", "log0.txt", "log1.txt"]


def test_list_and_permanently_delete_lfs_files(run, flow):
    assert ok(flow, "lfs_list") == [
        ["lfs_file.bin", "refs/heads/main", 11],
        ["lfs_file_2.bin", "refs/heads/main", 13],
        ["lfs_file_branch.bin", "refs/heads/my-branch", 18],
        ["pr.bin", "refs/pr/1", 11],
    ]
    assert ok(flow, "lfs_xet") == [
        "lfs_file.bin",
        "lfs_file_2.bin",
        "lfs_file_branch.bin",
        "pr.bin",
    ]
    failed(flow, "lfs_list_bob", "HfHubHTTPError", 403)
    gone = {hashlib.sha256(b).hexdigest() for b in (b"LFS content", b"LFS content 2")}
    assert set(ok(flow, "lfs_delete")) == gone
    assert ok(flow, "lfs_after") == ["lfs_file_branch.bin", "pr.bin"]  # branches, PRs too
    assert ok(flow, "lfs_pr_after") == [".gitattributes", "pr.bin", "same_as_lfs.txt", "txt_file.txt"]  # fmt: skip
    assert ok(flow, "lfs_files_after") == [".gitattributes", "same_as_lfs.txt", "txt_file.txt"]
    for tree in ok(flow, "lfs_history_after"):
        assert not {"lfs_file.bin", "lfs_file_2.bin"} & set(tree)
    failed(flow, "lfs_download_deleted", "EntryNotFoundError", 404)
    assert ok(flow, "lfs_download_same_bytes") == "LFS content 2"  # same bytes, regular file
    assert ok(flow, "lfs_download_branch") == "LFS content branch"
    assert ok(flow, "lfs_old_commit") is False  # rewritten commits are deleted
    xet = run["hub"].store.xet
    key = RepoKey("model", "alice", "lfs-files")
    first = hashlib.sha256(b"LFS content").hexdigest()
    assert xet.lookup_sha256(key, first) is None  # the repo's Xet registration is gone
    assert xet.lookup_sha256(key, hashlib.sha256(b"LFS content branch").hexdigest()) is not None


def test_repo_deletion_is_permanent(flow):
    ok(flow, "recreate_delete")
    ok(flow, "recreate")
    assert ok(flow, "recreated_commits") == 1
    assert ok(flow, "recreated_old_commit") is False


def test_request_ids(run, flow):
    result = failed(flow, "missing_commit", "RepositoryNotFoundError", 404)
    first_line = result["message"].splitlines()[0]
    assert first_line == f"404 Client Error. (Request ID: {result['request_id']})"
    assert "Repository not found" not in result["message"]  # the client's text says it already
    http = run["http"]
    ids = [http("GET", "/api/whoami-v2", token=TOKENS["bob"])[1]["X-Request-Id"] for _ in "ab"]
    assert ids[0] != ids[1] and all(re.fullmatch(r"[0-9a-f]{24}", i) for i in ids)
    status, headers, body = http(
        "GET", "/api/models/alice/nope", headers={"X-Amzn-Trace-Id": "t-1"}
    )
    assert status == 404 and headers["X-Request-Id"].endswith(";t-1")
    assert headers["X-Request-Id"] not in body.decode()


def _org_setting(root, *flags: str) -> str:
    """``ocforge hub org wonderland`` (the real CLI, next to the running server)."""
    cmd = [sys.executable, "-m", "ocforge", "hub", "org", "wonderland", "--root", str(root)]
    done = subprocess.run([*cmd, *flags], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_org_private_by_default(run):
    http, token, root = run["http"], TOKENS["alice"], run["root"]

    def create(name: str, **fields) -> bool:
        body = json.dumps({"name": name, "organization": "wonderland", "type": "model", **fields})
        status, _, data = http("POST", "/api/repos/create", body, token=token)
        assert status == 200, data
        status, _, data = http("GET", f"/api/models/wonderland/{name}", token=token)
        assert status == 200, data
        return json.loads(data)["private"]

    assert _org_setting(root) == "org wonderland: new repos are public by default"
    assert create("before") is False
    assert _org_setting(root, "--private-by-default").endswith("private by default")
    assert create("unspecified") is True  # no private, no visibility: the org decides
    assert create("asked-public", private=False) is False
    assert create("asked-visibility", visibility="public") is False
    assert _org_setting(root, "--public-by-default").endswith("public by default")
    assert create("after") is False
    status, _, data = http("GET", "/api/models/wonderland/unspecified", token=TOKENS["bob"])
    assert status == 404  # it stayed private: outside bob's namespaces


def test_org_setting_refuses_a_bad_org_name(run):
    cmd = [sys.executable, "-m", "ocforge", "hub", "org", "a--b", "--root", str(run["root"])]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert "Invalid org name" in done.stderr and "Traceback" not in done.stderr
