"""TalliedFilter: datatrove's filter loop with per-task statistics gives what BaseFilter gives."""

from __future__ import annotations

import math

import pytest
from datatrove.data import Document
from datatrove.pipeline.filters.base_filter import BaseFilter

from ocforge.filters.io import RemovedRowWriter, read_removed_rows, removed_files
from ocforge.filters.tally import TalliedFilter


class _Rule(BaseFilter):
    """Keeps texts of even length; drops the rest with a reason or, for multiples of 5, without."""

    name = "rule"

    def filter(self, doc: Document) -> bool | tuple[bool, str]:
        n = len(doc.text)
        if n % 2 == 0:
            return True
        return False if n % 5 == 0 else (False, f"odd_{n % 3}")


class _TalliedRule(TalliedFilter, _Rule):
    """The same rule through TalliedFilter's loop."""


def _docs() -> list[Document]:
    docs = [Document(text="x" * (i * 7 % 23), id=f"d{i}", metadata={"line": i}) for i in range(60)]
    docs[2].metadata["token_count"] = 12  # both kept (even lengths)
    docs[8].metadata["token_count"] = 3
    return docs


def _close(a, b) -> bool:
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_close(a[k], b[k]) for k in a)
    if isinstance(a, float) or isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)
    return a == b


@pytest.mark.parametrize("runs", [1, 2])
def test_tallied_filter_forwards_removes_and_counts_like_datatrove(tmp_path, runs):
    results = {}
    for cls in (_Rule, _TalliedRule):
        folder = tmp_path / cls.__name__ / str(runs)
        step = cls(exclusion_writer=RemovedRowWriter(str(folder), "dropped", "rule", "no_reason"))
        kept = []
        for _ in range(runs):  # a step may run twice in one process (the build's in-process uses)
            kept += [d.id for d in step.run(iter(_docs()), rank=0)]
        removed = read_removed_rows(removed_files(folder))
        stats = step.stats.to_dict()
        results[cls] = (kept, sorted((r["id"], r["reason"]) for r in removed), stats)
    (kept_a, removed_a, stats_a), (kept_b, removed_b, stats_b) = results.values()
    assert kept_b == kept_a and removed_b == removed_a
    assert kept_a and {reason for _, reason in removed_a} == {
        "no_reason",
        "odd_0",
        "odd_1",
        "odd_2",
    }
    # the same statistics, but for the time each document took
    timing_a, timing_b = stats_a.pop("time_stats"), stats_b.pop("time_stats")
    assert _close(stats_b, stats_a), (stats_b, stats_a)
    assert timing_b["n"] == timing_a["n"] == 60 * runs
    assert stats_a["stats"]["doc_len_tokens"]["total"] == 15 * runs
