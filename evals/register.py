"""``ocforge eval register``: an lm-eval task group pinned to one dataset release.

The task folder holds one YAML per task (from the templates in ``configs/lm_eval/``), the group
YAML, the scorer module of the generative task, the character-break phrase list it uses, and
``ocforge_tasks.json`` (which release, which tasks) that ``ocforge eval run`` reads.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import yaml

from ocforge.errors import RegisterError
from ocforge.evals.configs import CHARACTER_CHOICE, DIALOGUES, EVAL_KIND, EVAL_SPLIT
from ocforge.publish.dataset_ref import DatasetRelease, resolve_release
from ocforge.recipe import CONFIGS_DIR, DEFAULT_CHARACTER_BREAKS

TEMPLATES_DIR = CONFIGS_DIR / "lm_eval"
REGISTRATION_FILE = "ocforge_tasks.json"
SCORER_MODULE = "ocforge_in_character"
PATTERNS_FILE = "character_breaks.json"
#: bump when a template changes in a way that changes scores
TASK_VERSION = 1.0

# task suffix -> (template, eval config)
TASKS: dict[str, tuple[str, str]] = {
    "character_choice": ("character_choice.yaml", CHARACTER_CHOICE),
    "dialogue_ppl": ("dialogue_ppl.yaml", DIALOGUES),
    "in_character": ("in_character.yaml", DIALOGUES),
}
# lm-eval ships a `persona` group and ~130 `persona_*` tasks
_RESERVED_PREFIXES = ("persona",)

_SCORER_SOURCE = '''"""Written by `ocforge eval register`: scores of the in-character task (ROUGE-L, character
breaks with the phrase list next to this file)."""

from pathlib import Path

from ocforge.evals.metrics import in_character_scorer

process_results = in_character_scorer(Path(__file__).with_name("{patterns}"))
'''


class _TaskDumper(yaml.SafeDumper):
    """Strings with line breaks as double-quoted scalars with ``\\n`` escapes, as lm-eval's own
    task files write prompts (plain YAML would fold them into hard-to-read blank lines)."""


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    style = '"' if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_TaskDumper.add_representer(str, _represent_str)


def _dump(data: dict[str, Any]) -> str:
    return yaml.dump(data, Dumper=_TaskDumper, sort_keys=False, allow_unicode=True, width=100)


@dataclass(frozen=True)
class Registration:
    """What ``ocforge_tasks.json`` records: the group, its tasks and the release they are pinned to."""

    group: str
    tasks: dict[str, str]  # task name -> eval config
    dataset_repo: str
    dataset_revision: str
    dataset_sha: str
    dataset_version: str | None
    task_version: float
    docs: dict[str, int]  # task name -> documents in the release

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True) + "\n"

    @classmethod
    def load(cls, task_dir: Path) -> Registration:
        """Read ``TASK_DIR/ocforge_tasks.json``.

        Raises:
            RegisterError: the folder was not written by ``ocforge eval register``.
        """
        path = Path(task_dir) / REGISTRATION_FILE
        if not path.is_file():
            raise RegisterError(
                f"{task_dir} has no {REGISTRATION_FILE}: not a folder written by 'ocforge eval register'"
            )
        return cls(**json.loads(path.read_text(encoding="utf-8")))


def default_prefix(repo_id: str) -> str:
    """Task prefix from the dataset name: ``ocforge/demo-v2`` -> ``demo_v2``."""
    name = re.sub(r"[^a-z0-9]+", "_", repo_id.split("/")[-1].lower()).strip("_")
    return name if name and not name[0].isdigit() else f"ds_{name}"


def _check_prefix(prefix: str) -> None:
    if not re.fullmatch(r"[a-z][a-z0-9_]*", prefix):
        raise RegisterError(f"task prefix {prefix!r}: expected lower-case letters, digits and _")
    if prefix.startswith(_RESERVED_PREFIXES):
        raise RegisterError(
            f"task prefix {prefix!r} collides with lm-eval's built-in 'persona' tasks; "
            "choose another with --prefix"
        )


def _eval_configs(release: DatasetRelease) -> dict[str, int]:
    configs = release.manifest.configs
    missing = [
        c for c in (CHARACTER_CHOICE, DIALOGUES) if c not in configs or configs[c].kind != EVAL_KIND
    ]
    if missing:
        raise RegisterError(
            f"{release.ref} ({release.sha[:12]}) has no eval config(s) {', '.join(missing)} in "
            "release.json: release it with an ocforge that writes eval configs from the test split"
        )
    splits = {c: configs[c].splits for c in (CHARACTER_CHOICE, DIALOGUES)}
    return {c: s[EVAL_SPLIT].rows if EVAL_SPLIT in s else 0 for c, s in splits.items()}


def task_configs(release: DatasetRelease, prefix: str) -> dict[str, dict[str, Any]]:
    """The task dicts (YAML-ready, without ``process_results``), keyed by task name."""
    out = {}
    for suffix, (template, _config) in TASKS.items():
        task = yaml.safe_load((TEMPLATES_DIR / template).read_text(encoding="utf-8"))
        name = f"{prefix}_{suffix}"
        out[name] = {
            "task": name,
            "tag": [f"{prefix}_tasks"],
            "dataset_path": release.repo_id,
            **task,
            # the commit, not the tag: a moved tag must not change what a task reads
            "dataset_kwargs": {"revision": release.sha},
            "metadata": {
                "version": TASK_VERSION,
                "dataset_revision": release.revision,
                "dataset_sha": release.sha,
                "dataset_version": release.version,
            },
        }
    return out


def write_task_dir(
    release: DatasetRelease,
    out_dir: Path,
    *,
    prefix: str | None = None,
    character_breaks: Path = DEFAULT_CHARACTER_BREAKS,
) -> Registration:
    """Write the task group for ``release`` into ``out_dir`` (created; our files replaced).

    Raises:
        RegisterError: the release has no eval configs, the prefix is unusable, or ``out_dir``
            holds YAML files that are not ours (lm-eval would index them with our tasks).
    """
    from ocforge.character_breaks import load_patterns

    docs_per_config = _eval_configs(release)
    prefix = prefix or default_prefix(release.repo_id)
    _check_prefix(prefix)
    tasks = task_configs(release, prefix)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    ours = {f"{name}.yaml" for name in tasks} | {f"{prefix}.yaml"}
    foreign = sorted(p.name for p in out.glob("*.yaml") if p.name not in ours)
    if foreign:
        raise RegisterError(
            f"{out} already holds other task files ({', '.join(foreign)}); lm-eval would index "
            "them together with these tasks: use an empty folder"
        )
    for name, task in tasks.items():
        text = _dump(task)
        if name.endswith("_in_character"):
            # a YAML tag that safe_dump cannot write: lm-eval imports the module next to the file
            text += f"process_results: !function {SCORER_MODULE}.process_results\n"
        (out / f"{name}.yaml").write_text(text, encoding="utf-8")
    group = {
        "group": prefix,
        "task": list(tasks),
        # each task reports its own metrics (acc, bits_per_byte, rouge_l, ...): none is shared,
        # so there is nothing to average across tasks
        "metadata": {"version": TASK_VERSION, "dataset_sha": release.sha},
    }
    (out / f"{prefix}.yaml").write_text(_dump(group), encoding="utf-8")
    (out / f"{SCORER_MODULE}.py").write_text(
        _SCORER_SOURCE.format(patterns=PATTERNS_FILE), encoding="utf-8"
    )
    try:
        patterns = load_patterns(character_breaks)
    except ValueError as exc:
        raise RegisterError(str(exc)) from None
    (out / PATTERNS_FILE).write_text(
        json.dumps({"patterns": patterns}, indent=2) + "\n", encoding="utf-8"
    )
    registration = Registration(
        group=prefix,
        tasks={name: TASKS[name.removeprefix(prefix + "_")][1] for name in tasks},
        dataset_repo=release.repo_id,
        dataset_revision=release.revision,
        dataset_sha=release.sha,
        dataset_version=release.version,
        task_version=TASK_VERSION,
        docs={name: docs_per_config[TASKS[name.removeprefix(prefix + "_")][1]] for name in tasks},
    )
    (out / REGISTRATION_FILE).write_text(registration.to_json(), encoding="utf-8")
    return registration


def register_tasks(
    api: Any, dataset: str, out_dir: Path, *, prefix: str | None = None
) -> Registration:
    """Resolve ``dataset`` (``ORG/NAME@vX.Y.Z``) with ``api`` and write its task group.

    Raises:
        ReleaseRefError: the reference does not resolve.
        RegisterError: see :func:`write_task_dir`.
    """
    return write_task_dir(resolve_release(api, dataset), out_dir, prefix=prefix)
