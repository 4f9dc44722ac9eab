"""Strict readers of generator and judge replies, and the one-repair-turn exchange.

A reader returns the value or raises :class:`Unusable` with a short reason; that reason is fed
back in the template's repair turn. After one repair the value is missing: never a default, never
a 0 score.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ocforge.evals.judge.client import ChatClient
from ocforge.evals.judge.spec import LEVELS, Template

_SCORE = re.compile(r"^Score:\s*([1-5])$")
_NUMBERED = re.compile(r"^\s*(\d+)[.)]\s+(\S.*)$")
_LABEL = re.compile(r"^\s*Score\s+([1-5])\s*:\s*(.*)$")


class Unusable(ValueError):
    """A reply that does not hold its format; the message says what is wrong."""


def parse_score(text: str) -> int:
    """The ``N`` of the last non-empty line, which must read exactly ``Score: N`` (1..5)."""
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    match = _SCORE.match(lines[-1]) if lines else None
    if not match:
        raise Unusable("the last line is not 'Score: N' with N from 1 to 5")
    return int(match[1])


def rationale(text: str) -> str:
    """A verdict without its final score line."""
    lines = text.strip().splitlines()
    return "\n".join(lines[:-1]).strip() if lines else ""


def parse_settings(text: str, allowed: tuple[str, ...], most: int) -> list[str]:
    """Chosen settings, each one of ``allowed`` (case and bullets ignored), at most ``most``."""
    index = {s.casefold(): s for s in allowed}
    chosen: list[str] = []
    for line in text.splitlines():
        name = line.strip().lstrip("-*• ").strip().rstrip(".").casefold()
        if name in index and index[name] not in chosen:
            chosen.append(index[name])
    if not chosen:
        raise Unusable("no line names a setting of the list")
    return chosen[:most]


def parse_questions(text: str, count: int) -> list[str]:
    """The first ``count`` numbered questions ("1. ...")."""
    questions = [m[2].strip() for line in text.splitlines() if (m := _NUMBERED.match(line))]
    if len(questions) < count:
        raise Unusable(f"found {len(questions)} numbered questions, expected {count}")
    return questions[:count]


def parse_examples(text: str) -> list[str]:
    """Five example answers labelled ``Score 1:`` .. ``Score 5:`` in order (text may wrap)."""
    found: dict[int, list[str]] = {}
    current = None
    for line in text.splitlines():
        match = _LABEL.match(line)
        if match:
            current = int(match[1])
            if current in found:
                raise Unusable(f"the label 'Score {current}:' appears twice")
            found[current] = [match[2]]
        elif current is not None:
            found[current].append(line)
    if list(found) != list(LEVELS):
        raise Unusable("expected the labels 'Score 1:' to 'Score 5:', each once and in order")
    examples = ["\n".join(found[level]).strip() for level in LEVELS]
    if not all(examples):
        raise Unusable("an example is empty")
    return examples


@dataclass(frozen=True)
class Exchange:
    """One ask: the value (None when missing), the replies and why it failed, if it did."""

    value: Any
    replies: tuple[str, ...]
    repaired: bool
    problem: str | None  # "timeout after 30 s", "HTTP 503", or the last parse problem

    @property
    def parse_failed(self) -> bool:
        return self.value is None and len(self.replies) == 2


async def ask(
    client: ChatClient,
    template: Template,
    values: dict[str, Any],
    sampling: dict[str, Any],
    parse: Callable[[str], Any],
    repair_values: dict[str, Any] | None = None,
) -> Exchange:
    """Send ``template`` filled with ``values``; on an unusable reply, one repair turn."""
    messages = template.render(**values)
    first = await client.complete(messages, sampling)
    if first.text is None:
        return Exchange(None, (), False, first.error)
    try:
        return Exchange(parse(first.text), (first.text,), False, None)
    except Unusable as exc:
        problem = str(exc)
    turn = template.repair_turn(problem=problem, **(repair_values or {}))
    retry = messages + [{"role": "assistant", "content": first.text}, turn]
    second = await client.complete(retry, sampling)
    if second.text is None:
        return Exchange(None, (first.text,), True, second.error)
    try:
        return Exchange(parse(second.text), (first.text, second.text), True, None)
    except Unusable as exc:
        return Exchange(None, (first.text, second.text), True, str(exc))
