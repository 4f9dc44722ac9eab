"""Small hand-made ``release.json`` manifests for tests of the functions that read them (decisions,
change levels, verification groups): only the parts a test is about differ from a valid manifest."""

from __future__ import annotations

from typing import Any

from ocforge.ledger import ConfigLedger, Ledger
from ocforge.manifest import (
    MANIFEST_VERSION,
    ConfigEntry,
    FileEntry,
    LedgerEntry,
    RecipeEntry,
    ReleaseManifest,
    SplitEntry,
)


def file_entry(path: str, sha256: str = "0" * 64, *, rows: int = 1, size: int = 1) -> FileEntry:
    return FileEntry(path=path, rows=rows, bytes=size, sha256=sha256)


def config_entry(
    splits: dict[str, list[FileEntry]], *, kind: str = "dialogues", schema: str = "s"
) -> ConfigEntry:
    """A config whose splits hold ``splits``' files (its row counts are the files')."""
    entries = {
        name: SplitEntry(rows=sum(f.rows for f in files), num_bytes=0, files=files)
        for name, files in splits.items()
    }
    return ConfigEntry(
        kind=kind,  # type: ignore[arg-type]
        schema_sha256=schema,
        rows=sum(s.rows for s in entries.values()),
        splits=entries,
    )


def ledger_entry(counts: dict[str, tuple[int, int]]) -> LedgerEntry:
    """config -> (input, kept); the difference is dropped (reason ``filtered``)."""
    configs = {}
    for name, (n_input, kept) in counts.items():
        led = ConfigLedger(input=n_input, kept=kept)
        if n_input > kept:
            led.reasons["dropped"]["filtered"] = n_input - kept
        configs[name] = led
    return LedgerEntry.from_ledger(Ledger(configs))


def manifest(
    configs: dict[str, ConfigEntry], *, ledger: LedgerEntry | None = None, **keys: Any
) -> ReleaseManifest:
    """A valid manifest with these configs; ``keys`` set any other top-level field."""
    fields: dict[str, Any] = {
        "manifest_version": MANIFEST_VERSION,
        "name": "x",
        "version": None,
        "parent": None,
        "recipe": RecipeEntry(file="recipe.yaml", sha256="r" * 64, text="name: x\n"),
        "inputs": [],
        "configs": configs,
        "ledger": ledger or ledger_entry({c: (e.rows, e.rows) for c, e in configs.items()}),
        "tools": {"ocforge": "test"},
    }
    return ReleaseManifest(**{**fields, **keys})
