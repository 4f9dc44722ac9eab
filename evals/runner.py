"""Child process of ``ocforge eval run``: ``python -m ocforge.evals.runner SPEC.json``.

transformers, datasets and huggingface_hub read ``HF_ENDPOINT`` when imported, so lm-eval runs in
a process started with the target Hub's environment. The spec names the model arguments, the task
folder and the output folder; results and samples are written there as JSON / JSONL.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def main(spec_path: str) -> int:
    spec = json.loads(Path(spec_path).read_text(encoding="utf-8"))
    import lm_eval
    from lm_eval.tasks import TaskManager
    from lm_eval.utils import handle_non_serializable

    # indexing only our folder takes ~2 s; with lm-eval's built-in tasks it takes ~20 s
    manager = TaskManager(include_path=spec["tasks_dir"], include_defaults=False)
    results = lm_eval.simple_evaluate(
        model=spec["backend"],
        model_args=spec["model_args"],
        tasks=[spec["group"]],
        task_manager=manager,
        device=spec["device"],
        batch_size=spec["batch_size"],
        limit=spec["limit"],
        log_samples=True,
        apply_chat_template=spec["apply_chat_template"],
        random_seed=0,
        numpy_random_seed=0,
        torch_random_seed=0,
        fewshot_random_seed=0,
    )
    if results is None:  # non-zero ranks of a distributed run
        return 0
    out = Path(spec["output"])
    out.mkdir(parents=True, exist_ok=True)
    samples = results.pop("samples", {})
    for task, rows in samples.items():
        with (out / f"samples_{task}.jsonl").open("w", encoding="utf-8") as fh:
            for row in rows:
                fh.write(
                    json.dumps(row, default=handle_non_serializable, ensure_ascii=False) + "\n"
                )
    (out / "lm_eval_results.json").write_text(
        json.dumps(results, indent=2, default=handle_non_serializable, ensure_ascii=False),
        encoding="utf-8",
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
