"""Executor selection: the recipe's ``executor:`` section picks how datatrove runs each stage.

- ``local``: LocalPipelineExecutor (``tasks`` x ``workers`` processes);
- ``ray``: RayPipelineExecutor, on the cluster ``ray.init(address=...)`` connects to (or a local
  one it starts);
- ``slurm``: SlurmPipelineExecutor. A chain of stages is submitted at once, each job array
  depending (``afterok``) on the previous stage's job; the build waits for the chain's last stage
  by watching datatrove's completion markers, then goes on.

Nothing else in the recipe changes with the executor, and every executor skips the tasks whose
completion marker exists (datatrove's ``skip_completed``), which is how a build resumes.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Sequence

from datatrove.executor.base import PipelineExecutor
from datatrove.executor.local import LocalPipelineExecutor
from datatrove.pipeline.base import PipelineStep

from ocforge.errors import BuildError
from ocforge.recipe import ExecutorSettings

Pipeline = Sequence[PipelineStep | Callable]

# whether local tasks log to the console; the CLI turns it off unless --verbose (task log files
# under the stage's logs/ folder are written either way)
CONSOLE_LOGS = True


# What a local task imports, loaded once in the forkserver that datatrove's pools fork their
# workers from, instead of in every worker of every stage: a stage's pool then starts in about
# 0.1 s instead of 1.3 s (a build runs a dozen). Set before the forkserver starts; a module
# that fails to import there is skipped by multiprocessing and imported by the worker itself.
_FORKSERVER_PRELOAD = ["ocforge.flows.build"]


def _preload_forkserver() -> None:
    import multiprocess

    multiprocess.set_forkserver_preload(_FORKSERVER_PRELOAD)


class _LocalExecutor(LocalPipelineExecutor):
    """LocalPipelineExecutor whose tasks can keep the console quiet: datatrove re-adds a stderr
    log handler in every worker process (started fresh by forkserver), so disabling its logger
    in the parent does not reach them; a task with ``local_rank != 0`` logs only errors there."""

    def __init__(self, *args, console_logs: bool = True, **kwargs):
        super().__init__(*args, **kwargs)
        self.console_logs = console_logs

    def _run_for_rank(self, rank: int, local_rank: int = 0, node_rank: int = -1):
        return super()._run_for_rank(rank, local_rank if self.console_logs else 1, node_rank)

    def _launch_run_for_rank(self, rank: int, ranks_q, completed=None, completed_lock=None):
        if not self.console_logs:  # its "n/N tasks completed" line goes to the console
            from loguru import logger

            logger.disable("datatrove.executor.local")
        return super()._launch_run_for_rank(rank, ranks_q, completed, completed_lock)


def make_executor(
    settings: ExecutorSettings,
    pipeline: Pipeline,
    logging_dir: str,
    *,
    tasks: int | None = None,
    depends: PipelineExecutor | None = None,
    job_name: str | None = None,
) -> PipelineExecutor:
    """Build the executor for one stage. ``tasks`` overrides the recipe for stages with a fixed
    task count (one finder, one per MinHash bucket); ``depends`` chains Slurm jobs."""
    n_tasks = tasks or settings.tasks
    workers = min(settings.workers, n_tasks)
    if settings.type == "ray":
        from datatrove.executor.ray import RayPipelineExecutor

        return RayPipelineExecutor(
            pipeline=list(pipeline),
            tasks=n_tasks,
            workers=workers,
            logging_dir=logging_dir,
            skip_completed=True,
            cpus_per_task=settings.ray.cpus_per_task,
            mem_per_cpu_gb=settings.ray.mem_per_cpu_gb,
        )
    if settings.type == "slurm":
        from datatrove.executor.slurm import SlurmPipelineExecutor

        slurm = settings.slurm
        assert slurm is not None  # the recipe schema requires it for type slurm
        return SlurmPipelineExecutor(
            pipeline=list(pipeline),
            tasks=n_tasks,
            workers=-1,
            time=slurm.time,
            partition=slurm.partition,
            cpus_per_task=slurm.cpus_per_task,
            mem_per_cpu_gb=slurm.mem_per_cpu_gb,
            qos=slurm.qos or "normal",
            sbatch_args=dict(slurm.sbatch_args),
            venv_path=slurm.venv_path,
            job_name=f"{slurm.job_name}-{job_name}" if job_name else slurm.job_name,
            logging_dir=logging_dir,
            skip_completed=True,
            depends=depends,
            mail_type="NONE",
        )
    _preload_forkserver()
    return _LocalExecutor(
        pipeline=list(pipeline),
        tasks=n_tasks,
        workers=workers,
        logging_dir=logging_dir,
        skip_completed=True,
        console_logs=CONSOLE_LOGS,
    )


def _ensure_ray(settings: ExecutorSettings) -> None:
    import ray

    if not ray.is_initialized():
        ray.init(address=settings.ray.address, include_dashboard=False, log_to_driver=False)


def _slurm_job_alive(job_id: str) -> bool:
    try:
        out = subprocess.run(
            ["squeue", "--noheader", "--jobs", str(job_id)],
            capture_output=True,
            text=True,
            timeout=60,
        )
    except (OSError, subprocess.TimeoutExpired):
        return True  # cannot tell: keep waiting on the completion markers
    return bool(out.stdout.strip())


def wait_for_completion(executor: PipelineExecutor, poll_seconds: float = 5.0) -> None:
    """Block until every task of ``executor`` has its completion marker.

    Raises:
        BuildError: the Slurm job left the queue with tasks still incomplete.
    """
    while True:
        incomplete = executor.get_incomplete_ranks(skip_completed=True)
        if not incomplete:
            return
        job_id = getattr(executor, "job_id", None)
        if job_id not in (None, -1) and not _slurm_job_alive(job_id):
            # the queue may lag behind the markers: look once more before failing
            time.sleep(poll_seconds)
            incomplete = executor.get_incomplete_ranks(skip_completed=True)
            if incomplete:
                raise BuildError(
                    f"Slurm job {job_id} ended with {len(incomplete)} task(s) incomplete "
                    f"(ranks {incomplete[:10]}); see its logs in {executor.logging_dir.path}"
                )
            return
        time.sleep(poll_seconds)


def run_chain(settings: ExecutorSettings, executors: list[PipelineExecutor]) -> None:
    """Run stages in order. Local and Ray run each to completion; Slurm submits the chain's last
    executor (datatrove launches its ``depends`` first) and waits for it."""
    if not executors:
        return
    if settings.type == "slurm":
        executors[-1].run()
        for executor in executors:
            wait_for_completion(executor, poll_seconds=2.0)
        return
    if settings.type == "ray":
        _ensure_ray(settings)
    for executor in executors:
        executor.run()
