"""Recipes: one YAML file describes one dataset release (inputs, configs, filters, splits, ...).

``load_recipe`` turns the YAML into validated pydantic objects. Every problem is reported with the
recipe file, the YAML path of the key (and its line) and what was expected; unknown keys are
errors, so a typo never silently falls back to a default.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from ocforge.errors import RecipeError
from ocforge.records import PROFILE_FIELDS

CONFIGS_DIR = Path(__file__).resolve().parent.parent / "configs"
DEFAULT_CHARACTER_BREAKS = CONFIGS_DIR / "character_breaks.yaml"
DEMO_RECIPE = CONFIGS_DIR / "demo" / "recipe.yaml"

CHARACTER_FIELDS = ("character_id", "persona", "profile", *PROFILE_FIELDS)
DIALOGUE_FIELDS = (
    "character_id",
    "question_id",
    "source_corpus",
    "question",
    "response",
    "original_response",
)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class HubSource(_Strict):
    """A dataset on the Hub, read with ``datasets.load_dataset(repo, config, revision=..., split=...)``."""

    repo: str = Field(pattern=r"^[\w.\-]+(/[\w.\-]+)?$")
    config: str | None = None
    revision: str | None = None
    split: str = "train"
    data_files: str | list[str] | None = None


class InputSpec(_Strict):
    """One input of a config: a local file (JSONL or Parquet) or a Hub dataset, plus a field mapping."""

    path: Path | None = None
    hub: HubSource | None = None
    format: Literal["jsonl", "parquet"] | None = None
    source: str | None = None
    fields: dict[str, str] = Field(default_factory=dict)
    defaults: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _one_location(self) -> InputSpec:
        if (self.path is None) == (self.hub is None):
            raise ValueError("give exactly one of 'path' (a local file) or 'hub' (a Hub dataset)")
        return self

    @field_validator("path")
    @classmethod
    def _resolve_path(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        if value is None:
            return None
        base = (info.context or {}).get("base_dir")
        resolved = (Path(base) / value) if base and not value.is_absolute() else value
        if not resolved.is_file():
            raise ValueError(f"input file not found: {resolved}")
        return resolved.resolve()

    @property
    def resolved_format(self) -> str:
        if self.hub is not None:
            return "hub"  # read through datasets.load_dataset, whatever the files are
        if self.format:
            return self.format
        if self.path is not None and self.path.suffix in (".parquet", ".pq"):
            return "parquet"
        return "jsonl"

    @property
    def label(self) -> str:
        """Name recorded as the rows' ``source``: the recipe's ``source``, file stem or repo id."""
        if self.source:
            return self.source
        return self.path.stem if self.path is not None else self.hub.repo  # type: ignore[union-attr]


def _check_mapping(fields: dict[str, str], allowed: tuple[str, ...]) -> dict[str, str]:
    unknown = sorted(set(fields) - set(allowed))
    if unknown:
        raise ValueError(
            f"unknown record field(s) {', '.join(unknown)} in 'fields': "
            f"expected keys among {', '.join(allowed)}"
        )
    return fields


class CharactersConfig(_Strict):
    """The ``characters`` config: one row per character profile."""

    name: str = "characters"
    inputs: list[InputSpec] = Field(min_length=1)

    @field_validator("inputs")
    @classmethod
    def _fields(cls, inputs: list[InputSpec]) -> list[InputSpec]:
        for spec in inputs:
            _check_mapping(spec.fields, CHARACTER_FIELDS)
            _check_mapping(spec.defaults, CHARACTER_FIELDS)
        return inputs


class DialogueConfig(_Strict):
    """A dialogue config (one per strategy): in-character answers to instructions."""

    strategy: Literal["rewrite", "generate"]
    name: str | None = None
    inputs: list[InputSpec] = Field(min_length=1)

    @field_validator("inputs")
    @classmethod
    def _fields(cls, inputs: list[InputSpec]) -> list[InputSpec]:
        for spec in inputs:
            _check_mapping(spec.fields, DIALOGUE_FIELDS)
            _check_mapping(spec.defaults, DIALOGUE_FIELDS)
        return inputs

    @property
    def config_name(self) -> str:
        return self.name or self.strategy


class QualitySettings(_Strict):
    """First quality filters on answers (the curation stage adds more)."""

    min_response_words: int = Field(default=5, ge=0)
    max_response_words: int = Field(default=1000, ge=1)
    character_breaks: bool = True
    character_break_patterns: Path = DEFAULT_CHARACTER_BREAKS

    @field_validator("character_break_patterns")
    @classmethod
    def _resolve_patterns(cls, value: Path, info: ValidationInfo) -> Path:
        base = (info.context or {}).get("base_dir")
        resolved = (Path(base) / value) if base and not value.is_absolute() else value
        if not resolved.is_file():
            raise ValueError(f"pattern file not found: {resolved}")
        return resolved.resolve()

    @model_validator(mode="after")
    def _bounds(self) -> QualitySettings:
        if self.max_response_words < self.min_response_words:
            raise ValueError("max_response_words must be >= min_response_words")
        return self


class DedupSettings(_Strict):
    exact: bool = True


class FilterSettings(_Strict):
    quality: QualitySettings = Field(default_factory=QualitySettings)
    dedup: DedupSettings = Field(default_factory=DedupSettings)


class SplitSettings(_Strict):
    """``test`` holds whole characters, chosen by a stable hash of ``character_id`` and the seed."""

    test_fraction: float = Field(default=0.1, ge=0.0, lt=1.0)
    seed: int = 0


class ExecutorSettings(_Strict):
    type: Literal["local"] = "local"
    tasks: int = Field(default=1, ge=1)
    workers: int = Field(default=1, ge=1)


class OutputSettings(_Strict):
    """Parquet layout; defaults stay well within the Dataset Viewer's row-group limits."""

    max_shard_rows: int = Field(default=100_000, ge=1)
    row_group_rows: int = Field(default=1_000, ge=1)


class CardSettings(_Strict):
    pretty_name: str | None = None
    description: str = ""
    license: str = "other"
    language: list[str] = Field(default_factory=lambda: ["en"])
    tags: list[str] = Field(default_factory=lambda: ["role-play", "character", "synthetic"])
    task_categories: list[str] = Field(default_factory=lambda: ["text-generation"])


class PublishSettings(_Strict):
    target: Literal["local", "hf"] = "local"
    repo: str | None = Field(default=None, pattern=r"^[\w.\-]+/[\w.\-]+$")
    private: bool = False


class Recipe(_Strict):
    """A whole recipe. ``path`` and ``sha256`` are filled in by :func:`load_recipe`."""

    name: str = Field(pattern=r"^[\w.\-]+$")
    description: str = ""
    characters: CharactersConfig
    dialogues: list[DialogueConfig] = Field(default_factory=list)
    filters: FilterSettings = Field(default_factory=FilterSettings)
    splits: SplitSettings = Field(default_factory=SplitSettings)
    executor: ExecutorSettings = Field(default_factory=ExecutorSettings)
    output: OutputSettings = Field(default_factory=OutputSettings)
    card: CardSettings = Field(default_factory=CardSettings)
    publish: PublishSettings = Field(default_factory=PublishSettings)

    path: Path | None = Field(default=None, exclude=True)
    sha256: str | None = Field(default=None, exclude=True)

    @model_validator(mode="after")
    def _unique_configs(self) -> Recipe:
        names = [self.characters.name, *(d.config_name for d in self.dialogues)]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"config names must be unique, repeated: {', '.join(dupes)}")
        return self

    @property
    def base_dir(self) -> Path:
        return self.path.parent if self.path else Path.cwd()

    def config_names(self) -> list[str]:
        return [self.characters.name, *(d.config_name for d in self.dialogues)]


def _yaml_path(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "<top level>"


def _line_of(root: yaml.Node | None, loc: tuple[Any, ...]) -> int | None:
    """1-based line of the deepest YAML node along ``loc`` (for error messages)."""
    node, line = root, None
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if key.value == part:
                    line = key.start_mark.line + 1
                    node = value
                    break
            else:
                return line
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            if part >= len(node.value):
                return line
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            return line
    return line


def _describe(error: dict[str, Any]) -> str:
    if error["type"] == "extra_forbidden":
        return "unknown key (check the spelling; unknown keys are not ignored)"
    if error["type"] == "missing":
        return "required key is missing"
    msg = str(error["msg"]).removeprefix("Value error, ")
    if error["type"] not in ("value_error",) and "input" in error:
        got = error["input"]
        if not isinstance(got, dict | list):
            msg += f" (got {got!r})"
    return msg


def load_recipe(path: str | Path) -> Recipe:
    """Read and validate a recipe YAML file.

    Relative paths inside the recipe are resolved against the recipe's folder.

    Raises:
        RecipeError: the file is missing, is not YAML, or does not match the schema; the error
            lists every problem with its YAML path and line.
    """
    path = Path(path)
    shown = str(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise RecipeError(shown, [f"cannot read the recipe file: {exc.strerror}"]) from None
    text = raw.decode("utf-8", errors="replace")
    try:
        data = yaml.safe_load(text)
        root = yaml.compose(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{shown}:{mark.line + 1}" if mark else shown
        raise RecipeError(shown, [f"{where}: not valid YAML: {exc}"]) from None
    if not isinstance(data, dict):
        raise RecipeError(shown, [f"{shown}: expected a mapping at the top level"])
    try:
        recipe = Recipe.model_validate(data, context={"base_dir": path.resolve().parent})
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            loc = tuple(err["loc"])
            line = _line_of(root, loc)
            where = f"{shown}:{line}" if line else shown
            problems.append(f"{where}: {_yaml_path(loc)}: {_describe(err)}")
        raise RecipeError(shown, problems) from None
    return recipe.model_copy(
        update={"path": path.resolve(), "sha256": hashlib.sha256(raw).hexdigest()}
    )
