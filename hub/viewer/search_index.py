"""A search index per split, as the Hub's viewer keeps one: a DuckDB file holding each row's
index and its text columns joined and lower-cased, so a search scans one compressed column
instead of lower-casing every text column of the Parquet files on every query (about 5x faster
on a full-size release).

The index is built in a background thread the first time a split is shown or searched, into
``ROOT/viewer-cache/search/<key>.duckdb`` (``key``: a hash of the split's files and columns, so
it is shared by every commit holding the same files and survives restarts); until it exists,
searches scan the Parquet files (:func:`.query.search_condition`). Both give the same rows: a
word matches when it is a case-insensitive substring of one of the text columns (words hold no
newline, the separator of the joined text). A build writes a temporary file renamed into place
when complete; those of a server killed while building are removed by the next build.
"""

from __future__ import annotations

import atexit
import hashlib
import logging
import os
import re
import threading
from pathlib import Path

import duckdb
import numpy as np

from ..durable import pid_alive
from .query import ROW_IDX, split_relation, string_columns
from .snapshot import Split
from .where import quote_ident

logger = logging.getLogger(__name__)
_lock = threading.Lock()
_building: set[Path] = set()
_open: dict[Path, duckdb.DuckDBPyConnection] = {}
_builds: dict[threading.Thread, duckdb.DuckDBPyConnection] = {}
_stopping = threading.Event()


def index_path(store_root: Path, split: Split) -> Path:
    digest = hashlib.sha256()
    for f in split.files:
        digest.update(f"{f.local.name}\0{f.size}\0{f.num_rows}\n".encode())
    digest.update("\0".join(string_columns(split)).encode())
    return store_root / "viewer-cache" / "search" / f"{digest.hexdigest()[:40]}.duckdb"


def _lower_thread_priority() -> None:
    """Run this thread at nice 19 (Linux: a thread has its own nice value), so requests, the
    first searches of the split included, take the CPU first while the index is built."""
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)
    except (AttributeError, OSError):
        pass  # not Linux or not allowed: the build just competes with requests


#: ``_build``'s temporary index files (and DuckDB's write-ahead log beside them): the pid is that
#: of the server that was building
_TMP_RE = re.compile(r"^\..+\.(\d+)\.\d+\.tmp(?:\.wal)?$")


def remove_dead_leftovers(directory: Path) -> list[str]:
    """Delete the temporary index files of builds whose server process is gone (killed while
    building); those of running servers are kept. Returns the names removed."""
    removed = []
    try:
        names = sorted(os.listdir(directory))
    except FileNotFoundError:
        return removed
    for name in names:
        match = _TMP_RE.match(name)
        if match and not pid_alive(int(match.group(1))):
            (directory / name).unlink(missing_ok=True)
            removed.append(name)
    return removed


def _build(split: Split, path: Path) -> None:
    _lower_thread_priority()
    remove_dead_leftovers(path.parent)
    columns = string_columns(split)
    text = ", ".join(quote_ident(c) for c in columns)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with duckdb.connect(str(tmp), config={"autoinstall_known_extensions": False}) as con:
            with _lock:
                _builds[threading.current_thread()] = con  # interrupted at exit
            con.execute("SET threads TO 1")  # leave the other cores to the requests
            con.execute(
                f"CREATE TABLE search AS SELECT {ROW_IDX}, lower(concat_ws(chr(10), {text})) AS text "
                f"FROM ({split_relation(split, columns)})"
            )
        os.replace(tmp, path)  # readers see a whole index or none
    except duckdb.InterruptException:
        tmp.unlink(missing_ok=True)  # stopped at exit: built again by the next server
    except (duckdb.Error, OSError):
        logger.exception("search index of %s/%s not built", split.config, split.name)
        tmp.unlink(missing_ok=True)
    finally:
        with _lock:
            _building.discard(path)
            _builds.pop(threading.current_thread(), None)


@atexit.register
def _stop_builds() -> None:
    """At exit, interrupt the builds under way and wait for them: a DuckDB query still running
    in a thread while the interpreter shuts down aborts the process."""
    _stopping.set()
    with _lock:
        running = list(_builds.items())
    for _thread, con in running:
        con.interrupt()
    for thread, _ in running:
        thread.join(timeout=30)


def ensure_index(store_root: Path, split: Split) -> None:
    """Start building the split's index in the background unless it exists or is underway."""
    if not string_columns(split) or split.num_rows == 0:
        return
    path = index_path(store_root, split)
    with _lock:
        if path in _building or path in _open or path.is_file():
            return
        _building.add(path)
    thread = threading.Thread(target=_build, args=(split, path), daemon=True, name="viewer-index")
    thread.start()


def _connection(path: Path) -> duckdb.DuckDBPyConnection | None:
    with _lock:
        con = _open.get(path)
        if con is None and path.is_file() and path not in _building:
            con = _open[path] = duckdb.connect(str(path), read_only=True)
        return con.cursor() if con is not None else None


def indexed_search(store_root: Path, split: Split, query: str) -> np.ndarray | None:
    """Row indices (in order) of rows holding every word of ``query``; None without an index."""
    cursor = _connection(index_path(store_root, split))
    if cursor is None:
        return None
    words = [w.lower() for w in query.split()]
    where = " AND ".join("contains(text, ?)" for _ in words)
    sql = f"SELECT {ROW_IDX} FROM search WHERE {where} ORDER BY {ROW_IDX}"
    return np.asarray(cursor.execute(sql, words).fetchnumpy()[ROW_IDX], dtype=np.int64)
