"""A build folder as a release reads it: ``release.json``, the recipe's card and publish
sections, the loadable configs with their schemas, and the secret scan of every data file."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import yaml

from ocforge.errors import OcforgeError, SecretFoundError
from ocforge.ledger import Ledger
from ocforge.manifest import MANIFEST_NAME, read_manifest
from ocforge.outputs import ConfigOutput, ShardFile, SplitOutput
from ocforge.publish.secrets import scan_parquet
from ocforge.recipe import CardSettings, SplitSettings


@dataclass
class LocalBuild:
    """A build folder as a release reads it."""

    root: Path
    manifest: dict[str, Any]
    settings: CardSettings  # the recipe's card section
    allow: list[str]  # secret-scan patterns allowed (recipe + caller)
    test_fraction: float
    outputs: dict[str, ConfigOutput]  # the loadable configs (at least one split with rows)
    schemas: dict[str, pa.Schema]
    data_sha: dict[str, str]  # repo path -> sha256 of every data file

    @property
    def default_config(self) -> str:
        kinds = self.outputs.items()
        return next((n for n, o in kinds if o.kind == "dialogues"), next(iter(self.outputs)))


def _recipe_sections(manifest: dict[str, Any]) -> tuple[CardSettings, list[str], float]:
    """Card settings, allowed secret patterns and the test fraction from the recipe text stored
    in the manifest."""
    data = yaml.safe_load(manifest.get("recipe", {}).get("text") or "") or {}
    card = CardSettings.model_validate(data.get("card") or {})
    if not card.description and data.get("description"):
        card = card.model_copy(update={"description": str(data["description"])})
    allow = list((data.get("publish") or {}).get("allow_secret_patterns") or [])
    splits = data.get("splits") or {}
    return card, allow, float(splits.get("test_fraction", SplitSettings().test_fraction))


def _outputs(manifest: dict[str, Any]) -> dict[str, ConfigOutput]:
    out = {}
    for name, cfg in manifest["configs"].items():
        splits = {
            split: SplitOutput(
                name=split,
                rows=info["rows"],
                num_bytes=info["num_bytes"],
                files=[ShardFile(**f) for f in info["files"]],
            )
            for split, info in cfg["splits"].items()
        }
        out[name] = ConfigOutput(name=name, kind=cfg["kind"], splits=splits)
    return out


def _loadable(manifest: dict[str, Any]) -> dict[str, ConfigOutput]:
    """The configs with at least one split: the card lists these; a config whose splits all had
    no rows has no files and is named in the card's ``left_out`` instead.

    Raises:
        OcforgeError: no config has a row (nothing to release).
    """
    loadable = {n: o for n, o in _outputs(manifest).items() if o.splits}
    if not loadable:
        raise OcforgeError(
            f"nothing to release: every config of {manifest.get('name')!r} has 0 rows "
            f"({', '.join(manifest['configs'])}); see the ledger in release.json"
        )
    return loadable


def data_files(manifest: dict[str, Any]) -> dict[str, str]:
    """repo path -> sha256 of every data file of a manifest."""
    return {
        f["path"]: f["sha256"]
        for cfg in manifest["configs"].values()
        for split in cfg["splits"].values()
        for f in split["files"]
    }


def read_build(build_dir: str | Path, allow_secret_patterns: list[str] | None = None) -> LocalBuild:
    """Read ``build_dir``'s ``release.json`` and check its ledger.

    Raises:
        OcforgeError: not a build folder, or every config has 0 rows.
        LedgerError: the ledger does not add up.
    """
    root = Path(build_dir).resolve()
    if not (root / MANIFEST_NAME).is_file():
        raise OcforgeError(
            f"{root} has no {MANIFEST_NAME}: not a folder written by 'ocforge build'"
        )
    manifest = read_manifest(root)
    Ledger.from_dict(manifest["ledger"]).check()
    settings, recipe_allow, test_fraction = _recipe_sections(manifest)
    outputs = _loadable(manifest)
    # every split the layout keeps has rows and so a file
    schemas = {
        name: pq.read_schema(root / next(iter(out.splits.values())).files[0].path).remove_metadata()
        for name, out in outputs.items()
    }
    allow = [*recipe_allow, *(allow_secret_patterns or [])]
    return LocalBuild(
        root, manifest, settings, allow, test_fraction, outputs, schemas, data_files(manifest)
    )


def scan_build(root: Path, manifest: dict[str, Any], allow: list[str]) -> None:
    """Secret scan of every data file of a build.

    Raises:
        SecretFoundError: naming file, row id and pattern of every finding.
    """
    paths = [
        f.path
        for out in _outputs(manifest).values()
        for split in out.splits.values()
        for f in split.files
    ]

    def scan(path: str) -> list:
        return scan_parquet(root / path, path, pq.read_schema(root / path).names[0], allow)

    # Parquet decoding and polars release the GIL: files side by side, findings in file order
    with ThreadPoolExecutor(max_workers=min(2, os.cpu_count() or 1)) as pool:
        findings = [finding for found in pool.map(scan, paths) for finding in found]
    if findings:
        raise SecretFoundError(findings)
