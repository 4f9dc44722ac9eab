"""Rollout functions for datatrove's InferenceRunner: one document in, one result dict out.

The runner owns batching, concurrency, retries of transport errors and checkpointing; a rollout
only builds the messages, awaits ``generate`` and judges the answer. Every rollout returns a dict
with ``status`` (``ok``, ``quarantined`` or ``failed``) so that every request is accounted for:
a document whose rollout returned ``None`` would silently vanish from the runner's output.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from typing import Any

from datatrove.data import Document
from datatrove.pipeline.inference.types import InferenceError, InferenceResult

from ocforge.builders.synthesis.prompts import PromptTemplate
from ocforge.errors import ProfileParseError, ProfileProblem
from ocforge.hashing import json_sha256
from ocforge.profiles import parse_profile
from ocforge.records import PROFILE_FIELDS

_LABELS = {
    "name": "Name",
    "age": "Age",
    "gender": "Gender",
    "race": "Race",
    "birth_place": "Birth Place",
    "appearance": "Appearance",
    "general_experience": "General Experience",
    "personality": "Personality",
}
_NAME_LINE = re.compile(r"^[ \t>*\-#]*\**name\**[ \t]*:", re.IGNORECASE | re.MULTILINE)


def check_profile(text: str) -> tuple[str, dict[str, str]]:
    """Cut a generated profile to its ``Name:`` line onwards and require all eight fields.

    Returns the cleaned profile text and its parsed fields.

    Raises:
        ProfileProblem: no ``Name:`` line, or some labelled fields are missing or empty.
    """
    cleaned = text.replace("```", "").strip()
    match = _NAME_LINE.search(cleaned)
    if match is None:
        raise ProfileProblem("it has no 'Name:' line")
    cleaned = cleaned[match.start() :].strip()
    try:
        fields = parse_profile(cleaned)
    except ProfileParseError as exc:
        raise ProfileProblem(str(exc)) from None
    missing = [_LABELS[f] for f in PROFILE_FIELDS if not fields.get(f)]
    if missing:
        raise ProfileProblem(f"these fields are missing or empty: {', '.join(missing)}")
    return cleaned, {k: v for k, v in fields.items() if v is not None}


def messages_sha256(messages: list[dict[str, str]]) -> str:
    """Hash of the exact messages of a request (canonical JSON), recorded with its answer."""
    return json_sha256(messages)


def _attempt(result: InferenceResult, messages: list[dict[str, str]]) -> dict[str, Any]:
    return {
        "text": result.text,
        "finish_reason": result.finish_reason,
        "usage": result.usage,
        "messages_sha256": messages_sha256(messages),
    }


async def _call(generate, payload: dict, timeout_s: float | None) -> InferenceResult:
    # datatrove sends local http requests without a timeout: bound them here. asyncio.timeout
    # (not wait_for, whose 3.11 version can leak a CancelledError when the timer and the
    # request finish together) turns the cancellation into a TimeoutError reliably.
    if timeout_s is None:
        return await generate(payload)
    async with asyncio.timeout(timeout_s):
        return await generate(payload)


def _failed(reason: str, detail: str, attempts: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "status": "failed",
        "reason": reason,
        "detail": detail[:2000],
        "attempts": attempts,
        "requests_failed": 1,
    }


@dataclass
class ProfileRollout:
    """Persona -> profile, with up to ``max_attempts`` requests (repair turns after the first)."""

    prompt: PromptTemplate
    max_attempts: int = 3
    request_timeout_s: float | None = None

    async def __call__(self, document: Document, generate) -> dict[str, Any]:
        messages = self.prompt.render(persona=document.metadata["persona"])
        attempts: list[dict[str, Any]] = []
        problem = ""
        for _ in range(self.max_attempts):
            try:
                result = await _call(generate, {"messages": messages}, self.request_timeout_s)
            except InferenceError as exc:
                return _failed("request_failed", str(exc.error), attempts)
            except TimeoutError:
                return _failed(
                    "request_timeout", f"no answer in {self.request_timeout_s} s", attempts
                )
            attempts.append(_attempt(result, messages))
            try:
                profile, fields = check_profile(result.text)
            except ProfileProblem as exc:
                problem = str(exc)
                # the repair turn shows the model its own answer and what is wrong with it; the
                # payload differs from the first one, so the request cache never replays it
                messages = [
                    *messages,
                    {"role": "assistant", "content": result.text},
                    self.prompt.render_repair(problem=problem),
                ]
                continue
            return {"status": "ok", "profile": profile, "fields": fields, "attempts": attempts}
        return {
            "status": "quarantined",
            "reason": "unparseable_profile",
            "detail": f"after {len(attempts)} attempt(s): {problem}",
            "attempts": attempts,
        }


@dataclass
class DialogueRollout:
    """(question, character) -> an in-character answer: OpenCharacter-R or -G by ``strategy``."""

    prompts: dict[str, PromptTemplate]
    request_timeout_s: float | None = None

    async def __call__(
        self, document: Document, generate, characters: dict[str, dict[str, str]]
    ) -> dict[str, Any]:
        meta = document.metadata
        character = characters[meta["character_id"]]
        variables = {
            "character": character["profile"],
            "name": character["name"],
            "question": meta["question"],
        }
        if meta["strategy"] == "rewrite":
            variables["original_response"] = meta["original_response"]
        messages = self.prompts[meta["strategy"]].render(**variables)
        try:
            result = await _call(generate, {"messages": messages}, self.request_timeout_s)
        except InferenceError as exc:
            return _failed("request_failed", str(exc.error), [])
        except TimeoutError:
            return _failed("request_timeout", f"no answer in {self.request_timeout_s} s", [])
        attempt = _attempt(result, messages)
        if not result.text.strip():
            return {
                "status": "quarantined",
                "reason": "empty_response",
                "detail": f"the model returned no text (finish_reason {result.finish_reason})",
                "attempts": [attempt],
            }
        return {"status": "ok", "response": result.text.strip(), "attempts": [attempt]}
