"""Load a build back the way consumers do (``datasets.load_dataset``) and compare with its manifest."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ocforge.errors import OcforgeError
from ocforge.ledger import Ledger


@dataclass(frozen=True)
class LoadedSplit:
    config: str
    split: str
    loaded: int
    expected: int


@dataclass
class InspectReport:
    root: Path
    name: str
    splits: list[LoadedSplit]
    ledger: Ledger
    mismatches: list[str] = field(default_factory=list)


def load_and_compare(build_dir: Path) -> InspectReport:
    """Load every config and split of a build folder with ``datasets.load_dataset``.

    Raises:
        OcforgeError: the folder has no ``release.json`` (not an ocforge build).
        ManifestError: its ``release.json`` is not a manifest (the field at fault named).
    """
    import datasets

    from ocforge.manifest import MANIFEST_NAME, read_manifest

    root = Path(build_dir).resolve()
    if not (root / MANIFEST_NAME).is_file():
        raise OcforgeError(
            f"{root} has no {MANIFEST_NAME}: not a folder written by 'ocforge build'"
        )
    manifest = read_manifest(root)
    splits: list[LoadedSplit] = []
    mismatches = []
    for config, info in manifest.configs.items():
        loaded = datasets.load_dataset(str(root), config)
        for split, split_info in info.splits.items():
            n = loaded[split].num_rows if split in loaded else 0
            splits.append(LoadedSplit(config, split, n, split_info.rows))
            if n != split_info.rows:
                mismatches.append(f"{config}/{split}: loaded {n}, manifest {split_info.rows}")
    return InspectReport(
        root=root,
        name=manifest.name,
        splits=splits,
        ledger=manifest.ledger.to_ledger(),
        mismatches=mismatches,
    )
