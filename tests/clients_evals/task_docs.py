"""Client process: index a registered task folder with lm-eval's TaskManager, load every task's
documents through the (local) Hub and render the first prompts. Prints JSON on stdout.

Usage: python task_docs.py TASK_DIR GROUP N_RENDERED
"""

from __future__ import annotations

import json
import sys


def main(task_dir: str, group: str, n: int) -> None:
    from lm_eval.tasks import TaskManager

    manager = TaskManager(include_path=task_dir, include_defaults=False)
    indexed = sorted(manager.all_tasks)
    loaded = manager.load([group])
    tasks = loaded["tasks"]
    out = {"indexed": indexed, "group_map": loaded["group_map"], "tasks": {}}
    for name, task in sorted(tasks.items()):
        docs = list(task.test_docs())
        rendered = []
        for doc in docs[:n]:
            item = {"text": task.doc_to_text(doc), "target": task.doc_to_target(doc)}
            if task.OUTPUT_TYPE == "multiple_choice":
                item["choices"] = task.doc_to_choice(doc)
            rendered.append(item)
        out["tasks"][name] = {
            "output_type": task.OUTPUT_TYPE,
            "docs": [dict(d) for d in docs],
            "rendered": rendered,
        }
    json.dump(out, sys.stdout, default=str)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]))
