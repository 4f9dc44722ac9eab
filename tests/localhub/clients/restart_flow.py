"""Client for the restart / SIGKILL tests. Usage: python restart_flow.py OUT.json MODE FIXTURES

MODE "write" creates a dataset repo with a regular and an LFS file and a tag; "read" reports what
the server has; "write-more" reads, then commits one more file.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

from huggingface_hub import HfApi, hf_hub_download

OUT, MODE, FIX = Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3])
DS = "alice/durable"
api = HfApi()


def state() -> dict:
    refs = api.list_repo_refs(DS, repo_type="dataset")
    return {
        "sha": api.repo_info(DS, repo_type="dataset").sha,
        "branches": {b.name: b.target_commit for b in refs.branches},
        "tags": {t.name: t.target_commit for t in refs.tags},
        "commits": [c.commit_id for c in api.list_repo_commits(DS, repo_type="dataset")],
        "files": sorted(api.list_repo_files(DS, repo_type="dataset")),
        "blob_sha256": hashlib.sha256(
            Path(hf_hub_download(DS, "weights/blob.bin", repo_type="dataset")).read_bytes()
        ).hexdigest(),
        "note": Path(
            hf_hub_download(DS, "note.txt", repo_type="dataset", revision="v1")
        ).read_text(),
    }


result: dict = {}
if MODE == "write":
    api.create_repo(DS, repo_type="dataset")
    api.upload_file(path_or_fileobj=b"durable\n", path_in_repo="note.txt", repo_id=DS,
                    repo_type="dataset")  # fmt: skip
    api.upload_file(path_or_fileobj=str(FIX / "blob.bin"), path_in_repo="weights/blob.bin",
                    repo_id=DS, repo_type="dataset")  # fmt: skip
    api.create_tag(DS, tag="v1", repo_type="dataset")
result["state"] = state()
if MODE == "write-more":
    info = api.upload_file(path_or_fileobj=b"after the crash\n", path_in_repo="after.txt",
                           repo_id=DS, repo_type="dataset")  # fmt: skip
    result["new_commit"] = info.oid
    result["after"] = state()
OUT.write_text(json.dumps(result))
