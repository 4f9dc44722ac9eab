"""What the CAS verifies: real xorbs and shards from hf_xet, altered, are refused with 400.

The xorbs and shards are the bytes hf_xet uploaded in the ``xet`` session fixture (the server
keeps both as received). They are replayed with raw HTTP to fresh servers, as they are and with
one field changed at a time (offsets from the shard layout in reference §A6).
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

import pytest
from localhub_helpers import TOKENS_TEXT, WRITE_TOKEN, Http

from ocforge.hub import LocalHub, TokenStore

pytestmark = pytest.mark.slow
REPO = "alice/replay"
FIRST_TERM = 48 + 48  # shard header, then the first file's header


def stored_xorbs(root: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in (root / "xet/xorbs").rglob("*") if len(p.name) == 64}


def shard_with_one_file(root: Path) -> bytes:
    """A stored shard holding exactly one file entry with one term or more."""
    for path in sorted((root / "xet/shards").rglob("*")):
        data = path.read_bytes() if path.is_file() else b""
        if len(data) > FIRST_TERM + 48 and data[FIRST_TERM - 48 : FIRST_TERM - 16] != b"\xff" * 32:
            return data
    pytest.fail("no stored shard")


class Replay:
    """A fresh server with repo alice/replay and a Xet write token for it."""

    def __init__(self, root: Path):
        tokens = TokenStore.parse(TOKENS_TEXT, source="replay tokens")
        self.hub = LocalHub(root, tokens=tokens).start()
        self.http = Http(self.hub.endpoint)
        body = json.dumps({"name": REPO, "type": "dataset"})
        assert self.http("POST", "/api/repos/create", body, WRITE_TOKEN)[0] == 200
        _, _, data = self.http(
            "GET", f"/api/datasets/{REPO}/xet-write-token/main", None, WRITE_TOKEN
        )
        self.cas = json.loads(data)["accessToken"]

    def post(self, path: str, body: bytes) -> tuple[int, dict]:
        status, _, data = self.http("POST", f"/api/xet-cas/v1/{path}", body, self.cas)
        return status, json.loads(data)


@pytest.fixture()
def replay(tmp_path: Path):
    server = Replay(tmp_path / "replay")
    yield server
    server.hub.stop()


def test_tampered_xorbs_are_refused(xet, replay: Replay):
    name, data = max(stored_xorbs(xet["hub"].root).items(), key=lambda kv: len(kv[1]))
    flipped = bytearray(data)
    flipped[len(data) - 5] ^= 0x01  # inside the last chunk's payload
    status, body = replay.post(f"xorbs/default/{name}", bytes(flipped))
    assert status == 400 and name in body["error"]
    status, body = replay.post(f"xorbs/default/{name}", data[: len(data) - 3])
    assert status == 400 and "runs past the end" in body["error"]
    other = "f" * 64
    status, body = replay.post(f"xorbs/default/{other}", data)
    assert status == 400 and f"not {other}" in body["error"]
    assert not list((replay.hub.root / "xet/xorbs").rglob("*"))  # nothing stored
    assert replay.post(f"xorbs/default/{name}", data) == (200, {"was_inserted": True})
    assert replay.post(f"xorbs/default/{name}", data) == (200, {"was_inserted": False})


def _patched(data: bytes, offset: int, value: bytes) -> bytes:
    return data[:offset] + value + data[offset + len(value) :]


def test_tampered_shards_are_refused(xet, replay: Replay):
    shard = shard_with_one_file(xet["hub"].root)
    n_terms = struct.unpack_from("<I", shard, FIRST_TERM - 12)[0]
    # before its xorbs are uploaded, the shard is refused
    status, body = replay.post("shards", shard)
    assert status == 400 and "was not uploaded" in body["error"]
    for name, data in stored_xorbs(xet["hub"].root).items():
        assert replay.post(f"xorbs/default/{name}", data)[0] == 200
    unpacked = struct.unpack_from("<I", shard, FIRST_TERM + 36)[0]
    verification = FIRST_TERM + n_terms * 48
    sha256 = verification + n_terms * 48
    cases = {
        "unpacked_bytes": _patched(shard, FIRST_TERM + 36, struct.pack("<I", unpacked + 1)),
        "outside xorb": _patched(shard, FIRST_TERM + 44, struct.pack("<I", 10_000)),
        "verification hash": _patched(shard, verification, bytes(32)),
        "rebuilds to SHA-256": _patched(shard, sha256, bytes(32)),
        "its terms hash to": _patched(shard, 48, bytes(32)),
        "footer_size": _patched(shard, 40, struct.pack("<Q", 200)),
        "wrong header tag": _patched(shard, 0, b"X"),
    }
    for expected, tampered in cases.items():
        status, body = replay.post("shards", tampered)
        assert status == 400 and expected in body["error"], (expected, body)
    assert not list((replay.hub.root / "xet/files").rglob("*"))  # no file registered
    assert replay.post("shards", shard) == (200, {"result": 1})
    assert replay.post("shards", shard) == (200, {"result": 0})  # already registered
