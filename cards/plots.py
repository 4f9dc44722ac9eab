"""PNG plots for the dataset card (committed in the repo under ``plots/`` and embedded).

Rendered with matplotlib's Agg backend, with fixed metadata so that the same statistics give the
same bytes (a re-release with unchanged data uploads no new plots).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ocforge.cards.statistics import ConfigStats

PLOTS_DIR = "plots"
# no timestamp or software version in the PNG: byte-identical plots for identical data
_PNG_METADATA = {"Software": None}


def _figure():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    plt.rcParams["svg.hashsalt"] = "ocforge"
    fig, ax = plt.subplots(figsize=(6, 3.2), dpi=100)
    return plt, fig, ax


def _save(plt, fig, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, format="png", metadata=_PNG_METADATA)
    plt.close(fig)


def length_histogram(lengths: Sequence[int], config: str, path: Path) -> Path:
    """Histogram of answer lengths in words for one dialogue config."""
    import numpy as np

    plt, fig, ax = _figure()
    # counted by numpy, drawn from the 40 counts: matplotlib's hist reshapes every value in
    # Python first (over a second for a few hundred thousand answers), for the same bars
    counts, edges = np.histogram(np.asarray(lengths if len(lengths) else [0]), bins=40)
    ax.hist(edges[:-1], bins=edges, weights=counts, color="#4c72b0")
    ax.set_title(f"{config}: answer length")
    ax.set_xlabel("words")
    ax.set_ylabel("dialogues")
    _save(plt, fig, path)
    return path


def bar_chart(counts: list[tuple[str, int]], title: str, xlabel: str, path: Path) -> Path:
    """Horizontal bars for a categorical distribution (e.g. gender, source corpus)."""
    plt, fig, ax = _figure()
    labels = [k for k, _ in counts][::-1]
    ax.barh(labels, [n for _, n in counts][::-1], color="#55a868")
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    _save(plt, fig, path)
    return path


def render_plots(
    root: Path, stats: list[ConfigStats], lengths: dict[str, list[int]]
) -> dict[str, list[tuple[str, str]]]:
    """Write every plot under ``root/plots``; returns config -> [(title, repo path)]."""
    out: dict[str, list[tuple[str, str]]] = {}
    for st in stats:
        items = out.setdefault(st.name, [])
        if st.kind == "dialogues":
            rel = f"{PLOTS_DIR}/{st.name}-answer-length.png"
            length_histogram(lengths.get(st.name, []), st.name, root / rel)
            items.append(("Answer length (words)", rel))
            if st.source_corpora:
                rel = f"{PLOTS_DIR}/{st.name}-source-corpora.png"
                bar_chart(st.source_corpora, f"{st.name}: source corpora", "dialogues", root / rel)
                items.append(("Source corpora", rel))
        else:
            if st.genders:
                rel = f"{PLOTS_DIR}/{st.name}-gender.png"
                bar_chart(st.genders, f"{st.name}: gender", "characters", root / rel)
                items.append(("Gender", rel))
            if st.age_buckets:
                order = ["<20", "20-29", "30-39", "40-49", "50-64", "65+", "unknown"]
                ages = sorted(st.age_buckets, key=lambda kv: order.index(kv[0]))
                rel = f"{PLOTS_DIR}/{st.name}-age.png"
                bar_chart(ages[::-1], f"{st.name}: age", "characters", root / rel)
                items.append(("Age", rel))
    return out
