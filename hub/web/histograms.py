"""Per-column statistics of the viewer as inline-SVG histograms (no inline styles: the pages'
Content-Security-Policy forbids them), from ``/statistics`` bodies.

As on the Hub, a bar of a numeric histogram or of a label's frequencies links to the viewer
filtered to it (a ``where`` clause the ``/filter`` endpoint takes).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

BAR_AREA = 40.0  # SVG height units of the tallest bar
MAX_LABELS = 12  # frequencies beyond this many labels are summed into the summary only


@dataclass
class Bar:
    x: float
    y: float
    width: float
    height: float
    title: str
    href: str | None = None


@dataclass
class Column:
    name: str
    type: str
    summary: str = ""
    bars: list[Bar] = field(default_factory=list)


def _quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _quote_str(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _num(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def feature_type(feature: dict[str, Any]) -> str:
    """A short type label for a ``features`` entry (``string``, ``int32``, ``list``, ...)."""
    ftype = feature.get("type")
    if isinstance(ftype, dict):
        if ftype.get("_type") == "Value":
            return str(ftype.get("dtype", "value"))
        if ftype.get("_type"):
            return str(ftype["_type"]).lower()
        return "struct"
    if isinstance(ftype, list):
        return "list"
    return "value"


def _bars(counts: list[tuple[str, int, str | None]]) -> list[Bar]:
    top = max((c for _, c, _ in counts), default=0) or 1
    width = 100.0 / max(1, len(counts))
    bars = []
    for i, (title, count, href) in enumerate(counts):
        height = max(1.0, BAR_AREA * count / top) if count else 0.0
        bars.append(Bar(i * width + 0.5, BAR_AREA - height, width - 1.0, height, title, href))
    return bars


def _histogram(name: str, ctype: str, stats: dict[str, Any], link) -> list[Bar]:
    hist = stats.get("histogram") or {}
    counts, edges = hist.get("hist") or [], hist.get("bin_edges") or []
    if len(edges) != len(counts) + 1:
        return []
    out = []
    for i, count in enumerate(counts):
        lo, hi = edges[i], edges[i + 1]
        last = i == len(counts) - 1
        title = f"{_num(lo)} – {_num(hi)}: {count}"
        href = None
        if ctype in ("int", "float"):  # lengths (strings, lists) cannot be filtered on
            col = _quote_ident(name)
            where = f"{col} >= {_num(lo)} AND {col} {'<=' if last else '<'} {_num(hi)}"
            href = link(where)
        out.append((title, int(count), href))
    return _bars(out)


def _frequencies(name: str, ctype: str, stats: dict[str, Any], link) -> list[Bar]:
    freq = stats.get("frequencies") or {}
    items = sorted(freq.items(), key=lambda kv: (-int(kv[1]), str(kv[0])))[:MAX_LABELS]
    out = []
    for label, count in items:
        if ctype == "bool":
            literal = "true" if str(label).lower() == "true" else "false"
        else:
            literal = _quote_str(str(label))
        out.append((f"{label}: {count}", int(count), link(f"{_quote_ident(name)} = {literal}")))
    return _bars(out)


def _summary(ctype: str, stats: dict[str, Any]) -> str:
    parts = []
    if "n_unique" in stats:
        n = stats["n_unique"]
        parts.append(f"{n} value" + ("" if n == 1 else "s"))
    if "min" in stats and "max" in stats and stats["min"] is not None:
        prefix = "length " if ctype in ("string_text", "list") else ""
        parts.append(f"{prefix}{_num(stats['min'])} – {_num(stats['max'])}")
    if stats.get("mean") is not None:
        parts.append(f"mean {_num(stats['mean'])}")
    nulls = stats.get("nan_count")
    if nulls:
        parts.append(f"{nulls} null ({100 * float(stats.get('nan_proportion') or 0):.0f}%)")
    return " · ".join(parts)


def columns_with_stats(
    features: list[dict[str, Any]], statistics: dict[str, Any], viewer_url: str
) -> list[Column]:
    """One :class:`Column` per feature, with a histogram where ``/statistics`` has one."""
    by_name = {
        s.get("column_name"): s for s in statistics.get("statistics", []) if isinstance(s, dict)
    }
    sep = "&" if "?" in viewer_url else "?"

    def link(where: str) -> str:
        return f"{viewer_url}{sep}{urlencode({'where': where})}"

    columns = []
    for feature in features:
        name = str(feature.get("name"))
        column = Column(name, feature_type(feature))
        entry = by_name.get(name)
        if entry is not None:
            ctype = str(entry.get("column_type", ""))
            stats = entry.get("column_statistics") or {}
            column.summary = _summary(ctype, stats)
            if stats.get("histogram"):
                column.bars = _histogram(name, ctype, stats, link)
            elif stats.get("frequencies"):
                column.bars = _frequencies(name, ctype, stats, link)
        columns.append(column)
    return columns
