"""Scores of the ``<prefix>_in_character`` task: ROUGE-L against the reference answer and the
character-break flag of the curation filters (same detector, same phrase list).

``ocforge eval register`` writes a small module next to the task YAML that builds the scorer with
the phrase list copied into the task folder, so the task is pinned like its data.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ocforge.character_breaks import BreakDetector


def in_character_scorer(
    patterns_file: Path,
) -> Callable[[dict[str, Any], list[str]], dict[str, float]]:
    """An lm-eval ``process_results(doc, results)`` for generated answers.

    ``patterns_file`` is JSON ``{"patterns": [...]}``. Returns ``rouge_l`` (F-measure of the
    longest common subsequence, 0..1) and ``character_break`` (1.0 if the answer steps out of
    character, else 0.0); their means are the task's metrics.
    """
    from rouge_score import rouge_scorer

    patterns = json.loads(Path(patterns_file).read_text(encoding="utf-8"))["patterns"]
    detector = BreakDetector(patterns)
    scorer = rouge_scorer.RougeScorer(["rougeL"])

    def process_results(doc: dict[str, Any], results: list[str]) -> dict[str, float]:
        answer = results[0] if results else ""
        broke = detector.match(answer) is not None
        rouge = scorer.score(doc["reference"], answer)["rougeL"].fmeasure
        return {"rouge_l": float(rouge), "character_break": 1.0 if broke else 0.0}

    return process_results
