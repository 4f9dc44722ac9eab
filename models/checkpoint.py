"""Check a fine-tuned checkpoint folder before anything is uploaded.

Rules (each failure names the file and what is expected):

* ``config.json`` present and loadable by transformers;
* weights in safetensors; pickle files (``*.bin``, ``*.pt``, ``*.pth``, ``*.ckpt``) are refused
  unless ``allow_pickle`` (they run code when loaded);
* a sharded checkpoint's ``model.safetensors.index.json`` lists exactly the shards on disk, every
  tensor it names is in its shard, no shard holds tensors it does not name, and ``total_size``
  matches the shards;
* tokenizer files present; a chat template present (a warning if not: role-play models are chat
  models);
* no stray training leftovers (optimizer and scheduler states, RNG states, nested
  ``checkpoint-*`` folders, other large files) unless included explicitly.
"""

from __future__ import annotations

import fnmatch
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ocforge.errors import CheckpointError
from ocforge.models.weights import (
    INDEX_NAME,
    check_sharded,
    num_elements,
    safetensors_header,
)

PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt", ".pkl", ".pickle")
TOKENIZER_MODELS = ("tokenizer.json", "tokenizer.model", "vocab.json", "vocab.txt", "spiece.model")
CHAT_TEMPLATE_FILES = ("chat_template.jinja", "chat_template.json")
# files every transformers checkpoint may carry besides weights and tokenizer
KNOWN_FILES = (
    "config.json",
    "generation_config.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "added_tokens.json",
    "merges.txt",
    "trainer_state.json",
    "training_args.json",
    "all_results.json",
    "train_results.json",
    "eval_results.json",
    "LICENSE",
    "LICENSE.md",
    "NOTICE",
    "*.py",  # remote code
    *TOKENIZER_MODELS,
    *CHAT_TEMPLATE_FILES,
)
# training leftovers: (pattern, why)
STRAY_PATTERNS = (
    ("optimizer.*", "optimizer state"),
    ("scheduler.*", "LR scheduler state"),
    ("scaler.*", "gradient scaler state"),
    ("rng_state*", "RNG state"),
    ("training_args.bin", "pickled TrainingArguments"),
    ("checkpoint-*/*", "a checkpoint inside the checkpoint"),
    ("global_step*/*", "DeepSpeed checkpoint state"),
    ("runs/*", "TensorBoard logs"),
    ("wandb/*", "Weights & Biases logs"),
)
LARGE_FILE = 10 * 1024 * 1024


@dataclass
class CheckedCheckpoint:
    """A checkpoint that passed: what will be uploaded and what was learned on the way."""

    root: Path
    files: list[str]  # relative paths to upload, sorted
    weights: list[str]
    config: dict[str, Any]
    has_chat_template: bool
    num_parameters: int
    warnings: list[str] = field(default_factory=list)
    excluded: list[str] = field(default_factory=list)  # left out by --exclude


def _match(rel: str, patterns: list[str] | tuple[str, ...]) -> bool:
    name = rel.rsplit("/", 1)[-1]
    return any(fnmatch.fnmatch(rel, p) or fnmatch.fnmatch(name, p) for p in patterns)


def _check_config(root: Path, problems: list[str]) -> dict[str, Any]:
    path = root / "config.json"
    if not path.is_file():
        problems.append(
            "config.json: missing (transformers cannot load a checkpoint without it; save the "
            "model with save_pretrained)"
        )
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        problems.append(f"config.json: not valid JSON ({exc})")
        return {}
    if not isinstance(data, dict) or "model_type" not in data:
        problems.append("config.json: no 'model_type' key (transformers cannot pick a model class)")
        return data if isinstance(data, dict) else {}
    from transformers import AutoConfig

    try:
        AutoConfig.from_pretrained(str(root))
    except (OSError, ValueError, KeyError, TypeError) as exc:  # what AutoConfig raises
        problems.append(f"config.json: transformers cannot load it: {type(exc).__name__}: {exc}")
    return data


def _list_files(root: Path, exclude: list[str] | tuple[str, ...]) -> tuple[list[str], list[str]]:
    """(files to consider, files excluded): everything but ``.git``; excluded globs and
    ``README.md`` (replaced by the generated card) are not considered."""
    every = sorted(
        p.relative_to(root).as_posix()
        for p in root.rglob("*")
        if p.is_file() and ".git" not in p.relative_to(root).parts
    )
    excluded = [f for f in every if _match(f, exclude)]
    return [f for f in every if f not in excluded and f != "README.md"], excluded


def _check_weights(
    root: Path, files: list[str], allow_pickle: bool, problems: list[str]
) -> tuple[list[str], list[str], int]:
    """(safetensors files, pickle weight files, parameters) of the top folder's weights."""
    safetensors = [f for f in files if f.endswith(".safetensors") and "/" not in f]
    pickles = [
        f
        for f in files
        if f.endswith(PICKLE_SUFFIXES) and not _match(f, [p for p, _ in STRAY_PATTERNS])
    ]
    pickle_weights = [f for f in pickles if "/" not in f]
    if not safetensors and not pickle_weights:
        problems.append(
            "no weights: expected model.safetensors or model-NNNNN-of-NNNNN.safetensors shards"
        )
    if pickle_weights and not allow_pickle:
        if safetensors:
            problems.append(
                f"pickle files next to the safetensors weights: {', '.join(pickle_weights)}; "
                "remove or --exclude them (pickles run code when loaded), or pass --allow-pickle"
            )
        else:
            problems.append(
                f"pickle-only weights: {', '.join(pickle_weights)}; convert them to safetensors "
                "(load the model and save_pretrained it; transformers writes safetensors) or pass "
                "--allow-pickle to publish pickles anyway"
            )
    elements = 0
    if (root / INDEX_NAME).is_file() and INDEX_NAME in files:
        elements = check_sharded(root, safetensors, problems)
    elif len(safetensors) > 1 or any("-of-" in f for f in safetensors):
        problems.append(
            f"{INDEX_NAME}: missing for the sharded weights {', '.join(safetensors)} "
            "(transformers needs it to find the tensors)"
        )
    else:
        for name in safetensors:
            try:
                elements += num_elements(safetensors_header(root / name))
            except ValueError as exc:
                problems.append(f"{name}: not a readable safetensors file ({exc})")
    return safetensors, pickle_weights, elements


def _check_tokenizer(
    root: Path, files: list[str], problems: list[str], warnings: list[str]
) -> bool:
    """Check the tokenizer files; return whether a chat template is there."""
    tok_config_path = root / "tokenizer_config.json"
    tok_config: dict[str, Any] = {}
    if not tok_config_path.is_file():
        problems.append("tokenizer_config.json: missing (save the tokenizer with save_pretrained)")
    else:
        try:
            tok_config = json.loads(tok_config_path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            problems.append(f"tokenizer_config.json: not valid JSON ({exc})")
    if not any(f in files for f in TOKENIZER_MODELS):
        problems.append(
            "tokenizer files: none of "
            + ", ".join(TOKENIZER_MODELS)
            + " (the tokenizer's vocabulary)"
        )
    has_chat = bool(tok_config.get("chat_template")) or any(f in files for f in CHAT_TEMPLATE_FILES)
    if not has_chat:
        warnings.append(
            "no chat template (tokenizer_config.json 'chat_template' or chat_template.jinja): "
            "role-play models are chat models; users will have to supply one"
        )
    return has_chat


def _check_strays(
    root: Path, files: list[str], weights: set[str], include: list[str] | tuple[str, ...]
) -> list[str]:
    """Training leftovers and large unknown files, unless ``include``d."""
    problems = []
    for rel in files:
        if _match(rel, include):
            continue
        why = next(
            (why for pat, why in STRAY_PATTERNS if _match(rel, [pat]) or fnmatch.fnmatch(rel, pat)),
            None,
        )
        if why is None and rel not in weights and rel != INDEX_NAME:
            size = (root / rel).stat().st_size
            if not _match(rel, KNOWN_FILES) and size >= LARGE_FILE:
                why = f"large file ({size / 2**20:.0f} MiB) of unknown purpose"
        if why:
            problems.append(
                f"{rel}: stray {why}; --exclude it, or --include it to upload it anyway"
            )
    return problems


def check_checkpoint(
    checkpoint: Path,
    *,
    allow_pickle: bool = False,
    include: list[str] | tuple[str, ...] = (),
    exclude: list[str] | tuple[str, ...] = (),
) -> CheckedCheckpoint:
    """Validate ``checkpoint`` and list the files to upload.

    ``include``/``exclude`` are glob patterns on relative paths (or file names): included files
    are uploaded even if they look stray; excluded files are left out. A ``README.md`` in the folder
    is replaced by the generated model card.

    Raises:
        CheckpointError: with every problem found (not just the first).
    """
    root = Path(checkpoint)
    if not root.is_dir():
        raise CheckpointError(root, [f"{root}: not a folder"])
    problems: list[str] = []
    warnings: list[str] = []
    files, excluded = _list_files(root, exclude)
    config = _check_config(root, problems)
    safetensors, pickle_weights, elements = _check_weights(root, files, allow_pickle, problems)
    has_chat = _check_tokenizer(root, files, problems, warnings)
    problems += _check_strays(root, files, {*safetensors, *pickle_weights}, include)
    if problems:
        raise CheckpointError(root, problems)
    return CheckedCheckpoint(
        root=root,
        files=files,
        weights=safetensors + (pickle_weights if allow_pickle else []),
        config=config,
        has_chat_template=has_chat,
        num_parameters=elements,
        warnings=warnings,
        excluded=excluded,
    )


def training_facts(root: Path) -> dict[str, Any]:
    """Facts from ``trainer_state.json`` and ``training_args.json`` when present (never from the
    pickled ``training_args.bin``). Unknown or absent values are left out."""
    facts: dict[str, Any] = {}
    state_path = root / "trainer_state.json"
    if state_path.is_file():
        try:
            state = json.loads(state_path.read_text(encoding="utf-8"))
        except json.JSONDecodeError:
            state = {}
        for key in (
            "global_step",
            "epoch",
            "num_train_epochs",
            "max_steps",
            "train_batch_size",
            "total_flos",
        ):
            if state.get(key) is not None:
                facts[key] = state[key]
        losses = [e["loss"] for e in state.get("log_history", []) if "loss" in e]
        if losses:
            facts["final_train_loss"] = losses[-1]
        evals = [e["eval_loss"] for e in state.get("log_history", []) if "eval_loss" in e]
        if evals:
            facts["final_eval_loss"] = evals[-1]
    args_path = root / "training_args.json"
    if args_path.is_file():
        try:
            args = json.loads(args_path.read_text(encoding="utf-8"))
        except json.JSONDecodeError:
            args = {}
        for key in (
            "learning_rate",
            "lr_scheduler_type",
            "warmup_ratio",
            "per_device_train_batch_size",
            "gradient_accumulation_steps",
            "num_train_epochs",
            "weight_decay",
            "seed",
            "bf16",
            "max_length",
        ):
            if args.get(key) is not None:
                facts.setdefault(key, args[key])
    return facts
