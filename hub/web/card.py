"""Repo cards for the pages: README.md body as HTML, its YAML metadata as tags and tables.

The body goes through markdown-it (CommonMark plus tables and strikethrough) with raw HTML
**disabled**, so a card holding ``<script>`` shows it as text, and markdown-it's link check
drops ``javascript:`` and similar URLs. Relative image sources are rewritten to the file's
``resolve`` URL at the page's revision (the plots under a release's card live in the repo), and
relative links to the file's ``blob`` page, as on the Hub.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass, field
from typing import Any

from markdown_it import MarkdownIt
from markdown_it.token import Token

from ..yamlcheck import extract_front_matter, load_card_data
from .render import path_quote, segment_quote

_FRONT_RE = re.compile(r"\A\s*?^---[ \t]*\r?\n.*?^---[ \t]*(?:\r?\n|\Z)", re.S | re.M)
_SCHEME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
_REPO_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*$")

_MD = MarkdownIt("commonmark", {"html": False}).enable(["table", "strikethrough"])

#: metadata keys shown as tags, in order, with their label
DATASET_TAG_KEYS = (
    ("license", "License"),
    ("language", "Language"),
    ("size_categories", "Size"),
    ("task_categories", "Task"),
    ("task_ids", "Task"),
    ("tags", "Tag"),
)
MODEL_TAG_KEYS = (
    ("license", "License"),
    ("language", "Language"),
    ("library_name", "Library"),
    ("pipeline_tag", "Task"),
    ("base_model", "Base model"),
    ("tags", "Tag"),
)


class SafeHtml(str):
    """HTML that Jinja's autoescaping leaves as is (the ``__html__`` protocol)."""

    def __html__(self) -> str:
        return str(self)


@dataclass
class Tag:
    label: str
    value: str


@dataclass
class Card:
    """A rendered card: safe HTML, the parsed metadata (``{}`` when absent or invalid)."""

    html: SafeHtml
    meta: dict[str, Any] = field(default_factory=dict)
    metadata_error: bool = False

    @property
    def pretty_name(self) -> str | None:
        name = self.meta.get("pretty_name")
        return name if isinstance(name, str) and name.strip() else None


def _strip_front_matter(text: str) -> str:
    match = _FRONT_RE.match(text)
    return text[match.end() :] if match else text


def _local_target(src: str, base_dir: str) -> str | None:
    """The repo path a relative URL points at, or ``None`` (absolute, anchor, outside repo)."""
    if not src or src.startswith(("#", "/", "?")) or _SCHEME_RE.match(src):
        return None
    path = src.split("#", 1)[0].split("?", 1)[0]
    joined = posixpath.normpath(posixpath.join(base_dir, path)) if path else ""
    if not joined or joined == "." or joined.startswith("../") or joined == "..":
        return None
    return joined


def _rewrite(tokens: list[Token], repo_base: str, revision: str, base_dir: str) -> None:
    rev = segment_quote(revision)
    for token in tokens:
        for child in token.children or ():
            if child.type == "image":
                target = _local_target(str(child.attrGet("src") or ""), base_dir)
                if target is not None:
                    child.attrSet("src", f"{repo_base}/resolve/{rev}/{path_quote(target)}")
            elif child.type == "link_open":
                target = _local_target(str(child.attrGet("href") or ""), base_dir)
                if target is not None:
                    child.attrSet("href", f"{repo_base}/blob/{rev}/{path_quote(target)}")
                elif _SCHEME_RE.match(str(child.attrGet("href") or "")):
                    child.attrSet("rel", "noopener noreferrer nofollow")


def render_card(text: str, repo_base: str, revision: str, readme_path: str = "README.md") -> Card:
    """Render a README (front matter removed) with links rewritten for ``repo_base``."""
    front = extract_front_matter(text)
    meta = load_card_data(text) if front is not None else None
    tokens = _MD.parse(_strip_front_matter(text))
    _rewrite(tokens, repo_base, revision, posixpath.dirname(readme_path))
    html = _MD.renderer.render(tokens, _MD.options, {})
    # safe: markdown-it escaped every character of the text (raw HTML is disabled)
    return Card(
        SafeHtml(html), meta or {}, metadata_error=bool(front and front.strip()) and meta is None
    )


def _values(value: Any) -> list[str]:
    if isinstance(value, list):
        return [str(v) for v in value if isinstance(v, (str, int, float)) and str(v).strip()]
    if isinstance(value, (str, int, float)) and str(value).strip():
        return [str(value)]
    return []


def metadata_tags(meta: dict[str, Any], keys: tuple[tuple[str, str], ...]) -> list[Tag]:
    """Tags for the page header, e.g. ``License: cc-by-4.0``, ``Size: n<1K``."""
    return [Tag(label, value) for key, label in keys for value in _values(meta.get(key))]


def dataset_links(meta: dict[str, Any]) -> list[str]:
    """Repo ids named by a model card's ``datasets:`` (only well-formed ``ns/name`` ids)."""
    return [d for d in _values(meta.get("datasets")) if _REPO_ID_RE.match(d)]


@dataclass
class EvalRow:
    model: str
    task: str
    dataset: str
    dataset_id: str | None
    dataset_revision: str | None
    split: str
    metric: str
    value: str


def _text(mapping: Any, *keys: str) -> str:
    if not isinstance(mapping, dict):
        return ""
    for key in keys:
        value = mapping.get(key)
        if isinstance(value, (str, int, float)) and str(value) != "":
            return str(value)
    return ""


def eval_rows(meta: dict[str, Any]) -> list[EvalRow]:
    """``model-index`` results flattened into one row per metric (malformed parts skipped)."""
    rows: list[EvalRow] = []
    index = meta.get("model-index")
    for model in index if isinstance(index, list) else []:
        results = model.get("results") if isinstance(model, dict) else None
        for result in results if isinstance(results, list) else []:
            if not isinstance(result, dict):
                continue
            dataset = result.get("dataset") if isinstance(result.get("dataset"), dict) else {}
            dataset_id = _text(dataset, "type")
            metrics = result.get("metrics")
            for metric in metrics if isinstance(metrics, list) else []:
                rows.append(
                    EvalRow(
                        model=_text(model, "name"),
                        task=_text(result.get("task"), "name", "type"),
                        dataset=_text(dataset, "name", "type"),
                        dataset_id=dataset_id if _REPO_ID_RE.match(dataset_id) else None,
                        dataset_revision=_text(dataset, "revision") or None,
                        split=_text(dataset, "split"),
                        metric=_text(metric, "name", "type"),
                        value=_text(metric, "value"),
                    )
                )
    return rows
