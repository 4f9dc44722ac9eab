"""The judged evaluation's data (``configs/judge/*.yaml``), read and checked.

* ``personagym.yaml``: protocols (Light, full), the sampling of each role, the files used;
* ``dimensions-v1.yaml``: the five dimensions, their question briefs and rubric levels 1-5;
* ``settings-v1.yaml``: the settings a character can be placed in;
* ``prompt-*.yaml``: versioned chat prompt templates (Jinja) with an optional repair turn.
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from jinja2 import StrictUndefined, TemplateError
from jinja2.sandbox import SandboxedEnvironment

from ocforge.errors import JudgeConfigError
from ocforge.recipe import CONFIGS_DIR

JUDGE_DIR = CONFIGS_DIR / "judge"
SPEC_FILE = "personagym.yaml"
PROMPT_ROLES = ("settings", "questions", "examples", "judge")
SAMPLING_ROLES = ("generator", "answer", "judge")
LEVELS = (1, 2, 3, 4, 5)

_JINJA = SandboxedEnvironment(undefined=StrictUndefined, keep_trailing_newline=False)


@functools.lru_cache(maxsize=64)
def _compiled(text: str) -> Any:
    # compiling is most of a render's time: a judged run renders one prompt per request
    return _JINJA.from_string(text)


@dataclass(frozen=True)
class Template:
    """A versioned chat prompt: ``messages`` (role, Jinja text) and an optional ``repair`` turn."""

    id: str
    version: int
    sha256: str  # of the file's bytes: any change of wording changes it
    messages: tuple[tuple[str, str], ...]
    repair: tuple[str, str] | None
    path: str = field(compare=False)

    @property
    def provenance(self) -> dict[str, Any]:
        return {"id": self.id, "version": self.version, "sha256": self.sha256}

    def render(self, **values: Any) -> list[dict[str, str]]:
        return [{"role": r, "content": self._fill(t, values)} for r, t in self.messages]

    def repair_turn(self, **values: Any) -> dict[str, str]:
        if self.repair is None:
            raise JudgeConfigError(f"{self.path}: has no 'repair' turn")
        return {"role": self.repair[0], "content": self._fill(self.repair[1], values)}

    def _fill(self, text: str, values: dict[str, Any]) -> str:
        try:
            return _compiled(text).render(**values)
        except TemplateError as exc:
            raise JudgeConfigError(f"{self.path}: cannot render: {exc}") from None


@dataclass(frozen=True)
class Dimension:
    id: str
    name: str
    brief: str  # what questions of this dimension do (for the generator)
    criterion: str  # what the judge checks
    levels: dict[int, str]  # 1..5 -> description


@dataclass(frozen=True)
class JudgeSpec:
    """Everything ``configs/judge`` declares, loaded once."""

    protocols: dict[str, dict[str, Any]]  # id -> {name, questions_per_dimension}
    max_settings: int
    sampling: dict[str, dict[str, Any]]  # role -> request parameters
    dimensions: tuple[Dimension, ...]
    dimensions_version: dict[str, Any]
    settings: tuple[str, ...]
    settings_version: dict[str, Any]
    prompts: dict[str, Template]
    card: str

    def protocol(self, name: str) -> dict[str, Any]:
        if name not in self.protocols:
            raise JudgeConfigError(
                f"unknown protocol {name!r}: expected one of {', '.join(self.protocols)}"
            )
        return self.protocols[name]

    @property
    def versions(self) -> dict[str, Any]:
        """Prompt and rubric provenance, as prepared sets and results record it."""
        return {
            "prompts": {r: t.provenance for r, t in self.prompts.items()},
            "dimensions": self.dimensions_version,
            "settings_list": self.settings_version,
        }


def _read(path: Path) -> tuple[dict[str, Any], bytes]:
    try:
        raw = path.read_bytes()
        data = yaml.safe_load(raw)
    except (OSError, yaml.YAMLError) as exc:
        raise JudgeConfigError(f"{path}: cannot read: {exc}") from None
    if not isinstance(data, dict):
        raise JudgeConfigError(f"{path}: expected a mapping at the top level")
    return data, raw


def _need(data: dict[str, Any], key: str, kind: type | tuple[type, ...], path: Path) -> Any:
    if not isinstance(data.get(key), kind):
        names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        raise JudgeConfigError(f"{path}: key {key!r}: expected {names}, got {data.get(key)!r}")
    return data[key]


def _version(data: dict[str, Any], path: Path, raw: bytes) -> dict[str, Any]:
    return {
        "id": _need(data, "id", str, path),
        "version": _need(data, "version", int, path),
        "sha256": hashlib.sha256(raw).hexdigest(),
    }


def _turn(item: Any, where: str) -> tuple[str, str]:
    ok = isinstance(item, dict) and set(item) == {"role", "content"}
    if not ok or item["role"] not in ("system", "user", "assistant"):
        raise JudgeConfigError(f"{where}: expected {{role: system|user|assistant, content: TEXT}}")
    if not isinstance(item["content"], str):
        raise JudgeConfigError(f"{where}: 'content' must be text")
    try:
        _JINJA.parse(item["content"])
    except TemplateError as exc:
        raise JudgeConfigError(f"{where}: invalid Jinja: {exc}") from None
    return item["role"], item["content"]


def load_template(path: Path) -> Template:
    """One ``prompt-*.yaml`` file. Raises JudgeConfigError naming the file and the key."""
    data, raw = _read(path)
    ver = _version(data, path, raw)
    messages = _need(data, "messages", list, path)
    if not messages:
        raise JudgeConfigError(f"{path}: 'messages' is empty")
    turns = tuple(_turn(m, f"{path}: messages[{i}]") for i, m in enumerate(messages))
    repair = _turn(data["repair"], f"{path}: repair") if "repair" in data else None
    return Template(ver["id"], ver["version"], ver["sha256"], turns, repair, str(path))


def _dimension(item: Any, where: str) -> Dimension:
    if not isinstance(item, dict):
        raise JudgeConfigError(f"{where}: expected a mapping")
    texts = {k: item.get(k) for k in ("id", "name", "brief", "criterion")}
    bad = [k for k, v in texts.items() if not isinstance(v, str) or not v.strip()]
    if bad:
        raise JudgeConfigError(f"{where}: needs non-empty text for {', '.join(bad)}")
    levels = item.get("levels")
    if not isinstance(levels, dict) or sorted(levels) != list(LEVELS):
        raise JudgeConfigError(f"{where}.levels: expected the keys 1, 2, 3, 4, 5 (text each)")
    return Dimension(**texts, levels={int(k): str(levels[k]) for k in LEVELS})


def _sampling(data: dict[str, Any], path: Path) -> dict[str, dict[str, Any]]:
    sampling = _need(data, "sampling", dict, path)
    for role in SAMPLING_ROLES:
        if not isinstance(sampling.get(role), dict):
            raise JudgeConfigError(f"{path}: sampling.{role}: expected a mapping")
    return {role: dict(sampling[role]) for role in SAMPLING_ROLES}


def load_spec(directory: Path = JUDGE_DIR) -> JudgeSpec:
    """``directory/personagym.yaml`` and the files it names.

    Raises:
        JudgeConfigError: a file is missing or malformed (file and key named).
    """
    path = Path(directory) / SPEC_FILE
    data, _ = _read(path)
    protocols = _need(data, "protocols", dict, path)
    for name, proto in protocols.items():
        n = proto.get("questions_per_dimension") if isinstance(proto, dict) else None
        if not isinstance(n, int) or n < 1 or not isinstance(proto.get("name"), str):
            raise JudgeConfigError(
                f"{path}: protocols.{name}: needs 'name' (text) and 'questions_per_dimension' (>= 1)"
            )
    files = _need(data, "files", dict, path)
    prompts = _need(files, "prompts", dict, path)
    missing = [r for r in PROMPT_ROLES if not isinstance(prompts.get(r), str)]
    if missing:
        raise JudgeConfigError(f"{path}: files.prompts: no file for {', '.join(missing)}")
    dims_path = Path(directory) / _need(files, "dimensions", str, path)
    dims_data, dims_raw = _read(dims_path)
    items = _need(dims_data, "dimensions", list, dims_path)
    dims = tuple(_dimension(d, f"{dims_path}: dimensions[{i}]") for i, d in enumerate(items))
    set_path = Path(directory) / _need(files, "settings", str, path)
    set_data, set_raw = _read(set_path)
    settings = _need(set_data, "settings", list, set_path)
    return JudgeSpec(
        protocols={k: dict(v) for k, v in protocols.items()},
        max_settings=_need(data, "max_settings", int, path),
        sampling=_sampling(data, path),
        dimensions=dims,
        dimensions_version=_version(dims_data, dims_path, dims_raw),
        settings=tuple(str(s) for s in settings),
        settings_version=_version(set_data, set_path, set_raw),
        prompts={r: load_template(Path(directory) / prompts[r]) for r in PROMPT_ROLES},
        card=_need(data, "card", str, path),
    )
