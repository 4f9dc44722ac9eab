"""History: the commits of a revision with the files each changed, and one commit's diffs."""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field

from ..context import HubContext
from ..objects import Commit, TreeView
from ..protocol import Request, Response
from ..storage import Repo
from ..validation import RepoKey, check_revision
from .render import html_response, path_quote, segment_quote
from .repo_pages import header
from .repo_view import open_view, read_entry_text

COMMITS_PER_PAGE = 50
MAX_DIFF_LINES = 2000  # per file; the rest is summarised


@dataclass
class Change:
    path: str
    status: str  # "added" | "modified" | "deleted"
    old_size: int | None
    new_size: int | None
    lfs: bool
    diff: list[tuple[str, str]] | None = None  # (css class, line)
    note: str | None = None


@dataclass
class CommitItem:
    commit: Commit
    changes: list[Change] = field(default_factory=list)


def _parent_tree(repo: Repo, commit: Commit) -> TreeView | None:
    return repo.get_tree(repo.get_commit(commit.parents[0]).tree) if commit.parents else None


def changes(repo: Repo, commit: Commit) -> list[Change]:
    """Files added, modified or deleted by ``commit`` against its first parent."""
    new = repo.get_tree(commit.tree).files
    parent = _parent_tree(repo, commit)
    old = parent.files if parent is not None else {}
    out = []
    for path in sorted(set(old) | set(new)):
        before, after = old.get(path), new.get(path)
        if before is not None and after is not None and before.oid == after.oid:
            continue
        status = "added" if before is None else "deleted" if after is None else "modified"
        lfs = bool((after or before).lfs)
        out.append(Change(path, status, before and before.size, after and after.size, lfs))
    return out


def _classify(line: str) -> str:
    if line.startswith(("+++", "---")):
        return "file"
    if line.startswith("@@"):
        return "hunk"
    return {"+": "add", "-": "del"}.get(line[:1], "ctx")


def _diff(repo: Repo, commit: Commit, change: Change) -> None:
    """Fill ``change.diff`` for text files; a note for LFS/Xet, binary or large ones."""
    parent = _parent_tree(repo, commit)
    before = parent.files.get(change.path) if parent is not None else None
    after = repo.get_tree(commit.tree).files.get(change.path)
    texts = []
    for entry in (before, after):
        text = "" if entry is None else read_entry_text(repo, entry)
        if text is None:
            change.note = "Binary, LFS/Xet or large file: no text diff."
            return
        texts.append(text)
    lines = list(
        difflib.unified_diff(
            texts[0].splitlines(),
            texts[1].splitlines(),
            f"a/{change.path}",
            f"b/{change.path}",
            lineterm="",
        )
    )
    if len(lines) > MAX_DIFF_LINES:
        change.note = f"Diff cut after {MAX_DIFF_LINES} of {len(lines)} lines."
        lines = lines[:MAX_DIFF_LINES]
    change.diff = [(_classify(line), line) for line in lines]


def commits_page(ctx: HubContext, req: Request, key: RepoKey, revision: str) -> Response:
    """``/{prefix}NS/NAME/commits/REV[?p=N]``: first-parent history, newest first."""
    view = open_view(ctx, req, key, revision)
    history = list(view.repo.history(view.commit))
    page_text = req.param("p") or "0"
    page = int(page_text) if page_text.isdigit() and len(page_text) < 9 else 0
    shown = history[page * COMMITS_PER_PAGE : (page + 1) * COMMITS_PER_PAGE]
    items = [CommitItem(c, changes(view.repo, c)) for c in shown]
    base = f"{view.base}/commits/{view.rev}"
    more = (page + 1) * COMMITS_PER_PAGE < len(history)
    return html_response(
        "commits.j2",
        **header(view, "history", lambda rev: f"{view.base}/commits/{segment_quote(rev)}"),
        user=view.user,
        items=items,
        total=len(history),
        prev_url=f"{base}?p={page - 1}" if page > 0 else None,
        next_url=f"{base}?p={page + 1}" if more else None,
        title=f"{key.repo_id} · History",
    )


def commit_page(ctx: HubContext, req: Request, key: RepoKey, sha: str) -> Response:
    """``/{prefix}NS/NAME/commit/SHA``: the commit's message, files and text diffs."""
    view = open_view(ctx, req, key, check_revision(sha))
    commit = view.commit
    items = changes(view.repo, commit)
    for change in items:
        _diff(view.repo, commit, change)
    rev = segment_quote(commit.id)
    return html_response(
        "commit.j2",
        **header(view, "history", lambda r: f"{view.base}/commits/{segment_quote(r)}"),
        user=view.user,
        commit=commit,
        changes=items,
        parent_url=f"{view.base}/commit/{commit.parents[0]}" if commit.parents else None,
        tree_url=f"{view.base}/tree/{rev}",
        blob_prefix=f"{view.base}/blob/{rev}/",
        path_quote=path_quote,
        title=f"{key.repo_id} · {commit.title}",
    )
