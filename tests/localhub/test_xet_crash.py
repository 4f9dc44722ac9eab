"""SIGKILL of the server during Xet uploads: nothing referenced is missing; the re-run completes.

The server runs as ``python -m ocforge hub serve`` so it can be killed. Real xorbs and a real
shard (what hf_xet uploaded in the ``xet`` session fixture) are replayed with raw sockets: some
xorbs complete, one xorb and one shard are half sent when the server is killed. After a restart
every stored object is complete and consistent, and the unmodified client's upload of the same
file (fresh client cache) completes and downloads back.
"""

from __future__ import annotations

import hashlib
import json
import signal
import socket
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from localhub_helpers import TOKENS_TEXT, WRITE_TOKEN, Http, client_environment, run_client
from test_localhub_restart import ServerProcess

from ocforge.hub import HubStore
from ocforge.hub.xet.xorb import XorbIndex

pytestmark = pytest.mark.slow
REPO = "alice/xet-ds"


def stored(root: Path, sub: str) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in (root / "xet" / sub).rglob("*") if len(p.name) == 64}


def half_sent(endpoint: str, path: str, token: str, body: bytes) -> socket.socket:
    url = urlsplit(endpoint)
    sock = socket.create_connection((url.hostname, url.port))
    sock.sendall(
        f"POST {path} HTTP/1.1\r\nHost: {url.netloc}\r\nAuthorization: Bearer {token}\r\n"
        f"Content-Length: {len(body)}\r\n\r\n".encode()
        + body[: len(body) // 2]
    )
    return sock


def check_consistent(root: Path) -> None:
    """Every stored xorb is complete, every file record's xorbs and every registration exist,
    and every commit of the repo references content that is stored."""
    xet = root / "xet"
    for idx in (xet / "xorbs").rglob("*.idx"):
        data = idx.with_suffix("")
        assert data.stat().st_size == XorbIndex.from_bytes(idx.read_bytes()).stored_bytes
    for record in (xet / "files").rglob("*"):
        if record.is_file():
            for xorb, *_ in json.loads(record.read_bytes())["terms"]:
                assert (xet / "xorbs" / xorb[:2] / f"{xorb}.idx").exists()
    repo_dir = root / "repos/dataset/alice/xet-ds"
    for link in (repo_dir / "xet/files").rglob("*"):
        if link.is_file():
            xet_hash = json.loads(link.read_bytes())["xetHash"]
            assert (xet / "files" / xet_hash[:2] / xet_hash).exists()
    store = HubStore(root)
    try:
        repo = store.get_repo(next(iter(store.list_repos())))
        for commit in repo.history(repo.resolve("main")):
            for entry in repo.get_tree(commit.tree).files.values():
                has_xet = store.xet.lookup_sha256(repo.key, entry.sha256, entry.size)
                assert repo.has_blob(entry.sha256, entry.size) or has_xet
    finally:
        store.close()


def test_sigkill_during_xet_uploads_then_rerun(xet, fixtures_dir: Path, tmp_path: Path):
    xorbs = stored(xet["hub"].root, "xorbs")
    shards = stored(xet["hub"].root, "shards")
    root = tmp_path / "root"
    token_file = tmp_path / "tokens.txt"
    token_file.write_text(TOKENS_TEXT)
    token_file.chmod(0o600)
    log = tmp_path / "server.log"

    server = ServerProcess(root, token_file, log)
    http = Http(server.endpoint)
    body = json.dumps({"name": REPO, "type": "dataset"})
    assert http("POST", "/api/repos/create", body, WRITE_TOKEN)[0] == 200
    _, _, data = http("GET", f"/api/datasets/{REPO}/xet-write-token/main", None, WRITE_TOKEN)
    cas = json.loads(data)["accessToken"]
    names = sorted(xorbs)
    for name in names[:-1]:
        assert http("POST", f"/api/xet-cas/v1/xorbs/default/{name}", xorbs[name], cas)[0] == 200
    sockets = [
        half_sent(
            server.endpoint, f"/api/xet-cas/v1/xorbs/default/{names[-1]}", cas, xorbs[names[-1]]
        ),
        half_sent(server.endpoint, "/api/xet-cas/v1/shards", cas, next(iter(shards.values()))),
    ]
    time.sleep(0.5)  # both requests are being received
    server.proc.kill()
    assert server.proc.wait(timeout=10) == -signal.SIGKILL
    for sock in sockets:
        sock.close()

    restarted = ServerProcess(root, token_file, log)
    check_consistent(root)
    assert not (root / "xet/xorbs" / names[-1][:2] / f"{names[-1]}.idx").exists()
    assert not list((root / "xet/files").rglob("*"))  # the half-sent shard registered nothing
    env = client_environment(restarted.endpoint, WRITE_TOKEN, tmp_path / "home")
    rerun = run_client(
        "xet_flow.py", env, tmp_path / "rerun.json", str(fixtures_dir), "upload-once"
    )
    for name in ("create", "upload_file", "download"):
        assert rerun[name]["ok"], rerun[name]
    expected = hashlib.sha256((fixtures_dir / "xet_big.bin").read_bytes()).hexdigest()
    assert rerun["download"]["value"] == expected
    check_consistent(root)
    status, _, data = Http(restarted.endpoint)(
        "GET", f"/api/datasets/{REPO}/localhub-upload-stats/main"
    )
    stats = json.loads(data)
    assert status == 200 and stats["xet_files"] == 1
    # xorbs stored before the crash count for the commit that finally used them
    assert stats["new_xorb_bytes"] > 0
    assert restarted.stop() == 0
