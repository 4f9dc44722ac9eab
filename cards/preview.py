"""An HTML preview of a dataset card: metadata as YAML, body rendered from Markdown."""

from __future__ import annotations

import html

from huggingface_hub import DatasetCard


def card_html(readme: str, title: str = "dataset card") -> str:
    """A standalone HTML page for ``readme`` (images keep their relative paths)."""
    from markdown_it import MarkdownIt

    card = DatasetCard(readme, ignore_metadata_errors=True)
    body = MarkdownIt("commonmark").enable("table").render(card.text)
    meta = html.escape(card.data.to_yaml())
    return (
        "<!doctype html>\n<html><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title>"
        "<style>body{font-family:sans-serif;max-width:60em;margin:2em auto;padding:0 1em}"
        "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 6px}"
        "pre{background:#f6f8fa;padding:1em;overflow:auto}img{max-width:100%}"
        "details{margin-bottom:1em}</style></head><body>\n"
        f"<details><summary>card metadata (YAML)</summary><pre>{meta}</pre></details>\n"
        f"{body}</body></html>\n"
    )
