"""A progress bar for training: step of total, the last logged loss and the time left.

Drawn with rich on a terminal only; in CI (no TTY) it stays quiet and the command prints its
summary at the end. Replaces the Trainer's own tqdm bar (``disable_tqdm``).
"""

from __future__ import annotations

from typing import Any

from transformers import TrainerCallback


class ProgressCallback(TrainerCallback):
    """``on_step_end`` advances the bar; ``on_log`` shows the loss."""

    def __init__(self, console: Any | None = None) -> None:
        from rich.console import Console

        self.console = console or Console(stderr=True)
        self._progress: Any = None
        self._task: Any = None
        self._loss = "-"

    @property
    def enabled(self) -> bool:
        return bool(self.console.is_terminal)

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if not self.enabled:
            return
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self._progress = Progress(
            TextColumn("[bold]train[/] step"),
            MofNCompleteColumn(),
            BarColumn(),
            TextColumn("loss {task.fields[loss]}"),
            TimeElapsedColumn(),
            TextColumn("left"),
            TimeRemainingColumn(),
            console=self.console,
            transient=False,
        )
        self._progress.start()
        # a resumed run starts at the checkpoint's step; the bar's time left counts from there
        self._task = self._progress.add_task(
            "train", total=state.max_steps, completed=state.global_step, loss=self._loss
        )

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if self._progress is not None:
            self._progress.update(self._task, completed=state.global_step, loss=self._loss)

    def on_log(self, args: Any, state: Any, control: Any, logs: Any = None, **kwargs: Any) -> None:
        if self._progress is not None and logs and "loss" in logs:
            self._loss = f"{logs['loss']:.4f}"
            self._progress.update(self._task, loss=self._loss)

    def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if self._progress is not None:
            self._progress.update(self._task, completed=state.global_step, loss=self._loss)
            self._progress.stop()
            self._progress = None
