"""The viewer section of a dataset page, built from the Dataset Viewer API's own answers.

Every number and row comes from ``ocforge.hub.viewer.service.viewer_body`` (the same bodies
``/rows``, ``/search``, ``/filter`` and ``/statistics`` return), so the page shows what a client
of the API gets. Pages hold 100 rows, as on the Hub; long cells are cut and expandable.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from ..context import HubContext
from ..errors import HubError
from ..protocol import Request
from .histograms import Column, columns_with_stats
from .render import segment_quote
from .repo_view import RepoView

PAGE_ROWS = 100
CELL_CUT = 100  # characters shown before a cell folds into <details>


@dataclass
class Choice:
    label: str
    url: str
    current: bool


@dataclass
class Cell:
    text: str
    short: str
    cut: bool
    null: bool = False
    truncated: bool = False  # the API truncated it (first-rows only)


@dataclass
class ViewerSection:
    """Everything the ``_viewer.j2`` partial shows; ``message`` replaces rows when set."""

    base_url: str = ""
    revision: str = "main"
    message: str | None = None
    configs: list[Choice] = field(default_factory=list)
    splits: list[Choice] = field(default_factory=list)
    config: str | None = None
    split: str | None = None
    columns: list[Column] = field(default_factory=list)
    rows: list[tuple[int, list[Cell]]] = field(default_factory=list)
    total: int = 0
    page: int = 0
    pages: int = 0
    page_links: list[Choice] = field(default_factory=list)
    prev_url: str | None = None
    next_url: str | None = None
    query: str = ""
    where: str = ""
    status: dict[str, Any] = field(default_factory=dict)
    compat: dict[str, Any] = field(default_factory=dict)
    partial: bool = False
    stats_pending: bool = False

    @property
    def first_row(self) -> int:
        return self.page * PAGE_ROWS + 1 if self.total else 0

    @property
    def last_row(self) -> int:
        return min(self.total, (self.page + 1) * PAGE_ROWS)


def _body(ctx: HubContext, req: Request, endpoint: str, params: dict[str, str]) -> dict[str, Any]:
    from ..viewer.service import viewer_body  # the viewer part (DuckDB): loaded on first use

    return viewer_body(ctx, req, endpoint, params)


def cell(value: Any, truncated: bool = False) -> Cell:
    """A cell as text (JSON for lists and structs), cut after :data:`CELL_CUT` characters."""
    if value is None:
        return Cell("null", "null", False, null=True)
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, str):
        text = value
    elif isinstance(value, (int, float)):
        text = str(value)
    else:
        text = json.dumps(value, ensure_ascii=False)
    cut = len(text) > CELL_CUT
    short = text[:CELL_CUT] + "…" if cut else text
    return Cell(text, short, cut, truncated=truncated)


def _compatibility(ctx: HubContext, req: Request, base: dict[str, str]) -> dict[str, Any]:
    """The Hub viewer's rules over the revision's files; its failure is shown, not raised."""
    params = {"dataset": base["dataset"], "revision": base["revision"]}
    try:
        return _body(ctx, req, "compatibility", params)
    except HubError as exc:
        return {"compatible": False, "errors": [{"level": "error", "message": exc.message}]}


def _default_config(meta: dict[str, Any], configs: list[str]) -> str:
    for entry in meta.get("configs") or []:
        if isinstance(entry, dict) and entry.get("default") is True:
            name = entry.get("config_name")
            if name in configs:
                return str(name)
    return "default" if "default" in configs else configs[0]


class _Urls:
    def __init__(self, view: RepoView, config: str, split: str):
        self.prefix = f"{view.base}/viewer"
        self.revision = view.revision
        self.config, self.split = config, split

    def viewer(self, config: str, split: str | None = None, **params: Any) -> str:
        path = f"{self.prefix}/{segment_quote(config)}"
        if split is not None:
            path += f"/{segment_quote(split)}"
        query = {"revision": self.revision} if self.revision != "main" else {}
        query.update({k: str(v) for k, v in params.items() if v not in (None, "", 0)})
        return path + ("?" + urlencode(query) if query else "")

    def page(self, page: int, query: str, where: str) -> str:
        return self.viewer(self.config, self.split, p=page, q=query, where=where)


def _rows(
    ctx: HubContext, req: Request, base: dict[str, str], section: ViewerSection
) -> dict[str, Any]:
    params = {**base, "offset": str(section.page * PAGE_ROWS), "length": str(PAGE_ROWS)}
    if section.where:
        return _body(ctx, req, "filter", {**params, "where": section.where})
    if section.query:
        return _body(ctx, req, "search", {**params, "query": section.query})
    return _body(ctx, req, "rows", params)


def _paging(section: ViewerSection, urls: _Urls) -> None:
    section.pages = max(1, -(-section.total // PAGE_ROWS))
    q, w = section.query, section.where
    if section.page > 0:
        section.prev_url = urls.page(section.page - 1, q, w)
    if section.page + 1 < section.pages:
        section.next_url = urls.page(section.page + 1, q, w)
    shown = sorted({0, section.pages - 1, *range(section.page - 2, section.page + 3)})
    section.page_links = [
        Choice(str(n + 1), urls.page(n, q, w), n == section.page)
        for n in shown
        if 0 <= n < section.pages
    ]


def _pick(ctx: HubContext, req: Request, view: RepoView, meta: dict[str, Any], s: ViewerSection):
    """Config and split pickers from ``/splits``; the chosen (or default) config and split."""
    listing = _body(ctx, req, "splits", {"dataset": view.key.repo_id, "revision": view.revision})
    pairs = [(str(e["config"]), str(e["split"])) for e in listing.get("splits", [])]
    configs = list(dict.fromkeys(c for c, _ in pairs))
    if not configs:
        s.message = "This dataset has no configs the viewer can show."
        return None
    config = s.config or _default_config(meta, configs)
    splits = [sp for c, sp in pairs if c == config]
    if config not in configs or (s.split is not None and s.split not in splits):
        s.message = f"No config {config!r} with split {s.split!r} at {view.revision}."
        return None
    s.config, s.split = config, s.split or splits[0]
    urls = _Urls(view, s.config, s.split)
    s.configs = [Choice(c, urls.viewer(c), c == s.config) for c in configs]
    s.splits = [Choice(sp, urls.viewer(s.config, sp), sp == s.split) for sp in splits]
    return urls


def viewer_section(
    ctx: HubContext,
    req: Request,
    view: RepoView,
    meta: dict[str, Any],
    config: str | None = None,
    split: str | None = None,
) -> ViewerSection:
    """The viewer at ``view``'s revision; ``p``, ``q`` and ``where`` come from the query."""
    s = ViewerSection(base_url=f"{view.base}/viewer", revision=view.revision)
    s.config, s.split = config, split
    s.query = (req.param("q") or "").strip()
    s.where = (req.param("where") or "").strip()
    page = req.param("p") or "0"
    s.page = int(page) if page.isdigit() and len(page) < 9 else 0
    if meta.get("viewer") is False:
        s.message = "The viewer is disabled for this dataset (viewer: false in the card)."
        return s
    try:
        urls = _pick(ctx, req, view, meta, s)
        if urls is None:
            return s
    except HubError as exc:
        s.message = exc.message
        return s
    base = {"dataset": view.key.repo_id, "config": s.config, "split": s.split}
    base["revision"] = view.revision
    # The compatibility check reads every data file's footer; on a cold server that takes as long
    # as preparing the split, so both run side by side (file reads and Parquet parsing release
    # the GIL) instead of one after the other.
    with ThreadPoolExecutor(max_workers=1) as pool:
        compat = pool.submit(_compatibility, ctx, req, base)
        try:
            s.status = _body(ctx, req, "is-valid", base)
            body = _rows(ctx, req, base, s)
        except HubError as exc:
            s.message = exc.message
            return s
        finally:
            s.compat = compat.result()
    s.total = int(body.get("num_rows_total") or 0)
    s.partial = bool(body.get("partial"))
    if s.page > 0 and s.page * PAGE_ROWS >= s.total:
        s.message = f"Page {s.page + 1} is past the last page ({max(1, -(-s.total // PAGE_ROWS))})."
        return s
    try:
        # computed in the background on a large split: the page does not wait for it
        stats = _body(ctx, req, "page-statistics", base)
        s.stats_pending = bool(stats.get("pending"))
    except HubError:
        stats = {}  # rows still show; the columns just have no histogram
    s.columns = columns_with_stats(body.get("features", []), stats, urls.viewer(s.config, s.split))
    names = [c.name for c in s.columns]
    for item in body.get("rows", []):
        row, truncated = item.get("row", {}), set(item.get("truncated_cells") or ())
        s.rows.append((int(item["row_idx"]), [cell(row.get(n), n in truncated) for n in names]))
    _paging(s, urls)
    return s
