"""The architecture of ARCHITECTURE.md, enforced: which part may import which, no import of
another part's private names, and the size targets (modules <= 400 lines, functions <= 80)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# folder -> part; ocforge/ holds core plus the cli and flows packages
FOLDERS = {
    "builders": "builders",
    "filters": "filters",
    "cards": "cards",
    "hub": "hub",
    "publish": "publish",
    "evals": "evals",
    "models": "models",
    "train": "train",
    "ocforge/cli": "cli",
    "ocforge/flows": "flows",
    "ocforge": "core",
}
# part -> the other parts it may import (ARCHITECTURE.md, "Parts")
ALLOWED = {
    "core": set(),
    "builders": {"core"},
    "filters": {"core"},
    "cards": {"core"},
    "hub": {"core"},
    "publish": {"core", "hub"},
    "evals": {"core", "publish", "cards"},
    "models": {"core", "publish", "cards", "evals"},
    "train": {"core", "publish"},
    "flows": {"core", "builders", "filters", "cards", "hub", "publish", "evals", "models", "train"},
    "cli": set(FOLDERS.values()),
}
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 80


def _part_of_file(path: Path) -> str:
    rel = path.relative_to(ROOT).as_posix()
    for folder, part in FOLDERS.items():  # longest prefixes first (ocforge/cli before ocforge)
        if rel.startswith(folder + "/"):
            return "cli" if rel == "ocforge/__main__.py" else part
    raise AssertionError(f"{rel} belongs to no part")


def _part_of_module(name: str) -> str | None:
    """The part of an ``ocforge.*`` module, or None for other libraries and package data."""
    parts = name.split(".")
    if parts[0] != "ocforge":
        return None
    if len(parts) == 1:
        return "core"
    sub = parts[1]
    if sub == "configs":
        return None  # package data, read through importlib.resources
    if sub in ("cli", "flows"):
        return sub
    if sub in FOLDERS:
        return FOLDERS[sub]
    return "core"


def _product_files() -> list[Path]:
    files = []
    for folder in {f.split("/")[0] for f in FOLDERS}:
        if (ROOT / folder).is_dir():
            files += sorted((ROOT / folder).rglob("*.py"))
    return sorted(set(files))


def _imports(tree: ast.AST, module: str) -> list[tuple[int, str, list[str]]]:
    """(line, imported module, imported names) of every import, relative ones resolved."""
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name, []) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = module.rsplit(".", node.level)[0]
                base = f"{package}.{base}" if base else package
            out.append((node.lineno, base, [a.name for a in node.names]))
    return out


def _module_name(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = list(rel.parts)
    if parts[0] != "ocforge":
        parts.insert(0, "ocforge")
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


FILES = _product_files()


def test_the_parts_cover_the_product_code():
    assert len(FILES) > 50
    assert {_part_of_file(f) for f in FILES} >= {"core", "builders", "filters", "cards", "cli"}


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_imports_follow_the_architecture(path):
    part = _part_of_file(path)
    tree = ast.parse(path.read_text(encoding="utf-8"))
    problems = []
    for line, imported, names in _imports(tree, _module_name(path)):
        target = _part_of_module(imported)
        if target is None or target == part:
            continue
        if target not in ALLOWED[part]:
            problems.append(f"line {line}: {part} imports {imported} ({target})")
        private = [n for n in names if n.startswith("_") and not n.startswith("__")]
        if private:
            problems.append(f"line {line}: private name(s) {private} of {imported} ({target})")
    assert not problems, f"{path.relative_to(ROOT)}:\n  " + "\n  ".join(problems)


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_modules_and_functions_stay_small(path):
    text = path.read_text(encoding="utf-8")
    lines = text.count("\n") + (not text.endswith("\n") and bool(text))
    assert lines <= MAX_MODULE_LINES, f"{lines} lines (at most {MAX_MODULE_LINES})"
    long = [
        f"{node.name} (line {node.lineno}): {node.end_lineno - node.lineno + 1} lines"
        for node in ast.walk(ast.parse(text))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES
    ]
    assert not long, f"functions over {MAX_FUNCTION_LINES} lines: {long}"
