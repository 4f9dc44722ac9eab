"""The dataset page (card, viewer, versions), the full viewer page and the model page."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..context import HubContext
from ..protocol import Request, Response
from ..validation import RepoKey
from ..yamlcheck import load_card_data
from .card import (
    DATASET_TAG_KEYS,
    MODEL_TAG_KEYS,
    Card,
    dataset_links,
    eval_rows,
    metadata_tags,
    render_card,
)
from .render import html_response, segment_quote
from .repo_view import RepoView, open_view
from .viewer_view import viewer_section

README = "README.md"


def header(view: RepoView, active: str, url_for: Callable[[str], str]) -> dict[str, Any]:
    """Template values of the repo header: tabs and the revision picker for this page."""
    tabs = [("card", "Dataset card" if view.kind == "dataset" else "Model card", view.base)]
    if view.kind == "dataset":
        tabs.append(("viewer", "Viewer", f"{view.base}/viewer"))
    tabs += [
        ("files", "Files and versions", f"{view.base}/tree/{view.rev}"),
        ("history", "History", f"{view.base}/commits/{view.rev}"),
    ]
    # the card and viewer tabs keep the revision as a parameter
    tabs = [
        (name, label, url + view.rev_query if name in ("card", "viewer") else url)
        for name, label, url in tabs
    ]
    meta = load_card_data(view.read_text(README) or "") or {}
    keys = DATASET_TAG_KEYS if view.kind == "dataset" else MODEL_TAG_KEYS
    return {
        "view": view,
        "tabs": tabs,
        "active": active,
        "choices": view.choices(url_for),
        "tags": metadata_tags(meta, keys),
    }


def load_card(view: RepoView) -> tuple[Card | None, str | None]:
    """The rendered README at the view's revision, or ``None`` and why."""
    entry = view.tree.files.get(README)
    if entry is None:
        return None, "This repo has no README.md (no card)."
    text = view.read_text(README)
    if text is None:
        return None, "README.md is too large or not UTF-8 text; download it from Files."
    return render_card(text, view.base, view.revision), None


def _by_query(view: RepoView) -> Callable[[str], str]:
    def url_for(rev: str) -> str:
        return view.base if rev == "main" else f"{view.base}?revision={segment_quote(rev)}"

    return url_for


def _card_context(view: RepoView) -> tuple[dict[str, Any], dict[str, Any]]:
    """Template values every card page shares, and the card's metadata."""
    card, card_note = load_card(view)
    values = {
        **header(view, "card", _by_query(view)),
        "user": view.user,
        "card": card,
        "card_note": card_note,
    }
    return values, card.meta if card is not None else {}


def dataset_page(ctx: HubContext, req: Request, key: RepoKey) -> Response:
    """``/datasets/NS/NAME[?revision=R]``: the viewer's first page, the card, the versions."""
    view = open_view(ctx, req, key, req.param("revision"))
    values, meta = _card_context(view)
    return html_response(
        "dataset.j2",
        **values,
        viewer=viewer_section(ctx, req, view, meta),
        commits=sum(1 for _ in view.repo.history(view.commit)),
        title=(values["card"] and values["card"].pretty_name) or key.repo_id,
    )


def viewer_page(ctx: HubContext, req: Request, key: RepoKey, rest: list[str]) -> Response:
    """``/datasets/NS/NAME/viewer[/CONFIG[/SPLIT]]?p=&q=&where=&revision=``."""
    view = open_view(ctx, req, key, req.param("revision"))
    text = view.read_text(README)
    meta = (load_card_data(text) if text is not None else None) or {}
    config = rest[0] if rest else None
    split = rest[1] if len(rest) > 1 else None

    def url_for(rev: str) -> str:
        path = "/".join(segment_quote(part) for part in rest)
        url = f"{view.base}/viewer" + (f"/{path}" if path else "")
        return url if rev == "main" else f"{url}?revision={segment_quote(rev)}"

    return html_response(
        "viewer.j2",
        **header(view, "viewer", url_for),
        user=view.user,
        viewer=viewer_section(ctx, req, view, meta, config, split),
        title=f"{key.repo_id} · Viewer",
    )


def model_page(ctx: HubContext, req: Request, key: RepoKey) -> Response:
    """``/NS/NAME[?revision=R]``: the model card, its eval results, the training data."""
    view = open_view(ctx, req, key, req.param("revision"))
    values, meta = _card_context(view)
    return html_response(
        "model.j2",
        **values,
        evals=eval_rows(meta),
        datasets=dataset_links(meta),
        title=key.repo_id,
    )
