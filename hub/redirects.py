"""Redirects from a repo's old names after ``move_repo``, as huggingface.co keeps them.

On the Hub a renamed repo stays reachable under its old id: downloads, API calls and clones of
``old/name`` reach the repo now called ``new/name`` (huggingface_hub's
``test_download_regular_file_from_private_renamed_repo`` relies on it), until a repo is created
under the old id again. Here the lookup resolves the old id to the stored repo directly instead of
answering with a 307, so every route (files, API, Xet, LFS, web pages, viewer) behaves alike and
access rules are those of the repo reached.

One small file per old id under ``ROOT/redirects/<type>/<namespace>--<name>`` (lower-cased; names
cannot contain ``--``), holding the new id. A chain of moves is followed for a few hops; a
redirect to a repo that no longer exists leads nowhere (404). Creating or moving a repo onto an
old id removes that id's redirect, because a real repo always wins over a redirect.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

from .validation import RepoKey

if TYPE_CHECKING:
    from .storage import HubStore

#: a chain of renames longer than this is not followed (and cannot loop)
MAX_HOPS = 8


def _redirect_file(root: Path, key: RepoKey) -> Path:
    name = f"{key.namespace.casefold()}--{key.name.casefold()}"
    return root / "redirects" / key.repo_type / name


def record_redirect(store: HubStore, old: RepoKey, new: RepoKey) -> None:
    """Make ``old`` lead to ``new`` and drop any redirect of ``new`` itself.

    Called under the locks of both repos, after the move.
    """
    path = _redirect_file(store.root, old)
    path.parent.mkdir(parents=True, exist_ok=True)
    store.write_atomic(path, json.dumps({"to": new.repo_id}).encode())
    drop_redirect(store.root, new)


def drop_redirect(root: Path, key: RepoKey) -> None:
    """Remove the redirect of ``key``, if any (a repo now exists under that id)."""
    _redirect_file(root, key).unlink(missing_ok=True)


def redirect_target(root: Path, key: RepoKey) -> RepoKey | None:
    """The id ``key`` was renamed to (one hop), or ``None``."""
    try:
        value = json.loads(_redirect_file(root, key).read_bytes())["to"]
    except (FileNotFoundError, NotADirectoryError, ValueError, KeyError, TypeError):
        return None
    if not isinstance(value, str) or value.count("/") != 1:
        return None
    namespace, name = value.split("/")
    return RepoKey(key.repo_type, namespace, name)
