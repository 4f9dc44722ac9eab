"""The run ledger: where every input row ended up.

Each row ends in exactly one place: kept (in ``data/``), dropped by a filter, removed as a
duplicate, or quarantined as invalid. The ledger is counted from the files on disk, not from the
steps' own bookkeeping, and ``input == kept + dropped + duplicates + quarantined`` is checked for
every config; a violation raises :class:`LedgerError` and fails the run.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from ocforge.errors import LedgerError

OUTCOMES = ("dropped", "duplicates", "quarantined")
#: the synthesis outcome (stage ``assignment``, reason ``test_overlap``) counting the answers that
#: split-aware assignment never requested because curation's ``test_overlap`` would have removed
#: them: shown with the ledger, but not rows set aside
AVOIDED = "avoided"
# synthesis outcomes that are not rows set aside (turns of multi-turn inputs; answers not asked)
_NOT_SET_ASIDE = ("turns_left_out", AVOIDED)


@dataclass
class ConfigLedger:
    input: int
    kept: int
    # outcome -> reason -> count
    reasons: dict[str, dict[str, int]] = field(default_factory=lambda: {o: {} for o in OUTCOMES})
    # rows kept but changed, not part of the invariant: PII masked (pii_email, ..., rows_masked),
    # dialogues re-pointed to the kept twin of a duplicate character (repointed_to_kept_twin)
    modified: dict[str, int] = field(default_factory=dict)

    def count(self, outcome: str) -> int:
        return sum(self.reasons.get(outcome, {}).values())

    @property
    def balanced(self) -> bool:
        return self.input == self.kept + sum(self.count(o) for o in OUTCOMES)

    def to_dict(self) -> dict[str, Any]:
        return {
            "input": self.input,
            "kept": self.kept,
            **{o: self.count(o) for o in OUTCOMES},
            "reasons": {o: dict(sorted(self.reasons.get(o, {}).items())) for o in OUTCOMES},
            "modified": dict(sorted(self.modified.items())),
            "balanced": self.balanced,
        }


@dataclass
class Ledger:
    configs: dict[str, ConfigLedger]
    # what synthesis set aside before curation (``stage -> outcome -> reason -> rows``): input
    # rows it could not read, profiles and answers the model got wrong, characters it skipped;
    # and the answers it did not request (``AVOIDED``). Outside the configs' invariant, whose
    # input is what synthesis wrote.
    synthesis: dict[str, dict[str, dict[str, int]]] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Ledger:
        """Rebuild a ledger from its ``to_dict`` form (as stored in release.json)."""
        return cls(
            {
                name: ConfigLedger(
                    input=d["input"],
                    kept=d["kept"],
                    reasons={o: dict(d["reasons"].get(o, {})) for o in OUTCOMES},
                    modified=dict(d.get("modified", {})),
                )
                for name, d in data["configs"].items()
            },
            synthesis=data.get("synthesis", {}),
        )

    def synthesis_total(self) -> int:
        """Rows synthesis set aside before curation (0 for a build without synthesis); the turns
        of multi-turn conversations it left out (``turns_left_out``) and the answers it did not
        request (``AVOIDED``) are counted apart."""
        return sum(
            n
            for outcomes in self.synthesis.values()
            for outcome, reasons in outcomes.items()
            if outcome not in _NOT_SET_ASIDE
            for n in reasons.values()
        )

    def _set_aside_anything(self) -> bool:
        # a synthesis that only avoided requests set nothing aside
        return any(o != AVOIDED for outcomes in self.synthesis.values() for o in outcomes)

    def totals(self) -> dict[str, int]:
        out = {"input": 0, "kept": 0, **dict.fromkeys(OUTCOMES, 0)}
        for led in self.configs.values():
            out["input"] += led.input
            out["kept"] += led.kept
            for o in OUTCOMES:
                out[o] += led.count(o)
        return out

    def summary(self) -> str:
        """One line: ``input N = kept K + dropped D + duplicates U + quarantined Q``."""
        t = self.totals()
        line = (
            f"input {t['input']} = kept {t['kept']} + dropped {t['dropped']}"
            f" + duplicates {t['duplicates']} + quarantined {t['quarantined']}"
        )
        if self._set_aside_anything():
            line += f"; before curation, synthesis set aside {self.synthesis_total()}"
        return line

    def to_dict(self) -> dict[str, Any]:
        out = {
            "configs": {name: led.to_dict() for name, led in self.configs.items()},
            "total": self.totals(),
            "invariant": "input == kept + dropped + duplicates + quarantined",
        }
        if self.synthesis:
            out["synthesis"] = self.synthesis
        return out

    def check(self) -> None:
        """Raise :class:`LedgerError` naming every config whose rows do not add up."""
        bad = []
        for name, led in self.configs.items():
            if not led.balanced:
                d = led.to_dict()
                bad.append(
                    f"{name}: input {d['input']} != kept {d['kept']} + dropped {d['dropped']}"
                    f" + duplicates {d['duplicates']} + quarantined {d['quarantined']}"
                )
        if bad:
            raise LedgerError("rows were lost or invented:\n  " + "\n  ".join(bad))

    def modified_rows(self) -> list[dict[str, Any]]:
        """Flat ``(config, change, what, count)`` rows of the changes made to kept rows (counted
        within ``kept``, not outcomes of their own), for cards."""
        return [
            {"config": name, "change": key, "what": modified_meaning(key), "count": n}
            for name, led in self.configs.items()
            for key, n in sorted(led.modified.items())
            if n
        ]

    def rows(self) -> list[dict[str, Any]]:
        """Flat ``(config, outcome, reason, rows)`` rows for tables in cards and summaries."""
        out = []
        for name, led in self.configs.items():
            out.append({"config": name, "outcome": "kept", "reason": "", "rows": led.kept})
            for o in OUTCOMES:
                for reason, n in sorted(led.reasons.get(o, {}).items()):
                    out.append({"config": name, "outcome": o, "reason": reason, "rows": n})
        for stage, outcomes in self.synthesis.items():
            for outcome, reasons in outcomes.items():
                for reason, n in reasons.items():
                    config = f"synthesis: {stage}"
                    out.append({"config": config, "outcome": outcome, "reason": reason, "rows": n})
        return out


#: what each ``modified`` counter of a config ledger counts, for cards
MODIFIED_MEANING = {
    "rows_masked": "rows with personal data masked",
    "repointed_to_kept_twin": "dialogues moved to the kept twin of a duplicate character",
}


def modified_meaning(key: str) -> str:
    """A card's words for a ``modified`` counter (``pii_<kind>``: masked spans of that kind)."""
    if key.startswith("pii_"):
        return f"{key.removeprefix('pii_').replace('_', ' ')} spans masked"
    return MODIFIED_MEANING.get(key, key.replace("_", " "))


def read_removed(files: Iterable[Path]) -> pl.DataFrame:
    """Outcome and reason of every row in the removed/quarantined Parquet files."""
    frames = [pl.read_parquet(path, columns=["outcome", "reason"]) for path in files]
    if not frames:
        return pl.DataFrame(schema={"outcome": pl.String, "reason": pl.String})
    return pl.concat(frames)


def config_ledger(input_rows: int, kept_rows: int, removed: pl.DataFrame) -> ConfigLedger:
    """Count one config's removed rows per outcome and reason."""
    led = ConfigLedger(input=input_rows, kept=kept_rows)
    counts = removed.group_by("outcome", "reason").len().sort("outcome", "reason")
    for outcome, reason, n in counts.iter_rows():
        if outcome not in OUTCOMES:
            raise LedgerError(f"unknown outcome {outcome!r} in removed rows (reason {reason!r})")
        led.reasons[outcome][reason] = n
    return led
