"""Recipe inputs: the shared model base, field names, local or Hub inputs and their field
mappings, and the bundled defaults' locations."""

from __future__ import annotations

import importlib.resources
from pathlib import Path
from typing import Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from ocforge.records import PROFILE_FIELDS

# the bundled defaults (character-break list, prompt and lm-eval templates, the demo) are package
# data of ``ocforge.configs``: the repository's configs/ folder in a checkout, installed with the
# wheel elsewhere (a plain folder in both, so paths to them can be passed around)
CONFIGS_DIR = Path(str(importlib.resources.files("ocforge.configs")))
DEFAULT_CHARACTER_BREAKS = CONFIGS_DIR / "character_breaks.yaml"
DEMO_RECIPE = CONFIGS_DIR / "demo" / "recipe.yaml"
PROMPTS_DIR = CONFIGS_DIR / "prompts"

CHARACTER_FIELDS = ("character_id", "persona", "profile", "generator", *PROFILE_FIELDS)
DIALOGUE_FIELDS = (
    "character_id",
    "question_id",
    "source_corpus",
    "question",
    "response",
    "original_response",
)
# synthesis inputs: personas (Persona Hub) and instruction corpora
PERSONA_FIELDS = ("persona_id", "persona")
QUESTION_FIELDS = ("question_id", "question", "original_response")
# ``importer:`` presets for public formats; ``fields`` keys of such an input name these columns
IMPORTER_KEYS: dict[str, tuple[str, ...]] = {
    "opencharacter": ("character_id", "persona", "profile"),  # profile <- `character`
    "personahub": ("persona",),
    "lima": ("question_id", "conversations"),  # [question, answer, ...]
    "alpaca": ("question_id", "instruction", "input", "output"),
    "ph-instruct": ("question_id", "question"),  # question <- `synthesized text`
}


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class HubSource(Strict):
    """A dataset on the Hub, read with ``datasets.load_dataset(repo, config, revision=..., split=...)``."""

    repo: str = Field(pattern=r"^[\w.\-]+(/[\w.\-]+)?$")
    config: str | None = None
    revision: str | None = None
    split: str = "train"
    data_files: str | list[str] | None = None


class InputSpec(Strict):
    """One input of a config: a local file (JSONL, one JSON array or Parquet) or a Hub dataset,
    plus a field mapping. Without ``format`` the file's suffix decides (``.json``: one JSON array
    of objects, ``.parquet``/``.pq``: Parquet, anything else: JSON Lines)."""

    path: Path | None = None
    hub: HubSource | None = None
    # the output of this recipe's ``synthesis:`` section (filled in when the build runs it)
    synthesis: Literal["characters", "rewrite", "generate"] | None = None
    format: Literal["jsonl", "json", "parquet"] | None = None
    importer: Literal["opencharacter", "personahub", "lima", "alpaca", "ph-instruct"] | None = None
    source: str | None = None
    fields: dict[str, str] = Field(default_factory=dict)
    defaults: dict[str, str] = Field(default_factory=dict)
    limit: int | None = Field(default=None, ge=1)  # read at most this many records

    @model_validator(mode="after")
    def _one_location(self) -> InputSpec:
        given = [k for k in ("path", "hub", "synthesis") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(
                "give exactly one of 'path' (a local file), 'hub' (a Hub dataset) or "
                "'synthesis' (this recipe's synthesis output)"
            )
        if self.importer is not None:
            check_mapping(self.fields, IMPORTER_KEYS[self.importer], f"importer {self.importer}")
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
        if self.synthesis is not None:
            return "jsonl"
        if self.hub is not None:
            return "hub"  # read through datasets.load_dataset, whatever the files are
        if self.format:
            return self.format
        suffix = self.path.suffix.lower() if self.path is not None else ""
        if suffix in (".parquet", ".pq"):
            return "parquet"
        if suffix == ".json":
            return "json"  # Alpaca's alpaca_data.json is one array, not JSON Lines
        return "jsonl"

    @property
    def label(self) -> str:
        """Name recorded as the rows' ``source``: the recipe's ``source``, file stem or repo id."""
        if self.source:
            return self.source
        if self.synthesis is not None:
            return "synthesis"
        return self.path.stem if self.path is not None else self.hub.repo  # type: ignore[union-attr]


def check_mapping(
    fields: dict[str, str], allowed: tuple[str, ...], what: str = "record"
) -> dict[str, str]:
    unknown = sorted(set(fields) - set(allowed))
    if unknown:
        raise ValueError(
            f"unknown {what} field(s) {', '.join(unknown)} in 'fields': "
            f"expected keys among {', '.join(allowed)}"
        )
    return fields


def check_inputs(
    inputs: list[InputSpec],
    allowed: tuple[str, ...],
    importers: tuple[str, ...],
    synthesized: tuple[str, ...] = (),
) -> list[InputSpec]:
    """Field mappings, importers and synthesis outputs an input list may use."""
    for spec in inputs:
        if spec.importer is not None and spec.importer not in importers:
            raise ValueError(
                f"importer {spec.importer!r} does not fit here: expected one of "
                f"{', '.join(importers) or '(none)'}"
            )
        if spec.synthesis is not None and spec.synthesis not in synthesized:
            raise ValueError(
                f"synthesis output {spec.synthesis!r} does not fit here: expected "
                f"{', '.join(synthesized) or 'a file or Hub input'}"
            )
        if spec.importer is None:
            check_mapping(spec.fields, allowed)
        check_mapping(spec.defaults, allowed)
    return inputs


def resolve_file(value: Path, info: ValidationInfo, what: str) -> Path:
    base = (info.context or {}).get("base_dir")
    resolved = (Path(base) / value) if base and not value.is_absolute() else value
    if not resolved.is_file():
        raise ValueError(f"{what} not found: {resolved}")
    return resolved.resolve()
