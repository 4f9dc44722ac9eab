"""README metadata checks for ``POST /api/validate-yaml`` and ``cardData`` in repo info.

The Hub refuses a commit whose README front matter is not valid YAML, and checks the dataset
``configs:`` section the dataset viewer and ``datasets.load_dataset`` rely on. This module does
the same subset: YAML syntax, a mapping at the top level, and the shape of ``configs``.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

_FRONT_MATTER_RE = re.compile(r"\A---[ \t]*\r?\n(.*?)(?:\r?\n)?^---[ \t]*$", re.S | re.M)


def extract_front_matter(readme: str) -> str | None:
    """The YAML text between the leading ``---`` lines, or ``None`` without front matter."""
    match = _FRONT_MATTER_RE.match(readme)
    return match.group(1) if match else None


def load_card_data(readme: str) -> dict[str, Any] | None:
    """Parsed front matter if it is a valid mapping, else ``None`` (never raises)."""
    text = extract_front_matter(readme)
    if text is None:
        return None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError:
        return None
    return data if isinstance(data, dict) else None


def validate_readme(readme: str, repo_type: str) -> list[str]:
    """Error messages for the README's metadata (empty list = valid)."""
    text = extract_front_matter(readme)
    if text is None:
        return []
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 2}, column {mark.column + 1})" if mark else ""
        problem = getattr(exc, "problem", None) or "syntax error"
        return [f"Invalid YAML in README.md metadata{where}: {problem}"]
    if data is None:
        return []
    if not isinstance(data, dict):
        return ["README.md metadata must be a YAML mapping (key: value pairs)."]
    errors: list[str] = []
    if repo_type == "dataset" and "configs" in data:
        errors.extend(_check_configs(data["configs"]))
    return errors


def _check_configs(configs: object) -> list[str]:
    if not isinstance(configs, list):
        return ['"configs" must be a list of mappings with a "config_name".']
    errors: list[str] = []
    seen: set[str] = set()
    defaults = 0
    for index, config in enumerate(configs):
        where = f'"configs[{index}]"'
        if not isinstance(config, dict):
            errors.append(f"{where} must be a mapping.")
            continue
        name = config.get("config_name")
        if not isinstance(name, str) or not name:
            errors.append(f'{where}: "config_name" must be a non-empty string.')
        elif name in seen:
            errors.append(f'{where}: duplicate config_name "{name}".')
        else:
            seen.add(name)
        if config.get("default") is True:
            defaults += 1
        if "data_files" in config and not _valid_data_files(config["data_files"]):
            errors.append(
                f'{where}: "data_files" must be a path pattern, a list of patterns, or a list '
                'of {"split": ..., "path": ...} mappings.'
            )
    if defaults > 1:
        errors.append('At most one config may have "default: true".')
    return errors


def _valid_data_files(value: object) -> bool:
    if isinstance(value, str):
        return True
    if not isinstance(value, list) or not value:
        return False
    for item in value:
        if isinstance(item, str):
            continue
        if not isinstance(item, dict) or not isinstance(item.get("split"), str):
            return False
        path = item.get("path")
        if not (isinstance(path, str) or (isinstance(path, list) and path)):
            return False
    return True
