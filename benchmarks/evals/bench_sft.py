"""Share of non-padding tokens per SFT batch: a training recipe's packing / padding-free settings
against TRL's defaults (no packing, padded batches), on the demo release, in one run.

The demo corpus is built and released to an in-process local Hub, the tiny chat model is built
from scratch, and both settings go through ``ocforge.train``'s real path (release resolved to
its commit, rows fetched with ``load_dataset``, data mix, chat template with generation markers,
TRL's ``SFTTrainer`` dataset preparation and collator). Every batch of one epoch of the trainer's
dataloader is counted; nothing is trained (no forward pass, so the CPU is enough: the recipe's
GPU settings bf16 and flash attention are switched off, its packing settings are not).

Both sides use the recipe's ``max_length`` and ``batch_size``, so the ratio isolates packing.

    python benchmarks/evals/bench_sft.py [--recipe configs/train/opencharacter-8b.yaml]

Prints JSON: per side the batches, real (non-padding) tokens, padded tokens and their share,
rows and real tokens per batch; and ``share_ratio`` = the recipe's share / the defaults' share.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from ocforge.hub import Identity, LocalHub
from ocforge.train.recipe import (
    DEFAULT_TRAIN_RECIPE,
    TRAIN_CONFIGS,
    TrainRecipe,
    load_train_recipe,
)

TOKEN = "hf_benchmark_sft_token_000000000"
REPO = "ocforge/demo"
CHATML = TRAIN_CONFIGS / "chatml-generation.jinja"


def _rows_in(batch: dict[str, Any]) -> int:
    """Sequences in a batch: padded rows, or the position resets of a flattened one."""
    if "position_ids" in batch and batch["input_ids"].shape[0] == 1:
        return int((batch["position_ids"][0] == 0).sum())
    return int(batch["input_ids"].shape[0])


def measure(trainer: Any, pad_id: int) -> dict[str, Any]:
    batches = real = total = rows = 0
    for batch in trainer.get_train_dataloader():
        ids = batch["input_ids"]
        mask = batch.get("attention_mask")
        real += int(mask.sum()) if mask is not None else int((ids != pad_id).sum())
        total += ids.numel()
        rows += _rows_in(batch)
        batches += 1
    return {
        "batches": batches,
        "real_tokens": real,
        "tokens_with_padding": total,
        "non_padding_share": round(real / total, 4),
        "rows_per_batch": round(rows / batches, 2),
        "real_tokens_per_batch": round(real / batches, 1),
    }


def _setup(root: Path, hub: LocalHub) -> Path:
    from ocforge.builders.synthesis.tiny_model import build_tiny_chat_model
    from ocforge.flows.build import build
    from ocforge.flows.release import release_build
    from ocforge.recipe import DEMO_RECIPE, load_recipe

    built = build(load_recipe(DEMO_RECIPE), root / "build")
    release_build(built.out_dir, REPO, version="1.0.0", endpoint=hub.endpoint, token=TOKEN)
    return build_tiny_chat_model(root / "tiny")


def _cpu(recipe: TrainRecipe, **changes: Any) -> TrainRecipe:
    # model_copy skips validation on purpose: packing without flash attention is refused for
    # training, but batches are only counted here
    # the tiny model's ChatML template gets the shipped copy with generation markers (the 8B
    # recipe relies on TRL's patch of Llama-3's template instead)
    base = {"bf16": False, "use_cpu": True, "attn_implementation": None, "chat_template": CHATML}
    base |= {"gradient_checkpointing": False, "full_determinism": False}
    return recipe.model_copy(update={**base, **changes})


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--recipe", type=Path, default=DEFAULT_TRAIN_RECIPE)
    args = parser.parse_args(argv)
    from ocforge.cli.common import datatrove_logs
    from ocforge.publish.hub_client import connect
    from ocforge.train.sft import build_trainer, prepare_run

    datatrove_logs(False)
    recipe = load_train_recipe(args.recipe)
    sides = {
        "trl_defaults": _cpu(recipe, packing=False, padding_free=False),
        "recipe_settings": _cpu(recipe),
    }
    out: dict[str, Any] = {"recipe": str(args.recipe), "max_length": recipe.max_length}
    out |= {"batch_size": recipe.batch_size, "packing": recipe.packing}
    out["packing_strategy"] = recipe.packing_strategy if recipe.packing else None
    out["padding_free"] = recipe.padding_free or (
        recipe.packing and recipe.packing_strategy != "wrapped"
    )
    with tempfile.TemporaryDirectory(prefix="ocforge-bench-sft-") as tmp:
        root = Path(tmp)
        tokens = {TOKEN: Identity("bench", orgs=frozenset({"ocforge"}))}
        with LocalHub(root / "hub", tokens=tokens) as hub:
            model = _setup(root, hub)
            with connect("local", endpoint=hub.endpoint, token=TOKEN) as conn:
                for name, side in sides.items():
                    start = time.perf_counter()
                    p = prepare_run(
                        conn, f"{REPO}@v1.0.0", root / name, base_model=str(model), recipe=side
                    )
                    trainer = build_trainer(
                        side, p.base, p.tokenizer, p.template, p.train_dataset, p.out
                    )
                    out[name] = measure(trainer, p.tokenizer.pad_token_id)
                    out[name]["rows_used"] = sum(led.used for led in p.ledgers.values())
                    out[name]["seconds"] = round(time.perf_counter() - start, 2)
    out["share_ratio"] = round(
        out["recipe_settings"]["non_padding_share"] / out["trl_defaults"]["non_padding_share"], 3
    )
    print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
