"""Repo ids as huggingface.co treats them: case-insensitive, and bare names.

* **Case.** On the Hub ``Alice/My-Repo`` and ``alice/my-repo`` are the same repo: lookups ignore
  case, responses use the casing the repo was created with, and a new repo that differs from an
  existing one only in case is a conflict (409). huggingface_hub relies on it
  (``test_create_commit_repo_id_case_insensitive``: "API is case-insensitive!"). The storage
  keeps the created casing as the folder name; :func:`stored_key` maps any casing to it, so every
  handler (and the Xet registrations, signed URLs and tokens derived from the key) works with
  the canonical id. Ref-update locks are taken on the lower-cased id (storage.py), so two
  creates that differ only in case are serialised and the second one sees the first.
* **Bare names.** ``create_repo("my-ds")`` (``organization: null``) and
  ``delete_repo("my-ds")`` act in the token's own namespace (repo_api.py). Everywhere else a
  bare name names no repo: ``GET /api/datasets/my-ds``, ``.../my-ds/revision/main``,
  ``HEAD /datasets/my-ds/resolve/main/x`` and the like answer 404 ``RepoNotFound``, so
  ``repo_exists`` / ``file_exists`` / ``revision_exists`` return False and datasets'
  ``push_to_hub("my-ds")`` goes on to ``create_repo`` (its ``repo_info`` call must raise
  ``RepositoryNotFoundError``; datasets/arrow_dataset.py ``push_to_hub``).
* **Renamed repos.** An id a repo was moved away from still reaches it (redirects.py).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import RepoNotFoundError
from .redirects import MAX_HOPS, redirect_target
from .validation import API_REPO_TYPES, RepoKey, check_name_part, make_repo_key

if TYPE_CHECKING:
    from .auth import Identity
    from .storage import HubStore

#: the message huggingface.co sends with ``RepoNotFound``; huggingface_hub's own text already
#: contains it, so the client does not repeat it (utils/_http.py ``_format``)
REPO_NOT_FOUND = "Repository not found"

#: ``/api/{type}s/{name}/{action}/...`` actions: with one of these in third place the path is a
#: repo route for the bare name ``{name}``
_API_ACTIONS = frozenset(
    {
        "auth-check",
        "branch",
        "commit",
        "commits",
        "compare",
        "discussions",
        "lfs-files",
        "localhub-upload-stats",
        "paths-info",
        "preupload",
        "refs",
        "revision",
        "settings",
        "super-squash",
        "tag",
        "tree",
        "xet-read-token",
        "xet-write-token",
    }
)


def _listdir(path: Path) -> list[str]:
    try:
        return os.listdir(path)
    except (FileNotFoundError, NotADirectoryError):
        return []


def find_stored(root: Path, key: RepoKey) -> RepoKey | None:
    """The stored repo ``key`` names, ignoring case, or ``None``.

    The exact casing is one ``stat``; other casings scan the namespaces of the repo type (only
    when the exact folder is missing). Several namespace folders may differ only in case (repos
    created side by side before this rule): all of them are searched.
    """
    type_dir = root / "repos" / key.repo_type
    if (type_dir / key.namespace / key.name / "repo.json").exists():
        return key
    namespace, name = key.namespace.casefold(), key.name.casefold()
    for ns in sorted(_listdir(type_dir)):
        if ns.casefold() != namespace:
            continue
        for candidate in sorted(_listdir(type_dir / ns)):
            if candidate.casefold() == name and (type_dir / ns / candidate / "repo.json").exists():
                return RepoKey(key.repo_type, ns, candidate)
    return None


def stored_key(store: HubStore, key: RepoKey, *, follow_redirects: bool = True) -> RepoKey:
    """``key`` in the casing it is stored with; unchanged when no such repo exists (404 later).

    With ``follow_redirects`` an id a repo was moved away from leads to that repo
    (redirects.py); deleting and creating repos pass False, so they only touch the id named.
    """
    found = find_stored(store.root, key)
    hop = key
    for _ in range(MAX_HOPS if follow_redirects and found is None else 0):
        target = redirect_target(store.root, hop)
        if target is None:
            break
        found = find_stored(store.root, target)
        if found is not None:
            break
        hop = target
    return found or key


def lookup_key(store: HubStore, repo_type: str, namespace: object, name: object) -> RepoKey:
    """A validated key from URL segments, in its stored casing."""
    return stored_key(store, make_repo_key(repo_type, namespace, name))


def new_repo_key(store: HubStore, key: RepoKey, identity: Identity) -> RepoKey:
    """The key a new repo is created under: an existing namespace's casing (any repo type),
    else the caller's own or org name's casing when it matches, else as given."""
    wanted = key.namespace.casefold()
    for type_dir in sorted(_listdir(store.root / "repos")):
        for ns in sorted(_listdir(store.root / "repos" / type_dir)):
            if ns.casefold() == wanted:
                return RepoKey(key.repo_type, ns, key.name)
    for own in (identity.name, *sorted(identity.orgs)):
        if own.casefold() == wanted:
            return RepoKey(key.repo_type, own, key.name)
    return key


def bare_api_route(seg: list[str]) -> None:
    """Raise 404 ``RepoNotFound`` if ``/api/<seg>`` is a repo route for a bare repo name.

    ``seg`` are the segments after ``api`` of a path no other route took: ``{type}s/{name}`` or
    ``{type}s/{name}/{action}/...`` (``/api/models/my-ds/revision/main`` has the same shape as
    repo ``my-ds/revision``'s info, which is why this runs after the regular routes).
    """
    if len(seg) < 2 or seg[0] not in API_REPO_TYPES:
        return
    if len(seg) == 2 or seg[2] in _API_ACTIONS:
        check_name_part(seg[1], "repo name")
        raise RepoNotFoundError(REPO_NOT_FOUND)


def bare_file_route(rest: list[str]) -> None:
    """Raise 404 ``RepoNotFound`` for ``{name}/resolve/{rev}/{path}`` and ``{name}.git/info/lfs/
    objects/batch`` (``rest`` after the type prefix), i.e. file routes of a bare repo name."""
    lfs_tail = ["info", "lfs", "objects", "batch"]
    resolve = len(rest) >= 4 and rest[1] == "resolve"
    lfs = len(rest) == 5 and rest[0].endswith(".git") and rest[1:] == lfs_tail
    if resolve or lfs:
        check_name_part(rest[0].removesuffix(".git") if lfs else rest[0], "repo name")
        raise RepoNotFoundError(REPO_NOT_FOUND)
