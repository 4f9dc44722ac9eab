"""Writing ``OUT/training.json`` at the end of ``ocforge train sft``: the tool versions and the
README note left in the checkpoint.

The manifest's format and its reader are core's (:mod:`ocforge.training_manifest`), so that
``ocforge publish model`` reads what training wrote without importing ``train/``; they are
re-exported here for callers of this module.
"""

from __future__ import annotations

import json
import platform
from importlib import metadata
from pathlib import Path
from typing import Any

from ocforge.training_manifest import (
    FORMAT,
    TRAINING_MANIFEST,
    card_training,
    read_training_manifest,
)

__all__ = [
    "FORMAT",
    "README_NOTE",
    "TRAINING_MANIFEST",
    "card_training",
    "read_training_manifest",
    "tool_versions",
    "write_manifest",
]

TOOLS = ("ocforge", "trl", "transformers", "torch", "datasets", "accelerate", "peft")
README_NOTE = """\
# Checkpoint of `ocforge train sft`

This folder is a checkpoint trained by `ocforge train sft`; what it was trained on (dataset
release and commit, data mix, rows used and dropped, recipe and its sha256, seed, tool versions)
is in `training.json`.

Its model card is written when it is published: `ocforge publish model {out} --repo ORG/NAME`
reads `training.json` for the card's Training section and the dataset release ({dataset});
`--dataset`, when given, must name that very commit. `--base-model HUB_ID` names the base model
on the card (it defaults to the Hub id training read it from; it was `{base}` here).
"""


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
    """Write ``manifest`` as ``OUT/training.json`` (sorted keys: the same run, the same bytes)."""
    path = Path(out) / TRAINING_MANIFEST
    path.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return path
