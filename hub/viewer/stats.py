"""``/statistics``: per-column statistics in the Hub's shape (dataset-viewer
``statistics_utils.py``), computed with polars one column at a time and cached per split.

Types: ``int``, ``float``, ``bool``, ``class_label``, ``string_label`` (a string column with at
most 10 distinct values, or at most 1,000 making at most 20% of the rows), ``string_text``
(statistics of the texts' lengths in characters), ``list`` (of the lists' lengths). Numbers are
rounded to 5 decimals; histograms have at most 10 bins, right-open except the last; integer bins
have a whole width ``ceil((max - min + 1) / 10)``. Struct columns get none, as on the Hub.
"""

from __future__ import annotations

import atexit
import logging
import math
import os
import pickle
import subprocess
import sys
import threading
from typing import Any

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from .rows import features_of
from .snapshot import Split

DECIMALS = 5
NUM_BINS = 10
MAX_PROPORTION_STRING_LABELS = 0.2
MAX_NUM_STRING_LABELS = 1000


def _round(value: float) -> float:
    return float(np.round(value, DECIMALS))


def bin_edges(minimum: float, maximum: float, integer: bool) -> list[float]:
    if minimum == maximum:
        return [minimum, maximum]
    if integer:
        size = math.ceil((maximum - minimum + 1) / NUM_BINS)
        edges = np.arange(minimum, maximum, size).astype(int).tolist()
    else:
        edges = np.arange(minimum, maximum, (maximum - minimum) / NUM_BINS).astype(float).tolist()
    if edges[-1] != maximum:
        edges.append(maximum)
    return edges


def histogram(values: np.ndarray, minimum: float, maximum: float, integer: bool) -> dict[str, Any]:
    """``{"hist", "bin_edges"}``: bins ``[e0, e1) ... [e_k-1, e_k]`` over the non-null values."""
    edges = bin_edges(minimum, maximum, integer)
    if len(edges) == 2 and edges[0] == edges[1]:
        return {"hist": [int(values.size)], "bin_edges": edges}
    slots = np.searchsorted(np.asarray(edges, dtype=float), values, side="right") - 1
    slots = np.clip(slots, 0, len(edges) - 2)
    hist = np.bincount(slots, minlength=len(edges) - 1).astype(int).tolist()
    shown = edges if integer else [_round(e) for e in edges]
    return {"hist": hist, "bin_edges": shown}


def _nan(series: pl.Series, n_samples: int) -> tuple[int, float]:
    count = series.null_count()
    return count, (_round(count / n_samples) if count else 0.0)


def numeric_statistics(series: pl.Series, n_samples: int, integer: bool) -> dict[str, Any]:
    """min, max, mean, median, std (sample) and the histogram of a numeric column."""
    if series.dtype.is_float():
        series = series.fill_nan(None)
    nan_count, nan_proportion = _nan(series, n_samples)
    if nan_count == n_samples:
        none = dict.fromkeys(("min", "max", "mean", "median", "std", "histogram"))
        return {"nan_count": nan_count, "nan_proportion": 1.0, **none}
    raw = [series.min(), series.max(), series.mean(), series.median(), series.std()]
    minimum, maximum, mean, median, std = (
        _round(v) if v is not None and not math.isnan(v) else None for v in raw
    )
    if integer:
        minimum, maximum = int(minimum), int(maximum)
    values = series.drop_nulls().to_numpy().astype(float)
    return {
        "nan_count": nan_count,
        "nan_proportion": nan_proportion,
        "min": minimum,
        "max": maximum,
        "mean": mean,
        "median": median,
        "std": std,
        "histogram": histogram(values, minimum, maximum, integer),
    }


def _frequencies(series: pl.Series) -> dict[str, int]:
    counts = series.drop_nulls().value_counts(sort=True)
    return {str(v): int(c) for v, c in counts.iter_rows()}


def string_statistics(series: pl.Series, n_samples: int) -> tuple[str, dict[str, Any]]:
    nan_count, nan_proportion = _nan(series, n_samples)
    n_unique = series.n_unique()
    is_label = n_unique <= NUM_BINS or (
        n_unique / n_samples <= MAX_PROPORTION_STRING_LABELS and n_unique <= MAX_NUM_STRING_LABELS
    )
    if is_label:
        freqs = _frequencies(series)
        return "string_label", {
            "nan_count": nan_count,
            "nan_proportion": nan_proportion,
            "no_label_count": 0,
            "no_label_proportion": 0.0,
            "n_unique": len(freqs),
            "frequencies": freqs,
        }
    lengths = series.str.len_chars()
    return "string_text", numeric_statistics(lengths, n_samples, integer=True)


def bool_statistics(series: pl.Series, n_samples: int) -> dict[str, Any]:
    nan_count, nan_proportion = _nan(series, n_samples)
    counts = series.drop_nulls().value_counts()
    freqs = {str(v): int(c) for v, c in sorted(counts.iter_rows())}
    return {"nan_count": nan_count, "nan_proportion": nan_proportion, "frequencies": freqs}


def class_label_statistics(series: pl.Series, n_samples: int, names: list[str]) -> dict[str, Any]:
    nan_count, nan_proportion = _nan(series, n_samples)
    counts = {int(v): int(c) for v, c in series.drop_nulls().value_counts().iter_rows()}
    no_label = counts.pop(-1, 0)
    return {
        "nan_count": nan_count,
        "nan_proportion": nan_proportion,
        "no_label_count": no_label,
        "no_label_proportion": _round(no_label / n_samples) if no_label else 0.0,
        "n_unique": len(names),
        "frequencies": {name: counts.get(i, 0) for i, name in enumerate(names)},
    }


def _column_kind(feature: Any, arrow_type: pa.DataType) -> str | None:
    name = type(feature).__name__
    if name == "ClassLabel":
        return "class_label"
    if name in ("List", "Sequence", "LargeList") or pa.types.is_list(arrow_type):
        return "list"
    if pa.types.is_boolean(arrow_type):
        return "bool"
    if pa.types.is_integer(arrow_type):
        return "int"
    if pa.types.is_floating(arrow_type):
        return "float"
    if pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type):
        return "string"
    return None  # structs, binaries, dates: no statistics (the Hub has none for most of them)


def read_column(split: Split, name: str) -> pl.Series:
    """One column of the whole split (all files, in order)."""
    tables = [pq.read_table(f.local, columns=[name]) for f in split.files]
    return pl.from_arrow(pa.concat_tables(tables).column(name)).alias(name)


def column_statistics(split: Split, name: str, kind: str, feature: Any) -> dict[str, Any]:
    n = split.num_rows
    series = read_column(split, name)
    if kind in ("int", "float"):
        stats, shown = numeric_statistics(series, n, integer=kind == "int"), kind
    elif kind == "bool":
        stats, shown = bool_statistics(series, n), kind
    elif kind == "class_label":
        stats, shown = class_label_statistics(series, n, list(feature.names)), kind
    elif kind == "list":
        lengths = series.list.len()  # null lists keep null lengths
        stats, shown = numeric_statistics(lengths, n, integer=True), kind
    else:
        shown, stats = string_statistics(series, n)
    return {"column_name": name, "column_type": shown, "column_statistics": stats}


def split_statistics(split: Split) -> dict[str, Any]:
    """The ``/statistics`` body of a split (computed once per split and kept)."""
    cached = split.cache.get("statistics")
    if cached is not None:
        return cached
    # datasets' own metadata may declare ClassLabel columns; reading it needs datasets
    has_features = bool((split.schema.metadata or {}).get(b"huggingface"))
    features = features_of(split.schema) if has_features else {}
    items = []
    if split.num_rows:
        for field in split.schema:
            feature = features.get(field.name)
            kind = _column_kind(feature, field.type)
            if kind is not None:
                items.append(column_statistics(split, field.name, kind, feature))
    body = {
        "num_examples": split.num_rows,
        "statistics": sorted(items, key=lambda s: s["column_name"]),
        "partial": False,
    }
    split.cache["statistics"] = body
    return body


_jobs_lock = threading.Lock()
logger = logging.getLogger("ocforge.localhub")

#: splits larger than this in memory (uncompressed) take longer than a page's wait (about
#: 8 ms/MB plus 0.3 s on 2 cores: 1.3 s for 72 MB, 6 s for 620 MB): their pages do not wait,
#: and their statistics are computed in a child process
WAIT_MAX_BYTES = 32_000_000


_children: set[subprocess.Popen] = set()
_stopping = threading.Event()
_CHILD = "from ocforge.hub.viewer.stats import child_main; child_main()"


def child_main() -> None:
    """The child's side: a pickled :class:`Split` on stdin, ``(ok, body or message)`` pickled
    on stdout."""
    if hasattr(os, "nice"):
        os.nice(19)  # the server's requests come first
    split = pickle.load(sys.stdin.buffer)
    try:
        out: tuple[bool, Any] = (True, split_statistics(split))
    except Exception as exc:
        out = (False, f"{type(exc).__name__}: {exc}")
    pickle.dump(out, sys.stdout.buffer)


def statistics_in_child(split: Split) -> dict[str, Any]:
    """``split_statistics`` in a child process at the lowest CPU priority: in a thread of the
    server, polars and pyarrow hold the GIL and the shared pyarrow thread pool for seconds on a
    large split, and every request meanwhile waits on them (a page 0.1 s -> 1.5 s, a search
    1.2 s -> 4.5 s on a 215k-row split). A new interpreter (``-c``), not ``multiprocessing``,
    whose ``spawn`` would import the server's ``__main__`` again."""
    plain = Split(split.config, split.name, split.files, split.schema)  # without the cache
    cmd = [sys.executable, "-c", _CHILD]
    proc = subprocess.Popen(
        cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    with _jobs_lock:
        _children.add(proc)
    try:
        out, err = proc.communicate(pickle.dumps(plain))
    finally:
        with _jobs_lock:
            _children.discard(proc)
    if proc.returncode != 0 or not out:
        tail = err.decode("utf-8", "replace").strip().splitlines()[-1:] or ["no output"]
        raise RuntimeError(f"the statistics process exited with {proc.returncode}: {tail[0]}")
    ok, value = pickle.loads(out)  # our own child's answer
    if not ok:
        raise RuntimeError(value)
    return value


@atexit.register
def _stop_children() -> None:
    """A server that stops ends its statistics processes (they would run on for seconds)."""
    _stopping.set()
    with _jobs_lock:
        running = list(_children)
    for proc in running:
        proc.kill()


def _compute(split: Split) -> None:
    try:
        if split.num_bytes_memory > WAIT_MAX_BYTES:
            split.cache["statistics"] = statistics_in_child(split)
        else:
            split_statistics(split)
    except Exception:  # a page shows rows without histograms; /statistics reports the error
        if not _stopping.is_set():  # not the child ended by the server's exit
            logger.exception("statistics of %s/%s failed", split.config, split.name)


def statistics_if_ready(split: Split, wait: float = 0.5) -> dict[str, Any] | None:
    """The ``/statistics`` body if it is computed within ``wait`` seconds, else ``None`` while
    it goes on in the background: a page of a large split must not wait for its statistics
    (seconds on 200k rows; a split over :data:`WAIT_MAX_BYTES` is not waited for at all, as
    every view until they are ready would cost ``wait``); the next page view shows them."""
    cached = split.cache.get("statistics")
    if cached is not None:
        return cached
    if split.num_bytes_memory > WAIT_MAX_BYTES:
        wait = 0.0
    with _jobs_lock:
        job = split.cache.get("statistics-job")
        if job is None:
            job = threading.Thread(target=_compute, args=(split,), daemon=True, name="viewer-stats")
            split.cache["statistics-job"] = job
            job.start()
    job.join(wait)
    return split.cache.get("statistics")
