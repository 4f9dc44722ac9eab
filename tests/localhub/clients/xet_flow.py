"""Xet flows of the unmodified huggingface_hub / datasets clients, run by the test_xet_* tests.

Usage: python xet_flow.py OUT.json FIXTURES_DIR MODE

MODE ``xet`` and ``xet-read`` run with hf_xet and default settings (uploads and downloads go
through Xet), ``plain`` with HF_HUB_DISABLE_XET=1 set by the test (LFS uploads, ``resolve``
downloads); ``upload-once`` is the crash test's re-run.
Every step records its value or exception in OUT.json; the pytest side asserts on them.
"""

from __future__ import annotations

import hashlib
import json
import sys
import traceback
from pathlib import Path

import numpy as np
from huggingface_hub import (
    CommitOperationAdd,
    HfApi,
    HfFileSystem,
    constants,
    hf_hub_download,
    snapshot_download,
)

OUT = Path(sys.argv[1])
FIX = Path(sys.argv[2])
MODE = sys.argv[3]
REPO = "alice/xet-ds"
api = HfApi()
results: dict[str, dict] = {"xet_disabled": {"ok": True, "value": constants.HF_HUB_DISABLE_XET}}


def step(name, fn):
    try:
        results[name] = {"ok": True, "value": fn()}
    except Exception as exc:  # recorded for the test process to assert on
        response = getattr(exc, "response", None)
        results[name] = {
            "ok": False,
            "error": type(exc).__name__,
            "status": getattr(response, "status_code", None),
            "message": str(exc)[:1500],
            "traceback": traceback.format_exc()[-3000:],
        }


def sha256_file(path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def upload_file(local: Path, path: str) -> str:
    info = api.upload_file(
        path_or_fileobj=str(local), path_in_repo=path, repo_id=REPO, repo_type="dataset"
    )
    return info.oid


def float_payload() -> bytes:
    """11 MiB of float32 values: hf_xet stores them with byte grouping (scheme 2)."""
    rng = np.random.default_rng(7)
    return rng.normal(size=11 * 1024 * 1024 // 4).astype(np.float32).tobytes()


def create_commit_bytes() -> str:
    data = float_payload()
    op = CommitOperationAdd(path_in_repo="weights/floats.bin", path_or_fileobj=data)
    info = api.create_commit(REPO, [op], commit_message="floats", repo_type="dataset")
    return info.oid


def load_rows(revision: str) -> dict[str, int]:
    from datasets import load_dataset

    rows = {}
    for config in ("cfg_a", "cfg_b"):
        ds = load_dataset(REPO, config, revision=revision, split="train")
        rows[config] = len(ds)
    return rows


def tree_xet_hashes() -> dict[str, str | None]:
    entries = api.list_repo_tree(REPO, repo_type="dataset", recursive=True)
    return {e.path: getattr(e, "xet_hash", None) for e in entries if hasattr(e, "size")}


def oracle_hashes() -> dict[str, str]:
    import hf_xet

    files = {"big.bin": FIX / "xet_big.bin", "big_v2.bin": FIX / "xet_big_v2.bin"}
    infos = hf_xet.hash_files([str(p) for p in files.values()])
    return {name: info.hash for name, info in zip(files, infos, strict=True)}


def fs_range(path: str, start: int, length: int) -> str:
    fs = HfFileSystem()
    with fs.open(f"datasets/{REPO}/{path}", "rb") as fh:
        fh.seek(start)
        return hashlib.sha256(fh.read(length)).hexdigest()


def xet_mode() -> None:
    step("create", lambda: api.create_repo(REPO, repo_type="dataset", exist_ok=True).repo_id)
    step("upload_file", lambda: upload_file(FIX / "xet_big.bin", "big.bin"))
    step(
        "upload_folder",
        lambda: (
            api.upload_folder(
                repo_id=REPO, repo_type="dataset", folder_path=str(FIX / "dataset_v1")
            ).oid
        ),
    )
    step("create_commit", create_commit_bytes)
    step("tag", lambda: api.create_tag(REPO, tag="v1.0.0", repo_type="dataset"))
    step("download", lambda: sha256_file(hf_hub_download(REPO, "big.bin", repo_type="dataset")))
    step(
        "download_floats",
        lambda: sha256_file(hf_hub_download(REPO, "weights/floats.bin", repo_type="dataset")),
    )
    step("floats_sha256", lambda: hashlib.sha256(float_payload()).hexdigest())
    step(
        "snapshot",
        lambda: {
            str(p.relative_to(root)): sha256_file(p)
            for root in [Path(snapshot_download(REPO, repo_type="dataset", revision="v1.0.0"))]
            for p in sorted(root.rglob("*"))
            if p.is_file()
        },
    )
    step("load_dataset", lambda: load_rows("v1.0.0"))
    step("oracle", oracle_hashes)
    step("upload_v2", lambda: upload_file(FIX / "xet_big_v2.bin", "big.bin"))
    step("tree", tree_xet_hashes)


_DS = {"repo_type": "dataset"}


def plain_mode() -> None:
    step("download_xet_file", lambda: sha256_file(hf_hub_download(REPO, "big.bin", **_DS)))
    step("download_v1_at_tag", lambda: sha256_file(
        hf_hub_download(REPO, "big.bin", revision="v1.0.0", **_DS)))  # fmt: skip
    step("fs_range", lambda: fs_range("big.bin", 5_000_001, 300_000))
    step("load_dataset", lambda: load_rows("v1.0.0"))
    step("upload_lfs", lambda: upload_file(FIX / "lfs.bin", "lfs.bin"))
    step("download_lfs_file", lambda: sha256_file(hf_hub_download(REPO, "lfs.bin", **_DS)))


if MODE == "xet":
    xet_mode()
elif MODE == "plain":
    plain_mode()
elif MODE == "xet-read":  # after the plain client stored lfs.bin through LFS
    step("download_lfs_file", lambda: sha256_file(hf_hub_download(REPO, "lfs.bin", **_DS)))
    step("fs_range_lfs", lambda: fs_range("lfs.bin", 1_000_003, 200_000))
    step("tree", tree_xet_hashes)
elif MODE == "upload-once":  # the crash test's re-run: one Xet upload and its download
    step("create", lambda: api.create_repo(REPO, repo_type="dataset", exist_ok=True).repo_id)
    step("upload_file", lambda: upload_file(FIX / "xet_big.bin", "big.bin"))
    step("download", lambda: sha256_file(hf_hub_download(REPO, "big.bin", **_DS)))
else:
    raise SystemExit(f"unknown mode {MODE!r}")
OUT.write_text(json.dumps(results, indent=2))
