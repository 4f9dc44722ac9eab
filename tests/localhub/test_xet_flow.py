"""Xet end to end: unmodified huggingface_hub + hf_xet + datasets against the local Hub.

One server serves three client processes in turn: a Xet client with default settings (uploads
through upload_file, upload_folder and create_commit, downloads, snapshot, load_dataset at a
tag, a second version), a client with HF_HUB_DISABLE_XET=1 (reads the Xet files through
``resolve``, uploads through LFS) and the Xet client again (reads the LFS file). The tests then
check the results, the server's storage and its answers to raw HTTP requests.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from localhub_helpers import CAROL_TOKEN, READ_TOKEN, WRITE_TOKEN, XET_INSERT

pytestmark = pytest.mark.slow
REPO = "alice/xet-ds"


def sha256(path: Path, start: int = 0, length: int | None = None) -> str:
    data = path.read_bytes()
    return hashlib.sha256(data[start : None if length is None else start + length]).hexdigest()


def value(results: dict, name: str):
    result = results[name]
    assert result["ok"], f"{name}: {result.get('error')} {result.get('message')}\n" + result.get(
        "traceback", ""
    )
    return result["value"]


def stats(xet: dict, commit: str) -> dict:
    status, _, body = xet["http"]("GET", f"/api/datasets/{REPO}/localhub-upload-stats/{commit}")
    assert status == 200, body
    return json.loads(body)


def test_uploads_go_through_xet_and_download_back(xet, fixtures_dir: Path):
    results = xet["xet"]
    assert value(results, "xet_disabled") is False  # default settings: Xet on
    for name in ("create", "upload_folder", "create_commit", "tag"):
        value(results, name)
    assert value(results, "download") == sha256(fixtures_dir / "xet_big.bin")
    assert value(results, "download_floats") == value(results, "floats_sha256")
    snapshot = value(results, "snapshot")
    assert snapshot["big.bin"] == sha256(fixtures_dir / "xet_big.bin")
    parquet = "data/cfg_a/train-00000-of-00001.parquet"
    assert snapshot[parquet] == sha256(fixtures_dir / "dataset_v1" / parquet)
    assert value(results, "load_dataset") == {"cfg_a": 2, "cfg_b": 3}

    # the tree's xetHash is hf_xet's own hash of the file (the oracle), and every file that
    # went through Xet has it
    tree = value(results, "tree")
    assert tree["big.bin"] == value(results, "oracle")["big_v2.bin"]
    assert tree[parquet] and tree["weights/floats.bin"] and tree["README.md"] is None
    # stored only as Xet: no LFS blob was uploaded for the Xet client's files
    root = xet["hub"].root
    repo_dir = root / "repos/dataset/alice/xet-ds"
    v1_sha = sha256(fixtures_dir / "xet_big.bin")
    assert not (repo_dir / "objects/blobs" / v1_sha[:2] / v1_sha).exists()
    assert list((root / "xet/xorbs").rglob("*.idx"))
    # resolve HEAD switches Xet clients to a Xet download
    status, headers, _ = xet["http"]("HEAD", f"/datasets/{REPO}/resolve/main/big.bin")
    assert status == 200 and headers["X-Xet-Hash"] == tree["big.bin"]
    assert 'rel="xet-auth"' in headers["Link"] and "/xet-read-token/" in headers["Link"]


def test_second_version_uploads_only_new_chunks(xet, fixtures_dir: Path):
    results = xet["xet"]
    v1 = stats(xet, value(results, "upload_file"))
    v2 = stats(xet, value(results, "upload_v2"))
    size = (fixtures_dir / "xet_big.bin").stat().st_size
    assert v1["xet_files"] == 1 and v1["new_xorb_bytes"] > size // 2  # random half incompressible
    assert v2["xet_files"] == 1 and v2["xet_file_bytes"] == size + XET_INSERT
    # 1,000 inserted bytes re-upload about one or two 64 KiB chunks, not the file
    assert 0 < v2["new_xorb_bytes"] < 400_000
    assert v2["files"]["big.bin"]["xetHash"] == value(results, "oracle")["big_v2.bin"]


def test_files_stored_either_way_serve_both_kinds_of_client(xet, fixtures_dir: Path):
    plain, again = xet["plain"], xet["again"]
    assert value(plain, "xet_disabled") is True
    assert value(plain, "download_xet_file") == sha256(fixtures_dir / "xet_big_v2.bin")
    assert value(plain, "download_v1_at_tag") == sha256(fixtures_dir / "xet_big.bin")
    assert value(plain, "fs_range") == sha256(fixtures_dir / "xet_big_v2.bin", 5_000_001, 300_000)
    assert value(plain, "load_dataset") == {"cfg_a": 2, "cfg_b": 3}
    assert value(plain, "download_lfs_file") == sha256(fixtures_dir / "lfs.bin")
    lfs_stats = stats(xet, value(plain, "upload_lfs"))
    assert lfs_stats["new_lfs_bytes"] == (fixtures_dir / "lfs.bin").stat().st_size
    assert lfs_stats["new_xorb_bytes"] == 0
    # the LFS file has no Xet hash: the Xet client downloads it from resolve
    assert value(again, "tree")["lfs.bin"] is None
    assert value(again, "download_lfs_file") == sha256(fixtures_dir / "lfs.bin")
    assert value(again, "fs_range_lfs") == sha256(fixtures_dir / "lfs.bin", 1_000_003, 200_000)


def test_plain_http_range_of_a_xet_file(xet, fixtures_dir: Path):
    local = (fixtures_dir / "xet_big_v2.bin").read_bytes()
    for first, last in ((0, 0), (65_530, 200_000), (len(local) - 10, len(local) - 1)):
        status, headers, body = xet["http"](
            "GET",
            f"/datasets/{REPO}/resolve/main/big.bin",
            headers={"Range": f"bytes={first}-{last}"},
        )
        assert status == 206 and body == local[first : last + 1]
        assert headers["Content-Range"] == f"bytes {first}-{last}/{len(local)}"
    status, _, body = xet["http"]("GET", f"/datasets/{REPO}/resolve/main/big.bin")
    assert status == 200 and body == local


def _token(xet, kind: str, token: str | None, repo: str = REPO, rev: str = "main"):
    return xet["http"]("GET", f"/api/datasets/{repo}/xet-{kind}-token/{rev}", token=token)


def test_token_scopes(xet):
    status, headers, body = _token(xet, "read", None)  # public repo: anonymous reads
    payload = json.loads(body)
    assert status == 200 and payload["casUrl"] == headers["X-Xet-Cas-Url"]
    assert headers["X-Xet-Access-Token"] == payload["accessToken"]
    assert int(headers["X-Xet-Token-Expiration"]) == payload["exp"]
    read_cas = payload["accessToken"]
    assert _token(xet, "write", None)[0] == 401
    assert _token(xet, "write", READ_TOKEN)[0] == 403  # read role
    assert _token(xet, "write", CAROL_TOKEN)[0] == 403  # another user's namespace
    assert _token(xet, "write", "hf_not_a_configured_token_0000")[0] == 401
    assert _token(xet, "read", WRITE_TOKEN, rev="no-such-branch")[0] == 404
    assert _token(xet, "read", WRITE_TOKEN, repo="alice/missing")[0] == 404
    write_cas = json.loads(_token(xet, "write", WRITE_TOKEN)[2])["accessToken"]

    http = xet["http"]
    xorb = "0" * 64
    assert http("POST", f"/api/xet-cas/v1/xorbs/default/{xorb}", b"x")[0] == 401
    assert http("POST", f"/api/xet-cas/v1/xorbs/default/{xorb}", b"x", token=read_cas)[0] == 403
    forged = write_cas[:-4] + ("0000" if not write_cas.endswith("0000") else "1111")
    assert http("POST", "/api/xet-cas/v1/shards", b"x", token=forged)[0] == 401
    # a file registered for alice/xet-ds cannot be reconstructed with another repo's token
    status, headers, _ = http("HEAD", f"/datasets/{REPO}/resolve/main/big.bin")
    file_hash = headers["X-Xet-Hash"]
    recon = f"/api/xet-cas/v1/reconstructions/{file_hash}"
    status, _, body = http("GET", recon, token=read_cas)
    assert status == 200
    fetch = next(iter(json.loads(body)["fetch_info"].values()))[0]
    created = http(
        "POST",
        "/api/repos/create",
        json.dumps({"name": "carol/other", "type": "dataset"}),
        CAROL_TOKEN,
    )
    assert created[0] == 200, created[2]
    other = json.loads(_token(xet, "read", CAROL_TOKEN, repo="carol/other")[2])["accessToken"]
    assert http("GET", recon, token=other)[0] == 404
    # signed fetch URLs: valid as issued, 403 once the signature is altered
    url = urlsplit(fetch["url"])
    rng = {"Range": f"bytes={fetch['url_range']['start']}-{fetch['url_range']['end']}"}
    assert http("GET", f"{url.path}?{url.query}", headers=rng)[0] == 206
    assert http("GET", f"{url.path}?{url.query[:-2]}00", headers=rng)[0] == 403


def test_commit_needs_the_bytes(xet):
    """An lfsFile whose content was never uploaded (LFS or Xet) is refused, size or not."""
    missing = hashlib.sha256(b"never uploaded").hexdigest()
    for value_ in ({"size": 123}, {}):
        lines = [
            {"key": "header", "value": {"summary": "dangling"}},
            {
                "key": "lfsFile",
                "value": {"path": "x.bin", "algo": "sha256", "oid": missing, **value_},
            },
        ]
        body = b"".join(json.dumps(line).encode() + b"\n" for line in lines)
        status, _, data = xet["http"](
            "POST", f"/api/datasets/{REPO}/commit/main", body, token=WRITE_TOKEN,
            headers={"Content-Type": "application/x-ndjson"},
        )  # fmt: skip
        assert status == 422 and "x.bin" in json.loads(data)["error"]
