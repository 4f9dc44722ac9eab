"""Repo ids, revisions and repo settings through unmodified huggingface_hub and datasets.

Run by test_localhub_ids_settings.py. Usage: python ids_settings_flow.py OUT.json TOKENS.json WORK

TOKENS.json maps a user (dummy, alice, bob) to its token; the environment carries HF_ENDPOINT
and a private HF_HOME, no HF_TOKEN: every call names its token. Each step records its value or
its exception (type, HTTP status, message) in OUT.json for the test process to assert on.
"""

from __future__ import annotations

import json
import sys
import traceback
from pathlib import Path

from huggingface_hub import (
    CommitOperationAdd,
    CommitOperationDelete,
    CommitScheduler,
    HfApi,
    hf_hub_download,
)

OUT, WORK = Path(sys.argv[1]), Path(sys.argv[3])
TOKENS = json.loads(Path(sys.argv[2]).read_text())
DUMMY = "__DUMMY_HUB_USER__"
IDS = "alice/ids-repo"
results: dict[str, dict] = {}


def api(user: str | None) -> HfApi:
    return HfApi(token=TOKENS[user] if user else False)


alice, bob, dummy, anon = api("alice"), api("bob"), api("dummy"), api(None)


def step(name, fn):
    try:
        results[name] = {"ok": True, "value": fn()}
    except Exception as exc:  # recorded for the test process to assert on
        response = getattr(exc, "response", None)
        results[name] = {
            "ok": False,
            "error": type(exc).__name__,
            "errors": [cls.__name__ for cls in type(exc).__mro__],
            "status": getattr(response, "status_code", None),
            "request_id": response.headers.get("X-Request-Id") if response is not None else None,
            "message": str(exc)[:2000],
            "traceback": traceback.format_exc()[-3000:],
        }


def commit(client: HfApi, repo: str, files: dict[str, bytes], revision: str | None = None, **kw):
    ops = [CommitOperationAdd(path, content) for path, content in files.items()]
    return client.create_commit(repo, ops, commit_message="add", revision=revision, **kw).oid


def download(client: HfApi, repo: str, path: str, **kw) -> str:
    return Path(hf_hub_download(repo, path, token=client.token, **kw)).read_text()


# -- 10. the suites' usernames, 9. whoami ----------------------------------------------------
step("dummy_whoami", lambda: dummy.whoami())
step("alice_whoami", lambda: alice.whoami())


# -- 1. bare names: the token's namespace for create/delete and datasets' push_to_hub --------
def push_bare() -> list[str]:
    from datasets import Dataset

    first = Dataset.from_dict({"x": [1, 2, 3]}).push_to_hub("bare-ds", token=TOKENS["dummy"])
    # second push: repo_info("bare-ds") is RepoNotFound again, create_repo(exist_ok) -> 409 + url
    second = Dataset.from_dict({"x": [4, 5]}).push_to_hub("bare-ds", token=TOKENS["dummy"])
    return [first.oid, second.oid]


def load_bare() -> list[int]:
    from datasets import load_dataset

    ds = load_dataset(f"{DUMMY}/bare-ds", split="train", token=TOKENS["dummy"])
    return list(ds["x"])


step("bare_push", push_bare)
step("bare_load", load_bare)
step("bare_files", lambda: sorted(dummy.list_repo_files(f"{DUMMY}/bare-ds", repo_type="dataset")))
step("bare_create", lambda: str(dummy.create_repo("bare-model")))
step("bare_info", lambda: dummy.model_info("bare-model"))
step("bare_repo_exists", lambda: dummy.repo_exists("bare-model"))
step("bare_ds_exists", lambda: dummy.repo_exists("bare-ds", repo_type="dataset"))
step("bare_file_exists", lambda: dummy.file_exists("bare-ds", "README.md", repo_type="dataset"))
step("bare_revision_exists", lambda: dummy.revision_exists("bare-model", "main"))
step("unknown_ns_exists", lambda: dummy.repo_exists("nobody-here/x"))
step("unknown_ns_file", lambda: dummy.file_exists("nobody-here/x", "README.md"))
step("unknown_ns_revision", lambda: dummy.revision_exists("nobody-here/x", "main"))
step("bare_delete", lambda: dummy.delete_repo("bare-model"))
step("bare_deleted", lambda: dummy.repo_exists(f"{DUMMY}/bare-model"))
step("underscore_name", lambda: str(dummy.create_repo(f"{DUMMY}/_under_score_")))

# -- 2. implicit folder delete ----------------------------------------------------------------
step("ids_create", lambda: str(alice.create_repo(IDS)))
C1 = commit(alice, IDS, {"1/a.md": b"a", "1/b.md": b"b", "2/c.md": b"c"})
step("delete_dir", lambda: alice.create_commit(IDS, [CommitOperationDelete("1")], commit_message="rm").oid)  # fmt: skip
step("after_delete_dir", lambda: sorted(alice.list_repo_files(IDS)))
step("delete_missing", lambda: alice.create_commit(IDS, [CommitOperationDelete("nope")], commit_message="rm"))  # fmt: skip

# -- 3. short commit ids ----------------------------------------------------------------------
C2 = commit(alice, IDS, {"config.json": b'{"v": 2}'})
results["commits"] = {"ok": True, "value": [C1, C2]}
step("tag_short", lambda: alice.create_tag(IDS, tag="short", revision=C2[:7]))
step("tag_short_sha", lambda: alice.model_info(IDS, revision="short").sha)
step("info_short", lambda: alice.model_info(IDS, revision=C1[:8]).sha)
step("download_short", lambda: download(alice, IDS, "1/a.md", revision=C1[:7]))
step("tree_short", lambda: sorted(e.path for e in alice.list_repo_tree(IDS, revision=C1[:7], recursive=True)))  # fmt: skip
step("paths_short", lambda: [e.path for e in alice.get_paths_info(IDS, ["2/c.md"], revision=C1[:7])])  # fmt: skip
step("branch_short", lambda: alice.create_branch(IDS, branch="from-short", revision=C1[:7]))
step("unknown_short", lambda: alice.revision_exists(IDS, "0000000"))

# -- 4. a branch named like a tag (and the reverse) ------------------------------------------
step("tag_both", lambda: alice.create_tag(IDS, tag="both", revision=C1))
step("branch_both", lambda: alice.create_branch(IDS, branch="both"))
step("commit_both", lambda: commit(alice, IDS, {"on-branch.txt": b"b"}, revision="both"))
step("read_both", lambda: alice.model_info(IDS, revision="both").sha)
step("read_tag_both", lambda: alice.model_info(IDS, revision="refs/tags/both").sha)
step("read_branch_both", lambda: alice.model_info(IDS, revision="refs/heads/both").sha)
step("tag_named_branch", lambda: alice.create_tag(IDS, tag="from-short"))
step("branch_again", lambda: alice.create_branch(IDS, branch="both"))
step("refs_both", lambda: sorted((r.ref, r.target_commit) for r in [*alice.list_repo_refs(IDS).branches, *alice.list_repo_refs(IDS).tags]))  # fmt: skip

# -- 7. a missing revision before a bad tag name ---------------------------------------------
step("tag_missing_revision", lambda: alice.create_tag(IDS, tag="invalid tag", revision="foobar"))
step("tag_bad_name", lambda: alice.create_tag(IDS, tag="invalid tag"))

# -- 5. case-insensitive repo ids -------------------------------------------------------------
CASED = "alice/My-Repo"
step("case_create", lambda: str(alice.create_repo(CASED, repo_type="dataset")))
step("case_commit", lambda: commit(alice, "ALICE/my-repo", {"x.txt": b"x"}, repo_type="dataset"))
step("case_info_id", lambda: alice.dataset_info("alice/MY-REPO").id)
step("case_files", lambda: sorted(alice.list_repo_files("Alice/my-repo", repo_type="dataset")))
step("case_download", lambda: download(alice, "aLiCe/mY-rEpO", "x.txt", repo_type="dataset"))
step("case_conflict", lambda: alice.create_repo("alice/my-repo", repo_type="dataset"))
step("case_exist_ok", lambda: str(alice.create_repo("ALICE/MY-REPO", repo_type="dataset", exist_ok=True)))  # fmt: skip
step("case_listed", lambda: [d.id for d in alice.list_datasets(author="ALICE")])

# -- 6. auth-check and gating; 8. settings ----------------------------------------------------
GATED = "alice/gated-model"
step("gated_create", lambda: str(alice.create_repo(GATED)))
commit(alice, GATED, {"weights.txt": b"w"})
step("auth_check_owner", lambda: alice.auth_check(GATED))
step("auth_check_missing", lambda: alice.auth_check("alice/missing_repo_id"))
step("auth_check_write_other", lambda: bob.auth_check(GATED, write=True))
step("gate_auto", lambda: alice.update_repo_settings(GATED, gated="auto"))
step("gated_value", lambda: bob.model_info(GATED).gated)
step("gated_auth_check_bob", lambda: bob.auth_check(GATED))
step("gated_auth_check_anon", lambda: anon.auth_check(GATED))
step("gated_download_bob", lambda: download(bob, GATED, "weights.txt"))
step("gated_files_bob", lambda: sorted(bob.list_repo_files(GATED)))
step("gated_download_owner", lambda: download(alice, GATED, "weights.txt"))
step("gate_manual_private", lambda: alice.update_repo_settings(GATED, gated="manual", private=True))  # fmt: skip
step("manual_private", lambda: [alice.model_info(GATED).gated, alice.model_info(GATED).private])
step("private_bob", lambda: bob.model_info(GATED))
step("private_exists_anon", lambda: anon.repo_exists(GATED))
step("ungate_public", lambda: alice.update_repo_settings(GATED, gated=False, visibility="public"))
step("ungated", lambda: [anon.model_info(GATED).gated, anon.model_info(GATED).private])
step("ungated_download_bob", lambda: download(bob, GATED, "weights.txt"))
step("settings_bob", lambda: bob.update_repo_settings(GATED, private=True))

# -- 8. move_repo ------------------------------------------------------------------------------
step("move", lambda: alice.move_repo(GATED, "alice/moved-model"))
step("moved_exists", lambda: [alice.repo_exists(GATED), alice.repo_exists("alice/moved-model")])
step("moved_download", lambda: download(alice, "alice/moved-model", "weights.txt"))
# the old id still reaches the repo (the Hub's redirect), for reads and for the API
step("moved_old_id", lambda: alice.model_info(GATED).id)
step("moved_old_download", lambda: download(alice, GATED, "weights.txt"))
step("moved_old_private_bob", lambda: bob.repo_exists(GATED))
step("moved_delete_old_id", lambda: alice.delete_repo(GATED))
step("move_onto_existing", lambda: alice.move_repo("alice/moved-model", IDS))
step("move_by_bob", lambda: bob.move_repo("alice/moved-model", "bob/stolen"))
step("move_case_only", lambda: alice.move_repo("alice/moved-model", "alice/Moved-Model"))
step("move_case_id", lambda: alice.model_info("alice/moved-model").id)
step("move_chain_id", lambda: alice.model_info(GATED).id)  # two renames: followed
step("old_id_recreated", lambda: [str(alice.create_repo(GATED)), alice.list_repo_files(GATED)])
step("old_id_after_recreate", lambda: alice.model_info("alice/moved-model").id)

# -- 8. super_squash_history and CommitScheduler(squash_history=True) -------------------------
SQUASH = "alice/squash-me"
step("squash_create", lambda: str(alice.create_repo(SQUASH)))
for i in range(3):
    commit(alice, SQUASH, {"file.txt": f"v{i}".encode()})
step("squash_branch", lambda: alice.create_branch(SQUASH, branch="v0.1"))
step("squash", lambda: alice.super_squash_history(SQUASH))
step("squashed", lambda: [c.title for c in alice.list_repo_commits(SQUASH)])
step("squash_other_branch", lambda: len(alice.list_repo_commits(SQUASH, revision="v0.1")))
step("squash_content", lambda: download(alice, SQUASH, "file.txt"))


def squash_pull_request() -> int:
    pr = alice.create_pull_request(SQUASH, title="Squash on a pull request")
    for content in (b"a", b"b"):
        alice.upload_file(path_or_fileobj=content, path_in_repo="pr.txt", repo_id=SQUASH, revision=pr.git_reference)  # fmt: skip
    alice.super_squash_history(SQUASH, branch=pr.git_reference)
    return len(alice.list_repo_commits(SQUASH, revision=pr.git_reference))


step("squash_pr", squash_pull_request)
step("squash_tag", lambda: alice.create_tag(SQUASH, tag="t") or alice.super_squash_history(SQUASH, branch="t"))  # fmt: skip


def scheduler_run() -> list[str]:
    folder = WORK / "scheduled"
    folder.mkdir()
    scheduler = CommitScheduler(
        repo_id="alice/scheduled", repo_type="dataset", folder_path=folder, every=10,
        squash_history=True, token=TOKENS["alice"],
    )  # fmt: skip
    try:
        for i in range(2):
            (folder / f"log{i}.txt").write_text(f"line {i}\n")
            scheduler.trigger().result()
    finally:
        scheduler.stop()
    commits = alice.list_repo_commits("alice/scheduled", repo_type="dataset")
    files = alice.list_repo_files("alice/scheduled", repo_type="dataset")
    return [str(len(commits)), *sorted(files)]


step("scheduler", scheduler_run)

# -- 8. list_lfs_files / permanently_delete_lfs_files; permanent repo deletion ----------------
LFS = "alice/lfs-files"
step("lfs_create", lambda: str(alice.create_repo(LFS)))
LFS_COMMITS = [
    commit(alice, LFS, {path: content})
    for path, content in [
        ("lfs_file.bin", b"LFS content"),
        ("txt_file.txt", b"TXT content"),
        ("lfs_file_2.bin", b"LFS content 2"),
        ("same_as_lfs.txt", b"LFS content 2"),  # a regular file with an LFS file's bytes
    ]
]
alice.create_branch(LFS, branch="my-branch")
commit(alice, LFS, {"lfs_file_branch.bin": b"LFS content branch"}, revision="my-branch")
PR_REF = alice.upload_file(path_or_fileobj=b"LFS in a PR", path_in_repo="pr.bin", repo_id=LFS, create_pr=True).pr_revision  # fmt: skip
step("lfs_list", lambda: sorted((f.filename, f.ref, f.size) for f in alice.list_lfs_files(LFS)))
step("lfs_xet", lambda: sorted(f.filename for f in alice.list_lfs_files(LFS) if getattr(f, "xetHash", None)))  # fmt: skip
step("lfs_list_bob", lambda: list(bob.list_lfs_files(LFS)))


def delete_main_lfs() -> list[str]:
    on_main = [f for f in alice.list_lfs_files(LFS) if f.ref in ("main", "refs/heads/main")]
    alice.permanently_delete_lfs_files(LFS, on_main)
    return sorted(f.file_oid for f in on_main)


step("lfs_delete", delete_main_lfs)
step("lfs_after", lambda: sorted(f.filename for f in alice.list_lfs_files(LFS)))
step("lfs_files_after", lambda: sorted(alice.list_repo_files(LFS)))
step("lfs_history_after", lambda: [sorted(e.path for e in alice.list_repo_tree(LFS, revision=c.commit_id)) for c in alice.list_repo_commits(LFS)])  # fmt: skip
step("lfs_download_deleted", lambda: download(alice, LFS, "lfs_file.bin"))
step("lfs_pr_after", lambda: sorted(alice.list_repo_files(LFS, revision=PR_REF)))
step("lfs_download_same_bytes", lambda: download(alice, LFS, "same_as_lfs.txt"))
step("lfs_download_branch", lambda: download(alice, LFS, "lfs_file_branch.bin", revision="my-branch"))  # fmt: skip
step("lfs_old_commit", lambda: alice.revision_exists(LFS, LFS_COMMITS[0]))
step("recreate_delete", lambda: alice.delete_repo(IDS))
step("recreate", lambda: str(alice.create_repo(IDS)))
step("recreated_commits", lambda: len(alice.list_repo_commits(IDS)))
step("recreated_old_commit", lambda: alice.revision_exists(IDS, C2))

# -- 9. request ids in the client's error messages --------------------------------------------
step("missing_commit", lambda: commit(alice, "alice/repo_that_do_not_exist", {"config.json": b"{}"}))  # fmt: skip

OUT.write_text(json.dumps(results, indent=1, default=str))
