"""Reading a split: pages by row index (pyarrow, only the row groups a page touches) and the
row indices that match a search or a filter (DuckDB over the split's Parquet files).

Search and filter first ask DuckDB for the matching row indices in order (only the columns the
condition needs are scanned), keep that list per split for the next pages, and read the page's
rows by index. ``__row_idx`` is the row's index in the split (files in order, rows in file
order), i.e. the ``row_idx`` the viewer answers.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from .errors import InvalidParameterError
from .snapshot import Split
from .where import quote_ident

ROW_IDX = "__row_idx"
_MATCH_CACHE = 16  # per split: search/filter result lists kept for paging
_db_lock = threading.Lock()
_db: duckdb.DuckDBPyConnection | None = None


def cursor() -> duckdb.DuckDBPyConnection:
    """A cursor on the process' in-memory DuckDB (one per query: cursors are per thread)."""
    global _db
    with _db_lock:
        if _db is None:
            # no extension is installed or loaded: everything runs offline
            _db = duckdb.connect(":memory:", config={"autoinstall_known_extensions": False})
        return _db.cursor()


def _sql_path(path: Any) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def split_relation(split: Split, columns: list[str]) -> str:
    """SQL of the split's rows with ``__row_idx``: one ``read_parquet`` per file, in order."""
    cols = ", ".join(quote_ident(c) for c in columns)
    parts = [
        f"SELECT {cols + ', ' if cols else ''}file_row_number + {offset} AS {ROW_IDX} "
        f"FROM read_parquet({_sql_path(f.local)}, file_row_number = true)"
        for f, offset in zip(split.files, split.file_offsets, strict=True)
    ]
    return " UNION ALL ".join(parts)


def _locate(split: Split, indices: np.ndarray) -> dict[tuple[int, int], list[tuple[int, int]]]:
    """Per (file, row group): (position in the answer, row within the group) of each index."""
    starts = []
    for file_i, data_file in enumerate(split.files):
        row = split.file_offsets[file_i]
        for group_i, n in enumerate(data_file.row_groups):
            starts.append((row, file_i, group_i))
            row += n
    firsts = np.array([s[0] for s in starts], dtype=np.int64)
    where = np.searchsorted(firsts, indices, side="right") - 1
    wanted: dict[tuple[int, int], list[tuple[int, int]]] = {}
    for pos, (idx, slot) in enumerate(zip(indices.tolist(), where.tolist(), strict=True)):
        first, file_i, group_i = starts[slot]
        wanted.setdefault((file_i, group_i), []).append((pos, idx - first))
    return wanted


def take_rows(split: Split, indices: list[int]) -> pa.Table:
    """The rows at ``indices`` (in that order), reading only the row groups that hold them."""
    if not indices:
        return split.schema.empty_table()
    pieces: list[tuple[int, pa.Table]] = []
    wanted = _locate(split, np.asarray(indices, dtype=np.int64))
    handles: dict[int, pq.ParquetFile] = {}
    for (file_i, group_i), rows in wanted.items():
        handle = handles.get(file_i)
        if handle is None:
            handle = handles[file_i] = pq.ParquetFile(split.files[file_i].local)
        group = handle.read_row_group(group_i)
        # slices, not take(): take's first call initialises pyarrow.compute (about 0.5 s)
        pieces.extend((pos, group.slice(r, 1)) for pos, r in rows)
    pieces.sort(key=lambda p: p[0])
    return pa.concat_tables([p[1] for p in pieces])


def page_indices(split: Split, offset: int, length: int) -> list[int]:
    """Row indices of the page ``offset .. offset + length`` of the split."""
    end = min(offset + length, split.num_rows)
    return list(range(offset, end)) if offset < end else []


def cached_matches(split: Split, key: str) -> np.ndarray | None:
    """A search or filter result kept for the split's next pages, or None."""
    cache: OrderedDict[str, np.ndarray] = split.cache.setdefault("matches", OrderedDict())
    found = cache.get(key)
    if found is not None:
        cache.move_to_end(key)
    return found


def remember(split: Split, key: str, found: np.ndarray) -> np.ndarray:
    cache: OrderedDict[str, np.ndarray] = split.cache.setdefault("matches", OrderedDict())
    cache[key] = found
    while len(cache) > _MATCH_CACHE:
        cache.popitem(last=False)
    return found


def matching_rows(
    split: Split, key: str, columns: list[str], where_sql: str, params: list[Any], order_sql: str
) -> np.ndarray:
    """Row indices that satisfy ``where_sql`` (in ``order_sql`` order, then by index); cached
    per split under ``key`` for the following pages."""
    found = cached_matches(split, key)
    if found is not None:
        return found
    order = f"{order_sql}, {ROW_IDX}" if order_sql else ROW_IDX
    sql = f"SELECT {ROW_IDX} FROM ({split_relation(split, columns)}) "
    sql += f"WHERE {where_sql} ORDER BY {order}" if where_sql else f"ORDER BY {order}"
    try:
        result = cursor().execute(sql, params).fetchnumpy()[ROW_IDX]
    except duckdb.Error as exc:
        # e.g. comparing a text column with a number: the caller's input, not our fault
        first_line = str(exc).splitlines()[0]
        raise InvalidParameterError(f"A query parameter is invalid: {first_line}") from None
    return remember(split, key, np.asarray(result, dtype=np.int64))


def string_columns(split: Split) -> list[str]:
    """The split's top-level text columns (what search looks in, as the Hub's index does)."""
    return [
        f.name
        for f in split.schema
        if pa.types.is_string(f.type) or pa.types.is_large_string(f.type)
    ]


def search_condition(split: Split, query: str) -> tuple[str, list[Any], list[str]]:
    """Rows holding every word of ``query`` (case-insensitive) in some text column."""
    columns = string_columns(split)
    terms = query.split()
    if not columns:
        raise InvalidParameterError("The split has no text column to search.")
    clauses, params = [], []
    for term in terms:
        # a literal, case-insensitive RE2 match: faster in DuckDB than ILIKE '%term%'
        ors = [f"regexp_matches({quote_ident(c)}, ?, 'i')" for c in columns]
        clauses.append("(" + " OR ".join(ors) + ")")
        params.extend([re.escape(term)] * len(columns))
    return " AND ".join(clauses), params, columns
