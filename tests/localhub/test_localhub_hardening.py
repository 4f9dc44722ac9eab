"""Protocol details and hardening, checked with raw HTTP against a running server.

These cases send requests the official clients never send (hostile paths, oversized bodies,
forged upload URLs), so they use http.client directly; the server still runs for real.
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import json
from pathlib import Path
from urllib.parse import quote, urlsplit

import pytest
from localhub_helpers import READ_TOKEN, TOKENS_TEXT, WRITE_TOKEN

from ocforge.hub import Limits, LocalHub, TokenConfigError, TokenStore, client_env
from ocforge.hub.hashing import git_blob_sha1

REPO = "alice/hardening"
CONTENT = bytes(range(256)) * 8  # 2048 bytes, binary


class Http:
    """Minimal raw HTTP client for one server."""

    def __init__(self, endpoint: str):
        url = urlsplit(endpoint)
        self.host, self.port = url.hostname, url.port

    def __call__(
        self,
        method: str,
        path: str,
        body: bytes | str | dict | None = None,
        *,
        token: str | None = WRITE_TOKEN,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, http.client.HTTPMessage, bytes]:
        conn = http.client.HTTPConnection(self.host, self.port, timeout=20)
        all_headers = dict(headers or {})
        if token is not None:
            all_headers["Authorization"] = f"Bearer {token}"
        if isinstance(body, dict):
            body = json.dumps(body)
            all_headers.setdefault("Content-Type", "application/json")
        conn.request(method, path, body=body, headers=all_headers)
        resp = conn.getresponse()
        data = resp.read()
        conn.close()
        return resp.status, resp.headers, data


def ndjson(*items: dict) -> bytes:
    return b"".join(json.dumps(item).encode() + b"\n" for item in items)


def commit_body(*ops: dict, summary: str = "test", parent: str | None = None) -> bytes:
    header: dict = {"summary": summary, "description": ""}
    if parent:
        header["parentCommit"] = parent
    return ndjson({"key": "header", "value": header}, *ops)


def add_file(path: str, content: bytes) -> dict:
    return {
        "key": "file",
        "value": {
            "path": path,
            "content": base64.b64encode(content).decode(),
            "encoding": "base64",
        },
    }


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    tokens = TokenStore.parse(TOKENS_TEXT, source="test tokens")
    limits = Limits(max_json_body=4096, max_commit_body=64 * 1024, max_commit_line=16 * 1024)
    with LocalHub(tmp_path_factory.mktemp("hard"), tokens=tokens, limits=limits) as hub:
        call = Http(hub.endpoint)
        status, _, _ = call("POST", "/api/repos/create", {"name": REPO, "type": "dataset"})
        assert status == 200
        status, _, body = call(
            "POST",
            f"/api/datasets/{REPO}/commit/main",
            commit_body(add_file("dir/file.bin", CONTENT), add_file("a.txt", b"a\n")),
            headers={"Content-Type": "application/x-ndjson"},
        )
        assert status == 200, body
        yield hub, call


def assert_error(result, status: int, code: str) -> dict:
    got_status, headers, body = result
    assert got_status == status, body
    assert headers["X-Error-Code"] == code
    assert headers["X-Error-Message"]
    payload = json.loads(body)
    assert payload["error"] == headers["X-Error-Message"]
    return payload


@pytest.mark.parametrize(
    "raw_path",
    [
        "..%2F..%2Frepo.json",
        "dir/../../../refs.json",
        "%2Fetc%2Fpasswd",
        "a%0Ab.txt",
        "dir//file.bin",
        ".git/config",
        "dir\\..\\a.txt",
    ],
)
def test_resolve_rejects_hostile_paths(server, raw_path):
    _, call = server
    assert_error(call("GET", f"/datasets/{REPO}/resolve/main/{raw_path}"), 400, "BadRequest")


@pytest.mark.parametrize("path", ["../evil.txt", "a/../../b.txt", "/abs.txt", "bad\x01.txt", ""])
def test_commit_rejects_hostile_paths(server, path):
    _, call = server
    result = call(
        "POST",
        f"/api/datasets/{REPO}/commit/main",
        commit_body(add_file(path, b"x")),
        headers={"Content-Type": "application/x-ndjson"},
    )
    # The Hub answers 422 for a bad path in a commit body (400 for one in a URL).
    payload = assert_error(result, 422, "Unprocessable")
    assert "Invalid path" in payload["error"]


@pytest.mark.parametrize("path", ["..\\ddd", "a/../b.txt", ".git/config"])
def test_preupload_rejects_hostile_paths(server, path):
    _, call = server
    body = json.dumps({"files": [{"path": path, "size": 1, "sample": ""}]}).encode()
    result = call(
        "POST",
        f"/api/datasets/{REPO}/preupload/main",
        body,
        headers={"Content-Type": "application/json"},
    )
    payload = assert_error(result, 422, "Unprocessable")
    assert "Invalid path" in payload["error"]


@pytest.mark.parametrize(
    "body",
    [
        {"name": "../escape", "type": "dataset"},
        {"name": "x", "organization": "api", "type": "dataset"},
        {"name": "a" * 97, "type": "dataset"},
        {"name": "double--dash", "type": "dataset"},
        {"name": "ok", "type": "bucket"},
    ],
)
def test_create_repo_validates_ids(server, body):
    _, call = server
    assert_error(call("POST", "/api/repos/create", body), 400, "BadRequest")


def test_bad_repo_id_in_url(server):
    _, call = server
    assert_error(call("GET", "/api/datasets/al..ice/x"), 400, "BadRequest")
    assert_error(call("GET", "/api/datasets/alice/x%00y"), 400, "BadRequest")


def test_body_size_limits(server):
    _, call = server
    big = {"files": [{"path": f"f{i}.txt", "size": 1, "sample": ""} for i in range(200)]}
    assert_error(call("POST", f"/api/datasets/{REPO}/preupload/main", big), 413, "PayloadTooLarge")
    line_too_long = commit_body(add_file("big.txt", b"x" * 20 * 1024))
    assert_error(
        call("POST", f"/api/datasets/{REPO}/commit/main", line_too_long),
        413,
        "PayloadTooLarge",
    )
    many = commit_body(*(add_file(f"m{i}.txt", b"y" * 8 * 1024) for i in range(10)))
    assert_error(call("POST", f"/api/datasets/{REPO}/commit/main", many), 413, "PayloadTooLarge")
    # nothing was committed by the refused requests
    status, _, body = call("GET", f"/api/datasets/{REPO}/tree/main?recursive=true")
    assert status == 200
    assert {e["path"] for e in json.loads(body)} == {
        ".gitattributes",
        "a.txt",
        "dir",
        "dir/file.bin",
    }


def test_resolve_headers_and_ranges(server):
    _, call = server
    status, headers, body = call("HEAD", f"/datasets/{REPO}/resolve/main/dir/file.bin", token=None)
    assert status == 200 and body == b""
    assert headers["Content-Length"] == headers["X-Linked-Size"] == str(len(CONTENT))
    assert headers["ETag"] == f'"{git_blob_sha1(CONTENT)}"' == headers["X-Linked-Etag"]
    assert len(headers["X-Repo-Commit"]) == 40
    assert headers["Accept-Ranges"] == "bytes"
    assert "Content-Encoding" not in headers and "X-Xet-Hash" not in headers
    path = f"/datasets/{REPO}/resolve/main/dir/file.bin"
    status, headers, body = call("GET", path, headers={"Range": "bytes=10-19"})
    assert (status, body) == (206, CONTENT[10:20])
    assert headers["Content-Range"] == f"bytes 10-19/{len(CONTENT)}"
    status, _, body = call("GET", path, headers={"Range": "bytes=-16"})
    assert (status, body) == (206, CONTENT[-16:])
    status, _, body = call("GET", path, headers={"Range": "bytes=2040-"})
    assert (status, body) == (206, CONTENT[2040:])
    status, _, body = call("GET", path, headers={"Range": "bytes=0-5000"})
    assert (status, body) == (206, CONTENT)
    status, headers, _ = call("GET", path, headers={"Range": f"bytes={len(CONTENT)}-"})
    assert status == 416 and headers["Content-Range"] == f"bytes */{len(CONTENT)}"
    status, _, body = call("GET", path, headers={"Range": "bytes=0-1,5-6"})
    assert (status, body) == (200, CONTENT)  # multi-range: whole file
    missing = call("HEAD", f"/datasets/{REPO}/resolve/main/nope.txt")
    assert missing[0] == 404 and missing[1]["X-Error-Code"] == "EntryNotFound"
    assert len(missing[1]["X-Repo-Commit"]) == 40


def test_revision_with_slash_is_one_segment(server):
    _, call = server
    branch = "feature/x"
    assert call("POST", f"/api/datasets/{REPO}/branch/{quote(branch, safe='')}", {})[0] == 200
    status, _, body = call("GET", f"/api/datasets/{REPO}/revision/{quote(branch, safe='')}")
    assert status == 200 and len(json.loads(body)["sha"]) == 40
    status, _, body = call("GET", f"/datasets/{REPO}/resolve/{quote(branch, safe='')}/a.txt")
    assert (status, body) == (200, b"a\n")
    # unquoted, the slash splits the path: "feature" is no revision
    result = call("GET", f"/datasets/{REPO}/resolve/feature/x/a.txt")
    assert_error(result, 404, "RevisionNotFound")
    assert call("DELETE", f"/api/datasets/{REPO}/branch/{quote(branch, safe='')}")[0] == 200


def test_commit_rules(server):
    _, call = server
    ct = {"Content-Type": "application/x-ndjson"}
    assert call("POST", f"/api/datasets/{REPO}/tag/main", {"tag": "t1"})[0] == 200
    body = commit_body(add_file("t.txt", b"t"))
    assert_error(
        call("POST", f"/api/datasets/{REPO}/commit/t1", body, headers=ct), 400, "BadRequest"
    )
    assert_error(
        call("POST", f"/api/datasets/{REPO}/commit/nope", body, headers=ct), 404, "RevisionNotFound"
    )
    delete_missing = commit_body({"key": "deletedFile", "value": {"path": "ghost.txt"}})
    payload = assert_error(
        call("POST", f"/api/datasets/{REPO}/commit/main", delete_missing, headers=ct),
        404,
        "EntryNotFound",
    )
    assert "A file with this name doesn't exist" in payload["error"]
    stale = commit_body(add_file("s.txt", b"s"), parent="0" * 40)
    assert_error(
        call("POST", f"/api/datasets/{REPO}/commit/main", stale, headers=ct),
        412,
        "PreconditionFailed",
    )
    lfs_missing = commit_body(
        {"key": "lfsFile", "value": {"path": "w.bin", "algo": "sha256", "oid": "a" * 64, "size": 5}}
    )
    assert call("POST", f"/api/datasets/{REPO}/commit/main", lfs_missing, headers=ct)[0] == 422
    for name in ("bad..name", "refs/heads/x", "a" * 40, "-/x/", "sp ace"):
        result = call("POST", f"/api/datasets/{REPO}/branch/{quote(name, safe='')}", {})
        assert_error(result, 400, "BadRequest")


def test_lfs_upload_requires_valid_signature_and_content(server):
    hub, call = server
    data = b"\0lfs object" * 100
    oid = hashlib.sha256(data).hexdigest()
    batch = {"operation": "upload", "transfers": ["basic"], "objects": [{"oid": oid, "size": 1100}]}
    status, _, body = call("POST", f"/datasets/{REPO}.git/info/lfs/objects/batch", batch)
    assert status == 200
    obj = json.loads(body)["objects"][0]
    assert "chunk_size" not in (obj["actions"]["upload"].get("header") or {})
    href = urlsplit(obj["actions"]["upload"]["href"])
    forged = href.query.replace("sig=", "sig=0")
    assert_error(call("PUT", f"{href.path}?{forged}", data, token=None), 403, "Forbidden")
    wrong = b"\1" + data[1:]
    assert_error(call("PUT", f"{href.path}?{href.query}", wrong, token=None), 400, "BadRequest")
    verify = obj["actions"]["verify"]["href"]
    assert call("POST", urlsplit(verify).path, {"oid": oid, "size": 1100})[0] == 404
    assert call("PUT", f"{href.path}?{href.query}", data, token=None)[0] == 200
    assert call("POST", urlsplit(verify).path, {"oid": oid, "size": 1100})[0] == 200
    # uploaded objects get no actions the second time
    status, _, body = call("POST", f"/datasets/{REPO}.git/info/lfs/objects/batch", batch)
    assert "actions" not in json.loads(body)["objects"][0]
    # LFS batch needs write access
    result = call("POST", f"/datasets/{REPO}.git/info/lfs/objects/batch", batch, token=READ_TOKEN)
    assert_error(result, 403, "Forbidden")


def test_validate_yaml(server):
    _, call = server
    good = {"content": "---\nlicense: mit\n---\n# hi\n", "repoType": "dataset"}
    status, _, body = call("POST", "/api/validate-yaml", good)
    assert (status, json.loads(body)) == (200, {"errors": [], "warnings": []})
    bad_yaml = {"content": "---\nlicense: [mit\n---\n", "repoType": "dataset"}
    status, _, body = call("POST", "/api/validate-yaml", bad_yaml)
    assert status == 400 and "Invalid YAML" in json.loads(body)["errors"][0]["message"]
    bad_configs = {"content": "---\nconfigs:\n- data_files: x\n---\n", "repoType": "dataset"}
    status, _, body = call("POST", "/api/validate-yaml", bad_configs)
    assert status == 400 and "config_name" in json.loads(body)["errors"][0]["message"]


def test_xet_token_routes_answer(server):
    _, call = server
    status, headers, body = call("GET", f"/api/datasets/{REPO}/xet-write-token/main")
    payload = json.loads(body)
    assert status == 200 and payload["casUrl"].endswith("/api/xet-cas")
    assert headers["X-Xet-Access-Token"] == payload["accessToken"]


def test_unknown_routes_and_methods(server):
    _, call = server
    assert_error(call("GET", "/api/nothing-here"), 404, "NotFound")
    assert_error(call("PUT", "/api/repos/create", {}), 405, "MethodNotAllowed")


def test_token_configuration(tmp_path: Path, monkeypatch):
    store = TokenStore.parse(
        "# comment\n\nhf_aaaaaaaaaaaa\nhf_bbbbbbbbbbbb carol read\n", source="x"
    )
    assert store.lookup("hf_aaaaaaaaaaaa").name == "local"
    assert store.lookup("hf_bbbbbbbbbbbb").role == "read"
    assert store.lookup("hf_cccccccccccc") is None
    for bad in ("hf_secretsecret carol admin", "hf_secretsecret a b c d", "short"):
        with pytest.raises(TokenConfigError) as info:
            TokenStore.parse(bad, source="file")
        assert "secretsecret" not in str(info.value)
    monkeypatch.delenv("OCFORGE_HUB_TOKENS", raising=False)
    with LocalHub(tmp_path / "gen", tokens=None) as hub:
        assert hub.token is not None and hub.token.startswith("hf_")
        env = hub.client_env(hub.token)
        assert env["HF_TOKEN"] == hub.token and "HF_HUB_DISABLE_XET" not in env
        assert "127.0.0.1" in env["NO_PROXY"].split(",")
    assert "HF_TOKEN" not in client_env("http://127.0.0.1:1", None)
    monkeypatch.setenv("OCFORGE_HUB_TOKENS", "hf_envtoken0001 dave,hf_envtoken0002")
    env_store = TokenStore.from_sources()
    assert env_store.lookup("hf_envtoken0001").name == "dave"
    assert env_store.lookup("hf_envtoken0002").name == "local"
