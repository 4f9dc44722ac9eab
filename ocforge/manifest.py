"""``release.json``: what a build or release contains, enough to verify and diff it later."""

from __future__ import annotations

import hashlib
import json
import platform
from collections.abc import Mapping
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import pyarrow as pa

from ocforge.ledger import Ledger
from ocforge.outputs import ConfigOutput

MANIFEST_NAME = "release.json"
_TOOLS = ("ocforge", "datatrove", "datasets", "huggingface-hub", "pyarrow", "polars")


def tool_versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in _TOOLS:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "not installed"
    return out


def schema_sha256(schema: pa.Schema) -> str:
    return hashlib.sha256(schema.to_string(show_schema_metadata=False).encode()).hexdigest()


def build_manifest(
    *,
    name: str,
    recipe_file: str,
    recipe_text: str,
    recipe_sha256: str,
    inputs: list[dict[str, Any]],
    outputs: Mapping[str, ConfigOutput],
    schemas: Mapping[str, pa.Schema],
    ledger: Ledger,
    version: str | None = None,
    parent: dict[str, str] | None = None,
) -> dict[str, Any]:
    """The manifest as a dict; it holds no timestamps so that rebuilds are byte-identical."""
    return {
        "manifest_version": 1,
        "name": name,
        "version": version,
        "parent": parent,
        "recipe": {"file": recipe_file, "sha256": recipe_sha256, "text": recipe_text},
        "inputs": inputs,
        "configs": {
            cfg: {
                "kind": out.kind,
                "schema_sha256": schema_sha256(schemas[cfg]),
                "rows": out.rows,
                "splits": {
                    split.name: {
                        "rows": split.rows,
                        "num_bytes": split.num_bytes,
                        "files": [vars(f) for f in split.files],
                    }
                    for split in out.splits.values()
                },
            }
            for cfg, out in outputs.items()
        },
        "ledger": ledger.to_dict(),
        "tools": tool_versions(),
    }


def write_manifest(root: Path, manifest: dict[str, Any]) -> Path:
    path = root / MANIFEST_NAME
    path.write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def read_manifest(root: Path) -> dict[str, Any]:
    return json.loads((root / MANIFEST_NAME).read_text(encoding="utf-8"))
