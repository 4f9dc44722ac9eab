"""File downloads: ``HEAD``/``GET /{prefix}{namespace}/{name}/resolve/{revision}/{path}``.

huggingface_hub takes the commit from ``X-Repo-Commit``, names the cached blob after the ETag
(so it must be a content hash) and checks the byte count against ``X-Linked-Size``. HfFileSystem
and pyarrow read Parquet footers with single ``Range`` requests, so ranges must be exact.

A file stored through Xet also gets ``X-Xet-Hash`` and the token refresh link, which switch
huggingface_hub (with hf_xet) to a Xet download; every other client gets the bytes from the GET,
decompressed from the xorbs chunk by chunk when the content has no LFS blob.
"""

from __future__ import annotations

import re

from .context import HubContext
from .errors import EntryNotFoundError, RangeNotSatisfiableError
from .protocol import FileSlice, Request, Response, StreamBody
from .repo_api import open_repo
from .validation import REPO_TYPE_PLURAL, RepoKey, check_repo_path, check_revision
from .xet.reconstruct import iter_file_bytes

_RANGE_RE = re.compile(r"^bytes=(\d*)-(\d*)$")


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """Inclusive byte range ``(first, last)`` of a single-range header, or ``None`` for all.

    Multi-range and malformed headers are ignored (the whole file is sent, as RFC 9110 allows).
    Raises :class:`RangeNotSatisfiableError` for a range that starts at or past the end.
    """
    if not header:
        return None
    match = _RANGE_RE.match(header.strip())
    if match is None:
        return None
    first_text, last_text = match.groups()
    if not first_text and not last_text:
        return None
    unsatisfiable = RangeNotSatisfiableError(
        "Requested range not satisfiable.", headers={"Content-Range": f"bytes */{size}"}
    )
    if not first_text:  # suffix range: the last N bytes
        length = int(last_text)
        if length == 0 or size == 0:
            raise unsatisfiable
        return max(0, size - length), size - 1
    first = int(first_text)
    last = int(last_text) if last_text else size - 1
    if first >= size:
        raise unsatisfiable
    if last < first:
        return None
    return first, min(last, size - 1)


def xet_headers(req: Request, key: RepoKey, commit_id: str, xet_hash: str) -> dict[str, str]:
    """The resolve HEAD headers that switch huggingface_hub to a Xet download."""
    refresh = f"{req.base_url}/api/{REPO_TYPE_PLURAL[key.repo_type]}/{key.repo_id}"
    refresh += f"/xet-read-token/{commit_id}"
    return {
        "X-Xet-Hash": xet_hash,
        "X-Xet-Refresh-Route": refresh,
        "Link": f'<{refresh}>; rel="xet-auth"',
    }


def resolve_file(
    ctx: HubContext, req: Request, key: RepoKey, revision: str, path_parts: list[str]
) -> Response:
    """Serve (GET) or describe (HEAD) one file at a revision."""
    repo = open_repo(ctx, req, key)
    commit = repo.resolve(check_revision(revision))
    path = check_repo_path("/".join(path_parts))
    entry = repo.get_tree(commit.tree).files.get(path)
    if entry is None:
        # X-Repo-Commit lets the client cache a ".no_exist" marker for this commit
        raise EntryNotFoundError(
            f"Entry {path!r} not found at revision {revision}.",
            headers={"X-Repo-Commit": commit.id},
        )
    etag = f'"{entry.etag}"'
    headers = {
        "X-Repo-Commit": commit.id,
        "ETag": etag,
        # X-Linked-* win over ETag/Content-Length in the client: always send them
        "X-Linked-Etag": etag,
        "X-Linked-Size": str(entry.size),
        "Accept-Ranges": "bytes",
        "Content-Type": "application/octet-stream",
        "Cache-Control": "private, max-age=0, must-revalidate",
    }
    xet = ctx.xet.lookup_sha256(key, entry.sha256, entry.size) if entry.lfs else None
    if xet is not None:
        headers.update(xet_headers(req, key, commit.id, xet.xet_hash))
    byte_range = parse_range(req.headers.get("Range"), entry.size)
    first, last = byte_range if byte_range is not None else (0, entry.size - 1)
    status = 200 if byte_range is None else 206
    if byte_range is not None:
        headers["Content-Range"] = f"bytes {first}-{last}/{entry.size}"
    if xet is not None and not repo.has_blob(entry.sha256, entry.size):
        pieces = iter_file_bytes(ctx.xet, xet, first, last) if req.method == "GET" else iter(())
        return Response(status, headers, stream=StreamBody(pieces, last - first + 1))
    blob = repo.blob_path(entry.sha256)
    return Response(status, headers, file=FileSlice(blob, first, last - first + 1))
