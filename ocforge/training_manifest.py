"""``CHECKPOINT/training.json``: what a checkpoint was trained on, the file through which training
and model publishing meet.

``ocforge train sft`` (``ocforge.train.manifest``) writes it; ``ocforge publish model``
(``ocforge.models.publish``) reads it here, checks ``--dataset`` against it and renders the model
card's Training section from :func:`card_training`. It lives in core because both parts read its
format and neither may import the other.

It names the dataset release (repo, tag, commit), the data mix with the rows used and dropped per
config and reason, the recipe (its text and sha256), the base model, the seed and steps, and the
tool versions. It holds no timestamps: the same run gives the same file.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ocforge.errors import TrainManifestError

TRAINING_MANIFEST = "training.json"
FORMAT = 1
_REQUIRED = ("format", "dataset", "data", "recipe")
_DATASET_KEYS = ("repo_id", "revision", "sha")


def read_training_manifest(checkpoint: Path) -> dict[str, Any] | None:
    """The checkpoint's training manifest, or None when it has none.

    Raises:
        TrainManifestError: ``training.json`` is not JSON, not a training manifest, or of another
            format; the message names the file and what is missing.
    """
    path = Path(checkpoint) / TRAINING_MANIFEST
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise TrainManifestError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        data = {}
    missing = [k for k in _REQUIRED if k not in data]
    if missing:
        raise TrainManifestError(
            f"{path}: not an ocforge training manifest (missing {', '.join(missing)})"
        )
    if data["format"] != FORMAT:
        raise TrainManifestError(f"{path}: format {data['format']!r}, expected {FORMAT}")
    dataset = data["dataset"]
    absent = [k for k in _DATASET_KEYS if not isinstance(dataset, dict) or not dataset.get(k)]
    if absent:
        raise TrainManifestError(
            f"{path}: dataset: missing {', '.join(absent)} (the release it was trained on)"
        )
    return data


def trained_on(manifest: dict[str, Any]) -> str:
    """The release reference the manifest names, ``ORG/NAME@REVISION``."""
    ds = manifest["dataset"]
    return f"{ds['repo_id']}@{ds['revision']}"


def card_training(manifest: dict[str, Any]) -> dict[str, Any]:
    """Plain data for the model card's Training section (cards/ reads no manifest itself)."""
    ds, recipe, run = manifest["dataset"], manifest["recipe"], manifest.get("run", {})
    configs = [
        {
            "config": name,
            "corpora": entry.get("corpora_selected") or "all",
            "rows": entry["rows"],
            "used": entry["used"],
            "dropped": entry.get("dropped", {}),
        }
        for name, entry in manifest["data"].items()
    ]
    return {
        "dataset": trained_on(manifest),
        "dataset_sha": ds["sha"],
        "configs": configs,
        "rows_used": sum(c["used"] for c in configs),
        "recipe": recipe.get("name"),
        "recipe_sha256": recipe.get("sha256"),
        "recipe_text": recipe.get("text"),
        "base_model": manifest.get("base_model", {}).get("ref"),
        "chat_template": manifest.get("chat_template", {}).get("source"),
        "seed": run.get("seed"),
        "steps": run.get("global_step"),
        "epochs": run.get("epoch"),
        "versions": manifest.get("versions", {}),
    }
