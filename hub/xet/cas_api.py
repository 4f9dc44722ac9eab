"""The CAS API of the local Hub, under ``/api/xet-cas`` on the same port (reference §A3).

Served: xorb upload and HEAD, shard upload (v1; v2 answers 404 so the client falls back),
reconstruction v1 and v2 with ``Range``, signed xorb fetch URLs, file HEAD and telemetry.
Xorb-upload grants and the global-dedup query answer 404, which the client treats as "not
offered" (the client still dedups against its local shard cache). Every route but the fetch
URLs needs a CAS token from ``xet-*-token``; uploads need a write token, reads a token of a repo
the file was registered for.
"""

from __future__ import annotations

import logging
from urllib.parse import urlencode

from ..context import HubContext
from ..errors import (
    BadRequestError,
    HubError,
    MethodNotAllowedError,
    RangeNotSatisfiableError,
    RouteNotFoundError,
)
from ..files import parse_range
from ..protocol import FileSlice, Request, Response, StreamBody, json_response
from .hashing import is_hash_str
from .reconstruct import plan, reconstruction, sha256_of
from .shard import MAX_SHARD_BYTES, ShardFormatError, check_file, parse_shard
from .store import XetFile
from .tokens import XetScope
from .xorb import MAX_XORB_BYTES, XorbFormatError, verify_xorb

logger = logging.getLogger("ocforge.localhub.xet")
CAS_ROUTE = "xet-cas"  # the CAS base URL is {endpoint}/api/xet-cas
MAX_TELEMETRY = 1024 * 1024


def cas_url(base_url: str) -> str:
    return f"{base_url}/api/{CAS_ROUTE}"


def _hash_arg(text: str, what: str) -> str:
    if not is_hash_str(text):
        raise BadRequestError(f"Invalid {what} hash {text[:80]!r}: expected 64 lowercase hex.")
    return text


def _read_body(req: Request, limit: int) -> bytes:
    req.body.limit = limit
    return req.body.read_all()


def upload_xorb(ctx: HubContext, req: Request, xorb: str) -> Response:
    """``POST /v1/xorbs/default/{hash}``: verify every chunk and the hash, then store."""
    scope = ctx.xet_signer.check(req.headers.get("Authorization"), write=True)
    data = _read_body(req, MAX_XORB_BYTES)
    if ctx.xet.has_xorb(xorb):
        return json_response({"was_inserted": False})
    try:
        index = verify_xorb(data, xorb)
    except XorbFormatError as exc:
        raise BadRequestError(f"Xorb {xorb} refused: {exc}.") from None
    inserted = ctx.xet.put_xorb(xorb, data, index)
    if inserted:
        ctx.xet.mark_pending(scope.key, xorb, len(data))
    return json_response({"was_inserted": inserted})


def head_xorb(ctx: HubContext, req: Request, xorb: str) -> Response:
    """``HEAD /v1/xorbs/default/{hash}``: 200 with the stored size, or 404."""
    ctx.xet_signer.check(req.headers.get("Authorization"), write=False)
    index = ctx.xet.xorb_index(xorb)
    if index is None:
        raise HubError(f"Xorb {xorb} not found.", status=404, code="XorbNotFound")
    return Response(200, {}, stream=StreamBody(iter(()), index.stored_bytes))


def upload_shard(ctx: HubContext, req: Request) -> Response:
    """``POST /v1/shards``: check every file against stored xorbs, its hash and SHA-256."""
    scope = ctx.xet_signer.check(req.headers.get("Authorization"), write=True)
    data = _read_body(req, MAX_SHARD_BYTES)
    try:
        files = parse_shard(data)
        for entry in files:
            check_file(entry, ctx.xet.xorb_index)
    except ShardFormatError as exc:
        raise BadRequestError(f"Shard refused: {exc}.") from None
    existed = True
    for entry in files:
        record = ctx.xet.get_file(entry.xet_hash)
        if record is None:
            existed = False
            candidate = XetFile(entry.xet_hash, entry.size, str(entry.sha256), entry.terms)
            actual = sha256_of(ctx.xet, candidate) if entry.size else _EMPTY_SHA256
            if actual != entry.sha256:
                raise BadRequestError(
                    f"Shard refused: file {entry.xet_hash} rebuilds to SHA-256 {actual}, "
                    f"the shard says {entry.sha256}."
                )
            record = ctx.xet.put_file(entry)
        elif record.sha256 != entry.sha256:
            raise BadRequestError(
                f"Shard refused: file {entry.xet_hash} is stored with SHA-256 {record.sha256}."
            )
        ctx.xet.register(scope.key, record)
    ctx.xet.put_shard(data)
    return json_response({"result": 0 if existed and files else 1})


_EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


def _readable_file(ctx: HubContext, scope: XetScope, xet_hash: str) -> XetFile:
    record = ctx.xet.get_file(xet_hash) if ctx.xet.may_read(scope.key, xet_hash) else None
    if record is None:
        raise HubError(f"File {xet_hash} not found.", status=404, code="FileNotFound")
    return record


def get_reconstruction(ctx: HubContext, req: Request, xet_hash: str, version: int) -> Response:
    """``GET /v{1,2}/reconstructions/{file}`` (optionally with ``Range``)."""
    scope = ctx.xet_signer.check(req.headers.get("Authorization"), write=False)
    record = _readable_file(ctx, scope, xet_hash)
    if record.size == 0:
        if req.headers.get("Range"):
            raise RangeNotSatisfiableError("Range not satisfiable for an empty file.")
        return json_response(reconstruction(0, [], lambda _: "", version))
    byte_range = parse_range(req.headers.get("Range"), record.size)
    first, last = byte_range if byte_range is not None else (0, record.size - 1)
    offset, pieces = plan(ctx.xet, record, first, last)

    def url_for(xorb: str) -> str:
        exp, sig = ctx.xet_signer.sign_fetch(xorb)
        return f"{cas_url(req.base_url)}/fetch/{xorb}?{urlencode({'exp': exp, 'sig': sig})}"

    return json_response(reconstruction(offset, pieces, url_for, version))


def fetch_xorb(ctx: HubContext, req: Request, xorb: str) -> Response:
    """``GET /fetch/{xorb}?exp=..&sig=..`` with ``Range``: raw stored xorb bytes (no auth)."""
    ctx.xet_signer.check_fetch(xorb, req.param("exp"), req.param("sig"))
    index = ctx.xet.xorb_index(xorb)
    if index is None:
        raise HubError(f"Xorb {xorb} not found.", status=404, code="XorbNotFound")
    size = index.stored_bytes
    byte_range = parse_range(req.headers.get("Range"), size)
    path = ctx.xet.xorb_path(xorb)
    headers = {"Content-Type": "application/octet-stream", "Accept-Ranges": "bytes"}
    if byte_range is None:
        return Response(200, headers, file=FileSlice(path, 0, size))
    first, last = byte_range
    headers["Content-Range"] = f"bytes {first}-{last}/{size}"
    return Response(206, headers, file=FileSlice(path, first, last - first + 1))


def head_file(ctx: HubContext, req: Request, xet_hash: str) -> Response:
    """``HEAD /v1/files/{file}``: the file's size as ``Content-Length``."""
    scope = ctx.xet_signer.check(req.headers.get("Authorization"), write=False)
    record = _readable_file(ctx, scope, xet_hash)
    return Response(200, {}, stream=StreamBody(iter(()), record.size))


def telemetry(ctx: HubContext, req: Request) -> Response:
    """``POST /v1/telemetry``: accepted and discarded."""
    _read_body(req, MAX_TELEMETRY)
    return json_response({})


def route_cas(ctx: HubContext, req: Request, seg: list[str]) -> Response:
    """Dispatch ``/api/xet-cas/...``; ``seg`` are the segments after ``xet-cas``."""
    method = req.method
    if len(seg) == 2 and seg[0] == "fetch" and method in ("GET", "HEAD"):
        return fetch_xorb(ctx, req, _hash_arg(seg[1], "xorb"))
    if seg == ["v1", "telemetry"] and method == "POST":
        return telemetry(ctx, req)
    if seg == ["v1", "shards"]:
        if method != "POST":
            raise MethodNotAllowedError("Shards are uploaded with POST.")
        return upload_shard(ctx, req)
    if len(seg) == 4 and seg[:2] == ["v1", "xorbs"]:
        xorb = _hash_arg(seg[3], "xorb")
        if method == "POST":
            return upload_xorb(ctx, req, xorb)
        if method == "HEAD":
            return head_xorb(ctx, req, xorb)
        raise MethodNotAllowedError("Xorbs are uploaded with POST.")
    if len(seg) == 3 and seg[1] == "reconstructions" and seg[0] in ("v1", "v2"):
        if method != "GET":
            raise MethodNotAllowedError("Reconstructions are read with GET.")
        return get_reconstruction(ctx, req, _hash_arg(seg[2], "file"), int(seg[0][1]))
    if seg[:2] == ["v1", "files"] and len(seg) == 3 and method == "HEAD":
        return head_file(ctx, req, _hash_arg(seg[2], "file"))
    # /v1/chunks (global dedup), /v1/xorb-grants and /v2/shards: 404 means "not offered"
    raise RouteNotFoundError("No such CAS endpoint.")
