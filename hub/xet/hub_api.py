"""Hub-side Xet endpoints: the ``xet-{read,write}-token`` routes and the upload statistics.

``GET /api/{t}s/{id}/xet-{read|write}-token/{rev}`` answers with the JSON body hf_xet reads
(``accessToken``, ``exp``, ``casUrl``) *and* the ``X-Xet-*`` headers huggingface_hub reads
before a download. The token is scoped to the repo and the revision and follows the namespace
rules of auth.py: a read token needs read access (anonymous for public repos), a write token a
write-role Hub token acting in the repo's namespace.
"""

from __future__ import annotations

import json
from typing import Any

from ..context import HubContext
from ..errors import EntryNotFoundError
from ..protocol import Request, Response, json_response
from ..pull_requests import open_commit_target
from ..repo_api import open_repo
from ..validation import RepoKey, check_revision
from .cas_api import cas_url


def xet_token(
    ctx: HubContext, req: Request, key: RepoKey, revision: str, *, write: bool
) -> Response:
    """``GET .../xet-read-token/{rev}`` and ``.../xet-write-token/{rev}``."""
    # with create_pr the client asks for ".../xet-write-token/None?create_pr=1": the pull
    # request's ref does not exist yet, so no revision is resolved (pull_requests.py)
    create_pr = write and (req.flag("create_pr") or revision == "None")
    rev = check_revision(revision)
    if write:
        repo = open_commit_target(ctx, req, key, rev, create_pr=create_pr)
    else:
        repo = open_repo(ctx, req, key)
    if not create_pr:
        repo.resolve(rev)  # 404 RevisionNotFound for an unknown revision
    token, exp = ctx.xet_signer.issue(key, rev, write=write)
    url = cas_url(req.base_url)
    headers = {
        "X-Xet-Cas-Url": url,
        "X-Xet-Access-Token": token,
        "X-Xet-Token-Expiration": str(exp),
        "Cache-Control": "no-store",
    }
    return json_response({"accessToken": token, "exp": exp, "casUrl": url}, headers=headers)


def upload_stats(ctx: HubContext, req: Request, key: RepoKey, revision: str) -> Response:
    """``GET /api/{t}s/{id}/localhub-upload-stats/{rev}``: what that commit uploaded.

    A local-Hub extension (not on huggingface.co); see accounting.py for the fields.
    """
    repo = open_repo(ctx, req, key)
    commit = repo.resolve(check_revision(revision))
    try:
        stats: dict[str, Any] = json.loads(ctx.xet.commit_stats_path(key, commit.id).read_bytes())
    except FileNotFoundError:
        raise EntryNotFoundError(
            f"No upload statistics for commit {commit.id} (made before they were recorded, "
            "or not made through the commit API)."
        ) from None
    return json_response(stats)
