"""Rows as the viewer answers them: ``features`` in ``datasets``' dict form, cells made JSON-safe,
and the truncation of ``/first-rows`` (datasets-server ``truncate_rows.py``: at most 100 rows and
1 MB, at least 10 rows; past the byte limit, cells over 100 bytes become their JSON text cut to
100 bytes, last rows first, and are listed in ``truncated_cells``).
"""

from __future__ import annotations

import base64
import datetime
import decimal
import math
from typing import Any

import orjson
import pyarrow as pa

ROWS_PER_PAGE = 100
FIRST_ROWS_MAX_BYTES = 1_000_000
FIRST_ROWS_MIN_NUMBER = 10
FIRST_ROWS_MAX_NUMBER = 100
MIN_CELL_BYTES = 100


def features_of(schema: pa.Schema) -> Any:
    """``datasets.Features`` of a Parquet schema, as ``load_dataset`` infers them."""
    import datasets  # heavy: imported on the first viewer request, not with the server

    return datasets.Features.from_arrow_schema(schema)


_FLOATS = {"halffloat": "float16", "float": "float32", "double": "float64"}
_PLAIN = {"bool", "string", "large_string", "binary", "large_binary"}


def _feature_dict(arrow: pa.DataType) -> dict[str, Any] | None:
    """``datasets``' dict form of the common Arrow types, or None for the others."""
    name = str(arrow)
    if pa.types.is_integer(arrow) or name in _PLAIN:
        return {"dtype": name, "_type": "Value"}
    if name in _FLOATS:
        return {"dtype": _FLOATS[name], "_type": "Value"}
    if pa.types.is_struct(arrow):
        fields = {
            arrow.field(i).name: _feature_dict(arrow.field(i).type) for i in range(arrow.num_fields)
        }
        return None if None in fields.values() else fields
    if (
        pa.types.is_list(arrow)
        or pa.types.is_large_list(arrow)
        or pa.types.is_fixed_size_list(arrow)
    ):
        inner = _feature_dict(arrow.value_type)
        if inner is None:
            return None
        if pa.types.is_fixed_size_list(arrow):
            return {"feature": inner, "length": arrow.list_size, "_type": "List"}
        return {"feature": inner, "_type": "LargeList" if pa.types.is_large_list(arrow) else "List"}
    return None


def features_dict(schema: pa.Schema) -> dict[str, Any]:
    """``Features.from_arrow_schema(schema).to_dict()``, without importing ``datasets`` (several
    seconds) for the common types; other types, and schemas carrying ``datasets``' own feature
    metadata, go through ``datasets``."""
    if not (schema.metadata or {}).get(b"huggingface"):
        native = {f.name: _feature_dict(f.type) for f in schema}
        if None not in native.values():
            return native
    return features_of(schema).to_dict()


def features_list(schema: pa.Schema) -> list[dict[str, Any]]:
    """``[{"feature_idx", "name", "type"}]`` with ``type`` the feature's ``to_dict()`` form."""
    as_dict = features_dict(schema)
    return [
        {"feature_idx": i, "name": name, "type": as_dict[name]} for i, name in enumerate(as_dict)
    ]


def json_cell(value: Any) -> Any:
    """A cell value JSON can carry: NaN/inf as null, dates as ISO text, bytes as base64."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): json_cell(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_cell(v) for v in value]
    if isinstance(value, (datetime.datetime, datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, datetime.timedelta):
        return value.total_seconds()
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return base64.b64encode(bytes(value)).decode("ascii")
    return str(value)


def row_items(table: pa.Table, row_idx: list[int]) -> list[dict[str, Any]]:
    """``[{"row_idx", "row", "truncated_cells": []}]`` for the table's rows."""
    columns = table.column_names
    values = {name: table.column(name).to_pylist() for name in columns}
    return [
        {
            "row_idx": idx,
            "row": {name: json_cell(values[name][i]) for name in columns},
            "truncated_cells": [],
        }
        for i, idx in enumerate(row_idx)
    ]


def json_size(value: Any) -> int:
    return len(orjson.dumps(value))


def truncate_cell(value: Any, max_bytes: int) -> str | None:
    """The cell's JSON text cut to ``max_bytes`` (whole characters), or None if it is shorter."""
    raw = orjson.dumps(value)
    if len(raw) <= max_bytes:
        return None
    return raw[:max_bytes].decode("utf-8", errors="ignore")


def _truncate_item(item: dict[str, Any], min_cell_bytes: int) -> None:
    for name, cell in item["row"].items():
        cut = truncate_cell(cell, min_cell_bytes)
        if cut is not None:
            item["row"][name] = cut
            if name not in item["truncated_cells"]:
                item["truncated_cells"].append(name)


def first_rows_items(
    items: list[dict[str, Any]],
    max_bytes: int = FIRST_ROWS_MAX_BYTES,
    min_rows: int = FIRST_ROWS_MIN_NUMBER,
    min_cell_bytes: int = MIN_CELL_BYTES,
) -> list[dict[str, Any]]:
    """The first rows within ``max_bytes``: rows dropped past ``min_rows``, then cells cut."""
    kept, total = [], 2  # the list's brackets
    for item in items[:min_rows]:
        total += json_size(item) + 1
        kept.append(item)
    if total >= max_bytes:
        for item in reversed(kept):  # the last rows are cut first
            if total < max_bytes:
                break
            before = json_size(item)
            _truncate_item(item, min_cell_bytes)
            total += json_size(item) - before
        return kept
    for item in items[min_rows:]:
        total += json_size(item) + 1
        if total >= max_bytes:
            break
        kept.append(item)
    return kept


def cut_long_cells(items: list[dict[str, Any]], max_bytes: int) -> list[dict[str, Any]]:
    """Copies of row items with every cell over ``max_bytes`` cut (for pages that show a
    short form of long cells and expand them on demand); ``truncated_cells`` lists them."""
    out = []
    for item in items:
        copy = {**item, "row": dict(item["row"]), "truncated_cells": list(item["truncated_cells"])}
        _truncate_item(copy, max_bytes)
        out.append(copy)
    return out
