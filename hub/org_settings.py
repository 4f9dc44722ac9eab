"""Organization settings of the local Hub: the default visibility of new repos.

On huggingface.co an Enterprise organization can make the repos created in it private unless
the caller asks for a public one (``create_repo(private=None)``, huggingface_hub's
``test_create_repo_private_by_default``). The Hub sets it in the org's web settings; here
``ocforge hub org ORG --root ROOT --private-by-default`` writes it into the storage root, so a
maintainer rehearsing a release into such an org sees the same visibility.

One JSON file per org under ``ROOT/orgs/<org lower-cased>.json``; a missing file means the
Hub's default (public). The org name is checked like a namespace.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

from .validation import check_name_part

if TYPE_CHECKING:
    from .storage import HubStore


def _settings_file(root: Path, org: str) -> Path:
    return root / "orgs" / f"{check_name_part(org, 'org name').casefold()}.json"


def _read(root: Path, org: str) -> dict[str, object]:
    try:
        value = json.loads(_settings_file(root, org).read_bytes())
    except (FileNotFoundError, NotADirectoryError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def private_by_default(root: Path, namespace: str) -> bool:
    """True if repos created in ``namespace`` without a visibility are private."""
    return _read(root, namespace).get("defaultRepoVisibility") == "private"


def set_private_by_default(store: HubStore, org: str, private: bool) -> None:
    """Make new repos of ``org`` private (or public) unless their creator says otherwise."""
    path = _settings_file(store.root, org)
    settings = {
        **_read(store.root, org),
        "defaultRepoVisibility": "private" if private else "public",
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    store.write_atomic(path, json.dumps(settings, sort_keys=True).encode())
