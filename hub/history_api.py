"""History-rewriting endpoints: ``super_squash_history`` and LFS file listing / deletion.

* ``POST /api/{t}s/{id}/super-squash/{branch}`` with ``{"message": ...}``: the branch becomes
  one parentless commit with its current files (huggingface_hub ``super_squash_history``, also
  ``CommitScheduler(squash_history=True)``); ``refs/pr/N`` too (pull_requests.py). Other refs
  keep their history.
* ``GET /api/{t}s/{id}/lfs-files`` (``list_lfs_files``): every LFS (or Xet) file reachable from
  the repo's refs, once per SHA-256, with the path, ref and date of the oldest commit that
  added it. ``ref`` is the first ref, in the order ``main``, other branches, tags, pull
  requests, whose history holds that commit (``refs/heads/...``, ``refs/tags/...``,
  ``refs/pr/N``). Content never committed is not listed.
* ``POST /api/{t}s/{id}/lfs-files/batch`` with ``{"deletions": {"sha": [...],
  "rewriteHistory": true}}`` (``permanently_delete_lfs_files``): every branch, tag and pull
  request is rewritten without the files of those SHA-256s (new commit ids from the first
  commit that had one; the old commits are deleted), then their bytes (LFS blob, the repo's Xet
  registration) are removed, unless a regular file still has the same content. ``rewriteHistory: false`` (pointers kept, content gone) is not
  offered: 501.

All three need write access in the repo's namespace. Refs are replaced in one atomic write
under the repo's lock before any content is removed, so a crash leaves either the old history
with its content or the new one (with at most unreferenced bytes).
"""

from __future__ import annotations

import contextlib
from typing import Any

from .auth import require_writer
from .context import HubContext
from .discussions import PullRequestState, list_discussions, pull_request_refs, save_discussion
from .errors import BadRequestError, NotImplementedHubError, RevisionNotFoundError
from .objects import Commit, Refs, utc_now_iso
from .protocol import Request, Response, json_response
from .pull_requests import squash_pull_request
from .refs import DEFAULT_BRANCH
from .repo_api import open_repo
from .storage import Repo
from .validation import RepoKey, check_revision, is_sha256

MAX_DELETIONS = 1000  # the client sends batches of 1,000


def super_squash(ctx: HubContext, req: Request, key: RepoKey, name: str) -> Response:
    """``POST /api/{t}s/{id}/super-squash/{branch}``."""
    identity = require_writer(req.identity)
    repo = open_repo(ctx, req, key, write=True)
    branch = check_revision(name).removeprefix("refs/heads/")
    message = req.json_object().get("message") or f"Super-squash branch '{branch}'"
    if not isinstance(message, str):
        raise BadRequestError('"message" must be a string.')
    title, _, description = message.strip().partition("\n")
    if branch.startswith("refs/pr/"):  # the head lives in the discussion file
        pulled = squash_pull_request(repo, branch, title[:1000], description.strip(), identity.name)
        return json_response({"commitId": pulled.id})
    with ctx.store.lock(repo.key):
        repo._check_alive()
        refs = repo.refs()
        if branch not in refs.heads:
            if branch in refs.tags:
                raise BadRequestError(f"Invalid rev id: {branch} is a tag; only branches.")
            raise RevisionNotFoundError(f"Invalid rev id: {name}")
        head = repo.get_commit(refs.heads[branch])
        new = repo._write_commit(
            head.tree, (), title[:1000], description.strip(), (identity.name,), utc_now_iso()
        )
        refs.heads[branch] = new.id
        repo._write_refs(refs)
    return json_response({"commitId": new.id})


def _ref_tables(refs: Refs) -> list[tuple[str, dict[str, str]]]:
    return [("refs/heads/", refs.heads), ("refs/tags/", refs.tags)]


def _ordered_tips(repo: Repo) -> list[tuple[str, str]]:
    """(full ref name, commit id): ``main``, branches, tags, then pull requests, by name."""
    tips = []
    for prefix, table in _ref_tables(repo.refs()):
        names = sorted(table, key=lambda n: (n != DEFAULT_BRANCH or prefix != "refs/heads/", n))
        tips.extend((prefix + n, table[n]) for n in names)
    tips.extend((pr["ref"], pr["targetCommit"]) for pr in pull_request_refs(repo))
    return tips


def _lfs_file_items(ctx: HubContext, repo: Repo) -> list[dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    seen_commits: set[str] = set()
    for ref, tip in _ordered_tips(repo):
        chain = [c for c in repo.history(repo.get_commit(tip)) if c.id not in seen_commits]
        for commit in reversed(chain):  # oldest first: the first commit that adds a file wins
            seen_commits.add(commit.id)
            for path, entry in sorted(repo.get_tree(commit.tree).files.items()):
                if entry.lfs and entry.sha256 not in found:
                    item = {
                        "fileOid": entry.sha256,
                        "oid": entry.sha256,
                        "filename": path,
                        "size": entry.size,
                        "pushedAt": commit.date,
                        "ref": ref,
                        "pusher": commit.authors[0] if commit.authors else None,
                    }
                    xet = ctx.xet.lookup_sha256(repo.key, entry.sha256, entry.size)
                    if xet is not None:
                        item["xetHash"] = xet.xet_hash
                    found[entry.sha256] = item
    return list(found.values())


def list_lfs_files(ctx: HubContext, req: Request, key: RepoKey) -> Response:
    """``GET /api/{t}s/{id}/lfs-files``: one page with every item (no ``Link`` to a next one)."""
    repo = open_repo(ctx, req, key, write=True)
    return json_response(_lfs_file_items(ctx, repo))


def _deletion_shas(body: dict[str, Any]) -> set[str]:
    deletions = body.get("deletions")
    if not isinstance(deletions, dict):
        raise BadRequestError('Expected {"deletions": {"sha": [...], "rewriteHistory": true}}.')
    shas = deletions.get("sha")
    if not isinstance(shas, list) or not all(is_sha256(s) for s in shas):
        raise BadRequestError('"deletions.sha" must be a list of SHA-256 object ids.')
    if len(shas) > MAX_DELETIONS:
        raise BadRequestError(f"At most {MAX_DELETIONS} LFS files per request.")
    if deletions.get("rewriteHistory", True) is not True:
        raise NotImplementedHubError(
            "rewriteHistory=false (keeping pointers to deleted content) is not supported by "
            "the local hub; it always rewrites history."
        )
    return set(shas)


class _Rewriter:
    """Rewrites commits without the LFS files of ``doomed``; memoised, parents first."""

    def __init__(self, repo: Repo, doomed: set[str]):
        self.repo, self.doomed = repo, doomed
        self.new_ids: dict[str, str] = {}
        #: SHA-256 of every file the rewritten history still has (its bytes must stay)
        self.kept: set[str] = set()

    def rewrite(self, tip: str) -> str:
        stack = [tip]
        while stack:  # iterative: histories may be longer than the recursion limit
            commit_id = stack[-1]
            if commit_id in self.new_ids:
                stack.pop()
                continue
            commit = self.repo.get_commit(commit_id)
            pending = [p for p in commit.parents if p not in self.new_ids]
            if pending:  # parents first: a commit's new id depends on theirs
                stack.extend(pending)
                continue
            stack.pop()
            self.new_ids[commit_id] = self._rewrite_one(commit)
        return self.new_ids[tip]

    def replaced(self) -> list[str]:
        """Old ids of the commits that got a new id."""
        return [old for old, new in self.new_ids.items() if old != new]

    def _rewrite_one(self, commit: Commit) -> str:
        files = self.repo.get_tree(commit.tree).files
        kept = {p: e for p, e in files.items() if not (e.lfs and e.sha256 in self.doomed)}
        self.kept.update(e.sha256 for e in kept.values())
        parents = tuple(self.new_ids[p] for p in commit.parents)
        if len(kept) == len(files) and parents == commit.parents:
            return commit.id
        tree = commit.tree if len(kept) == len(files) else self.repo._write_tree(kept)
        new = self.repo._write_commit(
            tree, parents, commit.title, commit.message, commit.authors, commit.date
        )
        return new.id


def delete_lfs_files(ctx: HubContext, req: Request, key: RepoKey) -> Response:
    """``POST /api/{t}s/{id}/lfs-files/batch``: rewrite history without them, free the bytes."""
    repo = open_repo(ctx, req, key, write=True)
    doomed = _deletion_shas(req.json_object())
    with ctx.store.lock(repo.key):
        repo._check_alive()
        refs = repo.refs()
        rewriter = _Rewriter(repo, doomed)
        for _, table in _ref_tables(refs):
            for name, tip in table.items():
                table[name] = rewriter.rewrite(tip)
        pulls = [d for d in list_discussions(repo) if d.pr is not None]
        for pull in pulls:  # refs/pr/N lives in the discussion file (discussions.py)
            _rewrite_pull_request(pull.pr, rewriter)
        # every new object is written: the new history becomes visible, refs first
        repo._write_refs(refs)
        for pull in pulls:
            save_discussion(repo, pull)
        _forget_commits(repo, rewriter.replaced())
        removed = [sha for sha in sorted(doomed - rewriter.kept) if _remove_content(ctx, repo, sha)]
    return json_response({"deleted": removed})


def _rewrite_pull_request(pr: PullRequestState | None, rewriter: _Rewriter) -> None:
    if pr is not None:
        pr.start, pr.head = rewriter.rewrite(pr.start), rewriter.rewrite(pr.head)
        if pr.merge_commit is not None:
            pr.merge_commit = rewriter.rewrite(pr.merge_commit)


def _forget_commits(repo: Repo, commit_ids: list[str]) -> None:
    """Delete the rewritten commits: no ref reaches them, and their files' bytes are going.

    A cache entry of ``None`` reads as a miss (objects.py LRUCache), so a cached body cannot
    outlive its file.
    """
    for commit_id in commit_ids:
        with contextlib.suppress(FileNotFoundError):
            repo._object_path("commits", commit_id).unlink()
        repo.store._objects.put((repo.meta.get("uuid"), "commits", commit_id), None)


def _remove_content(ctx: HubContext, repo: Repo, sha256: str) -> bool:
    """Remove the repo's LFS blob and Xet registration of ``sha256``; True if any existed."""
    removed = False
    with contextlib.suppress(FileNotFoundError):
        repo.blob_path(sha256).unlink()
        removed = True
    xet = ctx.xet
    record = xet.lookup_sha256(repo.key, sha256)
    base = xet._repo_xet(repo.key)  # the registration layout belongs to XetStore
    links = [xet._fanout(base / "files", sha256)]
    if record is not None:
        links.append(xet._fanout(base / "hashes", record.xet_hash))
    for link in links:
        with contextlib.suppress(FileNotFoundError):
            link.unlink()
            removed = True
    return removed
