"""Namespace permissions seen through unmodified huggingface_hub, run by test_localhub_access.py.

Usage: python access_flow.py OUT.json TOKENS.json

TOKENS.json maps a user name (alice, bob, dave, carol, admin) to its token. The environment
carries HF_ENDPOINT and a private HF_HOME (Xet on, as by default), no HF_TOKEN: every call names
its token. Each step records its value or its exception (type, HTTP status) in OUT.json.
"""

from __future__ import annotations

import json
import sys
import traceback
from pathlib import Path

from huggingface_hub import HfApi, hf_hub_download

OUT = Path(sys.argv[1])
TOKENS = json.loads(Path(sys.argv[2]).read_text())
PRIVATE = "alice/private-ds"
PUBLIC = "alice/public-ds"
TEAM = "demo/team-private"

results: dict[str, dict] = {}


def api(user: str | None) -> HfApi:
    return HfApi(token=TOKENS[user] if user else False)


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


def upload(user: str | None, repo: str, path: str = "note.txt") -> str:
    return (
        api(user)
        .upload_file(
            path_or_fileobj=b"hello\n", path_in_repo=path, repo_id=repo, repo_type="dataset"
        )
        .oid
    )


def info(user: str | None, repo: str) -> bool:
    return bool(api(user).dataset_info(repo).private)


# -- alice sets up her repos and one in her org "demo" --------------------------------------
step("alice_whoami", lambda: api("alice").whoami())
step("alice_create_private", lambda: str(api("alice").create_repo(PRIVATE, repo_type="dataset", private=True)))  # fmt: skip
step("alice_upload_private", lambda: upload("alice", PRIVATE))
step("alice_read_private", lambda: info("alice", PRIVATE))
step("alice_create_public", lambda: str(api("alice").create_repo(PUBLIC, repo_type="dataset")))
step("alice_upload_public", lambda: upload("alice", PUBLIC))
step("alice_create_team", lambda: str(api("alice").create_repo(TEAM, repo_type="dataset", private=True)))  # fmt: skip
step("alice_create_elsewhere", lambda: str(api("alice").create_repo("bob/alices", repo_type="dataset")))  # fmt: skip

# -- bob, another user with a write token ---------------------------------------------------
step("bob_read_private", lambda: info("bob", PRIVATE))
step("bob_download_private", lambda: hf_hub_download(PRIVATE, "note.txt", repo_type="dataset", token=TOKENS["bob"]))  # fmt: skip
step("bob_exists_private", lambda: api("bob").repo_exists(PRIVATE, repo_type="dataset"))
step("bob_refs_private", lambda: api("bob").list_repo_refs(PRIVATE, repo_type="dataset").branches[0].name)  # fmt: skip
step("bob_list_alice", lambda: sorted(d.id for d in api("bob").list_datasets(author="alice")))
step("alice_list_alice", lambda: sorted(d.id for d in api("alice").list_datasets(author="alice")))
step("bob_upload_private", lambda: upload("bob", PRIVATE))
step("bob_read_public", lambda: info("bob", PUBLIC))
step("bob_upload_public", lambda: upload("bob", PUBLIC, "bob.txt"))
step("bob_branch_public", lambda: api("bob").create_branch(PUBLIC, branch="bob", repo_type="dataset"))  # fmt: skip
step("bob_tag_public", lambda: api("bob").create_tag(PUBLIC, tag="bob", repo_type="dataset"))
step("bob_delete_public", lambda: api("bob").delete_repo(PUBLIC, repo_type="dataset"))
step("bob_delete_private", lambda: api("bob").delete_repo(PRIVATE, repo_type="dataset"))
step("bob_create_in_alice", lambda: str(api("bob").create_repo("alice/bobs", repo_type="dataset")))  # fmt: skip
step("bob_create_in_demo", lambda: str(api("bob").create_repo("demo/bobs", repo_type="dataset")))
step("bob_create_own", lambda: str(api("bob").create_repo("bobs-own", repo_type="dataset")))
step("bob_read_team", lambda: info("bob", TEAM))
# like huggingface.co: exist_ok on a visible repo one cannot create in answers its URL
step("bob_exist_ok_public", lambda: str(api("bob").create_repo(PUBLIC, repo_type="dataset", exist_ok=True)))  # fmt: skip

# -- dave (write) and carol (read) are members of the org "demo" ----------------------------
step("dave_whoami_orgs", lambda: [o["name"] for o in api("dave").whoami()["orgs"]])
step("dave_read_team", lambda: info("dave", TEAM))
step("dave_upload_team", lambda: upload("dave", TEAM))
step("dave_read_alice_private", lambda: info("dave", PRIVATE))
step("carol_read_team", lambda: info("carol", TEAM))
step("carol_download_team", lambda: Path(hf_hub_download(TEAM, "note.txt", repo_type="dataset", token=TOKENS["carol"])).read_text())  # fmt: skip
step("carol_upload_team", lambda: upload("carol", TEAM, "carol.txt"))

# -- anonymous callers and the administrator ------------------------------------------------
step("anonymous_read_private", lambda: info(None, PRIVATE))
step("anonymous_read_public", lambda: info(None, PUBLIC))
step("anonymous_upload_public", lambda: upload(None, PUBLIC, "anon.txt"))
step("admin_read_private", lambda: info("admin", PRIVATE))
step("admin_upload_private", lambda: upload("admin", PRIVATE, "admin.txt"))
step("admin_create_anywhere", lambda: str(api("admin").create_repo("demo/opencharacter-demo", repo_type="dataset")))  # fmt: skip
step("files_public", lambda: sorted(api("alice").list_repo_files(PUBLIC, repo_type="dataset")))
step("files_private", lambda: sorted(api("alice").list_repo_files(PRIVATE, repo_type="dataset")))

OUT.write_text(json.dumps(results, indent=1))
