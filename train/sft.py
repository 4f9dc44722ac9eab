"""``ocforge train sft``: supervised fine-tuning of a base model on a dataset release.

A run resolves the release's tag to its commit, loads the recipe's configs (``train`` split) at
that commit, applies the data mix, counts the rows truncation would leave without an assistant
token, trains with TRL's ``SFTTrainer`` (loss on assistant tokens only), and leaves in ``OUT`` the
model, ``trainer_state.json``, ``training_args.json``, ``training.json`` and a README note.

Checkpoints (``OUT/checkpoint-N``, every ``save_steps``) and the fetched rows
(``OUT/.ocforge-train/``) stay until the run ends, so ``--resume`` after a kill continues from the
last checkpoint on the very same rows; they are removed when it finishes (``keep_checkpoints``
keeps the checkpoints).
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ocforge.errors import TrainError
from ocforge.publish.dataset_ref import DatasetRelease
from ocforge.train import manifest as mf
from ocforge.train.args import lora_config, sft_config
from ocforge.train.base_model import BaseModel, resolve_base_model
from ocforge.train.data import ConfigLedger, check_configs, mix
from ocforge.train.fetch import fetch_train_splits
from ocforge.train.recipe import DEFAULT_TRAIN_RECIPE, TrainRecipe, load_train_recipe
from ocforge.train.release_ref import resolve
from ocforge.train.template import TrainingTemplate, training_template

WORK_DIR = ".ocforge-train"
RUN_FILE = "run.json"


@dataclass
class SftResult:
    out: Path
    manifest: dict[str, Any]
    resumed_from: str | None  # the checkpoint a --resume continued from

    @property
    def global_step(self) -> int:
        return self.manifest["run"]["global_step"]


def _checkpoints(out: Path) -> list[Path]:
    found = [p for p in out.glob("checkpoint-*") if p.name.split("-")[-1].isdigit()]
    return sorted(found, key=lambda p: int(p.name.split("-")[-1]))


def _resume_point(out: Path) -> Path | None:
    """The last complete checkpoint (the Trainer writes ``trainer_state.json`` last, so one
    without it was cut short by a kill: it is removed, training redoes its steps)."""
    complete = None
    for ckpt in _checkpoints(out):
        if (ckpt / "trainer_state.json").is_file():
            complete = ckpt
        else:
            shutil.rmtree(ckpt)
    return complete


def _prepare_out(out: Path, resume: bool, run: dict[str, Any]) -> None:
    """A fresh run needs an empty ``out``; ``--resume`` needs the same run as the one there.

    Raises:
        TrainError: what is in ``out`` and what to do about it.
    """
    record = out / WORK_DIR / RUN_FILE
    if resume and record.is_file():
        before = json.loads(record.read_text())
        changed = sorted(k for k in run if before.get(k) != run[k])
        if changed:
            raise TrainError(
                f"--resume: {out} holds a run with other {', '.join(changed)} "
                f"({'; '.join(f'{k}: {before.get(k)!r}' for k in changed)}); resume with the "
                "same options, or train into a new --out"
            )
        return
    if (out / mf.TRAINING_MANIFEST).is_file():
        raise TrainError(f"{out} already holds a finished training run: choose another --out")
    # a folder holding only the fetched rows of a run that never reached training may restart
    if out.is_dir() and any(p.name != WORK_DIR for p in out.iterdir()):
        hint = " (pass --resume to continue it)" if _checkpoints(out) else ""
        raise TrainError(f"--out {out} is not empty{hint}: train into an empty or new folder")
    record.parent.mkdir(parents=True, exist_ok=True)
    record.write_text(json.dumps(run, indent=2, sort_keys=True))


def build_trainer(
    recipe: TrainRecipe,
    base: BaseModel,
    tokenizer: Any,
    template: TrainingTemplate,
    train_ds: Any,
    out: Path,
    max_steps: int | None = None,
    callbacks: list[Any] | None = None,
) -> Any:
    """An ``SFTTrainer`` for the recipe (a patched TRL template stays TRL's to apply).

    Raises:
        TrainError: TRL or transformers refused the settings (the recipe is named).
    """
    from transformers.trainer_callback import PrinterCallback
    from trl import SFTTrainer

    try:
        args = sft_config(recipe, out, max_steps)
        trainer = SFTTrainer(
            model=str(base.path),
            args=args,
            train_dataset=train_ds,
            processing_class=tokenizer,
            peft_config=lora_config(recipe),
            callbacks=callbacks,
        )
    except (ValueError, TypeError) as exc:
        raise TrainError(f"recipe {recipe.path}: TRL refused the settings: {exc}") from None
    trainer.remove_callback(PrinterCallback)  # the log dicts: the progress bar shows the loss
    return trainer


def _check_prepared(trainer: Any, ledgers: dict[str, ConfigLedger], recipe: TrainRecipe) -> None:
    """TRL's prepared rows must be the rows counted: otherwise training.json would lie."""
    used = sum(led.used for led in ledgers.values())
    if not recipe.packing and len(trainer.train_dataset) != used:
        raise TrainError(
            f"TRL prepared {len(trainer.train_dataset)} rows but ocforge counted {used}: the "
            "tokenisation differs (please report this with the recipe and the base model)"
        )


def _finish(trainer: Any, out: Path, recipe: TrainRecipe) -> None:
    """Final weights in ``out`` (LoRA merged into the base), JSON state and arguments, no
    pickles, no leftovers."""
    model = trainer.model
    if hasattr(model, "merge_and_unload"):  # peft: publish a whole model, not an adapter
        model.merge_and_unload().save_pretrained(out)
        trainer.processing_class.save_pretrained(out)
    else:
        trainer.save_model(str(out))
    trainer.save_state()
    (out / "training_args.bin").unlink(missing_ok=True)  # pickled: never published
    (out / "training_args.json").write_text(trainer.args.to_json_string(), encoding="utf-8")
    if not recipe.keep_checkpoints:
        for ckpt in _checkpoints(out):
            shutil.rmtree(ckpt)
    shutil.rmtree(out / WORK_DIR, ignore_errors=True)


def _manifest(
    release: DatasetRelease,
    recipe: TrainRecipe,
    base: BaseModel,
    template: TrainingTemplate,
    ledgers: dict[str, ConfigLedger],
    state: Any,
    max_steps: int | None,
) -> dict[str, Any]:
    data = {}
    for source in recipe.data:
        entry = ledgers[source.config].as_dict()
        entry["corpora_selected"] = source.corpora
        data[source.config] = entry
    return {
        "format": mf.FORMAT,
        "tool": "ocforge train sft",
        "dataset": {
            "repo_id": release.repo_id,
            "revision": release.revision,
            "sha": release.sha,
            "version": release.version,
            "split": "train",
        },
        "data": data,
        "rows_used": sum(led.used for led in ledgers.values()),
        "recipe": {
            "name": recipe.name,
            "file": recipe.path.name if recipe.path else None,
            "sha256": recipe.sha256,
            "text": recipe.text,
        },
        "base_model": base.as_dict(),
        "chat_template": {"source": template.source, "sha256": template.sha256},
        "run": {
            "seed": recipe.seed,
            "max_steps": max_steps or recipe.max_steps,
            "global_step": state.global_step,
            "epoch": state.epoch,
            "max_length": recipe.max_length,
            "lora": recipe.lora is not None,
        },
        "versions": mf.tool_versions(),
    }


@dataclass
class PreparedRun:
    """Everything a run needs, built but not trained yet (the benchmark and tests inspect it)."""

    recipe: TrainRecipe
    release: DatasetRelease
    base: BaseModel
    template: TrainingTemplate
    ledgers: dict[str, ConfigLedger]
    train_dataset: Any  # the mixed rows (``messages``), before TRL's tokenisation
    tokenizer: Any
    out: Path


def prepare_run(
    conn: Any,
    dataset: str,
    out: Path,
    *,
    base_model: str | None = None,
    recipe: TrainRecipe | None = None,
    max_steps: int | None = None,
    resume: bool = False,
) -> PreparedRun:
    """Resolve, check the output folder, fetch the rows, resolve the template, mix the data.

    Raises:
        TrainError: the release, base model, data or output folder do not allow the run.
    """
    recipe = recipe or load_train_recipe(DEFAULT_TRAIN_RECIPE)
    base_ref = base_model or recipe.base_model
    if not base_ref:
        raise TrainError(f"no base model: pass --base-model or set base_model in {recipe.path}")
    out = Path(out)
    release = resolve(conn.api, dataset)
    check_configs(release.manifest, recipe.data)
    run = {"dataset": f"{release.repo_id}@{release.sha}", "recipe_sha256": recipe.sha256}
    run |= {"base_model": base_ref, "max_steps": max_steps}
    _prepare_out(out, resume, run)
    work = out / WORK_DIR
    configs = [s.config for s in recipe.data]
    folders = fetch_train_splits(
        conn.client_env(), release.repo_id, release.sha, configs, work / "data"
    )
    base = resolve_base_model(conn, base_ref, work)
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(base.path))
    template = training_template(tokenizer, recipe.chat_template, base_ref)
    train_ds, ledgers = mix(folders, recipe.data, tokenizer, template.template, recipe.max_length)
    return PreparedRun(recipe, release, base, template, ledgers, train_ds, tokenizer, out)


def run_sft(
    conn: Any,
    dataset: str,
    out: Path,
    *,
    base_model: str | None = None,
    recipe_path: Path | None = None,
    max_steps: int | None = None,
    resume: bool = False,
    callbacks: list[Any] | None = None,
    progress: bool = False,
) -> SftResult:
    """Train as described in the module docstring; ``conn`` is an open Hub connection.
    ``progress`` draws a progress bar on a terminal (:mod:`.progress`).

    Raises:
        RecipeError: the recipe is invalid (every problem with file:line).
        TrainError: the release, base model, data or output folder do not allow the run.
    """
    recipe = load_train_recipe(recipe_path or DEFAULT_TRAIN_RECIPE)
    p = prepare_run(
        conn, dataset, out, base_model=base_model, recipe=recipe, max_steps=max_steps, resume=resume
    )
    callbacks = list(callbacks or [])
    if progress:  # imported here: transformers loads slowly, and bad options should fail fast
        from ocforge.train.progress import ProgressCallback

        callbacks.append(ProgressCallback())
    trainer = build_trainer(
        recipe, p.base, p.tokenizer, p.template, p.train_dataset, p.out, max_steps, callbacks
    )
    _check_prepared(trainer, p.ledgers, recipe)
    last = _resume_point(p.out) if resume else None
    trainer.train(resume_from_checkpoint=str(last) if last else None)
    _finish(trainer, p.out, recipe)
    manifest = _manifest(p.release, recipe, p.base, p.template, p.ledgers, trainer.state, max_steps)
    mf.write_manifest(p.out, manifest)
    (p.out / "README.md").write_text(
        mf.README_NOTE.format(out=p.out, base=p.base.ref, dataset=dataset), encoding="utf-8"
    )
    return SftResult(out=p.out, manifest=manifest, resumed_from=last.name if last else None)
