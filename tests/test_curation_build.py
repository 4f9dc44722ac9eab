"""Curation end to end: the ledger on a corpus with every kind of problem, the cascade, Ray equals
local, resume after SIGKILL, and the Slurm job scripts and their dependencies (issue 4)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import yaml

from ocforge.flows.build import build
from ocforge.recipe import DEMO_RECIPE, load_recipe

ROOT = Path(__file__).resolve().parent.parent


def _rows(root: Path, config: str, base: str = "removed") -> list[dict]:
    rows = []
    for path in sorted((root / base / config).glob("*/*.parquet")):
        for row in pq.read_table(path).to_pylist():
            assert row["reason"] == path.parent.name
            rows.append(row)
    return rows


def _data(root: Path, config: str) -> list[dict]:
    rows = []
    for path in sorted((root / "data" / config).glob("*.parquet")):
        rows += pq.read_table(path).to_pylist()
    return rows


def _hashes(root: Path, folders=("data", "removed", "quarantine")) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for folder in folders
        for p in sorted((root / folder).rglob("*.parquet"))
    }


def _demo_copy(tmp_path: Path, **recipe_updates) -> Path:
    """The demo folder copied (input paths relative to the recipe stay valid), recipe updated."""
    folder = tmp_path / "demo"
    shutil.copytree(DEMO_RECIPE.parent, folder)
    data = yaml.safe_load(DEMO_RECIPE.read_text())
    for key, value in recipe_updates.items():
        data[key] = value
    (folder / "recipe.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    return folder / "recipe.yaml"


def _append(path: Path, rows: list[dict]) -> None:
    with path.open("a") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")


def _line(path: Path, n: int) -> dict:
    return json.loads(path.read_text().splitlines()[n - 1])


# --- every kind of problem ---------------------------------------------------------------------


def test_ledger_on_a_corpus_with_every_kind_of_problem(tmp_path):
    recipe_path = _demo_copy(tmp_path)
    data = recipe_path.parent / "data"
    chars_file = data / "characters.jsonl"
    aiko = _line(chars_file, 3)  # oc-0003, Aiko Tanabe
    near_twin = dict(aiko, character_id="oc-0043")
    near_twin["character"] = aiko["character"].replace("a neat black bob", "a neat dark bob")
    placeholder = dict(aiko, character_id="oc-0044", persona="A placeholder.")
    placeholder["character"] = aiko["character"].replace("Aiko Tanabe", "[Character Name]")
    bad_age = dict(aiko, character_id="oc-0045", persona="Ageless?")
    bad_age["character"] = aiko["character"].replace("Age: 16", "Age: blue").replace("Aiko", "Aki")
    _append(chars_file, [near_twin, placeholder, bad_age])

    gen_file = data / "dialogues-generate.jsonl"
    template = _line(gen_file, 1)
    fresh = [  # new answers: reusing a corpus answer would make a near-duplicate of it
        "Winter, of course. The snow in Sapporo muffles everything, and my grandfather and I "
        "play shogi by the stove while the kettle sings. Every move feels heavier in that quiet, "
        "and I think I play my most patient games when the windows are white.",
        "You can leave a note at the shogi club on the third floor of the community centre. The "
        "caretaker knows me, and if I am not there I am probably studying old tournament records "
        "in the library next door, so ask at the front desk.",
        "First, the king's weakness; second, the money problems of a bankrupt crown; third, the "
        "new ideas everyone whispered about in the cafés. My history teacher draws it like a "
        "shogi board where every piece suddenly wants to move at once.",
    ]
    _append(
        gen_file,
        [
            # dialogues of the near-duplicate character: re-pointed to Aiko
            dict(
                template,
                character_id="oc-0043",
                question="What is your favourite season?",
                response=fresh[0],
            ),
            # dialogues of dropped characters: removed with them
            dict(template, character_id="oc-0044", question="Any advice on patience?"),
            dict(template, character_id="oc-0045", question="What do you eat for breakfast?"),
            # PII: masked, kept
            dict(
                template,
                question="How can people reach you?",
                response=fresh[1] + " Or write to someone@example.org, or call +1 (555) 010-2233.",
            ),
            # profile leakage: recites the character sheet
            dict(
                template,
                character_id="oc-0003",
                question="Tell me about yourself.",
                response=aiko["character"].split("General Experience:")[1][:600],
            ),
            # contaminated by the eval set
            dict(
                template,
                question="Summarise the causes of the French Revolution in three short points for a "
                "history class.",
                response=fresh[2],
            ),
        ],
    )
    rw_file = data / "dialogues-rewrite.jsonl"
    rw = _line(rw_file, 1)
    _append(
        rw_file,
        [
            dict(rw, question="Not rewritten at all?", response=rw["original_response"]),
            dict(
                rw,
                question="Did the rewrite keep the content?",
                response="Ah, the sea was grey this morning and the gulls argued over the harbour "
                "wall while the ferry waited, horn silent, for the last of the cyclists.",
            ),
        ],
    )
    evals = recipe_path.parent / "eval.jsonl"
    evals.write_text(
        json.dumps(
            {
                "prompt": "Summarise the causes of the French Revolution in three short points "
                "for a history class."
            }
        )
        + "\n"
    )
    recipe = yaml.safe_load(recipe_path.read_text())
    recipe["filters"]["decontamination"]["eval_sets"] = [
        {"path": "eval.jsonl", "fields": ["prompt"]}
    ]
    recipe_path.write_text(yaml.safe_dump(recipe, sort_keys=False))

    result = build(load_recipe(recipe_path), tmp_path / "out")
    out = result.out_dir
    led = result.ledger.configs
    for config in ("characters", "rewrite", "generate"):
        assert led[config].balanced, config
        # the ledger is the files on disk
        on_disk = len(_rows(out, config)) + len(_rows(out, config, "quarantine"))
        assert on_disk == led[config].input - led[config].kept
        assert len(_data(out, config)) == led[config].kept

    chars = led["characters"]
    assert chars.input == 45
    assert chars.reasons["duplicates"] == {"exact_duplicate": 1, "near_duplicate": 1}
    assert chars.reasons["dropped"] == {"placeholder_profile": 1, "invalid_age": 1}
    (near,) = [r for r in _rows(out, "characters") if r["reason"] == "near_duplicate"]
    assert near["line"] == 43
    kept_chars = {r["character_id"]: r for r in _data(out, "characters")}
    assert near["duplicate_of"] in kept_chars
    assert kept_chars[near["duplicate_of"]]["name"] == "Aiko Tanabe"

    gen = led["generate"]
    assert gen.reasons["dropped"]["character_removed"] == 2
    assert gen.reasons["dropped"]["profile_leakage"] == 1
    assert gen.reasons["dropped"]["eval_contamination"] == 1
    assert gen.modified["pii_email"] == 1 and gen.modified["pii_phone"] == 1
    assert gen.modified["repointed_to_kept_twin"] >= 2  # oc-0041 (exact) and oc-0043 (near)
    gen_rows = _data(out, "generate")
    masked = [r for r in gen_rows if "<EMAIL>" in r["response"]]
    assert len(masked) == 1 and "<PHONE>" in masked[0]["response"]
    assert masked[0]["messages"][2]["content"] == masked[0]["response"]
    (repointed,) = [r for r in gen_rows if r["provenance"]["record"] == "oc-0043"]
    assert repointed["character_id"] == near["duplicate_of"]
    assert repointed["messages"][0]["content"] == kept_chars[near["duplicate_of"]]["profile"]

    assert led["rewrite"].reasons["dropped"]["not_rewritten"] == 1
    assert led["rewrite"].reasons["dropped"]["content_lost"] == 1

    manifest = json.loads((out / "release.json").read_text())
    assert manifest["ledger"]["configs"]["generate"]["modified"]["pii_email"] == 1
    # duplicates name the kept row; every removed row has a reason and a step
    for config in ("characters", "rewrite", "generate"):
        kept_ids = {r[next(iter(r))] for r in _data(out, config)}
        for row in _rows(out, config):
            assert row["step"] and row["reason"] and row["outcome"] in ("dropped", "duplicates")
            if row["outcome"] == "duplicates":
                assert row["duplicate_of"] in kept_ids
    # no question is in both train and test
    for config in ("rewrite", "generate"):
        by_split: dict[str, set] = {"train": set(), "test": set()}
        for split in by_split:
            for path in (out / "data" / config).glob(f"{split}-*.parquet"):
                by_split[split] |= set(
                    pq.read_table(path, columns=["question"]).column(0).to_pylist()
                )
        assert by_split["test"] and not (by_split["train"] & by_split["test"])


# --- executors ---------------------------------------------------------------------------------


@pytest.mark.slow
def test_ray_executor_gives_the_same_files_as_local(tmp_path):
    """A local Ray (2 CPUs) against the local executor, same recipe otherwise. Each Ray stage
    costs seconds (placement group + worker), so this runs the characters config only: all
    curation stages (validation, filters, exact and MinHash dedup) and the Parquet output."""
    ray = pytest.importorskip("ray")
    executor = {"type": "local", "tasks": 2, "workers": 2}
    filters = yaml.safe_load(DEMO_RECIPE.read_text())["filters"]
    filters["dedup"]["near"]["enabled"] = False  # 4 Ray stages instead of 8 (MinHash: Slurm test)
    local_recipe = _demo_copy(tmp_path / "local", dialogues=[], executor=executor, filters=filters)
    local = build(load_recipe(local_recipe), tmp_path / "local-out")
    ray_recipe = _demo_copy(
        tmp_path / "ray", dialogues=[], executor={**executor, "type": "ray"}, filters=filters
    )
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        result = build(load_recipe(ray_recipe), tmp_path / "ray-out")
    finally:
        ray.shutdown()
    assert _hashes(result.out_dir) == _hashes(local.out_dir)
    assert (result.out_dir / "README.md").read_bytes() == (local.out_dir / "README.md").read_bytes()
    assert result.ledger.to_dict() == local.ledger.to_dict()
    assert result.ledger.configs["characters"].reasons["duplicates"] == {"exact_duplicate": 1}
    # it really ran on Ray: the stage's executor.json has the Ray executor's fields
    executor_json = json.loads(
        (result.out_dir / "logs" / "characters" / "filter" / "executor.json").read_text()
    )
    assert executor_json["_launched"] is True and "ray_remote_kwargs" in executor_json


FAKE_SBATCH = r"""#!/usr/bin/env python3
# A stand-in for Slurm's sbatch: records the call, then runs the job array here, in order.
import os, re, subprocess, sys
log = os.environ["FAKE_SLURM_LOG"]
args, script = sys.argv[1:-1], sys.argv[-1]
text = open(script).read()
import json
n = sum(1 for _ in open(log)) if os.path.exists(log) else 0
job_id = str(1000 + n)
with open(log, "a") as fh:
    fh.write(json.dumps({"job_id": job_id, "args": args, "script": text}) + "\n")
m = re.search(r"^#SBATCH --array=(\d+)-(\d+)", text, re.M)
first, last = (int(m.group(1)), int(m.group(2))) if m else (0, 0)
if "launch_pickled_pipeline" not in text:
    last = first - 1  # datatrove's stats-merging job: recorded, not needed to go on
for task in range(first, last + 1):
    env = dict(os.environ, SLURM_ARRAY_TASK_ID=str(task), SLURM_JOB_ID=job_id,
               SLURM_ARRAY_JOB_ID=job_id, SLURM_NODELIST="localhost", SLURM_NODEID="0")
    for a in args:
        if a.startswith("--export=ALL,"):
            for kv in a.split(",")[1:]:
                k, _, v = kv.partition("=")
                env[k] = v
    subprocess.run(["bash", script], env=env, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
print(f"Submitted batch job {job_id}")
"""

FAKE_SRUN = """#!/bin/bash
# srun -l -n 1 CMD ARGS...: run CMD here
while [[ "$1" == -* ]]; do
  case "$1" in -n) shift 2;; *) shift;; esac
done
exec "$@"
"""


@pytest.mark.slow
def test_slurm_job_scripts_and_dependencies(tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fakes = (
        ("sbatch", FAKE_SBATCH),
        ("srun", FAKE_SRUN),
        ("squeue", "#!/bin/sh\n"),  # the queue is empty: every job has run
        ("scontrol", '#!/bin/sh\necho "$3"\n'),  # scontrol show hostnames NODELIST
    )
    for name, text in fakes:
        path = bin_dir / name
        path.write_text(text)
        path.chmod(path.stat().st_mode | stat.S_IEXEC)
    recipe_path = _demo_copy(
        tmp_path,
        dialogues=yaml.safe_load(DEMO_RECIPE.read_text())["dialogues"][:1],  # rewrite only
        executor={
            "type": "slurm",
            "tasks": 2,
            "slurm": {
                "partition": "cpu",
                "time": "01:30:00",
                "cpus_per_task": 2,
                "mem_per_cpu_gb": 3,
                "job_name": "demo",
                "sbatch_args": {"account": "roleplay"},
            },
        },
    )
    log = tmp_path / "sbatch.jsonl"
    env = dict(
        os.environ,
        PATH=f"{bin_dir}:{Path(sys.executable).parent}:{os.environ['PATH']}",
        FAKE_SLURM_LOG=str(log),
    )
    out = tmp_path / "out"
    done = subprocess.run(
        [sys.executable, "-m", "ocforge", "build", str(recipe_path), "--out", str(out)],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    calls = [json.loads(line) for line in log.read_text().splitlines()]
    jobs = [c for c in calls if "launch_pickled_pipeline" in c["script"]]
    names = [c["script"].split("--job-name=")[1].split("\n")[0] for c in jobs]
    # dedup signatures are written by the stage writing the documents: no signature jobs
    assert names[:3] == [
        "demo-characters-filter",
        "demo-characters-dedup-find",
        "demo-characters-dedup-filter",
    ]
    assert not [n for n in names if n.endswith("signatures")]
    for call in jobs:
        script = call["script"]
        assert script.startswith("#!/bin/bash\n")
        for directive in (
            "#SBATCH --partition=cpu",
            "#SBATCH --time=01:30:00",
            "#SBATCH --cpus-per-task=2",
            "#SBATCH --mem-per-cpu=3.0G",
            "#SBATCH --account=roleplay",
        ):
            assert directive in script
        assert "srun" in script and "executor.pik" in script
    by_name = dict(zip(names, jobs, strict=True))
    assert "#SBATCH --array=0-1" in by_name["demo-rewrite-filter"]["script"]
    assert "#SBATCH --array=0-0" in by_name["demo-rewrite-dedup-find"]["script"]  # one finder
    # a chain: each dedup stage depends (afterok) on the previous stage's job
    chain = ["dedup-find", "dedup-filter"]
    for before, after in zip(chain, chain[1:], strict=False):
        dep = [a for a in by_name[f"demo-rewrite-{after}"]["args"] if a.startswith("--dependency=")]
        assert dep == [f"--dependency=afterok:{by_name[f'demo-rewrite-{before}']['job_id']}"]
    # characters: MinHash's three stages chained; dialogues: buckets and clusters chained, and
    # stage 4 runs in the config's last stage with decontamination (after in-process work)
    for config, mh in (
        ("characters", ["minhash-buckets", "minhash-clusters", "minhash-filter"]),
        ("rewrite", ["minhash-buckets", "minhash-clusters"]),
    ):
        for before, after in zip(mh, mh[1:], strict=False):
            job = by_name[f"demo-{config}-{after}"]
            dep = [a for a in job["args"] if a.startswith("--dependency=")]
            assert dep == [f"--dependency=afterok:{by_name[f'demo-{config}-{before}']['job_id']}"]
    assert "demo-rewrite-minhash-filter" not in by_name
    last = by_name["demo-rewrite-minhash-filter+decontamination"]
    assert "#SBATCH --array=0-1" in last["script"]
    assert not [a for a in last["args"] if a.startswith("--dependency")]
    assert "#SBATCH --array=0-1" in by_name["demo-rewrite-minhash-buckets"]["script"]
    # stages that follow in-process work (linking duplicates) are new chains: no dependency
    assert not [a for a in by_name["demo-rewrite-filter"]["args"] if a.startswith("--dependency")]
    # and the build it drove gives the demo's rewrite config
    manifest = json.loads((out / "release.json").read_text())
    planted = yaml.safe_load((DEMO_RECIPE.parent / "planted.yaml").read_text())
    rewrite = manifest["ledger"]["configs"]["rewrite"]
    assert rewrite["input"] == planted["rewrite"]["input"] and rewrite["balanced"]
    assert rewrite["duplicates"] == 4 and rewrite["reasons"]["dropped"]["wrong_name"] == 1


# --- resume ------------------------------------------------------------------------------------


def _split_inputs(tmp_path: Path) -> Path:
    """The demo with each dialogue input split in three files, so a stage has three tasks."""
    recipe_path = _demo_copy(tmp_path, executor={"type": "local", "tasks": 3, "workers": 1})
    recipe = yaml.safe_load(recipe_path.read_text())
    for dcfg in recipe["dialogues"]:
        src = recipe_path.parent / dcfg["inputs"][0]["path"]
        lines = src.read_text().splitlines(keepends=True)
        parts = []
        for i in range(3):
            part = src.with_name(f"{src.stem}-{i}.jsonl")
            part.write_text("".join(lines[i::3]))
            parts.append({**dcfg["inputs"][0], "path": f"data/{part.name}"})
        dcfg["inputs"] = parts
    recipe_path.write_text(yaml.safe_dump(recipe, sort_keys=False))
    return recipe_path


@pytest.mark.slow
def test_resume_after_sigkill_runs_only_unfinished_tasks(tmp_path):
    recipe_path = _split_inputs(tmp_path)
    reference = build(load_recipe(recipe_path), tmp_path / "reference")

    out = tmp_path / "out"
    marker = out / "logs" / "rewrite" / "filter" / "completions" / "00000"
    proc = subprocess.Popen(
        [sys.executable, "-m", "ocforge", "build", str(recipe_path), "--out", str(out)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.time() + 300
    while not marker.exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.005)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert marker.exists() and not (out / "release.json").exists()
    completions = marker.parent
    done_before = {p.name: p.stat().st_mtime_ns for p in completions.iterdir()}
    assert "00002" not in done_before  # killed part-way through the stage
    chars_done = (
        (out / "logs" / "characters" / "filter" / "completions" / "00000").stat().st_mtime_ns
    )

    resumed = build(load_recipe(recipe_path), out)
    # finished tasks were not run again
    for name, mtime in done_before.items():
        assert (completions / name).stat().st_mtime_ns == mtime
    assert (
        out / "logs" / "characters" / "filter" / "completions" / "00000"
    ).stat().st_mtime_ns == chars_done
    assert sorted(p.name for p in completions.iterdir()) == ["00000", "00001", "00002"]
    # and the output is the uninterrupted build's
    assert _hashes(resumed.out_dir) == _hashes(reference.out_dir)
    assert resumed.ledger.to_dict() == reference.ledger.to_dict()
    assert (out / "README.md").read_bytes() == (reference.out_dir / "README.md").read_bytes()
