"""Files and versions: a folder listing per revision (``tree``) and one file (``blob``)."""

from __future__ import annotations

import posixpath
from dataclasses import dataclass

from ..context import HubContext
from ..errors import EntryNotFoundError
from ..protocol import Request, Response
from ..validation import RepoKey, check_repo_path
from .render import html_response, path_quote, segment_quote
from .repo_pages import header
from .repo_view import RepoView, open_view

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".gif", ".webp")


@dataclass
class Entry:
    name: str
    path: str
    is_dir: bool
    size: int | None
    lfs: bool
    url: str
    download: str | None


def _links(view: RepoView, path: str) -> tuple[str, str]:
    return (
        f"{view.base}/blob/{view.rev}/{path_quote(path)}",
        f"{view.base}/resolve/{view.rev}/{path_quote(path)}",
    )


def breadcrumbs(view: RepoView, path: str) -> list[tuple[str, str]]:
    """(name, tree URL) of each folder above and including ``path``, the repo root first."""
    crumbs = [(view.key.name, f"{view.base}/tree/{view.rev}")]
    parts = path.split("/") if path else []
    for depth in range(len(parts)):
        sub = "/".join(parts[: depth + 1])
        crumbs.append((parts[depth], f"{view.base}/tree/{view.rev}/{path_quote(sub)}"))
    return crumbs


def tree_page(
    ctx: HubContext, req: Request, key: RepoKey, revision: str, parts: list[str]
) -> Response:
    """``/{prefix}NS/NAME/tree/REV[/PATH]``: sub-folders and files with sizes and downloads."""
    view = open_view(ctx, req, key, revision)
    path = check_repo_path("/".join(parts), allow_root=True)
    if not view.tree.is_dir(path):
        raise EntryNotFoundError(f"Folder {path!r} not found at revision {revision}.")
    dirs, files = view.tree.children(path)
    entries = [
        Entry(posixpath.basename(d), d, True, None, False, f"{view.base}/tree/{view.rev}/"
              f"{path_quote(d)}", None)
        for d in dirs
    ]  # fmt: skip
    for f in files:
        entry = view.tree.files[f]
        blob, download = _links(view, f)
        entries.append(
            Entry(posixpath.basename(f), f, False, entry.size, entry.lfs, blob, download)
        )
    suffix = f"/{path_quote(path)}" if path else ""
    return html_response(
        "tree.j2",
        **header(view, "files", lambda rev: f"{view.base}/tree/{segment_quote(rev)}{suffix}"),
        user=view.user,
        path=path,
        crumbs=breadcrumbs(view, path),
        entries=entries,
        total_size=sum(e.size for e in view.tree.files.values()),
        title=f"{key.repo_id} · Files",
    )


def blob_page(
    ctx: HubContext, req: Request, key: RepoKey, revision: str, parts: list[str]
) -> Response:
    """``/{prefix}NS/NAME/blob/REV/PATH``: a text file's lines, an image, or a download link."""
    view = open_view(ctx, req, key, revision)
    path = check_repo_path("/".join(parts))
    entry = view.tree.files.get(path)
    if entry is None:
        raise EntryNotFoundError(f"File {path!r} not found at revision {revision}.")
    text = view.read_text(path)
    _, download = _links(view, path)
    is_image = path.lower().endswith(IMAGE_SUFFIXES)
    return html_response(
        "blob.j2",
        **header(view, "files", lambda rev: f"{view.base}/blob/{segment_quote(rev)}/"
                 f"{path_quote(path)}"),
        user=view.user,
        path=path,
        crumbs=breadcrumbs(view, posixpath.dirname(path)),
        entry=entry,
        lines=text.splitlines() if text is not None else None,
        image=download if is_image else None,
        download=download,
        title=f"{key.repo_id} · {path}",
    )  # fmt: skip
