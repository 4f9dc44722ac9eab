"""``release.json``: what a build or release contains, enough to verify and diff it later.

The typed form is :class:`~ocforge.manifest_model.ReleaseManifest` (re-exported here). A build
writes it with :func:`build_manifest` and :func:`write_manifest`; every reader goes through
:func:`read_manifest` (a file or build folder) or :func:`parse_manifest` (text downloaded from a
Hub), which raise :class:`~ocforge.errors.ManifestError` naming the file and the field at fault.
"""

from __future__ import annotations

import json
import platform
from collections.abc import Mapping
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import pyarrow as pa
from pydantic import ValidationError

from ocforge.errors import ManifestError
from ocforge.ledger import Ledger
from ocforge.manifest_model import (  # noqa: F401  (re-exported: the manifest's public names)
    MANIFEST_VERSION,
    ConfigEntry,
    ConfigLedgerEntry,
    FileEntry,
    InputEntry,
    LayoutEntry,
    LayoutParentEntry,
    LedgerEntry,
    ManifestEntry,
    ParentRef,
    RecipeEntry,
    ReleaseManifest,
    SplitEntry,
    schema_sha256,
)
from ocforge.outputs import ConfigOutput

MANIFEST_NAME = "release.json"
_TOOLS = ("ocforge", "datatrove", "datasets", "huggingface-hub", "pyarrow", "polars")
_SHOWN_INPUT = 60  # characters of a wrong value quoted in an error


def tool_versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in _TOOLS:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "not installed"
    return out


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
    parent: ParentRef | None = None,
) -> ReleaseManifest:
    """The manifest of a build; it holds no timestamps so that rebuilds are byte-identical.

    ``inputs`` are the build's input entries (``InputEntry``'s keys) in the order read.
    """
    return ReleaseManifest(
        manifest_version=MANIFEST_VERSION,
        name=name,
        version=version,
        parent=parent,
        recipe=RecipeEntry(file=recipe_file, sha256=recipe_sha256, text=recipe_text),
        inputs=[InputEntry.model_validate(i) for i in inputs],
        configs={cfg: ConfigEntry.from_output(out, schemas[cfg]) for cfg, out in outputs.items()},
        ledger=LedgerEntry.from_ledger(ledger),
        tools=tool_versions(),
    )


def _field_path(loc: tuple[Any, ...]) -> str:
    """``configs.generate.splits.train.rows``, ``inputs[0].records``."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def _problem(err: Any) -> str:
    line = f"{_field_path(tuple(err['loc']))}: {err['msg']}"
    if err["type"] not in ("missing", "extra_forbidden") and not isinstance(
        err.get("input"), dict | list
    ):
        shown = repr(err.get("input"))
        line += f" (got {shown[:_SHOWN_INPUT]}{'...' if len(shown) > _SHOWN_INPUT else ''})"
    return line


def as_manifest(value: ReleaseManifest | Mapping[str, Any], source: str) -> ReleaseManifest:
    """``value`` itself, or the manifest a plain dict of the JSON form describes.

    Raises:
        ManifestError: the dict is not a manifest (every wrong field named).
    """
    if isinstance(value, ReleaseManifest):
        return value
    if not isinstance(value, Mapping):
        raise ManifestError(
            source, [f"(top level): expected a JSON object, got {type(value).__name__}"]
        )
    try:
        return ReleaseManifest.model_validate(dict(value))
    except ValidationError as exc:
        raise ManifestError(source, [_problem(err) for err in exc.errors()]) from None


def parse_manifest(text: str | bytes, source: str) -> ReleaseManifest:
    """The manifest in ``text`` (a ``release.json``'s content); ``source`` names it in errors
    (a path, or ``ORG/NAME@REVISION``).

    Raises:
        ManifestError: not JSON, or a field is missing, unknown or of the wrong type.
    """
    try:
        data = json.loads(text)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        where = f"line {exc.lineno} column {exc.colno}: " if hasattr(exc, "lineno") else ""
        msg = exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc)
        raise ManifestError(source, [f"not JSON: {where}{msg}"]) from None
    return as_manifest(data, source)


def manifest_path(path: Path) -> Path:
    """``path`` itself, or ``path/release.json`` for a build folder."""
    path = Path(path)
    return path / MANIFEST_NAME if path.is_dir() else path


def read_manifest(path: Path) -> ReleaseManifest:
    """The manifest of a build folder (``path/release.json``) or of a ``release.json`` file.

    Raises:
        ManifestError: the file is not a manifest (see :func:`parse_manifest`).
        FileNotFoundError: there is no such file.
    """
    file = manifest_path(path)
    return parse_manifest(file.read_bytes(), str(file))


def manifest_text(manifest: ReleaseManifest | Mapping[str, Any]) -> str:
    """The bytes of ``release.json`` as text: two-space indent, non-ASCII as is, a final newline
    (the form every release so far has, so rewriting a manifest never changes a file)."""
    data = as_manifest(manifest, MANIFEST_NAME).to_dict()
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def write_manifest(root: Path, manifest: ReleaseManifest | Mapping[str, Any]) -> Path:
    """Write ``root/release.json``. A plain dict (callers not yet on the model) is validated
    first, so nothing but a manifest is ever written."""
    path = Path(root) / MANIFEST_NAME
    path.write_text(manifest_text(manifest), encoding="utf-8")
    return path
