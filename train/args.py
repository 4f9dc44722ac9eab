"""A training recipe as TRL's ``SFTConfig`` (and a peft ``LoraConfig`` when it asks for LoRA)."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from ocforge.train.recipe import TrainRecipe


def _schedule(recipe: TrainRecipe) -> tuple[str, dict[str, Any]]:
    """transformers' scheduler for the recipe: a linear decay to a final rate above 0 (the
    paper's 1e-5 -> 1e-6) is the polynomial schedule of power 1 ending at that rate."""
    if recipe.schedule == "linear" and recipe.final_learning_rate > 0:
        return "polynomial", {"lr_end": recipe.final_learning_rate, "power": 1.0}
    if recipe.schedule == "constant":
        return ("constant_with_warmup" if recipe.warmup_ratio else "constant"), {}
    return recipe.schedule, {}


def _checkpointing(config_class: Any, on: bool) -> dict[str, bool]:
    # transformers 5 renamed gradient_checkpointing (TRL's default: on) to activation_checkpointing
    names = {f.name for f in dataclasses.fields(config_class)}
    key = (
        "activation_checkpointing"
        if "activation_checkpointing" in names
        else "gradient_checkpointing"
    )
    return {key: on}


def sft_config(recipe: TrainRecipe, out: Path, max_steps: int | None) -> Any:
    """``SFTConfig`` for a run writing to ``out``; ``max_steps`` (``--max-steps``) wins over the
    recipe's. Loss on assistant tokens only, no reporting, no tqdm (ocforge draws its own bar)."""
    from trl import SFTConfig

    scheduler, scheduler_kwargs = _schedule(recipe)
    steps = max_steps or recipe.max_steps
    model_kwargs: dict[str, Any] = {"dtype": "bfloat16" if recipe.bf16 else "float32"}
    if recipe.attn_implementation:
        model_kwargs["attn_implementation"] = recipe.attn_implementation
    return SFTConfig(
        output_dir=str(out),
        assistant_only_loss=True,
        max_length=recipe.max_length,
        num_train_epochs=recipe.epochs,
        max_steps=steps if steps else -1,
        learning_rate=recipe.learning_rate,
        lr_scheduler_type=scheduler,
        lr_scheduler_kwargs=scheduler_kwargs,
        warmup_steps=recipe.warmup_ratio,  # a float below 1 is a ratio of the total steps
        weight_decay=recipe.weight_decay,
        adam_beta1=recipe.adam_betas[0],
        adam_beta2=recipe.adam_betas[1],
        adam_epsilon=recipe.adam_epsilon,
        max_grad_norm=recipe.max_grad_norm,
        per_device_train_batch_size=recipe.batch_size,
        gradient_accumulation_steps=recipe.gradient_accumulation_steps,
        seed=recipe.seed,
        data_seed=recipe.seed,
        full_determinism=recipe.full_determinism,
        bf16=recipe.bf16,
        use_cpu=recipe.use_cpu,
        **_checkpointing(SFTConfig, recipe.gradient_checkpointing),
        packing=recipe.packing,
        packing_strategy=recipe.packing_strategy,
        padding_free=recipe.padding_free,
        save_strategy="steps",
        save_steps=recipe.save_steps,
        save_total_limit=recipe.save_total_limit,
        logging_steps=recipe.logging_steps,
        report_to="none",
        disable_tqdm=True,
        dataloader_num_workers=0,  # the data order must not depend on worker scheduling
        model_init_kwargs=model_kwargs,
    )


def lora_config(recipe: TrainRecipe) -> Any | None:
    """peft ``LoraConfig`` for a causal LM, or None for full fine-tuning."""
    if recipe.lora is None:
        return None
    from peft import LoraConfig

    return LoraConfig(
        r=recipe.lora.r,
        lora_alpha=recipe.lora.alpha,
        lora_dropout=recipe.lora.dropout,
        target_modules=recipe.lora.target_modules,
        task_type="CAUSAL_LM",
    )
