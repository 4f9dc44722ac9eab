"""The dataset card's ``configs`` and ``dataset_info`` as the Hub and ``datasets`` read them
(part of :mod:`ocforge.card_metadata`).

``configs``: a list of subsets, each with a ``config_name`` (unique), ``data_files`` as
``datasets.utils.metadata.MetadataConfigs`` accepts them (a pattern, a list of patterns, or a
list of ``{split, path}`` mappings with ``datasets``' split-name rule), an optional ``data_dir``
and at most one ``default: true``. ``dataset_info``: one mapping or a list of them (one per
config), with ``features`` (``name`` plus a type), ``splits`` (``name``, ``num_bytes``,
``num_examples``) and the byte sizes.
"""

from __future__ import annotations

import re
from typing import Any

from ocforge.card_problems import FieldCheck, show

#: split names ``datasets`` accepts (its ``naming._split_re``)
SPLIT_NAME_RE = re.compile(r"^\w+(\.\w+)*$")
#: keys a feature gives its type in (``datasets.Features._to_yaml_list``)
FEATURE_TYPES = ("dtype", "struct", "list", "large_list", "sequence")
_SPLIT_RULE = f"a split name matching {SPLIT_NAME_RE.pattern} (letters, digits, _ and dots)"


def check_configs(check: FieldCheck, value: Any) -> None:
    if not isinstance(value, list):
        check.error(
            "configs",
            f'"configs" must be a list of mappings with a "config_name", got {show(value)}',
        )
        return
    seen: dict[str, int] = {}
    defaults: list[str] = []
    for index, config in enumerate(value):
        path = f"configs[{index}]"
        if not check.mapping(path, config, 'with a "config_name" and its data_files'):
            continue
        _config_name(check, path, config, seen, index)
        if "default" in config and not isinstance(config["default"], bool):
            check.error(
                f"{path}.default",
                f'"{path}.default" must be true or false, got {show(config["default"])}',
            )
        if config.get("default") is True:
            defaults.append(path)
        if "data_dir" in config:
            check.string(f"{path}.data_dir", config["data_dir"], "a folder of the repo")
        if "data_files" in config:
            _data_files(check, f"{path}.data_files", config["data_files"])
    if len(defaults) > 1:
        check.error(
            f"{defaults[1]}.default",
            f'At most one config may have "default: true": {" and ".join(defaults)} both do',
        )


def _config_name(
    check: FieldCheck, path: str, config: dict[str, Any], seen: dict[str, int], index: int
) -> None:
    where = f"{path}.config_name"
    if "config_name" not in config:
        check.error(where, f'"{where}" is required (the subset\'s name, e.g. "default")')
        return
    name = config["config_name"]
    if not check.string(where, name):
        return
    if name in seen:
        check.error(where, f'"{where}" {show(name)} is used twice (also configs[{seen[name]}])')
    seen.setdefault(name, index)


def _data_files(check: FieldCheck, path: str, value: Any) -> None:
    if isinstance(value, str):
        check.string(path, value, "a path pattern")
        return
    for index, item in enumerate(
        check.items(path, value, 'path patterns or {"split", "path"} mappings')
    ):
        where = f"{path}[{index}]"
        if isinstance(item, str):
            continue
        if not isinstance(item, dict) or set(item) != {"split", "path"}:
            check.error(
                where,
                f'"{where}" must be a path pattern or a mapping with exactly "split" and "path", '
                f"got {show(item)}",
            )
            continue
        split, files = item["split"], item["path"]
        if not isinstance(split, str) or not SPLIT_NAME_RE.match(split):
            check.error(
                f"{where}.split", f'"{where}.split" must be {_SPLIT_RULE}, got {show(split)}'
            )
        if isinstance(files, list) and files:
            for number, pattern in enumerate(files):
                check.string(f"{where}.path[{number}]", pattern, "a path pattern")
        elif not isinstance(files, str) or not files:
            check.error(
                f"{where}.path",
                f'"{where}.path" must be a path pattern or a non-empty list of them, '
                f"got {show(files)}",
            )


def check_dataset_info(check: FieldCheck, value: Any) -> None:
    if isinstance(value, dict):
        _info(check, "dataset_info", value)
        return
    seen: dict[str, int] = {}
    for index, info in enumerate(check.items("dataset_info", value, "one mapping per config")):
        path = f"dataset_info[{index}]"
        if not check.mapping(path, info, "features, splits and sizes of one config"):
            continue
        _info(check, path, info)
        name = info.get("config_name", "default")  # what datasets reads a missing name as
        if isinstance(name, str) and name in seen:
            check.error(
                f"{path}.config_name",
                f'"{path}.config_name" {show(name)} is used twice (also dataset_info[{seen[name]}])',
            )
        seen.setdefault(str(name), index)


def _info(check: FieldCheck, path: str, info: dict[str, Any]) -> None:
    if "config_name" in info:
        check.string(f"{path}.config_name", info["config_name"])
    if "features" in info:
        _features(check, f"{path}.features", info["features"])
    if "splits" in info:
        what = "{name, num_bytes, num_examples} mappings"
        for index, split in enumerate(
            check.items(f"{path}.splits", info["splits"], what, empty=True)
        ):
            _split(check, f"{path}.splits[{index}]", split)
    for key in ("download_size", "dataset_size"):
        if key in info:
            check.count(f"{path}.{key}", info[key], "a non-negative integer (bytes)")


def _split(check: FieldCheck, path: str, split: Any) -> None:
    if not check.mapping(path, split, "with name, num_bytes and num_examples"):
        return
    if check.required(path, split, "name", "the split's name"):
        name = split["name"]
        if not isinstance(name, str) or not SPLIT_NAME_RE.match(name):
            check.error(f"{path}.name", f'"{path}.name" must be {_SPLIT_RULE}, got {show(name)}')
    for key in ("num_bytes", "num_examples"):
        if check.required(path, split, key, "a non-negative integer"):
            check.count(f"{path}.{key}", split[key])


def _features(check: FieldCheck, path: str, value: Any) -> None:
    for index, feature in enumerate(check.items(path, value, "{name, dtype} mappings", empty=True)):
        where = f"{path}[{index}]"
        if not check.mapping(where, feature, "with a name and a type"):
            continue
        if check.required(where, feature, "name", "the column's name"):
            check.string(f"{where}.name", feature["name"])
        kinds = [k for k in FEATURE_TYPES if k in feature]
        if not kinds:
            check.error(
                where,
                f'"{where}" must give the column\'s type in one of {", ".join(FEATURE_TYPES)}, '
                f"got {show(feature)}",
            )
        elif kinds[0] == "struct":
            _features(check, f"{where}.struct", feature["struct"])
