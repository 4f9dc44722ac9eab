"""Revision names beyond branches, tags and full commit ids: short commit ids.

huggingface.co accepts an abbreviated commit id wherever a revision goes, as git does
(``create_tag(revision=oid[:7])`` in huggingface_hub's ``test_create_tag_on_commit_oid``;
``hf_hub_download``, ``model_info``, ``tree``, ``paths-info``, ``create_branch(revision=...)``).
The local Hub takes 7 to 39 lowercase hex digits that start exactly one commit id of the repo.
A branch or tag of that name wins (refs are looked up first, as git does). The answer
always carries the full id (``sha``, ``X-Repo-Commit``), so clients cache by the full id.

When a branch and a tag share a name, the name means the **branch** (refs.py ``resolve``): a
commit to that name goes to the branch, and reading it back must give what was committed.
``refs/heads/NAME`` and ``refs/tags/NAME`` name either one explicitly. git's own rule
(gitrevisions(7)) would prefer the tag; huggingface.co's choice is not observable from the
clients' sources, so this is the local Hub's documented rule, not a copy of an observed one.
"""

from __future__ import annotations

import os
import re
from typing import TYPE_CHECKING

from .errors import RevisionNotFoundError

if TYPE_CHECKING:
    from .storage import Repo

MIN_SHORT_ID = 7
_SHORT_ID_RE = re.compile(rf"^[0-9a-f]{{{MIN_SHORT_ID},39}}$")


def is_short_commit_id(value: str) -> bool:
    """True for 7 to 39 lowercase hex digits (a possible abbreviated commit id)."""
    return bool(_SHORT_ID_RE.fullmatch(value))


def expand_short_commit_id(repo: Repo, prefix: str) -> str | None:
    """The one stored commit id starting with ``prefix``; ``None`` if there is none.

    Commits are stored fanned out by their first two hex digits, so this lists one folder.
    Two matches are ambiguous: 404 ``RevisionNotFound`` naming the problem (a longer prefix
    resolves it).
    """
    # _object_path is the storage's single definition of the object layout
    folder = repo._object_path("commits", prefix).parent
    try:
        names = os.listdir(folder)
    except FileNotFoundError:
        return None
    matches = [name for name in names if name.startswith(prefix) and len(name) == 40]
    if len(matches) > 1:
        raise RevisionNotFoundError(
            f"Invalid rev id: {prefix} is ambiguous ({len(matches)} commits start with it); "
            "use more characters of the commit id."
        )
    return matches[0] if matches else None
