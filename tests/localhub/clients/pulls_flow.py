"""Pull requests and discussions through the unmodified clients (test_localhub_pulls.py).

Usage: python pulls_flow.py OUT.json FIXTURES_DIR CAROL_TOKEN

HF_TOKEN is alice's write token, LOCALHUB_TEST_READ_TOKEN bob's read token; carol writes in
another namespace. Every step records its value or its exception in OUT.json.
"""

from __future__ import annotations

import hashlib
import os
import sys
import traceback
from pathlib import Path

from huggingface_hub import CommitOperationAdd, CommitOperationDelete, HfApi, hf_hub_download

OUT, FIX, CAROL = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
DS, PUSHED = "alice/pulls", "alice/pushed"
api = HfApi()
bob = HfApi(token=os.environ["LOCALHUB_TEST_READ_TOKEN"])
carol = HfApi(token=CAROL)
results: dict[str, dict] = {}


def step(name, fn):
    try:
        results[name] = {"ok": True, "value": fn()}
    except Exception as exc:  # recorded for the test process to assert on
        response = getattr(exc, "response", None)
        results[name] = {
            "ok": False,
            "errors": [cls.__name__ for cls in type(exc).__mro__],
            "status": getattr(response, "status_code", None),
            "message": str(exc)[:1500],
            "traceback": traceback.format_exc()[-3000:],
        }


def head(revision="main", repo=DS) -> str:
    return api.repo_info(repo, repo_type="dataset", revision=revision).sha


def read(path, revision="main", repo=DS) -> str:
    return Path(hf_hub_download(repo, path, repo_type="dataset", revision=revision)).read_text()


def upload(content: bytes, path: str, who=api, **kwargs):
    info = who.upload_file(path_or_fileobj=content, path_in_repo=path, repo_id=DS,
                           repo_type="dataset", **kwargs)  # fmt: skip
    return {"oid": info.oid, "pr_url": info.pr_url, "pr_revision": info.pr_revision,
            "pr_num": info.pr_num, "commit_url": info.commit_url}  # fmt: skip


def listing(**filters) -> list:
    found = api.get_repo_discussions(DS, repo_type="dataset", **filters)
    return [[d.num, d.is_pull_request, d.status, d.title, d.author] for d in found]


def details(num: int, who=api) -> dict:
    d = who.get_discussion_details(DS, num, repo_type="dataset")
    events = [[e.type, e.author, getattr(e, "content", None) or getattr(e, "new_status", None)
               or getattr(e, "oid", None) or getattr(e, "new_title", None)] for e in d.events]  # fmt: skip
    return {"title": d.title, "status": d.status, "is_pr": d.is_pull_request, "author": d.author,
            "target": d.target_branch, "conflicts": d.conflicting_files, "diff": d.diff,
            "merge_commit": d.merge_commit_oid, "events": events, "url": d.url}  # fmt: skip


def pr_refs(repo=DS) -> dict:
    refs = api.list_repo_refs(repo, repo_type="dataset", include_pull_requests=True)
    return {r.ref: [r.name, r.target_commit] for r in refs.pull_requests}


def parents(commit_id: str) -> list:
    commits = api.list_repo_commits(DS, repo_type="dataset", revision=commit_id)
    return [c.commit_id for c in commits[:2]]


# -- a repo with data on main; a pull request opened by an upload ------------------------------
step("setup", lambda: [api.create_repo(DS, repo_type="dataset").repo_id,
     api.upload_folder(repo_id=DS, repo_type="dataset", folder_path=FIX / "dataset_v1").oid,
     upload(b"base\n", "shared.txt")["oid"]])  # fmt: skip
step("main_before", lambda: head())


def open_pr1() -> dict:
    info = api.create_commit(
        DS,
        [CommitOperationAdd("pr.txt", b"pr one\n"),
         CommitOperationAdd("weights/blob.bin", str(FIX / "blob.bin"))],  # LFS, through Xet
        commit_message="Add pr.txt", commit_description="First pull request",
        repo_type="dataset", create_pr=True,
    )  # fmt: skip
    return {"oid": info.oid, "pr_url": info.pr_url, "pr_revision": info.pr_revision,
            "pr_num": info.pr_num, "commit_url": info.commit_url}  # fmt: skip


step("pr1", open_pr1)
step("pr1_read", lambda: [read("pr.txt", "refs/pr/1"), head("refs/pr/1"),
     hashlib.sha256(Path(hf_hub_download(DS, "weights/blob.bin", repo_type="dataset",
                                         revision="refs/pr/1")).read_bytes()).hexdigest()])  # fmt: skip
step("pr1_on_main", lambda: read("pr.txt"))
step(
    "pr1_files", lambda: sorted(api.list_repo_files(DS, repo_type="dataset", revision="refs/pr/1"))
)
step("pr1_paths_info", lambda: [p.path for p in api.get_paths_info(
    DS, ["pr.txt", "weights"], repo_type="dataset", revision="refs/pr/1")])  # fmt: skip
step("main_after_pr1", lambda: head())
step("refs_plain", lambda: api.list_repo_refs(DS, repo_type="dataset").pull_requests)
step("refs_pr1", pr_refs)
step("pr1_push", lambda: upload(b"more\n", "pr2.txt", revision="refs/pr/1")["oid"])
step(
    "pr1_delete",
    lambda: api.create_commit(
        DS, [CommitOperationDelete("pr2.txt")], commit_message="Drop pr2.txt",
        repo_type="dataset", revision="refs/pr/1",
    ).oid,
)  # fmt: skip
step("pr1_head", lambda: head("refs/pr/1"))
step(
    "pr1_commits", lambda: len(api.list_repo_commits(DS, repo_type="dataset", revision="refs/pr/1"))
)

# -- discussions -------------------------------------------------------------------------------
step("disc2", lambda: api.create_discussion(DS, title=" Question about cfg_b ", description="Why?",
                                            repo_type="dataset").num)  # fmt: skip
step("draft3", lambda: [api.create_pull_request(DS, title="Draft PR", repo_type="dataset").status,
                        head("refs/pr/3")])  # fmt: skip
step("list_all", listing)
step("list_prs", lambda: listing(discussion_type="pull_request"))
step("list_discussions", lambda: listing(discussion_type="discussion"))
step("list_unknown_author", lambda: listing(author="unknown"))
step("list_alice", lambda: len(listing(author="alice")))
step("comment", lambda: api.comment_discussion(DS, 2, "First **answer**", repo_type="dataset").id)


def edit() -> list:
    comment_id = results["comment"]["value"]
    edited = api.edit_discussion_comment(DS, 2, comment_id, "Edited answer", repo_type="dataset")
    events = api.get_discussion_details(DS, 2, repo_type="dataset").events
    stored = [e for e in events if e.id == comment_id][0]
    return [edited.edited, edited.content, edited.number_of_edits, stored == edited]


def hide() -> list:
    hidden = api.hide_discussion_comment(DS, 2, results["comment"]["value"], repo_type="dataset")
    return [hidden.hidden, hidden.content]


def rename() -> list:
    event = api.rename_discussion(DS, 2, "Renamed question", repo_type="dataset")
    return [event.old_title, event.new_title]


step("edit", edit)
step("hide", hide)
step("rename", rename)
step("close", lambda: api.change_discussion_status(DS, 2, "closed", comment="Answered",
                                                   repo_type="dataset").new_status)  # fmt: skip
step("close_again", lambda: api.change_discussion_status(DS, 2, "closed", repo_type="dataset"))
step("list_closed", lambda: listing(discussion_status="closed"))
step("list_open", lambda: [d[0] for d in listing(discussion_status="open")])
step("details2", lambda: details(2))
step("same_details", lambda: api.get_discussion_details(DS, 2, repo_type="dataset")
     == api.get_discussion_details(DS, 2, repo_type="dataset"))  # fmt: skip
step("details1", lambda: details(1))
step("missing", lambda: details(99))

# -- who may do what -----------------------------------------------------------------------------
step("bob_comment", lambda: bob.comment_discussion(DS, 2, "read token", repo_type="dataset"))
step("bob_reads", lambda: details(2, bob)["title"])
step("carol_comment", lambda: carol.comment_discussion(DS, 2, "From carol", repo_type="dataset").id)
step("carol_close", lambda: carol.change_discussion_status(DS, 1, "closed", repo_type="dataset"))
step("carol_main", lambda: upload(b"x", "carol.txt", who=carol))
step("carol_pr", lambda: upload(b"carol\n", "carol.txt", who=carol, create_pr=True)["pr_num"])
step("carol_push_own", lambda: upload(b"carol 2\n", "carol.txt", who=carol,
                                      revision=f"refs/pr/{results['carol_pr']['value']}")["oid"])  # fmt: skip
step("carol_push_other", lambda: upload(b"x", "x.txt", who=carol, revision="refs/pr/1"))
step("carol_merge", lambda: carol.merge_pull_request(DS, 1, repo_type="dataset"))
step("carol_edit_alice", lambda: carol.edit_discussion_comment(
    DS, 1, [e for e in api.get_discussion_details(DS, 1, repo_type="dataset").events
            if e.type == "comment"][0].id, "hijack", repo_type="dataset"))  # fmt: skip

# -- merging -------------------------------------------------------------------------------------
step("merge_draft", lambda: api.merge_pull_request(DS, 3, repo_type="dataset"))
step("merge_ff", lambda: api.merge_pull_request(DS, 1, comment="LGTM", repo_type="dataset"))
step("after_ff", lambda: [head(), read("pr.txt"), details(1)["status"],
                          details(1)["merge_commit"], details(1)["events"][-2:]])  # fmt: skip
step("merge_again", lambda: api.merge_pull_request(DS, 1, repo_type="dataset"))
step("push_merged", lambda: upload(b"late\n", "late.txt", revision="refs/pr/1"))
step("pr_b", lambda: upload(b"from pr b\n", "b.txt", create_pr=True)["pr_num"])
step("main_moves", lambda: upload(b"main only\n", "main-only.txt")["oid"])
step("merge_b", lambda: api.merge_pull_request(DS, results["pr_b"]["value"], repo_type="dataset"))
step("after_merge_b", lambda: [head(), parents(head()), read("b.txt"), read("main-only.txt"),
     details(results["pr_b"]["value"])["merge_commit"], head(f"refs/pr/{results['pr_b']['value']}")])  # fmt: skip
step("pr_c", lambda: upload(b"pr side\n", "shared.txt", create_pr=True)["pr_num"])
step("main_conflicts", lambda: upload(b"main side\n", "shared.txt")["oid"])
step("details_c", lambda: details(results["pr_c"]["value"]))
step("merge_c", lambda: api.merge_pull_request(DS, results["pr_c"]["value"], repo_type="dataset"))
step("after_c", lambda: [details(results["pr_c"]["value"])["status"], read("shared.txt")])
step("branch_pr", lambda: [api.create_branch(DS, branch="dev", repo_type="dataset"),
     details(upload(b"dev\n", "dev.txt", create_pr=True, revision="dev")["pr_num"])["target"]][1])  # fmt: skip
step("pr_on_tag", lambda: [api.create_tag(DS, tag="v1", repo_type="dataset"),
                           upload(b"t\n", "t.txt", create_pr=True, revision="v1")])  # fmt: skip
step("pr_on_missing", lambda: upload(b"t\n", "t.txt", create_pr=True, revision="nope"))
step("final_list", lambda: listing())
step("final_refs", pr_refs)


# -- datasets: push_to_hub(create_pr=True), load_dataset at refs/pr/N, delete_from_hub -----------
def push_and_load():
    from datasets import Dataset, load_dataset

    Dataset.from_dict({"id": [1, 2]}).push_to_hub(PUSHED, "main_cfg")
    info = Dataset.from_dict({"id": [1, 2, 3]}).push_to_hub(PUSHED, "main_cfg", create_pr=True)
    on_pr = load_dataset(PUSHED, "main_cfg", split="train", revision=info.pr_revision)
    on_main = load_dataset(PUSHED, "main_cfg", split="train")
    return [info.pr_revision, list(on_pr["id"]), list(on_main["id"]), pr_refs(PUSHED)]


def delete_config():
    from datasets.hub import delete_from_hub

    info = delete_from_hub(DS, "cfg_a")
    files = api.list_repo_files(DS, repo_type="dataset", revision=info.pr_revision)
    card = read("README.md", info.pr_revision)
    return [info.pr_num, sorted(f for f in files if f.startswith("data/")),
            "cfg_a" in card, "cfg_b" in card, "cfg_a" in read("README.md")]  # fmt: skip


step("push_to_hub_pr", push_and_load)
step("delete_from_hub", delete_config)
step("persisted", lambda: [listing(), pr_refs()])
OUT.write_text(__import__("json").dumps(results, default=str))
