"""``ocforge eval ...``: lm-eval tasks pinned to a dataset release, runs, and results on model cards."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from ocforge.cli.console import TargetOpt, connected
from ocforge.cli.console import console as _out

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
    target: TargetOpt = "local",
) -> None:
    """Write an lm-eval task group pinned to the release's commit, built from its test split."""
    from ocforge.evals.register import register_tasks

    with connected(target) as conn:
        reg = register_tasks(conn.api, dataset, out, prefix=prefix)
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


def _push_repo(repo: str | None, record: dict) -> str:
    """--repo, else the Hub repo --model named."""
    from ocforge.errors import EvalRunError

    target = repo or record["model"]["repo_id"]
    if not target:
        raise EvalRunError("--push with a local --model needs --repo ORG/NAME")
    return target


def _push(conn, repo: str, results: Path) -> None:
    from ocforge.evals.run import push_results

    _report_push(repo, push_results(conn.api, repo, results))


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
    target: TargetOpt = "local",
) -> None:
    """Run the registered task group with lm_eval.simple_evaluate; --push records the results."""
    from ocforge.evals.run import RESULTS_FILE, run_eval

    with connected(target) as conn:
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
            _push(conn, _push_repo(repo, record), output / RESULTS_FILE)


@app.command("push")
def push_command(
    results: Annotated[Path, typer.Argument(help="results.json written by 'ocforge eval run'.")],
    repo: Annotated[str, typer.Option("--repo", help="Model repo ORG/NAME.")],
    target: TargetOpt = "local",
) -> None:
    """Merge a results file into a model card's model-index and upload it (same as run --push)."""
    with connected(target) as conn:
        _push(conn, repo, results)


judge_app = typer.Typer(
    help="PersonaGym-style judged eval: prepare a release's questions once, then judge models.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
)
app.add_typer(judge_app, name="judge")

_Url = Annotated[str, typer.Option(help="OpenAI-compatible endpoint (base URL or /v1/...).")]
_KeyEnv = Annotated[
    str | None, typer.Option(help="Environment variable holding its API key (never printed).")
]


def _endpoint(url: str, model: str, key_env: str | None, timeout: float, retries: int):
    from ocforge.evals.judge.client import Endpoint

    return Endpoint(url, model, key_env, timeout_s=timeout, retries=retries)


@judge_app.command("prepare")
def judge_prepare_command(
    dataset: Annotated[str, typer.Option("--dataset", help="Release: ORG/NAME@vX.Y.Z.")],
    generator_url: _Url,
    generator_model: Annotated[str, typer.Option(help="Model name the generator serves.")],
    out: Annotated[Path, typer.Option("--out", help="Folder for the set (and its cache).")],
    protocol: Annotated[
        str, typer.Option(help="light (1 question/dimension) or full (10).")
    ] = "light",
    repo: Annotated[
        str | None, typer.Option(help="Dataset repo (default ORG/NAME-personagym).")
    ] = None,
    push: Annotated[bool, typer.Option("--push", help="Commit and tag it on the Hub.")] = False,
    generator_api_key_env: _KeyEnv = None,
    concurrency: Annotated[int, typer.Option(help="Requests in flight.")] = 16,
    timeout: Annotated[float, typer.Option(help="Seconds per request.")] = 300.0,
    target: TargetOpt = "local",
) -> None:
    """Write the frozen questions and rubric examples of a release's held-out characters."""
    from ocforge.evals.judge.flow import prepare_release

    with connected(target) as conn:
        gen = _endpoint(generator_url, generator_model, generator_api_key_env, timeout, 2)
        done = prepare_release(
            conn.api, dataset, gen, out, protocol=protocol, repo_id=repo, push=push,
            concurrency=concurrency,
        )  # fmt: skip
    rows = ", ".join(f"{k}: {v['rows']} questions" for k, v in done.manifest["configs"].items())
    src = done.manifest["source"]
    _out.print(f"[green]prepared[/] {done.out} from {src['repo_id']}@{src['revision']} ({rows})")
    if done.published:
        p = done.published
        what = "committed and tagged" if p.created_tag else "already published (no commit)"
        _out.print(f"{p.repo_id}@{p.tag}: {what}, commit {p.commit}")


def _print_judged(record: dict) -> None:
    table = Table(title=f"{record['group']} ({record['metric_args']['protocol']})")
    for col in ("task", "score", "stderr", "n"):
        table.add_column(col)
    lm = record["lm_eval"]
    for task, entry in lm["results"].items():
        mean, se = entry["score,none"], entry["score_stderr,none"]
        n = lm["n-samples"].get(task, {}).get("effective", "")
        table.add_row(task, "-" if mean is None else f"{mean:.3f}", str(se)[:6], str(n))
    _out.print(table)
    for j in record["judges"]:
        rate = j["parse_failure_rate"]
        _out.print(
            f"judge {j['model']}: {j['verdicts']} verdicts, {j['repaired']} repaired, "
            f"{j['parse_failures']} unparsable ({0 if rate is None else rate:.1%}), "
            f"{j['missing']} missing ({j['no_reply']} without a reply: timeouts or 5xx)"
        )


@judge_app.command("run")
def judge_run_command(
    prepared: Annotated[str, typer.Option(help="Prepared set: folder or ORG/NAME@vX.Y.Z.")],
    model_url: _Url,
    judge_url: _Url,
    judge_model: Annotated[str, typer.Option(help="Model name the judge serves.")],
    output: Annotated[Path, typer.Option("--output", help="Folder for results and the cache.")],
    model_name: Annotated[str | None, typer.Option(help="Name the model endpoint serves.")] = None,
    model: Annotated[
        str | None, typer.Option(help="What is served: folder or ORG/NAME@REV.")
    ] = None,
    protocol: Annotated[str, typer.Option(help="light or full.")] = "light",
    judge2_url: Annotated[str | None, typer.Option(help="A second judge's endpoint.")] = None,
    judge2_model: Annotated[str | None, typer.Option(help="The second judge's model.")] = None,
    model_api_key_env: _KeyEnv = None,
    judge_api_key_env: _KeyEnv = None,
    judge2_api_key_env: _KeyEnv = None,
    max_tokens: Annotated[int | None, typer.Option(help="Answer length (tokens).")] = None,
    temperature: Annotated[float | None, typer.Option(help="Answer temperature.")] = None,
    concurrency: Annotated[int, typer.Option(help="Requests in flight per endpoint.")] = 16,
    timeout: Annotated[float, typer.Option(help="Seconds per request.")] = 300.0,
    retries: Annotated[int, typer.Option(help="Retries after a timeout or 5xx.")] = 1,
    push: Annotated[
        bool, typer.Option("--push", help="Merge results into the model card.")
    ] = False,
    repo: Annotated[str | None, typer.Option(help="Model repo (default: --model's repo).")] = None,
    target: TargetOpt = "local",
) -> None:
    """Answer the prepared questions with the model, judge every answer, write the results."""
    from ocforge.errors import JudgeError
    from ocforge.evals.judge import flow

    with connected(target) as conn:
        name = model_name or model
        if not name:
            raise JudgeError("--model-name (or --model) is needed: the name the endpoint serves")
        judges = [_endpoint(judge_url, judge_model, judge_api_key_env, timeout, retries)]
        if judge2_url or judge2_model:
            if not (judge2_url and judge2_model):
                raise JudgeError("a second judge needs both --judge2-url and --judge2-model")
            judges.append(_endpoint(judge2_url, judge2_model, judge2_api_key_env, timeout, retries))
        sampling = {"max_tokens": max_tokens, "temperature": temperature}
        record = flow.judge_model(
            conn.api, prepared, _endpoint(model_url, name, model_api_key_env, timeout, retries),
            judges, output, model=model, protocol=protocol, concurrency=concurrency,
            answer_sampling={k: v for k, v in sampling.items() if v is not None},
        )  # fmt: skip
        _print_judged(record)
        _out.print(f"results: {output / 'results.json'}; samples: {output / 'samples.jsonl'}")
        if push:
            push_repo = _push_repo(repo, record)
            _report_push(push_repo, flow.push_judge_results(conn.api, push_repo, output))


def _report_push(repo: str, pushed) -> None:
    if pushed.commit:
        _out.print(
            f"[green]pushed[/] results to {repo} (commit {pushed.commit}): model-index holds "
            f"{pushed.entries} results; file {pushed.results_path}"
        )
    else:
        _out.print(f"{repo}: model card already holds these results (no commit)")
