"""Pull requests: ``create_pr=1`` commits, commits to ``refs/pr/N``, merges into the target branch.

As on huggingface.co:

* a commit with ``?create_pr=1`` opens pull request N (the repo's next discussion number) on
  top of the given branch's head (or of ``parentCommit``); ``refs/pr/N`` points to the commit.
  Any writer who can see the repo may open one, also outside its namespaces;
* commits to ``refs/pr/N`` add to that pull request (its author or the repo's namespace);
* merging (the repo's namespace only) fast-forwards the target branch when it has not moved
  since, and otherwise makes a merge commit of both heads, file by file against their merge
  base: a file changed on both sides (differently) is a conflict and the merge is refused (409);
* an open pull request's details list the files that would conflict.

The discussion record is written only after the objects it points to (see discussions.py);
a merge moves the branch in ``refs.json`` first and then marks the pull request merged, so a
crash between the two leaves an open pull request whose commits are on the branch: merging
it again only marks it merged.
"""

from __future__ import annotations

from collections.abc import Iterable

from .auth import Identity, namespace_forbidden, require_writer
from .context import HubContext
from .discussions import (
    Discussion,
    PullRequestState,
    comment_event,
    commit_event,
    next_number,
    pr_number,
    require_discussion,
    require_pull_request,
    save_discussion,
    status_event,
)
from .errors import (
    BadRequestError,
    ConflictError,
    PreconditionFailedError,
    RevisionNotFoundError,
)
from .objects import Commit, CommitOperation, FileEntry, utc_now_iso
from .protocol import Request
from .refs import _apply, _check_no_file_dir_clash
from .repo_api import open_repo
from .shapes import repo_url
from .storage import Repo
from .validation import RepoKey

MAX_TITLE = 200


def pull_request_url(base_url: str, key: RepoKey, num: int | None) -> str | None:
    """``pullRequestUrl`` of a commit answer (the client parses N after ``/discussions/``)."""
    return None if num is None else f"{repo_url(base_url, key)}/discussions/{num}"


def open_commit_target(
    ctx: HubContext, req: Request, key: RepoKey, revision: str, *, create_pr: bool
) -> Repo:
    """The repo a commit (or preupload, or Xet write token) may go to.

    Commits to branches need the repo's namespace. Opening a pull request needs only a write
    token and a repo the caller can see; adding to ``refs/pr/N`` needs the namespace or being
    the pull request's author.
    """
    num = pr_number(revision)
    if not create_pr and num is None:
        return open_repo(ctx, req, key, write=True)
    identity = require_writer(req.identity)
    repo = open_repo(ctx, req, key)
    if create_pr or identity.acts_in(key.namespace):
        return repo
    assert num is not None
    if require_pull_request(repo, num, revision).author != identity.name:
        raise namespace_forbidden(identity, key.namespace, f"push to {revision} of {key.repo_id}")
    return repo


def _build_commit(
    repo: Repo, head: Commit, ops: list[CommitOperation], title: str, message: str, author: str
) -> Commit:
    """Write the tree and commit object of ``ops`` applied on ``head`` (moves no ref)."""
    files = dict(repo.get_tree(head.tree).files)
    for op in ops:
        _apply(files, op, repo)
    _check_no_file_dir_clash(files)
    tree_id = repo._write_tree(files)
    return repo._write_commit(tree_id, (head.id,), title, message, (author,), utc_now_iso())


def _branch_head(repo: Repo, revision: str) -> tuple[str, Commit]:
    """Target branch name and head of a pull request opened against ``revision``."""
    branch = revision.removeprefix("refs/heads/")
    heads = repo.refs().heads
    if branch not in heads:
        # a tag, a commit id, refs/pr/N or a missing name: pull requests target branches
        raise RevisionNotFoundError(
            f"Invalid rev id: {revision} (pull requests are opened against a branch)"
        )
    return branch, repo.get_commit(heads[branch])


def pr_title(summary: str) -> str:
    """A commit summary as a pull request title (the Hub's 200 character limit)."""
    title = summary.strip().splitlines()[0] if summary.strip() else "Pull request"
    return title[:MAX_TITLE]


def commit_operations(
    repo: Repo,
    revision: str,
    operations: Iterable[CommitOperation],
    *,
    create_pr: bool,
    title: str,
    message: str,
    author: str,
    parent_commit: str | None,
) -> tuple[Commit, int | None]:
    """Make the commit of ``POST .../commit/{revision}``; the number of the PR it opened."""
    ops = list(operations)
    num = pr_number(revision)
    if not create_pr and num is None:
        commit = repo.commit(
            revision, ops, title=title, message=message, author=author, parent_commit=parent_commit
        )
        return commit, None
    with repo.store.lock(repo.key):
        repo._check_alive()
        if create_pr:
            branch, head = _branch_head(repo, revision)
            if parent_commit is not None:
                head = repo.resolve(parent_commit)  # the Hub opens the PR from parentCommit
            new = _build_commit(repo, head, ops, title, message, author)
            opened = Discussion(
                next_number(repo), pr_title(title), "open", author, utc_now_iso(),
                pr=PullRequestState(branch, head.id, new.id),
            )  # fmt: skip
            opened.events = [comment_event(author, message), commit_event(author, new.id, title)]
            save_discussion(repo, opened)
            return new, opened.num
        assert num is not None
        pr = require_pull_request(repo, num, revision)
        assert pr.pr is not None
        if pr.status == "merged":
            raise BadRequestError(f"Pull request #{num} is merged; open a new one.")
        if parent_commit is not None and parent_commit != pr.pr.head:
            raise PreconditionFailedError(  # the Hub's wording
                "The branch was updated since you opened this page. Please refresh and try "
                f"again. (parent commit {parent_commit} is not the head of {revision})"
            )
        new = _build_commit(repo, repo.get_commit(pr.pr.head), ops, title, message, author)
        pr.pr.head = new.id
        pr.events.append(commit_event(author, new.id, title))
        save_discussion(repo, pr)
        return new, None


def squash_pull_request(repo: Repo, revision: str, title: str, message: str, author: str) -> Commit:
    """``super_squash_history`` on ``refs/pr/N``: its head becomes one parentless commit with
    the same files (it then merges only where both sides agree)."""
    num = pr_number(revision)
    if num is None:
        raise RevisionNotFoundError(f"Invalid rev id: {revision}")
    with repo.store.lock(repo.key):
        repo._check_alive()
        pr = require_pull_request(repo, num, revision)
        assert pr.pr is not None
        head = repo.get_commit(pr.pr.head)
        new = repo._write_commit(head.tree, (), title, message, (author,), utc_now_iso())
        pr.pr.head = new.id
        save_discussion(repo, pr)
        return new


def open_empty_pull_request(
    repo: Repo, identity: Identity, title: str, description: str
) -> Discussion:
    """``create_pull_request``: a draft PR against ``main`` whose ref is ``main``'s head."""
    with repo.store.lock(repo.key):
        repo._check_alive()
        branch, head = _branch_head(repo, "main")
        opened = Discussion(
            next_number(repo), title, "draft", identity.name, utc_now_iso(),
            pr=PullRequestState(branch, head.id, head.id),
        )  # fmt: skip
        opened.events = [comment_event(identity.name, description)]
        save_discussion(repo, opened)
        return opened


# -- merging ----------------------------------------------------------------------------------


def _ancestors(repo: Repo, commit_id: str) -> set[str]:
    """``commit_id`` and every commit reachable from it through any parent."""
    seen: set[str] = set()
    todo = [commit_id]
    while todo:
        current = todo.pop()
        if current not in seen:
            seen.add(current)
            todo.extend(repo.get_commit(current).parents)
    return seen


def _merge_base(repo: Repo, ours: str, theirs: str, ours_ancestors: set[str]) -> str | None:
    """The nearest commit of ``theirs``' history that ``ours`` also has (breadth first)."""
    queue, seen = [theirs], set()
    while queue:
        current = queue.pop(0)
        if current in ours_ancestors:
            return current
        if current not in seen:
            seen.add(current)
            queue.extend(repo.get_commit(current).parents)
    return None


def _three_way(
    base: dict[str, FileEntry], ours: dict[str, FileEntry], theirs: dict[str, FileEntry]
) -> tuple[dict[str, FileEntry], list[str]]:
    """Merge file tables against their common ``base``: the merged table and the conflicts."""
    merged: dict[str, FileEntry] = {}
    conflicts: list[str] = []
    for path in sorted(set(base) | set(ours) | set(theirs)):
        b, o, t = base.get(path), ours.get(path), theirs.get(path)
        if o == t or t == b:
            result = o
        elif o == b:
            result = t
        else:
            conflicts.append(path)
            continue
        if result is not None:
            merged[path] = result
    if not conflicts:
        try:
            _check_no_file_dir_clash(merged)
        except BadRequestError:
            conflicts = [p for p in merged if any(q.startswith(p + "/") for q in merged)]
    return merged, conflicts


def _merge_plan(repo: Repo, target: Commit, head: Commit) -> tuple[str, dict | None, list[str]]:
    """How ``head`` merges into ``target``: ``("contained"|"fast-forward"|"merge", files,
    conflicts)``; ``files`` is the merged table of a merge commit."""
    target_ancestors = _ancestors(repo, target.id)
    if head.id in target_ancestors:
        return "contained", None, []
    if target.id in _ancestors(repo, head.id):
        return "fast-forward", None, []
    base_id = _merge_base(repo, target.id, head.id, target_ancestors)
    base = repo.get_tree(repo.get_commit(base_id).tree).files if base_id else {}
    ours = repo.get_tree(target.tree).files
    theirs = repo.get_tree(head.tree).files
    merged, conflicts = _three_way(dict(base), dict(ours), dict(theirs))
    return "merge", merged, conflicts


def conflicting_files(repo: Repo, pr: Discussion) -> list[str]:
    """Files that would conflict if the open pull request ``pr`` were merged now."""
    if pr.pr is None or pr.status in ("merged", "closed"):
        return []
    target_id = repo.refs().heads.get(pr.pr.base)
    if target_id is None:
        return []
    _, _, conflicts = _merge_plan(repo, repo.get_commit(target_id), repo.get_commit(pr.pr.head))
    return conflicts


def merge_pull_request(repo: Repo, num: int, identity: Identity, comment: str | None) -> Discussion:
    """Merge pull request ``num`` into its target branch; see the module docstring."""
    with repo.store.lock(repo.key):
        repo._check_alive()
        pr = require_discussion(repo, num)
        if pr.pr is None:
            raise BadRequestError(f"#{num} is a discussion, not a pull request.")
        if pr.status != "open":
            hint = " (publish it first: change its status to open)" if pr.status == "draft" else ""
            raise BadRequestError(f"Pull request #{num} is {pr.status} and cannot be merged{hint}.")
        if pr.pr.head == pr.pr.start:
            raise BadRequestError(f"Pull request #{num} has no commits: nothing to merge.")
        refs = repo.refs()
        if pr.pr.base not in refs.heads:
            raise RevisionNotFoundError(f"Invalid rev id: {pr.pr.base} (target branch deleted)")
        target = repo.get_commit(refs.heads[pr.pr.base])
        head = repo.get_commit(pr.pr.head)
        how, files, conflicts = _merge_plan(repo, target, head)
        if conflicts:
            raise ConflictError(
                f"Pull request #{num} cannot be merged: {len(conflicts)} file(s) were changed "
                f"on both {pr.pr.base} and the pull request: {', '.join(conflicts[:20])}",
                extra={"filesWithConflicts": conflicts},
            )
        merge_id = {"contained": target.id, "fast-forward": head.id}.get(how)
        if files is not None:
            tree_id = repo._write_tree(files)
            title = f"Merge pull request #{num}: {pr.title}"[:1000]
            parents = (target.id, head.id)
            merge = repo._write_commit(tree_id, parents, title, "", (identity.name,), utc_now_iso())
            merge_id = merge.id
        assert merge_id is not None
        if merge_id != target.id:
            refs.heads[pr.pr.base] = merge_id
            repo._write_refs(refs)
        if comment:
            pr.events.append(comment_event(identity.name, comment))
        pr.events.append(status_event(identity.name, "merged"))
        pr.status, pr.pr.merge_commit = "merged", merge_id
        save_discussion(repo, pr)
        return pr
