"""Client-side conformance flow, run in a separate process by test_conformance.py.

Usage: python hub_flow.py OUT.json FIXTURES_DIR

The environment carries HF_ENDPOINT, HF_TOKEN (write token) and a
private HF_HOME. Every step records its value or its exception (type, HTTP status) in OUT.json;
the pytest side asserts on them, so one broken step does not hide the others.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import threading
import traceback
from pathlib import Path

from huggingface_hub import (
    CommitOperationAdd,
    HfApi,
    HfFileSystem,
    hf_hub_download,
    snapshot_download,
)

OUT = Path(sys.argv[1])
FIX = Path(sys.argv[2])
DS = "alice/roleplay"
MODEL = "alice/tiny-model"
SECRET = "alice/secret-ds"
READ_TOKEN = os.environ["LOCALHUB_TEST_READ_TOKEN"]
WRONG_TOKEN = "hf_this_token_is_not_configured_000"

api = HfApi()
results: dict[str, dict] = {}


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
            "message": str(exc)[:1500],
            "traceback": traceback.format_exc()[-3000:],
        }


def sha256_file(path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def head(revision="main", repo=DS, repo_type="dataset") -> str:
    return api.repo_info(repo, repo_type=repo_type, revision=revision).sha


# -- account and repos ---------------------------------------------------------------------
step("whoami", lambda: api.whoami()["name"])
step("create_dataset", lambda: str(api.create_repo(DS, repo_type="dataset")))
step(
    "create_dataset_exist_ok", lambda: str(api.create_repo(DS, repo_type="dataset", exist_ok=True))
)
step("create_dataset_again", lambda: str(api.create_repo(DS, repo_type="dataset")))
step("create_model", lambda: str(api.create_repo(MODEL)))
step("create_model_exist_ok", lambda: str(api.create_repo(MODEL, exist_ok=True)))
step("initial_sha", lambda: head())

# -- uploads -------------------------------------------------------------------------------
step(
    "upload_folder",
    lambda: (
        api.upload_folder(
            repo_id=DS,
            repo_type="dataset",
            folder_path=FIX / "dataset_v1",
            commit_message="v1 data",
        ).oid
    ),
)
step("files_after_folder", lambda: sorted(api.list_repo_files(DS, repo_type="dataset")))
step(
    "upload_regular",
    lambda: api.upload_file(
        path_or_fileobj=b"hello local hub\n", path_in_repo="notes/hello.txt", repo_id=DS,
        repo_type="dataset", commit_message="add note",
    ).oid,
)  # fmt: skip
step(
    "upload_lfs",
    lambda: api.upload_file(
        path_or_fileobj=str(FIX / "blob.bin"), path_in_repo="weights/blob.bin", repo_id=DS,
        repo_type="dataset", commit_message="add lfs blob",
    ).oid,
)  # fmt: skip


def paths_info():
    infos = api.get_paths_info(
        DS, ["notes/hello.txt", "weights/blob.bin", "data", "missing.txt"], repo_type="dataset"
    )
    out = {}
    for info in infos:
        lfs = getattr(info, "lfs", None)
        out[info.path] = {
            "type": type(info).__name__,
            "size": getattr(info, "size", None),
            "lfs_sha256": lfs.sha256 if lfs else None,
        }
    return out


step("paths_info", paths_info)
step(
    "download_lfs_sha256",
    lambda: sha256_file(hf_hub_download(DS, "weights/blob.bin", repo_type="dataset")),
)
step(
    "download_regular",
    lambda: Path(hf_hub_download(DS, "notes/hello.txt", repo_type="dataset")).read_text(),
)
step(
    "upload_bad_readme",
    lambda: api.upload_file(
        path_or_fileobj=b"---\nconfigs: [unclosed\n---\n# bad\n", path_in_repo="README.md",
        repo_id=DS, repo_type="dataset",
    ).oid,
)  # fmt: skip
step("commits_before_noop", lambda: len(api.list_repo_commits(DS, repo_type="dataset")))
step("sha_before_noop", lambda: head())
step(
    "noop_upload_file",
    lambda: api.upload_file(
        path_or_fileobj=b"hello local hub\n", path_in_repo="notes/hello.txt", repo_id=DS,
        repo_type="dataset",
    ).oid,
)  # fmt: skip
step(
    "noop_upload_lfs",
    lambda: api.upload_file(
        path_or_fileobj=str(FIX / "blob.bin"), path_in_repo="weights/blob.bin", repo_id=DS,
        repo_type="dataset",
    ).oid,
)  # fmt: skip
step(
    "noop_upload_folder",
    lambda: api.upload_folder(repo_id=DS, repo_type="dataset", folder_path=FIX / "dataset_v1").oid,
)
step("commits_after_noop", lambda: len(api.list_repo_commits(DS, repo_type="dataset")))

# -- tags and branches ---------------------------------------------------------------------
step("create_tag", lambda: api.create_tag(DS, tag="v1.0.0", repo_type="dataset") or True)
step("tag_sha", lambda: head("v1.0.0"))
step("create_tag_again", lambda: api.create_tag(DS, tag="v1.0.0", repo_type="dataset"))
step(
    "create_tag_exist_ok",
    lambda: api.create_tag(DS, tag="v1.0.0", repo_type="dataset", exist_ok=True) or True,
)
step(
    "create_branch",
    lambda: api.create_branch(DS, branch="dev/feature", repo_type="dataset") or True,
)
step(
    "upload_to_branch",
    lambda: api.upload_file(
        path_or_fileobj=b"only on the branch\n", path_in_repo="branch-only.txt", repo_id=DS,
        repo_type="dataset", revision="dev/feature", commit_message="branch work",
    ).oid,
)  # fmt: skip
step("branch_sha", lambda: head("dev/feature"))
step(
    "upload_v2_main",
    lambda: (
        api.upload_folder(
            repo_id=DS,
            repo_type="dataset",
            folder_path=FIX / "dataset_v2",
            commit_message="v2 data",
        ).oid
    ),
)
step("main_sha", lambda: head())


def refs():
    r = api.list_repo_refs(DS, repo_type="dataset")
    return {
        "branches": {b.name: b.target_commit for b in r.branches},
        "tags": {t.name: t.target_commit for t in r.tags},
    }


step("refs", refs)
step(
    "commits",
    lambda: [
        {"id": c.commit_id, "title": c.title, "authors": c.authors}
        for c in api.list_repo_commits(DS, repo_type="dataset")
    ],
)
step(
    "commits_at_tag", lambda: len(api.list_repo_commits(DS, repo_type="dataset", revision="v1.0.0"))
)
step("list_files", lambda: sorted(api.list_repo_files(DS, repo_type="dataset")))
step(
    "list_files_branch",
    lambda: sorted(api.list_repo_files(DS, repo_type="dataset", revision="dev/feature")),
)
step(
    "tree_subfolder",
    lambda: [
        (e.path, type(e).__name__)
        for e in api.list_repo_tree(DS, "data/cfg_a", repo_type="dataset")
    ],
)
step(
    "tree_recursive",
    lambda: sorted(
        (e.path, type(e).__name__)
        for e in api.list_repo_tree(DS, repo_type="dataset", recursive=True)
    ),
)
step(
    "tree_expand",
    lambda: [
        (e.path, e.last_commit.oid if e.last_commit else None)
        for e in api.list_repo_tree(DS, "notes", repo_type="dataset", expand=True)
    ],
)
step("file_exists_yes", lambda: api.file_exists(DS, "README.md", repo_type="dataset"))
step("file_exists_no", lambda: api.file_exists(DS, "nope.txt", repo_type="dataset"))
step(
    "file_exists_branch",
    lambda: api.file_exists(DS, "branch-only.txt", repo_type="dataset", revision="dev/feature"),
)
step(
    "file_exists_branch_on_main",
    lambda: api.file_exists(DS, "branch-only.txt", repo_type="dataset"),
)
step("repo_info_tag", lambda: head("v1.0.0"))
step(
    "repo_info_siblings",
    lambda: sorted(s.rfilename for s in api.dataset_info(DS, revision="v1.0.0").siblings),
)
step(
    "download_at_tag",
    lambda: sha256_file(
        hf_hub_download(
            DS, "data/cfg_b/train-00000-of-00001.parquet", repo_type="dataset", revision="v1.0.0"
        )
    ),
)
step(
    "download_at_main",
    lambda: sha256_file(
        hf_hub_download(DS, "data/cfg_b/train-00000-of-00001.parquet", repo_type="dataset")
    ),
)


def snapshot():
    folder = Path(snapshot_download(DS, repo_type="dataset", revision="dev/feature"))
    files = sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())
    return {
        "folder_name": folder.name,
        "files": files,
        "branch_only": (folder / "branch-only.txt").read_text(),
        "cfg_b_sha256": sha256_file(folder / "data/cfg_b/train-00000-of-00001.parquet"),
    }


step("snapshot_branch", snapshot)


def filesystem():
    import pyarrow.parquet as pq

    fs = HfFileSystem()
    glob = sorted(fs.glob(f"datasets/{DS}@v1.0.0/data/**/*.parquet"))
    path = f"datasets/{DS}@v1.0.0/data/cfg_b/train-00000-of-00001.parquet"
    local = (FIX / "dataset_v1/data/cfg_b/train-00000-of-00001.parquet").read_bytes()
    with fs.open(path, "rb", block_size=16) as fh:
        fh.seek(4)
        middle = fh.read(20)
    tail = fs.cat_file(path, start=-8)
    with fs.open(path, "rb") as fh:
        table = pq.read_table(fh)
    return {
        "glob": glob,
        "size": fs.info(path)["size"],
        "local_size": len(local),
        "middle_ok": middle == local[4:24],
        "tail_ok": tail == local[-8:],
        "rows": table.num_rows,
        "ls_data": sorted(fs.ls(f"datasets/{DS}@v1.0.0/data", detail=False)),
    }


step("hffs", filesystem)


# -- concurrency ---------------------------------------------------------------------------
def concurrent_commits():
    parent = head()
    barrier = threading.Barrier(2)
    outcome: dict[str, object] = {}

    def worker(name):
        barrier.wait()
        try:
            info = api.create_commit(
                DS,
                [CommitOperationAdd(f"race/{name}.txt", f"{name}\n".encode())],
                commit_message=f"race {name}",
                repo_type="dataset",
                parent_commit=parent,
            )
            outcome[name] = {"ok": True, "oid": info.oid}
        except Exception as exc:
            response = getattr(exc, "response", None)
            outcome[name] = {
                "ok": False,
                "error": type(exc).__name__,
                "status": getattr(response, "status_code", None),
                "message": str(exc)[:500],
            }

    threads = [threading.Thread(target=worker, args=(n,)) for n in ("one", "two")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    commits = api.list_repo_commits(DS, repo_type="dataset")
    return {
        "parent": parent,
        "outcome": outcome,
        "new_head": head(),
        "new_head_parent_count": len(commits),
        "second_commit": commits[1].commit_id,
    }


step("concurrent", concurrent_commits)

# -- deletions inside a commit, tag names with "/" ------------------------------------------
step("delete_file", lambda: api.delete_file("notes/hello.txt", DS, repo_type="dataset").oid)
step("delete_folder", lambda: api.delete_folder("race", DS, repo_type="dataset").oid)
step("files_after_deletes", lambda: sorted(api.list_repo_files(DS, repo_type="dataset")))
step("create_slash_tag", lambda: api.create_tag(DS, tag="release/2026.1", repo_type="dataset") or 1)
step(
    "download_at_slash_tag",
    lambda: Path(
        hf_hub_download(DS, "README.md", repo_type="dataset", revision="release/2026.1")
    ).read_text(),
)
step("delete_slash_tag", lambda: api.delete_tag(DS, tag="release/2026.1", repo_type="dataset") or 1)

# -- auth and privacy ----------------------------------------------------------------------
step("wrong_token_whoami", lambda: HfApi(token=WRONG_TOKEN).whoami())
step("wrong_token_read", lambda: HfApi(token=WRONG_TOKEN).repo_info(DS, repo_type="dataset").sha)
step(
    "wrong_token_upload",
    lambda: HfApi(token=WRONG_TOKEN).upload_file(
        path_or_fileobj=b"x", path_in_repo="x.txt", repo_id=DS, repo_type="dataset"
    ),
)
step(
    "anonymous_upload",
    lambda: HfApi(token=False).upload_file(
        path_or_fileobj=b"x", path_in_repo="x.txt", repo_id=DS, repo_type="dataset"
    ),
)
step(
    "read_token_create",
    lambda: HfApi(token=READ_TOKEN).create_repo("bob/nope", repo_type="dataset"),
)
step("read_token_read", lambda: HfApi(token=READ_TOKEN).repo_info(DS, repo_type="dataset").sha)
step("anonymous_read_public", lambda: HfApi(token=False).repo_info(DS, repo_type="dataset").sha)
step("create_private", lambda: str(api.create_repo(SECRET, repo_type="dataset", private=True)))
step(
    "upload_private",
    lambda: (
        api.upload_file(
            path_or_fileobj=b"secret\n",
            path_in_repo="secret.txt",
            repo_id=SECRET,
            repo_type="dataset",
        ).oid
    ),
)
step("private_with_token", lambda: api.dataset_info(SECRET).private)
step("private_anonymous_info", lambda: HfApi(token=False).dataset_info(SECRET).sha)
step(
    "private_anonymous_download",
    lambda: hf_hub_download(SECRET, "secret.txt", repo_type="dataset", token=False),
)
step("list_datasets_token", lambda: sorted(d.id for d in api.list_datasets(author="alice")))
step(
    "list_datasets_anonymous",
    lambda: sorted(d.id for d in HfApi(token=False).list_datasets(author="alice")),
)
step(
    "private_anonymous_exists", lambda: HfApi(token=False).repo_exists(SECRET, repo_type="dataset")
)

# -- not-found errors ----------------------------------------------------------------------
step("missing_repo", lambda: api.repo_info("alice/does-not-exist", repo_type="dataset"))
step(
    "missing_repo_download",
    lambda: hf_hub_download("alice/does-not-exist", "README.md", repo_type="dataset"),
)
step(
    "missing_revision",
    lambda: hf_hub_download(DS, "README.md", repo_type="dataset", revision="no-such-branch"),
)
step(
    "missing_revision_info", lambda: api.repo_info(DS, repo_type="dataset", revision="no-such-tag")
)
step("missing_entry", lambda: hf_hub_download(DS, "no/such/file.txt", repo_type="dataset"))
step("missing_tree_path", lambda: list(api.list_repo_tree(DS, "no-such-dir", repo_type="dataset")))


# -- datasets ------------------------------------------------------------------------------
def load(revision):
    import datasets

    ds = datasets.load_dataset(DS, "cfg_b", revision=revision)
    return {"splits": sorted(ds), "ids": sorted(ds["train"]["id"])}


step("load_dataset_tag", lambda: load("v1.0.0"))
step("load_dataset_main", lambda: load(None))


def load_a():
    import datasets

    return sorted(datasets.load_dataset(DS, "cfg_a", split="train")["id"])


step("load_dataset_cfg_a_main", load_a)

step("load_dataset_missing", lambda: __import__("datasets").load_dataset("alice/does-not-exist"))

# -- deletions -----------------------------------------------------------------------------
step("delete_tag", lambda: api.delete_tag(DS, tag="v1.0.0", repo_type="dataset") or True)
step(
    "delete_branch",
    lambda: api.delete_branch(DS, branch="dev/feature", repo_type="dataset") or True,
)
step("refs_after_delete", refs)
step("revision_exists_deleted_tag", lambda: api.revision_exists(DS, "v1.0.0", repo_type="dataset"))
step("delete_model", lambda: api.delete_repo(MODEL) or True)
step("model_exists_after_delete", lambda: api.repo_exists(MODEL))
step("delete_model_again", lambda: api.delete_repo(MODEL))
step("delete_model_missing_ok", lambda: api.delete_repo(MODEL, missing_ok=True) or True)

OUT.write_text(json.dumps(results, indent=1, default=str))
