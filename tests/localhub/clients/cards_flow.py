"""Card validation through the unmodified huggingface_hub client, against HF_ENDPOINT.

``RepoCard.validate`` / ``DatasetCard.validate`` / ``ModelCard.validate`` POST the card to
``/api/validate-yaml`` (asking for text) and raise ``ValueError`` with the server's text on a 400;
``HfApi.create_commit`` sends a README there first (JSON) and raises before uploading anything,
or warns for the server's warnings.

Usage: cards_flow.py OUT.json CARDS.json, where CARDS.json maps a name to
``{"class": "dataset" | "model" | "repo", "type": repo type, "text": README}``.
"""

from __future__ import annotations

import json
import sys
import warnings
from pathlib import Path

from huggingface_hub import CommitOperationAdd, DatasetCard, HfApi, ModelCard, RepoCard

CLASSES = {"dataset": DatasetCard, "model": ModelCard, "repo": RepoCard}
REPO = "alice/card-checks"


def attempt(action) -> dict:
    """The ValueError's text (or None) and the UserWarnings ``action`` raised."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            action()
            error = None
        except ValueError as exc:
            error = str(exc)
    found = [str(w.message) for w in caught if issubclass(w.category, UserWarning)]
    return {"error": error, "warnings": found}


def validate(card: dict) -> dict:
    return attempt(lambda: CLASSES[card["class"]](card["text"]).validate(repo_type=card["type"]))


def main(out: Path, cards_file: Path) -> None:
    cards = json.loads(cards_file.read_text())
    results: dict = {name: validate(card) for name, card in cards.items()}
    api = HfApi()
    api.create_repo(REPO)

    def commit(readme: str) -> None:
        api.create_commit(
            REPO,
            operations=[
                CommitOperationAdd("README.md", readme.encode()),
                CommitOperationAdd("weights.bin", b"\0weights"),
            ],
            commit_message="card",
        )

    results["commit_invalid"] = attempt(lambda: commit(cards["model_index_foo"]["text"]))
    results["files_after_invalid"] = sorted(api.list_repo_files(REPO))
    results["commit_empty"] = attempt(lambda: commit("A card without metadata.\n"))
    results["files_after_empty"] = sorted(api.list_repo_files(REPO))
    out.write_text(json.dumps(results))


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
