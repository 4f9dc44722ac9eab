"""``OUT/training.json``: what a checkpoint was trained on, written by ``ocforge train sft`` and read
by ``ocforge publish model`` for the model card.

It names the dataset release (repo, tag, commit), the data mix with the rows used and dropped per
config and reason, the recipe (its text and sha256), the base model, the seed and steps, and the
tool versions. It holds no timestamps: the same run gives the same file.
"""

from __future__ import annotations

import json
import platform
from importlib import metadata
from pathlib import Path
from typing import Any

from ocforge.train.errors import TrainError

TRAINING_MANIFEST = "training.json"
FORMAT = 1
TOOLS = ("ocforge", "trl", "transformers", "torch", "datasets", "accelerate", "peft")
README_NOTE = """\
# Checkpoint of `ocforge train sft`

This folder is a checkpoint trained by `ocforge train sft`; what it was trained on (dataset
release and commit, data mix, rows used and dropped, recipe and its sha256, seed, tool versions)
is in `training.json`.

Its model card is written when it is published: `ocforge publish model {out} --repo ORG/NAME
--base-model {base} --dataset {dataset}`.
"""


class TrainManifestError(TrainError, ValueError):
    """A checkpoint's training.json is unreadable or not a training manifest."""


def tool_versions() -> dict[str, str]:
    """Installed versions of the libraries a run depends on (absent ones left out)."""
    out = {"python": platform.python_version()}
    for name in TOOLS:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out


def write_manifest(out: Path, manifest: dict[str, Any]) -> Path:
    path = Path(out) / TRAINING_MANIFEST
    path.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return path


def read_training_manifest(checkpoint: Path) -> dict[str, Any] | None:
    """The checkpoint's training manifest, or None when it has none.

    Raises:
        TrainManifestError: ``training.json`` is not JSON or not a training manifest.
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
    missing = [k for k in ("format", "dataset", "data", "recipe") if k not in data]
    if missing:
        raise TrainManifestError(
            f"{path}: not an ocforge training manifest (missing {', '.join(missing)})"
        )
    if data["format"] != FORMAT:
        raise TrainManifestError(f"{path}: format {data['format']!r}, expected {FORMAT}")
    return data


def card_training(manifest: dict[str, Any]) -> dict[str, Any]:
    """Plain data for the model card's Training section (cards/ does not import train/)."""
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
        "dataset": f"{ds['repo_id']}@{ds['revision']}",
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
