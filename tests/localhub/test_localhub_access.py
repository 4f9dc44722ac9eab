"""Who may read and write what on the local Hub, and the token line ``hub serve`` prints.

Permissions are exercised by several users through unmodified huggingface_hub (a client process,
clients/access_flow.py) against an in-process server on 127.0.0.1. The printed token line is run
in real shells against a token file written the way ``ocforge release`` writes it.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from localhub_helpers import client_environment, run_client

from ocforge.hub import Identity, LocalHub, TokenConfigError, TokenStore
from ocforge.hub.clientenv import token_file_export
from ocforge.publish.hub_client import stored_token

TOKENS = {
    "alice": "hf_access_alice_token_0001",
    "bob": "hf_access_bob_token_0002",
    "dave": "hf_access_dave_token_0003",
    "carol": "hf_access_carol_token_0004",
    "admin": "hf_access_admin_token_0005",
}
TOKEN_FILE = f"""# access test tokens: TOKEN USERNAME ROLE ORG...
{TOKENS["alice"]}\talice\twrite\tdemo
{TOKENS["bob"]}  bob
{TOKENS["dave"]}\tdave\twrite\tdemo\tresearch
{TOKENS["carol"]}\tcarol\tread\tdemo
{TOKENS["admin"]}
"""
SHELLS = [shell for shell in ("/bin/bash", "/bin/sh") if Path(shell).exists()]


@pytest.fixture(scope="module")
def flow(tmp_path_factory: pytest.TempPathFactory) -> dict:
    work = tmp_path_factory.mktemp("access")
    token_file = work / "tokens"
    token_file.write_text(TOKEN_FILE)
    (work / "tokens.json").write_text(json.dumps(TOKENS))
    tokens = TokenStore.from_sources(token_file=token_file, env={})
    with LocalHub(work / "hub", tokens=tokens) as hub:
        env = client_environment(hub.endpoint, None, work / "hf_home")
        return run_client("access_flow.py", env, work / "out.json", str(work / "tokens.json"))


def ok(flow: dict, name: str):
    result = flow[name]
    assert result["ok"], f"step {name} failed: {result.get('traceback') or result}"
    return result["value"]


def failed(flow: dict, name: str, error: str, status: int) -> dict:
    result = flow[name]
    assert not result["ok"], f"step {name} unexpectedly succeeded: {result['value']!r}"
    assert error in result["errors"], f"step {name}: {result['error']}: {result['message']}"
    assert result["status"] == status, f"step {name}: {result['message']}"
    return result


def test_owner_and_org_members_act_in_their_namespaces(flow):
    assert ok(flow, "alice_whoami")["name"] == "alice"
    assert [o["name"] for o in ok(flow, "alice_whoami")["orgs"]] == ["demo"]
    assert ok(flow, "alice_read_private") is True
    assert ok(flow, "alice_create_team").endswith("/datasets/demo/team-private")
    assert ok(flow, "dave_whoami_orgs") == ["demo", "research"]
    assert ok(flow, "dave_read_team") is True
    assert len(ok(flow, "dave_upload_team")) == 40
    assert ok(flow, "carol_read_team") is True  # read role: reads its org's private repos
    assert ok(flow, "carol_download_team") == "hello\n"
    assert ok(flow, "bob_create_own").endswith("/datasets/bob/bobs-own")


def test_private_repo_is_not_found_for_other_users(flow):
    for name in ("bob_read_private", "bob_download_private", "bob_refs_private", "bob_read_team"):
        result = failed(flow, name, "RepositoryNotFoundError", 404)
        assert "hf_access_" not in result["message"]
    failed(flow, "dave_read_alice_private", "RepositoryNotFoundError", 404)  # not alice's org
    failed(flow, "anonymous_read_private", "RepositoryNotFoundError", 404)
    assert ok(flow, "bob_exists_private") is False
    assert ok(flow, "bob_list_alice") == ["alice/public-ds"]
    assert ok(flow, "alice_list_alice") == ["alice/private-ds", "alice/public-ds"]
    # writing to a repo one cannot see is "not found" too, never a hint that it exists
    failed(flow, "bob_upload_private", "RepositoryNotFoundError", 404)
    failed(flow, "bob_delete_private", "RepositoryNotFoundError", 404)


def test_writes_outside_own_namespaces_are_forbidden(flow):
    for name in (
        "bob_upload_public",
        "bob_branch_public",
        "bob_tag_public",
        "bob_delete_public",
        "bob_create_in_alice",
        "bob_create_in_demo",
        "alice_create_elsewhere",
        "carol_upload_team",  # member of the org, but a read token
    ):
        failed(flow, name, "HfHubHTTPError", 403)
    assert "namespace 'alice'" in flow["bob_create_in_alice"]["message"]
    failed(flow, "anonymous_upload_public", "HfHubHTTPError", 401)
    assert ok(flow, "anonymous_read_public") is False
    assert ok(flow, "bob_read_public") is False
    assert ok(flow, "bob_exist_ok_public").endswith("/datasets/alice/public-ds")
    # nothing the refused calls tried landed in the repos
    assert ok(flow, "files_public") == [".gitattributes", "note.txt"]
    assert ok(flow, "files_private") == [".gitattributes", "admin.txt", "note.txt"]


def test_admin_token_acts_in_every_namespace(flow):
    """A bare token (user ``local``, what ``ocforge release`` generates) keeps publishing
    ``demo/...`` and reading every private repo."""
    assert ok(flow, "admin_read_private") is True
    assert len(ok(flow, "admin_upload_private")) == 40
    assert ok(flow, "admin_create_anywhere").endswith("/datasets/demo/opencharacter-demo")


def test_token_file_org_columns():
    store = TokenStore.parse(TOKEN_FILE, source="tokens")
    dave = store.lookup(TOKENS["dave"])
    assert (dave.name, dave.role, dave.orgs) == ("dave", "write", frozenset({"demo", "research"}))
    assert dave.acts_in("research") and not dave.acts_in("alice")
    assert store.lookup(TOKENS["admin"]).acts_in("anything")
    star = TokenStore.parse("hf_star_token_0001 erin write *", source="x").lookup(
        "hf_star_token_0001"
    )
    assert star.acts_in("anything") and star.org_names == []
    with pytest.raises(TokenConfigError, match=r"entry 1.*org name"):
        TokenStore.parse("hf_secretsecret erin write bad--org", source="file")


def _serve_printed_lines(root: Path) -> tuple[subprocess.Popen, str, str]:
    """Start ``hub serve --root ROOT`` and return (process, endpoint, HF_TOKEN line)."""
    env = {k: v for k, v in os.environ.items() if k != "OCFORGE_HUB_TOKENS"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "ocforge", "hub", "serve", "--root", str(root),
         "--port", "0"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    endpoint = None
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith("endpoint:"):
            endpoint = line.split()[1]
        if line.strip().startswith("export HF_TOKEN="):
            assert endpoint is not None
            return proc, endpoint, line.strip()
    proc.kill()
    raise AssertionError(f"hub serve printed no HF_TOKEN line (exit {proc.wait()})")


def test_printed_token_line_exports_exactly_the_release_token(tmp_path):
    root = tmp_path / "hub dir"  # a space in the path: the printed line must quote it
    token = stored_token(root)  # the tokens file as `ocforge release` / `make demo` write it
    assert (root / "tokens").read_text().startswith("#")
    proc, endpoint, line = _serve_printed_lines(root)
    try:
        assert token not in line
        whoami = "from huggingface_hub import HfApi; print(HfApi().whoami()['name'])"
        env = client_environment(endpoint, None, tmp_path / "hf_home")
        for shell in SHELLS:
            printed = subprocess.run(
                [shell, "-c", f'{line}\nprintf "%s" "$HF_TOKEN"'],
                capture_output=True, text=True, check=True, timeout=30,
            )  # fmt: skip
            assert printed.stdout == token and re.fullmatch(r"hf_\S+", printed.stdout)
        # the exported value authenticates an unmodified client against the running server
        client = subprocess.run(
            ["/bin/bash", "-c", f'{line}\nexec "{sys.executable}" -c "{whoami}"'],
            env=env, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert client.returncode == 0, client.stderr[-3000:]
        assert client.stdout.strip() == "local"
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@pytest.mark.parametrize("shell", SHELLS)
def test_token_line_takes_the_first_write_entry(tmp_path, shell):
    path = tmp_path / "tokens"
    path.write_text(
        "# comment\n\n   # indented comment\n"
        "hf_reader_token_0001\tbob\tread\n"
        "  hf_writer_token_0002   alice   write  demo\n"
        "hf_writer_token_0003\n"
    )
    out = subprocess.run(
        [shell, "-c", f'{token_file_export(path)}\nprintf "%s" "$HF_TOKEN"'],
        capture_output=True, text=True, check=True, timeout=30,
    )  # fmt: skip
    assert out.stdout == "hf_writer_token_0002"


def test_identity_mapping_gives_a_token_its_orgs(tmp_path):
    """``LocalHub(tokens={token: Identity(...)})``, the in-process way to configure orgs."""
    token = "hf_identity_mapping_0001"
    erin = Identity("erin", orgs=frozenset({"team"}))
    with LocalHub(tmp_path / "hub", tokens={token: erin}) as hub:
        url = urlsplit(hub.endpoint)

        def create(name: str) -> int:
            conn = http.client.HTTPConnection(url.hostname, url.port, timeout=20)
            body = json.dumps({"name": name, "type": "dataset"})
            conn.request("POST", "/api/repos/create", body, {"Authorization": f"Bearer {token}"})
            status = conn.getresponse().status
            conn.close()
            return status

        assert [create("erin/a"), create("team/b"), create("other/c")] == [200, 200, 403]
