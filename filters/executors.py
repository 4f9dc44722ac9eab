"""Executor selection: the recipe's ``executor:`` section picks how datatrove runs a pipeline."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from datatrove.executor.base import PipelineExecutor
from datatrove.executor.local import LocalPipelineExecutor
from datatrove.pipeline.base import PipelineStep

from ocforge.recipe import ExecutorSettings


def make_executor(
    settings: ExecutorSettings,
    pipeline: Sequence[PipelineStep | Callable],
    logging_dir: str,
    *,
    tasks: int | None = None,
) -> PipelineExecutor:
    """Build the executor for one stage. ``tasks`` overrides the recipe for single-task stages."""
    n_tasks = tasks or settings.tasks
    return LocalPipelineExecutor(
        pipeline=list(pipeline),
        tasks=n_tasks,
        workers=min(settings.workers, n_tasks),
        logging_dir=logging_dir,
        # a build always starts from a clean work folder, so completion markers never go stale
        skip_completed=True,
    )
