"""The bodies of the datasets-server endpoints, one function each, over a resolved dataset.

Shapes follow dataset-viewer's ``docs/source/openapi.json`` (reference
xet-and-dataset-viewer.md §C1). Differences, all deliberate: ``/parquet`` URLs point at the
repo's own Parquet files (``resolve/<commit>/<path>``; the local Hub has no
``refs/convert/parquet`` branch, and the files already are the viewer's Parquet), and search
matches every word of the query as a case-insensitive substring of a text column instead of
BM25 over stemmed words (no DuckDB extension may be downloaded).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from ..storage import Repo
from ..validation import RepoKey
from . import query, rows
from .errors import (
    ConfigNamesError,
    DataFilesNotFoundError,
    FileFormatError,
    InvalidParameterError,
    MissingRequiredParameterError,
    SchemaMismatchError,
)
from .search_index import ensure_index, indexed_search
from .snapshot import Snapshot, Split, open_split
from .stats import split_statistics, statistics_if_ready
from .where import parse_orderby, parse_where


@dataclass
class Dataset:
    """A dataset the caller may read, at the requested revision."""

    key: RepoKey
    repo: Repo
    snapshot: Snapshot
    store_root: Any
    xet: Any
    base_url: str

    @property
    def name(self) -> str:
        return self.key.repo_id

    def split(self, config: str, split: str) -> Split:
        return open_split(self.store_root, self.xet, self.repo, self.snapshot, config, split)

    def configs(self, config: str | None) -> list[str]:
        if config:
            self.snapshot.config(config)  # 404 for an unknown config
            return [config]
        if self.snapshot.config_error is not None:
            raise ConfigNamesError(
                f"Cannot get the config names for the dataset: {self.snapshot.config_error}"
            )
        return list(self.snapshot.configs)

    def file_url(self, path: str) -> str:
        return f"{self.base_url}/datasets/{self.name}/resolve/{self.snapshot.commit_id}/" + quote(
            path
        )


def required(params: Mapping[str, str], name: str) -> str:
    value = params.get(name, "")
    if not value or not value.strip():
        raise MissingRequiredParameterError(f"Parameter '{name}' is required")
    return value


def int_param(params: Mapping[str, str], name: str, default: int, maximum: int | None) -> int:
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise InvalidParameterError(f"Parameter '{name}' must be integer") from None
    if value < 0:
        raise InvalidParameterError(f"Parameter '{name}' must be positive")
    if maximum is not None and value > maximum:
        raise InvalidParameterError(f"Parameter '{name}' must not be greater than {maximum}")
    return value


def _page(params: Mapping[str, str]) -> tuple[int, int]:
    offset = int_param(params, "offset", 0, None)
    return offset, int_param(params, "length", rows.ROWS_PER_PAGE, rows.ROWS_PER_PAGE)


def _paginated(split: Split, indices: list[int], total: int) -> dict[str, Any]:
    table = query.take_rows(split, indices)
    return {
        "features": rows.features_list(split.schema),
        "rows": rows.row_items(table, indices),
        "num_rows_total": total,
        "num_rows_per_page": rows.ROWS_PER_PAGE,
        "partial": False,
    }


# -------------------------------------------------------------------------- endpoints


def is_valid(ds: Dataset, params: Mapping[str, str]) -> dict[str, Any]:
    """``/is-valid``: which viewer features work (all false with ``viewer: false``, or when a
    split's files cannot be read; the compatibility report says why)."""
    config, split = params.get("config"), params.get("split")
    enabled = ds.snapshot.viewer_enabled and ds.snapshot.config_error is None
    if enabled and split:
        ds.snapshot.split_paths(required(params, "config"), split)  # 404 for unknown names
    elif enabled and config:
        ds.configs(config)
    has_text = False
    try:
        for name in ds.configs(config) if enabled else []:
            for split_name in [split] if split else ds.snapshot.configs[name].splits:
                has_text = has_text or bool(query.string_columns(ds.split(name, split_name)))
    except (FileFormatError, SchemaMismatchError, DataFilesNotFoundError):
        enabled = False
    out = {"viewer": enabled, "preview": enabled, "search": enabled and has_text}
    return {**out, "filter": enabled, "statistics": enabled}


def splits(ds: Dataset, params: Mapping[str, str]) -> dict[str, Any]:
    items = [
        {"dataset": ds.name, "config": config, "split": split}
        for config in ds.configs(params.get("config"))
        for split in ds.snapshot.configs[config].splits
    ]
    return {"splits": items, "pending": [], "failed": []}


def first_rows(ds: Dataset, params: Mapping[str, str]) -> dict[str, Any]:
    config, split_name = required(params, "config"), required(params, "split")
    split = ds.split(config, split_name)
    indices = query.page_indices(split, 0, rows.FIRST_ROWS_MAX_NUMBER)
    body = {
        "dataset": ds.name,
        "config": config,
        "split": split_name,
        "features": rows.features_list(split.schema),
        "rows": [],
        "truncated": False,
    }
    budget = rows.FIRST_ROWS_MAX_BYTES - rows.json_size(body)
    items = rows.row_items(query.take_rows(split, indices), indices)
    body["rows"] = rows.first_rows_items(items, max_bytes=budget)
    body["truncated"] = len(body["rows"]) < split.num_rows or any(
        item["truncated_cells"] for item in body["rows"]
    )
    ensure_index(ds.store_root, split)  # a split that is shown is likely to be searched
    return body


def rows_page(ds: Dataset, params: Mapping[str, str]) -> dict[str, Any]:
    split = ds.split(required(params, "config"), required(params, "split"))
    offset, length = _page(params)
    page = _paginated(split, query.page_indices(split, offset, length), split.num_rows)
    ensure_index(ds.store_root, split)  # a split that is shown is likely to be searched
    return page


def search(ds: Dataset, params: Mapping[str, str]) -> dict[str, Any]:
    split = ds.split(required(params, "config"), required(params, "split"))
    text = required(params, "query")
    offset, length = _page(params)
    key = "search\0" + text
    found = query.cached_matches(split, key)
    if found is None:
        ensure_index(ds.store_root, split)
        found = indexed_search(ds.store_root, split, text)
    if found is None:  # no index yet: scan the Parquet files (same rows, slower)
        where_sql, values, columns = query.search_condition(split, text)
        found = query.matching_rows(split, key, columns, where_sql, values, "")
    query.remember(split, key, found)
    return _paginated(split, found[offset : offset + length].tolist(), int(found.size))


def filter_rows(ds: Dataset, params: Mapping[str, str]) -> dict[str, Any]:
    split = ds.split(required(params, "config"), required(params, "split"))
    where, orderby = params.get("where", ""), params.get("orderby", "")
    offset, length = _page(params)
    where_sql, values = parse_where(where, split.schema) if where.strip() else ("", [])
    order_sql = parse_orderby(orderby, split.schema) if orderby.strip() else ""
    key = f"filter\0{where}\0{orderby}"
    found = query.matching_rows(split, key, split.schema.names, where_sql, values, order_sql)
    return _paginated(split, found[offset : offset + length].tolist(), int(found.size))


def statistics(ds: Dataset, params: Mapping[str, str]) -> dict[str, Any]:
    split = ds.split(required(params, "config"), required(params, "split"))
    return split_statistics(split)


def page_statistics(ds: Dataset, params: Mapping[str, str]) -> dict[str, Any]:
    """For the pages: ``/statistics``'s body when ready, else ``{"pending": True}`` (computing
    in the background)."""
    split = ds.split(required(params, "config"), required(params, "split"))
    return statistics_if_ready(split) or {"pending": True, "statistics": []}


def config_info(ds: Dataset, config: str) -> dict[str, Any]:
    """The ``DatasetInfo`` dict of a config, as ``datasets.DatasetInfo.from_dict`` reads it."""
    spec = ds.snapshot.configs[config]
    opened = [ds.split(config, s) for s in spec.splits]
    features = rows.features_dict(opened[0].schema)
    split_infos = {
        s.name: {
            "name": s.name,
            "num_bytes": s.num_bytes_memory,
            "num_examples": s.num_rows,
            "dataset_name": None,
        }
        for s in opened
    }
    download = sum(s.num_bytes_parquet for s in opened)
    memory = sum(s.num_bytes_memory for s in opened)
    return {
        "description": "",
        "citation": "",
        "homepage": "",
        "license": "",
        "features": features,
        "builder_name": "parquet",
        "dataset_name": ds.key.name,
        "config_name": config,
        "version": {"version_str": "0.0.0", "major": 0, "minor": 0, "patch": 0},
        "splits": split_infos,
        "download_size": download,
        "dataset_size": memory,
        "size_in_bytes": download + memory,
    }


def info(ds: Dataset, params: Mapping[str, str]) -> dict[str, Any]:
    config = params.get("config")
    if config:
        ds.configs(config)
        dataset_info: dict[str, Any] = config_info(ds, config)
    else:
        dataset_info = {name: config_info(ds, name) for name in ds.configs(None)}
    return {"dataset_info": dataset_info, "pending": [], "failed": [], "partial": False}


def size(ds: Dataset, params: Mapping[str, str]) -> dict[str, Any]:
    configs, split_items = [], []
    for config in ds.configs(params.get("config")):
        opened = [ds.split(config, s) for s in ds.snapshot.configs[config].splits]
        for s in opened:
            split_items.append(
                {
                    "dataset": ds.name,
                    "config": config,
                    "split": s.name,
                    "num_bytes_parquet_files": s.num_bytes_parquet,
                    "num_bytes_memory": s.num_bytes_memory,
                    "num_rows": s.num_rows,
                    "num_columns": len(s.schema),
                }
            )
        parquet = sum(s.num_bytes_parquet for s in opened)
        configs.append(
            {
                "dataset": ds.name,
                "config": config,
                "num_bytes_original_files": parquet,
                "num_bytes_parquet_files": parquet,
                "num_bytes_memory": sum(s.num_bytes_memory for s in opened),
                "num_rows": sum(s.num_rows for s in opened),
                "num_columns": len(opened[0].schema),
            }
        )
    keys = ("num_bytes_original_files", "num_bytes_parquet_files", "num_bytes_memory", "num_rows")
    total = {k: sum(c[k] for c in configs) for k in keys}
    body: dict[str, Any] = {"configs": configs, "splits": split_items}
    if params.get("config"):
        body = {"config": configs[0], "splits": split_items}
    else:
        body = {"dataset": {"dataset": ds.name, **total}, **body}
    return {"size": body, "pending": [], "failed": [], "partial": False}


def parquet(ds: Dataset, params: Mapping[str, str]) -> dict[str, Any]:
    files = []
    for config in ds.configs(params.get("config")):
        for split_name in ds.snapshot.configs[config].splits:
            for f in ds.split(config, split_name).files:
                files.append(
                    {
                        "dataset": ds.name,
                        "config": config,
                        "split": split_name,
                        "url": ds.file_url(f.path),
                        "filename": f.path.rsplit("/", 1)[-1],
                        "size": f.size,
                    }
                )
    return {"parquet_files": files, "pending": [], "failed": [], "partial": False}


ENDPOINTS = {
    "is-valid": is_valid,
    "splits": splits,
    "first-rows": first_rows,
    "rows": rows_page,
    "search": search,
    "filter": filter_rows,
    "info": info,
    "size": size,
    "statistics": statistics,
    "parquet": parquet,
}
