"""Versioned prompt templates (``configs/prompts/*.yaml``): chat messages written in Jinja."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from jinja2 import StrictUndefined, TemplateError
from jinja2.sandbox import SandboxedEnvironment

from ocforge.errors import SynthesisError
from ocforge.hashing import bytes_sha256

_ENV = SandboxedEnvironment(undefined=StrictUndefined, keep_trailing_newline=False)


@dataclass(frozen=True)
class PromptTemplate:
    """One prompt file: ``id``, ``version``, ``messages`` and an optional ``repair`` turn."""

    id: str
    version: int
    sha256: str
    messages: tuple[tuple[str, str], ...]
    repair: tuple[str, str] | None = None
    path: str = field(default="", compare=False)

    @property
    def provenance(self) -> dict[str, Any]:
        """What the output records about the prompt: id, version and the file's sha256."""
        return {"id": self.id, "version": self.version, "sha256": self.sha256}

    def render(self, **variables: Any) -> list[dict[str, str]]:
        """The chat messages for ``variables``; a variable the template needs must be given."""
        return [
            {"role": role, "content": self._render(text, variables)} for role, text in self.messages
        ]

    def render_repair(self, **variables: Any) -> dict[str, str]:
        if self.repair is None:
            raise SynthesisError(f"prompt {self.path}: has no 'repair' turn")
        role, text = self.repair
        return {"role": role, "content": self._render(text, variables)}

    def _render(self, text: str, variables: dict[str, Any]) -> str:
        try:
            return _ENV.from_string(text).render(**variables)
        except TemplateError as exc:
            raise SynthesisError(f"prompt {self.path}: cannot render: {exc}") from None


def _turn(item: Any, where: str) -> tuple[str, str]:
    if (
        not isinstance(item, dict)
        or set(item) != {"role", "content"}
        or item["role"] not in ("system", "user", "assistant")
        or not isinstance(item["content"], str)
    ):
        raise SynthesisError(
            f"{where}: expected {{role: system|user|assistant, content: TEXT}}, got {item!r}"
        )
    return item["role"], item["content"]


def load_prompt(path: str | Path) -> PromptTemplate:
    """Read and check a prompt template file.

    Raises:
        SynthesisError: the file is missing, not YAML, or lacks ``id``/``version``/``messages``.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
        data = yaml.safe_load(raw)
    except (OSError, yaml.YAMLError) as exc:
        raise SynthesisError(f"prompt {path}: cannot read: {exc}") from None
    if not isinstance(data, dict):
        raise SynthesisError(f"prompt {path}: expected a mapping")
    unknown = sorted(set(data) - {"id", "version", "messages", "repair", "description"})
    if unknown:
        raise SynthesisError(f"prompt {path}: unknown key(s) {', '.join(unknown)}")
    if not isinstance(data.get("id"), str) or not isinstance(data.get("version"), int):
        raise SynthesisError(f"prompt {path}: needs 'id' (text) and 'version' (integer)")
    messages = data.get("messages")
    if not isinstance(messages, list) or not messages:
        raise SynthesisError(f"prompt {path}: 'messages' must be a non-empty list")
    turns = tuple(_turn(m, f"prompt {path}: messages[{i}]") for i, m in enumerate(messages))
    repair = _turn(data["repair"], f"prompt {path}: repair") if "repair" in data else None
    for _, text in [*turns, *([repair] if repair else [])]:
        try:
            _ENV.parse(text)
        except TemplateError as exc:
            raise SynthesisError(f"prompt {path}: invalid Jinja: {exc}") from None
    return PromptTemplate(
        id=data["id"],
        version=data["version"],
        sha256=bytes_sha256(raw),
        messages=turns,
        repair=repair,
        path=str(path),
    )
