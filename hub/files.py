"""File downloads: ``HEAD``/``GET /{prefix}{namespace}/{name}/resolve/{revision}/{path}``.

huggingface_hub takes the commit from ``X-Repo-Commit``, names the cached blob after the ETag
(so it must be a content hash) and checks the byte count against ``X-Linked-Size``. HfFileSystem
and pyarrow read Parquet footers with single ``Range`` requests, so ranges must be exact.
"""

from __future__ import annotations

import re

from .context import HubContext
from .errors import EntryNotFoundError, RangeNotSatisfiableError
from .protocol import FileSlice, Request, Response
from .repo_api import open_repo
from .validation import RepoKey, check_repo_path, check_revision

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
    blob = repo.blob_path(entry.sha256)
    byte_range = parse_range(req.headers.get("Range"), entry.size)
    if byte_range is None:
        return Response(200, headers, file=FileSlice(blob, 0, entry.size))
    first, last = byte_range
    headers["Content-Range"] = f"bytes {first}-{last}/{entry.size}"
    return Response(206, headers, file=FileSlice(blob, first, last - first + 1))
