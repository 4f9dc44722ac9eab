"""Card metadata (a README's YAML front matter) checked the way huggingface.co checks it.

One set of rules for two users: the local Hub's ``POST /api/validate-yaml`` (``hub/yamlcheck.py``),
and the card check that ``ocforge release`` and ``ocforge publish model`` run before they push
anything (``publish/card_check.py``), so that a card the Hub would refuse is caught offline.

What is checked (the Hub's schema for these fields; other keys are free):

* ``license``: an identifier from the Hub's list (``configs/hub/licenses.yaml``), or a list of
  them; ``license: other`` without ``license_name`` / ``license_link`` is a note (the Hub
  accepts it; its documentation asks for both);
* ``language``: ISO 639-1/2/3 codes (2 or 3 lowercase letters) or ``code`` / ``multilingual``;
* ``tags``: a list of strings;
* model cards: ``model-index``, with the fields huggingface_hub's ``model_index_to_eval_results``
  requires (``name``; per result ``task.type``, ``dataset.type``, ``dataset.name``, ``metrics``
  with ``type`` and ``value``; a ``source`` needs a ``url``);
* dataset cards: ``configs`` and ``dataset_info`` (:mod:`ocforge.card_dataset_fields`);
* empty or missing metadata: a warning, as the Hub returns one.

Each problem names the field's path (``model-index[0].results[0].dataset.name``), quotes the value
found and says what was expected, in the Hub's wording (``"license" must be one of [...]``).
"""

from __future__ import annotations

import difflib
import functools
import importlib.resources
import re
from pathlib import Path
from typing import Any

import yaml

from ocforge.card_dataset_fields import check_configs, check_dataset_info
from ocforge.card_problems import CardProblem, CardReport, FieldCheck, show

__all__ = [
    "CardProblem",
    "CardReport",
    "check_metadata",
    "check_readme",
    "front_matter",
    "hub_licenses",
]

# package data (ocforge.configs), read directly: the local Hub imports this module and needs
# nothing else of core's recipe machinery
LICENSES_FILE = Path(str(importlib.resources.files("ocforge.configs"))) / "hub" / "licenses.yaml"
LANGUAGE_RE = re.compile(r"^[a-z]{2,3}$")
SPECIAL_LANGUAGES = ("code", "multilingual")
# the block opens the file, after blank lines at most (the Hub and huggingface_hub's
# REGEX_YAML_BLOCK allow leading whitespace; huggingface_hub's own tests write cards that start
# with a newline); Windows line breaks are read as well (huggingface_hub's cards may have them)
_FRONT_MATTER_RE = re.compile(r"\A\s*?^---[ \t]*\r?\n(.*?)(?:\r?\n)?^---[ \t]*\r?$", re.S | re.M)
_DOCS = {
    "model": "https://huggingface.co/docs/hub/model-cards#model-card-metadata",
    "dataset": "https://huggingface.co/docs/hub/datasets-cards",
    "space": "https://huggingface.co/docs/hub/spaces-config-reference",
}


@functools.cache
def hub_licenses() -> dict[str, str]:
    """The Hub's license identifiers (in the Hub's order) with their full names."""
    data = yaml.safe_load(LICENSES_FILE.read_text(encoding="utf-8"))
    return {str(key): str(name) for key, name in data["licenses"].items()}


def front_matter(readme: str) -> str | None:
    """The YAML text between the leading ``---`` lines, or ``None`` without front matter."""
    match = _FRONT_MATTER_RE.match(readme)
    return match.group(1) if match else None


def check_readme(readme: str, repo_type: str) -> CardReport:
    """Parse the README's front matter and check it (:func:`check_metadata`)."""
    match = _FRONT_MATTER_RE.match(readme)
    if match is None:
        return check_metadata(None, repo_type)
    text = match.group(1)
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        # the block starts on the line after the opening ``---`` (1-based lines)
        first_line = readme.count("\n", 0, match.start(1)) + 1
        where = f" (line {mark.line + first_line}, column {mark.column + 1})" if mark else ""
        problem = getattr(exc, "problem", None) or "syntax error"
        message = f"Invalid YAML in README.md metadata{where}: {problem}"
        return CardReport([CardProblem("", message)])
    return check_metadata(data, repo_type)


def check_metadata(data: Any, repo_type: str) -> CardReport:
    """Check parsed card metadata (``None``: the card has none) for a ``repo_type`` repo."""
    check = FieldCheck()
    if data is None or data == {}:
        docs = _DOCS.get(repo_type, _DOCS["model"])
        check.warn("", f"empty or missing yaml metadata in repo card ({docs})")
        return check.report
    if not isinstance(data, dict):
        check.error(
            "", f"README.md metadata must be a YAML mapping (key: value pairs), got {show(data)}"
        )
        return check.report
    _license(check, data)
    if "language" in data:
        _language(check, data["language"])
    if "tags" in data:
        _strings(check, "tags", data["tags"])
    if repo_type == "model" and "model-index" in data:
        _model_index(check, data["model-index"])
    if repo_type == "dataset" and "configs" in data:
        check_configs(check, data["configs"])
    if repo_type == "dataset" and "dataset_info" in data:
        check_dataset_info(check, data["dataset_info"])
    return check.report


# -- license, language, tags ---------------------------------------------------------------------


def _each(path: str, value: Any) -> list[tuple[str, Any]]:
    """(path, item) for a value that may be one item or a list of them."""
    if isinstance(value, list):
        return [(f"{path}[{i}]", item) for i, item in enumerate(value)]
    return [(path, value)]


def _license(check: FieldCheck, data: dict[str, Any]) -> None:
    value = data.get("license")
    if "license" in data:
        if value == []:
            check.error("license", '"license" must be a license id or a list of them, got []')
        for path, item in _each("license", value):
            _license_id(check, path, item)
    for key in ("license_name", "license_link"):
        if key in data:
            check.string(key, data[key])
    missing = [k for k in ("license_name", "license_link") if k not in data]
    if "other" in [item for _path, item in _each("license", value)] and missing:
        names = " and ".join(f'"{key}"' for key in missing)
        check.note(
            missing[0],
            f'{names} missing: with license "other" the Hub asks for '
            'license_name (an id such as "my-license-1.0") and license_link ("LICENSE", '
            '"LICENSE.md" or a URL)',
        )


def _license_id(check: FieldCheck, path: str, value: Any) -> None:
    licenses = hub_licenses()
    if isinstance(value, str) and value in licenses:
        return
    close = difflib.get_close_matches(str(value), list(licenses), n=1)
    hint = f' (did you mean "{close[0]}"?)' if close else ""
    check.error(
        path,
        f'"{path}" must be one of [{", ".join(licenses)}], got {show(value)}{hint}; for a '
        'license not in the list use "other" with license_name and license_link',
    )


def _language(check: FieldCheck, value: Any) -> None:
    for path, code in _each("language", value):
        if isinstance(code, str) and (LANGUAGE_RE.match(code) or code in SPECIAL_LANGUAGES):
            continue
        check.error(
            path,
            f'"{path}" must be an ISO 639-1, 639-2 or 639-3 code (2 or 3 lowercase letters, e.g. '
            f'"en") or one of "code", "multilingual", got {show(code)}; a locale such as '
            '"fr-FR" goes in language_details',
        )


def _strings(check: FieldCheck, path: str, value: Any) -> None:
    if not isinstance(value, list):
        check.error(path, f'"{path}" must be a list of strings, got {show(value)}')
        return
    for index, item in enumerate(value):
        check.string(f"{path}[{index}]", item)


# -- model-index ---------------------------------------------------------------------------------


def _model_index(check: FieldCheck, value: Any) -> None:
    for index, entry in enumerate(check.items("model-index", value, "{name, results} mappings")):
        path = f"model-index[{index}]"
        if not check.mapping(path, entry, "with name and results"):
            continue
        if check.required(path, entry, "name", "the model's name"):
            check.string(f"{path}.name", entry["name"])
        if not check.required(path, entry, "results", "a list of {task, dataset, metrics}"):
            continue
        what = "{task, dataset, metrics} mappings"
        for number, result in enumerate(
            check.items(f"{path}.results", entry["results"], what, empty=True)
        ):
            _result(check, f"{path}.results[{number}]", result)


def _result(check: FieldCheck, path: str, result: Any) -> None:
    if not check.mapping(path, result, "with task, dataset and metrics"):
        return
    _typed(check, path, result, "task", ("type",))
    _typed(check, path, result, "dataset", ("type", "name"))
    if check.required(path, result, "metrics", "a list of {type, value}"):
        what = "{type, value} mappings"
        for index, metric in enumerate(check.items(f"{path}.metrics", result["metrics"], what)):
            where = f"{path}.metrics[{index}]"
            if not check.mapping(where, metric, "with type and value"):
                continue
            if check.required(where, metric, "type", "the metric's id, e.g. accuracy"):
                check.string(f"{where}.type", metric["type"])
            check.required(where, metric, "value", "the metric's value")
    source = result.get("source")
    if source is not None and check.mapping(f"{path}.source", source, "with name and url"):
        if check.required(f"{path}.source", source, "url", "a link to the source"):
            check.string(f"{path}.source.url", source["url"])


def _typed(
    check: FieldCheck, path: str, result: dict[str, Any], key: str, needed: tuple[str, ...]
) -> None:
    """``result[key]`` is a mapping with the string fields ``needed`` (task, dataset)."""
    fields = " and ".join(needed)
    if not check.required(path, result, key, f"a mapping with {fields}"):
        return
    where = f"{path}.{key}"
    if check.mapping(where, result[key], f"with {fields}"):
        for name in needed:
            if check.required(where, result[key], name, f"the {key}'s {name}"):
                check.string(f"{where}.{name}", result[key][name])
