"""``ocforge eval ...``: lm-eval tasks pinned to a dataset release, runs, and results on model cards."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from ocforge.cli.console import console as _out
from ocforge.cli.console import fail as _fail
from ocforge.cli.console import quiet_hub as _quiet_hub
from ocforge.errors import OcforgeError

app = typer.Typer(
    help="Register lm-eval tasks from a dataset release, run them, record results on model cards.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
)


@app.command("register")
def register_command(
    dataset: Annotated[str, typer.Option("--dataset", help="Release: ORG/NAME@vX.Y.Z.")],
    out: Annotated[
        Path, typer.Option("--out", help="Task folder to write (lm-eval include_path).")
    ],
    prefix: Annotated[
        str | None, typer.Option("--prefix", help="Task name prefix (default: dataset name).")
    ] = None,
    target: Annotated[str, typer.Option("--target", help="local (default) or hf.")] = "local",
) -> None:
    """Write an lm-eval task group pinned to the release's commit, built from its test split."""
    from ocforge.evals.register import register_tasks
    from ocforge.publish.hub_client import connect

    _quiet_hub()
    try:
        with connect(target) as conn:  # type: ignore[arg-type]
            reg = register_tasks(conn.api, dataset, out, prefix=prefix)
    except OcforgeError as exc:
        _fail(exc)
    _out.print(
        f"[green]registered[/] group {reg.group} in {out}: pinned to {reg.dataset_repo}@"
        f"{reg.dataset_revision} (commit {reg.dataset_sha})"
    )
    for task, docs in reg.docs.items():
        _out.print(f"  {task}: {docs} documents ({reg.tasks[task]})")
    _out.print(
        f"lm-eval: TaskManager(include_path='{out}') / lm-eval run --include_path {out} --tasks {reg.group}"
    )


def _print_metrics(record: dict) -> None:
    table = Table(
        title=f"{record['group']} on {record['dataset']['repo_id']}@{record['dataset']['revision']}"
    )
    for col in ("task", "metric", "value"):
        table.add_column(col)
    for task, metrics in record["metrics"].items():
        for metric, value in metrics.items():
            table.add_row(task, metric, f"{value:.4f}")
    _out.print(table)


def _push(conn, repo: str, results: Path) -> None:
    from ocforge.evals.run import push_results

    pushed = push_results(conn.api, repo, results)
    if pushed.commit:
        _out.print(
            f"[green]pushed[/] results to {repo} (commit {pushed.commit}): model-index holds "
            f"{pushed.entries} results; file {pushed.results_path}"
        )
    else:
        _out.print(f"{repo}: model card already holds these results (no commit)")


@app.command("run")
def run_command(
    model: Annotated[
        str, typer.Option("--model", help="Checkpoint folder, or ORG/NAME@REV (REV optional).")
    ],
    tasks: Annotated[Path, typer.Option("--tasks", help="Folder from 'ocforge eval register'.")],
    output: Annotated[Path, typer.Option("--output", help="Folder for results and samples.")],
    backend: Annotated[str, typer.Option("--backend", help="hf (CPU/GPU) or vllm (GPU).")] = "hf",
    limit: Annotated[
        int | None, typer.Option("--limit", help="Documents per task (quick checks).")
    ] = None,
    batch_size: Annotated[str, typer.Option("--batch-size", help="Batch size or 'auto'.")] = "4",
    device: Annotated[str, typer.Option("--device", help="cpu, cuda, cuda:0, ...")] = "cpu",
    dtype: Annotated[
        str | None, typer.Option("--dtype", help="Model dtype (float32 on CPU, else auto).")
    ] = None,
    chat: Annotated[
        bool, typer.Option("--apply-chat-template", help="Wrap prompts in the chat template.")
    ] = False,
    push: Annotated[
        bool, typer.Option("--push", help="Merge results into the model card and upload them.")
    ] = False,
    repo: Annotated[
        str | None, typer.Option("--repo", help="Model repo to push to (default: --model's repo).")
    ] = None,
    target: Annotated[str, typer.Option("--target", help="local (default) or hf.")] = "local",
) -> None:
    """Run the registered task group with lm_eval.simple_evaluate; --push records the results."""
    from ocforge.evals.run import RESULTS_FILE, EvalRunError, run_eval
    from ocforge.publish.hub_client import connect

    _quiet_hub()
    try:
        with connect(target) as conn:  # type: ignore[arg-type]
            size: int | str = int(batch_size) if batch_size.isdigit() else batch_size
            record = run_eval(
                conn.api,
                conn.client_env(),
                model,
                tasks,
                output,
                backend=backend,
                limit=limit,
                batch_size=size,
                device=device,
                dtype=dtype or ("float32" if device == "cpu" else "auto"),
                apply_chat_template=chat,
            )
            _print_metrics(record)
            _out.print(f"results: {output / RESULTS_FILE}")
            if push:
                push_repo = repo or record["model"]["repo_id"]
                if not push_repo:
                    raise EvalRunError("--push with a local --model needs --repo ORG/NAME")
                _push(conn, push_repo, output / RESULTS_FILE)
    except OcforgeError as exc:
        _fail(exc)


@app.command("push")
def push_command(
    results: Annotated[Path, typer.Argument(help="results.json written by 'ocforge eval run'.")],
    repo: Annotated[str, typer.Option("--repo", help="Model repo ORG/NAME.")],
    target: Annotated[str, typer.Option("--target", help="local (default) or hf.")] = "local",
) -> None:
    """Merge a results file into a model card's model-index and upload it (same as run --push)."""
    from ocforge.publish.hub_client import connect

    _quiet_hub()
    try:
        with connect(target) as conn:  # type: ignore[arg-type]
            _push(conn, repo, results)
    except OcforgeError as exc:
        _fail(exc)
