"""The synthesis ledger: every request and item accounted for, per stage and input kind."""

from __future__ import annotations

from typing import Any

from ocforge.errors import LedgerError
from ocforge.ledger import AVOIDED

STATUSES = ("ok", "quarantined", "failed")
#: the outcome under which multi-turn conversations' later turns are counted (turns, not rows)
TURNS_LEFT_OUT = "turns_left_out"


def stage_tally(docs: list[dict[str, Any]]) -> dict[str, Any]:
    """Per stage: items by status and requests sent/answered/failed, from the saved results."""
    items = dict.fromkeys(STATUSES, 0)
    answered = failed = 0
    for doc in docs:
        result = doc["metadata"]["rollout_results"][0]
        items[result["status"]] += 1
        answered += len(result.get("attempts", []))
        failed += result.get("requests_failed", 0)
    return {
        "items": len(docs),
        **items,
        "requests": {"sent": answered + failed, "answered": answered, "failed": failed},
    }


def check_complete(stage: str, requests: list[dict], results: list[dict]) -> None:
    sent = {d["id"] for d in requests}
    got = [d["id"] for d in results]
    missing, extra = sent - set(got), set(got) - sent
    if missing or extra or len(got) != len(set(got)):
        raise LedgerError(
            f"synthesis stage {stage!r}: {len(requests)} requests, {len(got)} results "
            f"({len(missing)} missing, {len(extra)} unexpected, {len(got) - len(set(got))} repeated)"
        )


def quarantine_counts(
    quarantine: dict[str, list[dict[str, Any]]],
    turns_left_out: dict[str, int] | None = None,
    avoided: int = 0,
) -> dict[str, dict]:
    """``stage -> outcome -> reason -> rows`` of what synthesis set aside (input rows, profiles,
    dialogues, skipped characters), for synthesis.json and the build's ledger; with
    ``assignment -> avoided -> test_overlap``: the answers split-aware assignment did not
    request because curation's ``test_overlap`` would have removed them (when there were any)."""
    out: dict[str, dict[str, dict[str, int]]] = {}
    for stage, rows in quarantine.items():
        for row in rows:
            reasons = out.setdefault(stage, {}).setdefault(row["outcome"], {})
            reasons[row["reason"]] = reasons.get(row["reason"], 0) + 1
    for kind, turns in (turns_left_out or {}).items():  # counted in turns, not rows
        out.setdefault("inputs", {}).setdefault(TURNS_LEFT_OUT, {})[kind] = turns
    if avoided:  # counted in answers never requested, not rows
        out["assignment"] = {AVOIDED: {"test_overlap": avoided}}
    return {
        stage: {o: dict(sorted(r.items())) for o, r in sorted(outcomes.items())}
        for stage, outcomes in sorted(out.items())
    }


def check_ledger(ledger: dict[str, Any]) -> None:
    """``read == valid + duplicates + quarantined`` per input kind; ``items == ok + quarantined +
    failed`` and ``sent == answered + failed`` per stage.

    Raises:
        LedgerError: naming the first count that does not add up.
    """
    for kind, t in ledger["inputs"].items():
        if t["read"] != t["valid"] + t["duplicates"] + t["quarantined"]:
            raise LedgerError(
                f"synthesis inputs {kind}: read != valid + duplicates + quarantined ({t})"
            )
    for stage, t in ledger["stages"].items():
        if t["items"] != sum(t[s] for s in STATUSES):
            raise LedgerError(f"synthesis stage {stage}: items != ok + quarantined + failed ({t})")
        r = t["requests"]
        if r["sent"] != r["answered"] + r["failed"]:
            raise LedgerError(f"synthesis stage {stage}: sent != answered + failed ({r})")
