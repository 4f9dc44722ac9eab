"""PII masking: e-mail addresses, phone numbers and IP addresses in answers (and questions).

Masked, not removed: the row stays, the value is replaced by a fixed token (``<EMAIL>``,
``<PHONE>``, ``<IP>``) in ``response``, ``question``, ``original_response`` and the chat messages.
Counts go to the step's stats (``pii_email``, ``pii_phone``, ``pii_ip``: values masked;
``rows_masked``), which the ledger reads from the stats file on disk.
"""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path

import orjson
from datatrove.data import DocumentsPipeline
from datatrove.pipeline.base import PipelineStep

EMAIL_RE = re.compile(r"\b[\w.+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}\b")
# digit groups with separators, optionally "+country" and "(area)"; checked by _phone_like
PHONE_RE = re.compile(
    r"(?<![\w+.])(?:\+\d{1,3}[\s.\-]?)?(?:\(\d{1,4}\)[\s.\-]?)?\d{2,4}(?:[\s.\-]\d{2,4}){1,4}(?!\w|\.\d)"
)
IPV4_RE = re.compile(r"(?<![\d.])(?:\d{1,3}\.){3}\d{1,3}(?!\d|\.\d)")
IPV6_RE = re.compile(r"\b(?:[0-9A-Fa-f]{1,4}:){2,7}[0-9A-Fa-f]{1,4}\b")

_FIELDS = ("response", "question", "original_response")
# every pattern needs one of these characters: most answers have none and skip the regexes
_DIGIT = re.compile(r"\d")


def _valid_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _phone_like(text: str) -> bool:
    """9-15 digits, and a sign that it is a number to dial rather than a list of numbers:
    a leading "+", an area code in parentheses, or dashes/dots between the groups."""
    digits = sum(c.isdigit() for c in text)
    return 9 <= digits <= 15 and (text.startswith("+") or "(" in text or "-" in text or "." in text)


def _has_digit(text: str) -> bool:
    if text.isascii():  # ten substring scans beat one regex scan several times over
        return any(d in text for d in "0123456789")
    return _DIGIT.search(text) is not None


def mask_pii(text: str) -> tuple[str, dict[str, int]]:
    """``text`` with e-mails, IP addresses and phone numbers replaced; counts per kind."""
    counts = {"email": 0, "ip": 0, "phone": 0}

    def sub(kind: str, token: str, check=None):
        def repl(m: re.Match) -> str:
            if check and not check(m.group(0)):
                return m.group(0)
            counts[kind] += 1
            return token

        return repl

    if "@" in text:
        text = EMAIL_RE.sub(sub("email", "<EMAIL>"), text)
    if not _has_digit(text):
        return text, counts  # IPv4, IPv6 and phone numbers all have digits
    text = IPV4_RE.sub(sub("ip", "<IP>", _valid_ip), text)
    if ":" in text:
        text = IPV6_RE.sub(sub("ip", "<IP>", _valid_ip), text)
    text = PHONE_RE.sub(sub("phone", "<PHONE>", _phone_like), text)
    return text, counts


class PiiMasker(PipelineStep):
    """Mask PII in dialogue fields; every document is forwarded."""

    type = "🔏 - PII"
    name = "🔏 PII masking"

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        for doc in data:
            self.stat_update("total")
            record = doc.metadata["record"]
            masked_any = False
            for field in _FIELDS:
                value = record.get(field)
                if not value:
                    continue
                new, counts = mask_pii(value)
                if new != value:
                    masked_any = True
                    record[field] = new
                    for kind, n in counts.items():
                        if n:
                            self.stat_update(f"pii_{kind}", value=n)
            if masked_any:
                self.stat_update("rows_masked")
                doc.text = record["response"]
            yield doc


def pii_counts(stats_folder: Path) -> dict[str, int]:
    """Masked PII per kind (and ``rows_masked``), summed over a stage's per-task datatrove stats
    in ``stats_folder`` (each task writes its own when it completes; the merged file may come
    later on Slurm)."""
    counts: dict[str, int] = {}
    for path in sorted(stats_folder.glob("*.json")):
        for step in orjson.loads(path.read_bytes()):
            if not str(step.get("name", "")).endswith(PiiMasker.name):
                continue
            for key, value in step.get("stats", {}).items():
                if key.startswith("pii_") or key == "rows_masked":
                    total = value.get("total", 0) if isinstance(value, dict) else value
                    counts[key] = counts.get(key, 0) + int(total)
    return counts
