"""The recipe's ``synthesis:`` section: backend, generation, personas, question corpora,
assignment and dialogue strategies."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import (
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from ocforge.recipe_inputs import (
    CHARACTER_FIELDS,
    PERSONA_FIELDS,
    PROMPTS_DIR,
    QUESTION_FIELDS,
    InputSpec,
    Strict,
    check_inputs,
    resolve_file,
)


class BackendSettings(Strict):
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


class GenerationSettings(Strict):
    """Sampling parameters sent with every request and recorded in the output's provenance."""

    temperature: float = Field(default=0.7, ge=0.0)
    top_p: float = Field(default=0.95, gt=0.0, le=1.0)
    max_tokens: int = Field(default=1024, ge=1)
    seed: int | None = 0


class ProfileSynthesis(Strict):
    """Persona Hub personas turned into character profiles by a prompt template."""

    inputs: list[InputSpec] = Field(min_length=1)
    prompt: Path = PROMPTS_DIR / "profile-v1.yaml"
    max_attempts: int = Field(default=3, ge=1, le=10)  # first try + repair attempts

    @field_validator("inputs")
    @classmethod
    def _fields(cls, inputs: list[InputSpec]) -> list[InputSpec]:
        return check_inputs(inputs, PERSONA_FIELDS, ("personahub",))

    @field_validator("prompt")
    @classmethod
    def _prompt(cls, value: Path, info: ValidationInfo) -> Path:
        return resolve_file(value, info, "prompt template")


class SynthCharacters(Strict):
    """The character pool: profiles synthesized from ``personas`` and/or existing profiles."""

    personas: ProfileSynthesis | None = None
    inputs: list[InputSpec] = Field(default_factory=list)

    @field_validator("inputs")
    @classmethod
    def _fields(cls, inputs: list[InputSpec]) -> list[InputSpec]:
        return check_inputs(inputs, CHARACTER_FIELDS, ("opencharacter",))

    @model_validator(mode="after")
    def _some(self) -> SynthCharacters:
        if self.personas is None and not self.inputs:
            raise ValueError("give 'personas' (profiles to synthesize) and/or 'inputs' (profiles)")
        return self


class QuestionCorpus(Strict):
    """An instruction corpus (LIMA, Alpaca, PH-Instruct or a mapped file)."""

    corpus: str = Field(pattern=r"^[\w.\-]+$")
    inputs: list[InputSpec] = Field(min_length=1)

    @field_validator("inputs")
    @classmethod
    def _fields(cls, inputs: list[InputSpec]) -> list[InputSpec]:
        return check_inputs(inputs, QUESTION_FIELDS, ("lima", "alpaca", "ph-instruct"))


class AssignmentSettings(Strict):
    """Each question gets ``characters_per_question`` characters drawn with ``seed``.

    ``split_aware`` (the default): a question's split is decided first, with the rule curation
    applies to characters (``splits.test_fraction`` and ``splits.seed``), and its characters are
    drawn from that split only, so curation's ``test_overlap`` rule has nothing to remove.
    ``false``: every character answers questions from the whole pool (the OpenCharacter paper's
    draw); curation then drops the ``train`` answers of every question that a ``test`` character
    also answered: about 17% of the answers at ``test_fraction: 0.1`` and 3 characters per
    question, 9% at 0.05 (``benchmarks/synth/``), generated and then thrown away.
    """

    characters_per_question: int = Field(default=3, ge=1)
    seed: int = 0
    split_aware: bool = True


class SynthDialogues(Strict):
    """One strategy: ``rewrite`` (OpenCharacter-R) or ``generate`` (OpenCharacter-G)."""

    strategy: Literal["rewrite", "generate"]
    corpora: list[str] = Field(min_length=1)
    prompt: Path | None = None  # default: configs/prompts/<strategy>-v1.yaml

    @field_validator("prompt")
    @classmethod
    def _prompt(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        return None if value is None else resolve_file(value, info, "prompt template")

    @property
    def prompt_path(self) -> Path:
        return self.prompt or PROMPTS_DIR / f"{self.strategy}-v1.yaml"


class SynthesisSettings(Strict):
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
        problems = unknown_corpora(corpora, [(d.strategy, d.corpora) for d in self.dialogues])
        if problems:
            raise ValueError("; ".join(problems))
        return self


def unknown_corpora(corpora: list[str], dialogues: list[tuple[Any, Any]]) -> list[str]:
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
