"""Training recipes: one YAML file describes one SFT run (data mix, lengths, optimiser, schedule,
precision, checkpoints, optional LoRA).

Validated like dataset recipes: unknown keys are errors and every problem names the file, the
line and the YAML path of the key (``ocforge.recipe.yaml_problems``).
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from ocforge.errors import RecipeError
from ocforge.recipe import CONFIGS_DIR, load_yaml_model, yaml_problems

TRAIN_CONFIGS = CONFIGS_DIR / "train"
DEMO_TRAIN_RECIPE = TRAIN_CONFIGS / "demo-cpu.yaml"
DEFAULT_TRAIN_RECIPE = TRAIN_CONFIGS / "opencharacter-8b.yaml"
# attention kernels that keep packed / flattened sequences apart (TRL's documented requirement)
VARLEN_ATTENTION = ("flash_attention_2", "flash_attention_3", "kernels-community/flash-attn")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DataSource(_Strict):
    """One config of the release (``generate`` = OpenCharacter-G, ``rewrite`` = -R), optionally
    only the rows of some source corpora (``source_corpus``: lima, alpaca, ph-instruct, ...)."""

    config: str = Field(min_length=1)
    corpora: list[str] | None = Field(default=None, min_length=1)  # None: every corpus


class LoraSettings(_Strict):
    """LoRA through peft; without it the whole model is fine-tuned."""

    r: int = Field(default=16, ge=1)
    alpha: int = Field(default=32, ge=1)
    dropout: float = Field(default=0.05, ge=0.0, lt=1.0)
    target_modules: list[str] | Literal["all-linear"] = "all-linear"


class TrainRecipe(_Strict):
    """A whole training recipe. ``path``, ``text`` and ``sha256`` are filled in by the loader."""

    name: str = Field(pattern=r"^[\w.\-]+$")
    description: str = ""
    base_model: str | None = None  # the model the recipe was written for (--base-model wins)
    # a Jinja chat template with {% generation %} markers, for base models whose own has none
    chat_template: Path | None = None
    data: list[DataSource] = Field(min_length=1)
    max_length: int | None = Field(default=4096, ge=8)
    epochs: float = Field(default=1.0, gt=0)
    max_steps: int | None = Field(default=None, ge=1)  # overrides epochs (--max-steps wins)
    learning_rate: float = Field(default=1e-5, gt=0)
    schedule: Literal["linear", "cosine", "constant"] = "linear"
    final_learning_rate: float = Field(default=0.0, ge=0)  # linear: decay to this, not to 0
    warmup_ratio: float = Field(default=0.0, ge=0, lt=1)
    weight_decay: float = Field(default=0.0, ge=0)
    adam_betas: tuple[float, float] = (0.9, 0.999)
    adam_epsilon: float = Field(default=1e-8, gt=0)
    max_grad_norm: float = Field(default=1.0, gt=0)
    batch_size: int = Field(default=1, ge=1)  # per device
    gradient_accumulation_steps: int = Field(default=1, ge=1)
    seed: int = 0
    bf16: bool = True
    use_cpu: bool = False
    full_determinism: bool = False  # deterministic kernels: a resumed run equals an unbroken one
    gradient_checkpointing: bool = True
    attn_implementation: str | None = None  # e.g. flash_attention_2 (needed for packing)
    packing: bool = False
    packing_strategy: Literal["bfd", "bfd_split", "wrapped"] = "bfd"
    padding_free: bool = False
    save_steps: int = Field(default=500, ge=1)
    save_total_limit: int | None = Field(default=2, ge=1)
    keep_checkpoints: bool = False  # keep OUT/checkpoint-N after a finished run
    logging_steps: int = Field(default=10, ge=1)
    lora: LoraSettings | None = None

    path: Path | None = Field(default=None, exclude=True)
    text: str | None = Field(default=None, exclude=True)
    sha256: str | None = Field(default=None, exclude=True)

    @field_validator("chat_template")
    @classmethod
    def _template_file(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        if value is None:
            return None
        base = (info.context or {}).get("base_dir")
        resolved = (Path(base) / value) if base and not value.is_absolute() else value
        if not resolved.is_file():
            raise ValueError(f"chat template file not found: {resolved}")
        return resolved.resolve()

    @field_validator("adam_betas")
    @classmethod
    def _betas(cls, value: tuple[float, float]) -> tuple[float, float]:
        if not all(0.0 <= b < 1.0 for b in value):
            raise ValueError(f"Adam betas must lie in [0, 1), got {list(value)}")
        return value


def setting_problems(r: TrainRecipe) -> list[tuple[tuple[Any, ...], str]]:
    """(YAML path, message) for combinations TRL would reject late, or run unsafely: named
    before anything is loaded."""
    out: list[tuple[tuple[Any, ...], str]] = []
    if r.bf16 and r.use_cpu:
        out.append((("bf16",), "bf16 mixed precision needs a GPU: set bf16: false with use_cpu"))
    if (r.packing or r.padding_free) and r.attn_implementation not in VARLEN_ATTENTION:
        key = "packing" if r.packing else "padding_free"
        out.append(
            (
                (key,),
                "packing and padding_free put several rows in one sequence, which only a varlen "
                f"attention kernel keeps apart: set attn_implementation to one of "
                f"{', '.join(VARLEN_ATTENTION)}, or turn packing and padding_free off",
            )
        )
    if r.padding_free and not r.packing and r.max_length is not None:
        out.append((("padding_free",), "without packing it does not enforce max_length"))
    if r.packing and r.max_length is None:
        out.append((("packing",), "needs max_length (the length of a packed sequence)"))
    if r.final_learning_rate and (
        r.schedule != "linear" or r.final_learning_rate >= r.learning_rate
    ):
        out.append(
            (("final_learning_rate",), "needs schedule: linear and a value below learning_rate")
        )
    configs = [d.config for d in r.data]
    for i, name in enumerate(configs):
        if name in configs[:i]:
            out.append((("data", i, "config"), f"config {name!r} is already in data"))
    return out


def load_train_recipe(path: str | Path) -> TrainRecipe:
    """Read and validate a training recipe; relative paths resolve against its folder.

    Raises:
        RecipeError: unreadable, not YAML, or not the schema (every problem with file:line).
    """
    path = Path(path)
    recipe, raw = load_yaml_model(path, TrainRecipe, context={"base_dir": path.resolve().parent})
    problems = setting_problems(recipe)  # type: ignore[arg-type]
    if problems:
        root = yaml.compose(raw.decode("utf-8", errors="replace"))
        errors = [{"loc": loc, "msg": msg, "type": "value_error"} for loc, msg in problems]
        raise RecipeError(str(path), yaml_problems(root, errors, str(path)))
    return recipe.model_copy(  # type: ignore[return-value]
        update={
            "path": path.resolve(),
            "text": raw.decode("utf-8"),
            "sha256": hashlib.sha256(raw).hexdigest(),
        }
    )
