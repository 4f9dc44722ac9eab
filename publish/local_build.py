"""A build folder as a release reads it: ``release.json``, the recipe's card and publish
sections, the loadable configs with their schemas, and the secret scan of every data file."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import yaml

from ocforge.errors import OcforgeError, SecretFoundError
from ocforge.manifest import MANIFEST_NAME, ReleaseManifest, read_manifest
from ocforge.outputs import ConfigOutput
from ocforge.publish.file_pass import read_build_files
from ocforge.recipe import CardSettings, SplitSettings


@dataclass
class LocalBuild:
    """A build folder as a release reads it."""

    root: Path
    manifest: ReleaseManifest
    settings: CardSettings  # the recipe's card section
    allow: list[str]  # secret-scan patterns allowed (recipe + caller)
    test_fraction: float
    outputs: dict[str, ConfigOutput]  # the loadable configs (at least one split with rows)
    data_sha: dict[str, str]  # repo path -> sha256 of every data file
    # config -> Arrow schema: set by the release's file pass (publish/file_pass.py), which
    # opens every file anyway; read from the first file's footer when asked before that
    _schemas: dict[str, pa.Schema] | None = field(default=None, repr=False)

    @property
    def schemas(self) -> dict[str, pa.Schema]:
        if self._schemas is None:
            self._schemas = {
                name: pq.read_schema(self.root / first_file(out)).remove_metadata()
                for name, out in self.outputs.items()
            }
        return self._schemas

    @schemas.setter
    def schemas(self, schemas: dict[str, pa.Schema]) -> None:
        self._schemas = {name: schemas[name] for name in self.outputs}

    @property
    def default_config(self) -> str:
        kinds = self.outputs.items()
        return next((n for n, o in kinds if o.kind == "dialogues"), next(iter(self.outputs)))


def _recipe_sections(manifest: ReleaseManifest) -> tuple[CardSettings, list[str], float]:
    """Card settings, allowed secret patterns and the test fraction from the recipe text stored
    in the manifest."""
    data = yaml.safe_load(manifest.recipe.text or "") or {}
    card = CardSettings.model_validate(data.get("card") or {})
    if not card.description and data.get("description"):
        card = card.model_copy(update={"description": str(data["description"])})
    allow = list((data.get("publish") or {}).get("allow_secret_patterns") or [])
    splits = data.get("splits") or {}
    return card, allow, float(splits.get("test_fraction", SplitSettings().test_fraction))


def _outputs(manifest: ReleaseManifest) -> dict[str, ConfigOutput]:
    return {name: cfg.to_output(name) for name, cfg in manifest.configs.items()}


def _loadable(manifest: ReleaseManifest) -> dict[str, ConfigOutput]:
    """The configs with at least one split: the card lists these; a config whose splits all had
    no rows has no files and is named in the card's ``left_out`` instead.

    Raises:
        OcforgeError: no config has a row (nothing to release).
    """
    loadable = {n: o for n, o in _outputs(manifest).items() if o.splits}
    if not loadable:
        raise OcforgeError(
            f"nothing to release: every config of {manifest.name!r} has 0 rows "
            f"({', '.join(manifest.configs)}); see the ledger in release.json"
        )
    return loadable


def data_files(manifest: ReleaseManifest) -> dict[str, str]:
    """repo path -> sha256 of every data file of a manifest."""
    return manifest.data_files()


def read_build(build_dir: str | Path, allow_secret_patterns: list[str] | None = None) -> LocalBuild:
    """Read ``build_dir``'s ``release.json`` and check its ledger.

    Raises:
        OcforgeError: not a build folder, or every config has 0 rows.
        ManifestError: its ``release.json`` is not a manifest (the field at fault named).
        LedgerError: the ledger does not add up.
    """
    root = Path(build_dir).resolve()
    if not (root / MANIFEST_NAME).is_file():
        raise OcforgeError(
            f"{root} has no {MANIFEST_NAME}: not a folder written by 'ocforge build'"
        )
    manifest = read_manifest(root)
    manifest.ledger.to_ledger().check()
    settings, recipe_allow, test_fraction = _recipe_sections(manifest)
    outputs = _loadable(manifest)
    allow = [*recipe_allow, *(allow_secret_patterns or [])]
    return LocalBuild(root, manifest, settings, allow, test_fraction, outputs, data_files(manifest))


def first_file(out: ConfigOutput) -> str:
    """The repo path of a loadable config's first file (every split the layout keeps has rows
    and so a file)."""
    return next(iter(out.splits.values())).files[0].path


def scan_build(root: Path, manifest: ReleaseManifest, allow: list[str]) -> None:
    """Secret scan of every data file of a build (a release scans in its one read of the files,
    :func:`~ocforge.publish.file_pass.read_build_files`, which this is the scan-only form of).

    Raises:
        SecretFoundError: naming file, row id and pattern of every finding.
    """
    findings = read_build_files(root, manifest, allow).findings
    if findings:
        raise SecretFoundError(findings)


def synthesis_provenance(root: Path) -> dict[str, Any]:
    """Generator model, sampling parameters and prompt hashes recorded by ``ocforge synth``."""
    path = root / "synthesis" / "synthesis.json"
    if not path.is_file():
        return {"synthesis": None, "prompts": {}}
    data = json.loads(path.read_text("utf-8"))
    backend = data.get("backend") or {}
    prompts = {
        name: (p.get("sha256") if isinstance(p, dict) else str(p))
        for name, p in (data.get("prompts") or {}).items()
    }
    return {
        "synthesis": {
            "model": backend.get("model"),
            "backend": backend.get("type"),
            "generation": data.get("generation") or {},
        },
        "prompts": {k: v for k, v in prompts.items() if v},
    }
