"""Every library the product code imports is declared in pyproject.toml's ``dependencies``
(not merely present because another dependency pulls it in)."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PRODUCT = ("ocforge", "builders", "filters", "cards", "hub", "publish", "evals", "models", "train")


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _declared() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    return {
        _normalise(re.split(r"[\[<>=!~;\s]", dep, maxsplit=1)[0]) for dep in project["dependencies"]
    }


def _imported() -> dict[str, str]:
    """Top-level module -> a file importing it, for every import outside the standard library."""
    found: dict[str, str] = {}
    for folder in PRODUCT:
        for path in sorted((ROOT / folder).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Import):
                    names = [a.name for a in node.names]
                elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
                    names = [node.module]
                else:
                    continue
                for name in names:
                    top = name.split(".")[0]
                    if top not in sys.stdlib_module_names and top not in ("ocforge", "__future__"):
                        found.setdefault(top, path.relative_to(ROOT).as_posix())
    return found


def test_every_imported_library_is_declared():
    declared, dists = _declared(), packages_distributions()
    missing = []
    for module, where in sorted(_imported().items()):
        names = {_normalise(d) for d in dists.get(module, [])}
        if not names & declared:
            missing.append(f"{module} (imported by {where}; distribution {sorted(names) or '?'})")
    assert not missing, "imported but not in pyproject.toml's dependencies: " + ", ".join(missing)
