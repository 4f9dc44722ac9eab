"""Git-LFS batch API (basic transfer) with signed upload URLs and a verify step.

Flow: ``POST /{prefix}{id}.git/info/lfs/objects/batch`` answers, per object, either nothing (the
blob is already stored: the client skips it) or an upload and a verify action. The client PUTs
the raw bytes to the upload href *without* an Authorization header, so the href carries an
HMAC capability (repo, oid, size, expiry) instead. The bytes are hashed while they are streamed
to a temp file and only become a blob if the SHA-256 matches. Never answer with ``chunk_size``
in the action header: the client would switch to multipart.
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import urlencode

from .context import HubContext
from .errors import (
    BadRequestError,
    ForbiddenError,
    HubError,
    PayloadTooLargeError,
    RouteNotFoundError,
)
from .protocol import Request, Response, json_response
from .repo_api import open_repo
from .validation import API_REPO_TYPES, REPO_TYPE_PLURAL, RepoKey, is_sha256, make_repo_key
from .xet.accounting import PENDING_LFS

LFS_CONTENT_TYPE = "application/vnd.git-lfs+json"
UPLOAD_ROUTE = "localhub-lfs"  # /api/localhub-lfs/{upload|verify}/{plural}/{ns}/{name}/{oid}


def batch(ctx: HubContext, req: Request, key: RepoKey) -> Response:
    """``POST .../info/lfs/objects/batch`` for ``operation: upload``."""
    repo = open_repo(ctx, req, key, write=True)
    body = req.json_object()
    if body.get("operation") != "upload":
        raise BadRequestError("Only the LFS 'upload' operation is supported.")
    transfers = body.get("transfers") or ["basic"]
    if "basic" not in transfers:
        raise BadRequestError("Only the LFS 'basic' transfer is supported.")
    objects = body.get("objects")
    if not isinstance(objects, list):
        raise BadRequestError('"objects" must be a list.')
    expires = int(time.time()) + ctx.upload_url_ttl_s
    plural = REPO_TYPE_PLURAL[key.repo_type]
    answers: list[dict[str, Any]] = []
    for obj in objects:
        oid = obj.get("oid") if isinstance(obj, dict) else None
        size = obj.get("size") if isinstance(obj, dict) else None
        if not is_sha256(oid) or not isinstance(size, int) or size < 0:
            answers.append(
                {"oid": str(oid), "size": size if isinstance(size, int) else 0,
                 "error": {"code": 422, "message": "Invalid oid or size."}}
            )  # fmt: skip
            continue
        if size > ctx.limits.max_lfs_object:
            answers.append(
                {"oid": oid, "size": size,
                 "error": {"code": 413, "message": "Object larger than the server's limit."}}
            )  # fmt: skip
            continue
        if repo.has_blob(oid, size) or ctx.xet.lookup_sha256(key, oid, size) is not None:
            answers.append({"oid": oid, "size": size})  # no actions: stored (as LFS or Xet)
            continue
        path = f"{plural}/{key.namespace}/{key.name}/{oid}"
        signature = ctx.sign_upload(key, oid, size, expires)
        query = urlencode({"size": size, "expires": expires, "sig": signature})
        answers.append(
            {
                "oid": oid,
                "size": size,
                "authenticated": True,
                "actions": {
                    "upload": {
                        "href": f"{req.base_url}/api/{UPLOAD_ROUTE}/upload/{path}?{query}",
                        "expires_in": ctx.upload_url_ttl_s,
                    },
                    "verify": {"href": f"{req.base_url}/api/{UPLOAD_ROUTE}/verify/{path}"},
                },
            }
        )
    return json_response(
        {"transfer": "basic", "objects": answers, "hash_algo": "sha256"},
        headers={"Content-Type": LFS_CONTENT_TYPE},
    )


def upload(ctx: HubContext, req: Request, key: RepoKey, oid: str) -> Response:
    """``PUT`` of one object's bytes to a signed URL."""
    try:
        size = int(req.param("size") or "")
        expires = int(req.param("expires") or "")
    except ValueError:
        raise ForbiddenError("Invalid or expired upload URL.") from None
    signature = req.param("sig") or ""
    if not is_sha256(oid) or not ctx.check_upload_signature(key, oid, size, expires, signature):
        raise ForbiddenError("Invalid or expired upload URL.")
    repo = ctx.store.get_repo(key)  # the signature already proves write access
    req.body.limit = size
    if req.body.length is not None and req.body.length != size:
        if req.body.length > size:
            raise PayloadTooLargeError("Body larger than the announced object size.")
        raise BadRequestError("Content-Length differs from the announced object size.")
    if not repo.has_blob(oid, size):
        repo.store_blob_stream(req.body, size, oid)
        ctx.xet.mark_pending(key, oid, size, PENDING_LFS)  # counted by the commit that uses it
    elif not req.body.drain(size):
        raise BadRequestError("Upload ended early.")
    return json_response({})


def verify(ctx: HubContext, req: Request, key: RepoKey, oid: str) -> Response:
    """``POST`` verify action: 200 if the object is stored with the given size."""
    repo = open_repo(ctx, req, key, write=True)
    body = req.json_object()
    size = body.get("size")
    if body.get("oid") != oid or not isinstance(size, int):
        raise BadRequestError("Verify body must repeat the object's oid and size.")
    if not repo.has_blob(oid, size):
        raise HubError("LFS object not found.", status=404, code="LfsObjectNotFound")
    return json_response({"oid": oid, "size": size})


def route_lfs_action(ctx: HubContext, req: Request, seg: list[str]) -> Response:
    """Dispatch ``/api/localhub-lfs/{upload|verify}/{plural}/{ns}/{name}/{oid}``."""
    if len(seg) != 5 or seg[1] not in API_REPO_TYPES:
        raise RouteNotFoundError("No such LFS endpoint.")
    key = make_repo_key(API_REPO_TYPES[seg[1]], seg[2], seg[3])
    if seg[0] == "upload" and req.method == "PUT":
        return upload(ctx, req, key, seg[4])
    if seg[0] == "verify" and req.method == "POST":
        return verify(ctx, req, key, seg[4])
    raise RouteNotFoundError("No such LFS endpoint.")
