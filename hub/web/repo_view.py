"""What every repo page shares: the repo opened as the caller may see it, the revision, the
revision picker (branches, tags, pull requests) and the tabs."""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..context import HubContext
from ..objects import Commit, TreeView
from ..protocol import Request
from ..repo_api import list_refs, open_repo
from ..storage import Repo
from ..validation import RepoKey, check_revision
from .render import segment_quote

_PR_RE = re.compile(r"^refs/pr/(\d+)$")
#: the largest text file the pages read into memory (previews, the card, diffs)
MAX_TEXT_BYTES = 1024 * 1024


@dataclass
class RevisionChoice:
    label: str
    kind: str  # "branch" | "tag" | "pr"
    revision: str
    url: str
    current: bool


@dataclass
class RepoView:
    """One repo at one revision, opened with the caller's identity."""

    key: RepoKey
    repo: Repo
    revision: str
    commit: Commit
    tree: TreeView
    user: str | None
    refs: dict[str, Any] = field(default_factory=dict)

    @property
    def kind(self) -> str:
        return self.key.repo_type

    @property
    def base(self) -> str:
        """The repo's page URL: ``/datasets/ns/name`` or ``/ns/name`` (models)."""
        return f"/{self.key.url_prefix}{self.key.repo_id}"

    @property
    def rev(self) -> str:
        """The revision as one URL segment."""
        return segment_quote(self.revision)

    @property
    def rev_query(self) -> str:
        """``?revision=...`` for pages that take it as a parameter (empty on ``main``)."""
        return "" if self.revision == "main" else f"?revision={segment_quote(self.revision)}"

    @property
    def private(self) -> bool:
        return self.repo.private

    def tags(self) -> list[dict[str, Any]]:
        return list(self.refs.get("tags", []))

    def choices(self, url_for: Callable[[str], str]) -> list[RevisionChoice]:
        """The revision picker: each ref with the URL of the same page at that ref."""
        out: list[RevisionChoice] = []
        for kind, items in (
            ("branch", self.refs.get("branches", [])),
            ("tag", self.refs.get("tags", [])),
            ("pr", self.refs.get("pullRequests", [])),
        ):
            for item in items:
                name = str(item.get("name", ""))
                revision = name if kind != "pr" else str(item.get("ref") or name)
                pr = _PR_RE.match(revision)
                label = f"PR #{pr.group(1)}" if pr else name
                current = self.revision in (name, revision, item.get("ref"))
                out.append(RevisionChoice(label, kind, revision, url_for(revision), current))
        return out

    def read_text(self, path: str) -> str | None:
        """A small regular file's text at this revision (``None``: missing, LFS or too big)."""
        entry = self.tree.files.get(path)
        return read_entry_text(self.repo, entry) if entry is not None else None


def read_entry_text(repo: Repo, entry: Any) -> str | None:
    """Text of a stored file entry, or ``None`` for LFS/Xet files, big or binary content."""
    return repo.blob_text(entry, MAX_TEXT_BYTES)


def _refs_listing(ctx: HubContext, req: Request, key: RepoKey) -> dict[str, Any]:
    # the API's own listing, so pull requests appear here as soon as the server has them
    query = {**req.query, "include_prs": ["1"]}
    response = list_refs(ctx, dataclasses.replace(req, query=query), key)
    data = json.loads(response.body)
    return data if isinstance(data, dict) else {}


def open_view(ctx: HubContext, req: Request, key: RepoKey, revision: str | None) -> RepoView:
    """Open ``key`` at ``revision`` (default ``main``); 404 for repos the caller may not see."""
    repo = open_repo(ctx, req, key)
    rev = check_revision(revision or "main")
    commit = repo.resolve(rev)
    user = req.identity.name if req.identity is not None else None
    view = RepoView(key, repo, rev, commit, repo.get_tree(commit.tree), user)
    view.refs = _refs_listing(ctx, req, key)
    return view
