"""Hostile request bodies against a running local Hub, sent with raw HTTP.

JSON endpoints answer 400 with a message saying what is wrong (never 500), and a body whose
declared ``Content-Length`` is over the limit gets 413 before a byte of it is read, also when the
client waits for ``100 Continue``.
"""

from __future__ import annotations

import http.client
import json
import socket
from urllib.parse import urlsplit

import pytest

from ocforge.hub import Limits, LocalHub

TOKEN = "hf_bodies_test_token_0001"
REPO = "local/bodies"
JSON_LIMIT = 64 * 1024
COMMIT_LIMIT = 256 * 1024
DEEP = 1000

HOSTILE = {
    "nested_arrays": (b"[" * DEEP + b"]" * DEEP, "nested too deeply"),
    "nested_objects": (b'{"a":' * DEEP + b"1" + b"}" * DEEP, "nested too deeply"),
    "invalid_utf8": (b'{"name": "caf\xe9", "type": "dataset"}', "not valid UTF-8"),
    "nul_byte": (b'{"name": "a\x00b", "type": "dataset"}', "NUL byte"),
    "lone_surrogate": (b'{"name": "x", "tag": "\\ud800", "content": "\\udfff"}', "lone surrogate"),
    "syntax": (b'{"name": ', "not valid JSON (Expecting value, "),
}
ENDPOINTS = [
    "/api/repos/create",
    "/api/validate-yaml",
    f"/api/datasets/{REPO}/preupload/main",
    f"/api/datasets/{REPO}/paths-info/main",
    f"/api/datasets/{REPO}/branch/b1",
    f"/api/datasets/{REPO}/tag/main",
    f"/datasets/{REPO}.git/info/lfs/objects/batch",
]


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory):
    limits = Limits(max_json_body=JSON_LIMIT, max_commit_body=COMMIT_LIMIT)
    with LocalHub(tmp_path_factory.mktemp("bodies"), tokens=[TOKEN], limits=limits) as running:
        status, _, body = request(running, "POST", "/api/repos/create",
                                  b'{"name": "bodies", "type": "dataset"}')  # fmt: skip
        assert status == 200, body
        yield running


def request(hub, method: str, path: str, body: bytes, content_type: str = "application/json"):
    url = urlsplit(hub.endpoint)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=20)
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": content_type}
    conn.request(method, path, body=body, headers=headers)
    resp = conn.getresponse()
    data = resp.read()
    conn.close()
    return resp.status, resp.headers, data


def assert_bad_request(result, fragment: str) -> None:
    status, headers, data = result
    assert status == 400, data
    assert headers["X-Error-Code"] == "BadRequest"
    assert fragment in json.loads(data)["error"]
    assert fragment in headers["X-Error-Message"]


@pytest.mark.parametrize("kind", sorted(HOSTILE))
@pytest.mark.parametrize("path", ENDPOINTS)
def test_hostile_json_bodies_get_400(hub, path, kind):
    body, fragment = HOSTILE[kind]
    result = request(hub, "POST", path, body)
    assert_bad_request(result, fragment)
    if kind == "syntax":
        assert json.loads(result[2])["error"].endswith("(Expecting value, line 1 column 10).")


@pytest.mark.parametrize("kind", sorted(HOSTILE))
def test_hostile_commit_lines_get_400_naming_the_line(hub, kind):
    body, fragment = HOSTILE[kind]
    header = b'{"key": "header", "value": {"summary": "s"}}\n'
    result = request(hub, "POST", f"/api/datasets/{REPO}/commit/main", header + body + b"\n",
                     "application/x-ndjson")  # fmt: skip
    assert_bad_request(result, fragment)
    message = json.loads(result[2])["error"]
    assert message.startswith("Commit payload line 2 ")
    if kind == "syntax":
        assert message.endswith("(Expecting value, column 10).")


def test_server_still_answers_after_hostile_bodies(hub):
    for body, _ in HOSTILE.values():
        request(hub, "POST", "/api/repos/create", body)
    status, _, data = request(hub, "GET", "/api/whoami-v2", b"")
    assert status == 200 and json.loads(data)["name"] == "local"


def _raw(hub, head: str) -> socket.socket:
    url = urlsplit(hub.endpoint)
    sock = socket.create_connection((url.hostname, url.port), timeout=5)
    sock.sendall(head.encode())
    return sock


def _read_head(sock: socket.socket) -> tuple[str, dict[str, str], bytes]:
    """Status line, headers and whatever body bytes came with them (5 s at most)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)  # socket.timeout here: the server never answered
        if not chunk:
            break
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines)}
    return status_line, headers, rest


def _headers(path: str, length: int, expect: bool) -> str:
    lines = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", f"Authorization: Bearer {TOKEN}",
             "Content-Type: application/json", f"Content-Length: {length}"]  # fmt: skip
    if expect:
        lines.append("Expect: 100-continue")
    return "\r\n".join(lines) + "\r\n\r\n"


@pytest.mark.parametrize("expect", [False, True])
@pytest.mark.parametrize(
    "path,length",
    [
        ("/api/repos/create", JSON_LIMIT + 1),
        (f"/api/datasets/{REPO}/preupload/main", 10**12),
        (f"/api/datasets/{REPO}/commit/main", COMMIT_LIMIT + 1),
    ],
)
def test_oversized_declared_body_gets_413_before_it_is_sent(hub, path, length, expect):
    sock = _raw(hub, _headers(path, length, expect))  # headers only: the body never comes
    try:
        status_line, headers, _ = _read_head(sock)
    finally:
        sock.close()
    assert status_line.startswith("HTTP/1.1 413"), status_line  # not "100 Continue" first
    assert headers["x-error-code"] == "PayloadTooLarge"
    assert headers["connection"] == "close"


def test_expect_continue_within_the_limit_still_works(hub):
    body = b'{"content": "---\\nlicense: mit\\n---\\n", "repoType": "dataset"}'
    sock = _raw(hub, _headers("/api/validate-yaml", len(body), expect=True))
    try:
        status_line, _, _ = _read_head(sock)
        assert status_line.startswith("HTTP/1.1 100"), status_line
        sock.sendall(body)
        status_line, headers, rest = _read_head(sock)
        while len(rest) < int(headers["content-length"]):
            rest += sock.recv(65536)
    finally:
        sock.close()
    assert status_line.startswith("HTTP/1.1 200"), status_line
    assert json.loads(rest) == {"errors": [], "warnings": []}
