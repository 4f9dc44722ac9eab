"""Synthesis through datatrove's InferenceRunner against a real ``transformers serve`` on
127.0.0.1 (a tiny random-weight chat model built here), with a recording proxy in front of it to
see exactly which requests were sent.

One server and one uninterrupted run of the demo synthesis recipe are shared by the tests of
this module; the server is stopped by its process id at the end, also when a test fails.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from synth_server import RecordingProxy, server_env, transformers_serve

from ocforge.builders.assignment import assign_characters, character_split, question_split
from ocforge.builders.synthesis.rollouts import messages_sha256
from ocforge.builders.synthesis.tiny_model import build_tiny_chat_model
from ocforge.records import content_id

ROOT = Path(__file__).resolve().parent.parent
DEMO_SYNTH = ROOT / "configs" / "demo" / "synth.yaml"
GOLDEN = Path(__file__).parent / "golden" / "synth"
OCFORGE = Path(sys.executable).with_name("ocforge")
DIALOGUE_FILES = ("dialogues-rewrite.jsonl", "dialogues-generate.jsonl")

# end to end against a real server (about 1.5 minutes for the module, most of it the shared setup)
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """(proxy, model_dir, workdir): transformers serve with a tiny model, behind a recording proxy."""
    work = tmp_path_factory.mktemp("serve")
    model_dir = build_tiny_chat_model(work / "tiny-chat")
    with transformers_serve(model_dir, work) as url, RecordingProxy(url) as proxy:
        yield proxy, model_dir, work


def _variant(tmp_path: Path, proxy, model_dir: Path, **backend) -> Path:
    """The demo synthesis recipe with absolute input paths, pointed at the test server."""
    data = yaml.safe_load(DEMO_SYNTH.read_text())

    def absolutize(node):
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "path" and isinstance(value, str):
                    node[key] = str(DEMO_SYNTH.parent / value)
                else:
                    absolutize(value)
        elif isinstance(node, list):
            for item in node:
                absolutize(item)

    absolutize(data)
    data["synthesis"]["backend"].update(
        {"endpoint_url": proxy.url, "model": str(model_dir), "ready_timeout_s": 20, **backend}
    )
    if "records_per_chunk" in backend:
        data["synthesis"]["records_per_chunk"] = data["synthesis"]["backend"].pop(
            "records_per_chunk"
        )
    path = tmp_path / "synth.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def _env(tmp_path: Path) -> dict[str, str]:
    return server_env(tmp_path / "client-hf-home")


def _ocforge(args: list[str], env: dict[str, str], **kw) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(OCFORGE), *args], env=env, capture_output=True, text=True, timeout=300, **kw
    )


def _rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_bytes().splitlines() if line.strip()]


def _request_id(row: dict) -> str:
    return content_id(
        "request", row["strategy"], row["character_id"], row["source_corpus"], row["question_id"]
    )


@pytest.fixture(scope="module")
def first_run(served, tmp_path_factory):
    """One uninterrupted ``ocforge synth`` run of the demo recipe, and the requests it sent."""
    proxy, model_dir, _ = served
    tmp = tmp_path_factory.mktemp("first-run")
    recipe = _variant(tmp, proxy, model_dir)
    out = tmp / "out"
    start = proxy.count()
    result = _ocforge(["synth", str(recipe), "--out", str(out)], _env(tmp))
    assert result.returncode == 0, result.stderr[-3000:]
    return {"recipe": recipe, "out": out, "requests": proxy.since(start), "stdout": result.stdout}


def test_synth_writes_records_ledger_and_provenance(first_run, served):
    _, model_dir, _ = served
    out = first_run["out"]
    manifest = json.loads((out / "synthesis.json").read_text())
    ledger = manifest["ledger"]
    # planted input problems: a repeated persona, a persona that is not text, a bad LIMA row
    assert ledger["inputs"]["personas"] == {
        "read": 6,
        "valid": 4,
        "duplicates": 1,
        "quarantined": 1,
    }
    assert ledger["inputs"]["questions:lima"] == {
        "read": 4,
        "valid": 3,
        "duplicates": 0,
        "quarantined": 1,
    }
    assert ledger["inputs"]["characters"]["valid"] == 12
    stages = ledger["stages"]
    assert stages["profiles"]["items"] == 4
    assert stages["rewrite"]["items"] == (3 + 3) * 2  # LIMA + Alpaca questions x 2 characters
    assert stages["generate"]["items"] == (3 + 3 + 2) * 2
    # every request is accounted for: what the server was sent is what the ledger counts
    sent = sum(s["requests"]["sent"] for s in stages.values())
    assert sent == len(first_run["requests"])
    assert all(s["requests"]["failed"] == 0 for s in stages.values())
    for s in stages.values():
        assert s["items"] == s["ok"] + s["quarantined"] + s["failed"]
    assert f"generate: {stages['generate']['ok']} ok" in first_run["stdout"]

    # profiles: a random model never writes a parseable profile, so each is quarantined with
    # the raw text of each of its max_attempts answers
    quarantined = _rows(out / "quarantine" / "profiles.jsonl")
    assert len(quarantined) == stages["profiles"]["quarantined"]
    for row in quarantined:
        assert row["reason"] == "unparseable_profile" and len(row["raw"]) == 2
    synthesized = [c for c in _rows(out / "characters.jsonl") if c["generator"] != "import"]
    assert stages["profiles"]["requests"]["sent"] == sum(len(q["raw"]) for q in quarantined) + sum(
        c["generation"]["attempts"] for c in synthesized
    )

    # dialogue rows: schema and provenance
    sent_shas = {messages_sha256(r["messages"]) for r in first_run["requests"]}
    for name, strategy in zip(DIALOGUE_FILES, ("rewrite", "generate"), strict=True):
        rows = _rows(out / name)
        assert len(rows) == stages[strategy]["ok"]
        for row in rows:
            assert row["strategy"] == strategy and row["response"].strip()
            assert ("original_response" in row) == (strategy == "rewrite")
            gen = row["generation"]
            assert gen["model"] == str(model_dir) and gen["backend"] == "endpoint"
            assert gen["params"] == {"temperature": 0.7, "top_p": 0.95, "max_tokens": 24, "seed": 0}
            assert gen["prompt"]["id"] == f"opencharacter-{strategy}"
            assert gen["request_sha256"] in sent_shas
    assert manifest["prompts"]["rewrite"]["version"] == 1
    assert manifest["backend"] == {
        "type": "endpoint",
        "model": str(model_dir),
        "endpoint_url": served[0].url,
        "api_key_env": None,
    }


def test_assignment_is_the_seeded_draw_over_the_characters_of_the_questions_split(first_run):
    out = first_run["out"]
    characters = _rows(out / "characters.jsonl")
    pool = [c["character_id"] for c in characters]
    assert pool == sorted(pool) and len(pool) == 12
    splits = yaml.safe_load(first_run["recipe"].read_text())["splits"]
    fraction, split_seed = splits["test_fraction"], splits["seed"]
    by_split = {
        s: [
            c["character_id"]
            for c in characters
            if character_split(c["profile"], fraction, split_seed) == s
        ]
        for s in ("train", "test")
    }
    assert by_split["train"] and by_split["test"]  # split-aware: each split draws from its own
    rows = _rows(out / "dialogues-generate.jsonl")
    if (out / "quarantine" / "generate.jsonl").exists():
        rows += [r["request"] for r in _rows(out / "quarantine" / "generate.jsonl")]
    by_question: dict[tuple[str, str], list[str]] = {}
    for row in rows:
        by_question.setdefault((row["source_corpus"], row["question_id"]), []).append(
            row["character_id"]
        )
    assert len(by_question) == 8
    for (corpus, qid), drawn in by_question.items():
        question = next(r["question"] for r in rows if r["question_id"] == qid)
        split = question_split(question, fraction, split_seed)
        assert drawn == assign_characters(f"{corpus}:{qid}", by_split[split], 2, seed=0)


def test_exact_prompts_sent_match_the_golden_files(first_run, served):
    _, model_dir, _ = served
    out, requests = first_run["out"], first_run["requests"]
    by_sha = {messages_sha256(r["messages"]): r for r in requests}
    rewrite = _rows(out / "dialogues-rewrite.jsonl")[0]
    generate = _rows(out / "dialogues-generate.jsonl")[-1]
    lighthouse = [
        r
        for r in requests
        if "A retired lighthouse keeper" in r["messages"][-1]["content"]
        or (len(r["messages"]) > 2 and "A retired lighthouse keeper" in r["messages"][1]["content"])
    ]
    first = next(r for r in lighthouse if len(r["messages"]) == 2)
    repair = next(r for r in lighthouse if len(r["messages"]) == 4)
    raw = next(
        q["raw"]
        for q in _rows(out / "quarantine" / "profiles.jsonl")
        if q["request"]["persona"].startswith("A retired lighthouse keeper")
    )
    # the repair turn shows the model its own first answer
    assert repair["messages"][2] == {"role": "assistant", "content": raw[0]}
    repair = {
        **repair,
        "messages": [*repair["messages"][:2], "<model output>", repair["messages"][3]],
    }

    def scrub(payload: dict) -> dict:
        assert payload["model"] == str(model_dir)
        return {**payload, "model": "<model>"}

    sent = {
        "profile": scrub(first),
        "profile_repair": scrub(repair),
        "rewrite": scrub(by_sha[rewrite["generation"]["request_sha256"]]),
        "generate": scrub(by_sha[generate["generation"]["request_sha256"]]),
    }
    golden = GOLDEN / "requests.json"
    if os.environ.get("OCFORGE_UPDATE_GOLDEN"):
        golden.write_text(json.dumps(sent, indent=2, ensure_ascii=False) + "\n")
    assert sent == json.loads(golden.read_text())


def test_rerun_of_a_finished_synthesis_sends_nothing_and_rewrites_the_same_files(
    first_run, served, tmp_path
):
    proxy = served[0]
    out = first_run["out"]
    before = {p.name: p.read_bytes() for p in out.glob("*.json*")}
    start = proxy.count()
    result = _ocforge(["synth", str(first_run["recipe"]), "--out", str(out)], _env(tmp_path))
    assert result.returncode == 0, result.stderr[-3000:]
    assert proxy.count() == start
    assert {p.name: p.read_bytes() for p in out.glob("*.json*")} == before


def _saved_request_ids(work: Path) -> set[str]:
    """Requests whose results the runner had saved: finished output chunks, checkpointed
    documents of the unfinished chunk, and results in its SQLite request cache."""
    ids: set[str] = set()
    files = [*(work / "results" / "dialogues").glob("*.jsonl")]
    files += (work / "checkpoints" / "dialogues").glob("*/chunk_*.jsonl")
    for path in files:
        for line in path.read_bytes().splitlines():
            try:
                ids.add(json.loads(line)["id"])
            except (ValueError, KeyError):
                pass  # a line cut short by the kill
    for db in (work / "checkpoints" / "dialogues").glob("*/replay.sqlite3"):
        with sqlite3.connect(db) as conn:
            rows = conn.execute("SELECT doc_id FROM request_cache WHERE result IS NOT NULL")
            ids |= {r[0] for r in rows}
    return ids


def _wait_quiet(proxy, seconds: float = 1.0) -> int:
    count = proxy.count()
    while True:
        time.sleep(seconds)
        if proxy.count() == count:
            return count
        count = proxy.count()


def test_killed_run_resumes_without_resending_saved_requests(first_run, served, tmp_path):
    proxy, model_dir, _ = served
    recipe = _variant(tmp_path, proxy, model_dir, max_concurrent_generations=2, records_per_chunk=4)
    out = tmp_path / "out"
    env = _env(tmp_path)
    profile_requests = sum(
        1 for r in first_run["requests"] if "Invent a fictional character" in str(r["messages"])
    )
    start = proxy.count()
    proc = subprocess.Popen(
        [str(OCFORGE), "synth", str(recipe), "--out", str(out)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # its own process group: the CLI and datatrove's helper process
    )
    try:
        deadline = time.monotonic() + 240
        while proxy.count() - start < profile_requests + 10:
            assert proc.poll() is None, "synthesis finished before it could be interrupted"
            assert time.monotonic() < deadline, "synthesis made no progress"
            time.sleep(0.01)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    first_part = _wait_quiet(proxy) - start
    saved = _saved_request_ids(out / ".work")
    total = sum(len(_rows(first_run["out"] / n)) for n in DIALOGUE_FILES)
    assert 0 < len(saved) < total, (len(saved), total)

    resume_start = proxy.count()
    result = _ocforge(["synth", str(recipe), "--out", str(out)], env)
    assert result.returncode == 0, result.stderr[-3000:]
    resent = proxy.since(resume_start)

    rows = [r for n in DIALOGUE_FILES for r in _rows(out / n)]
    sha_of = {_request_id(r): r["generation"]["request_sha256"] for r in rows}
    assert saved <= set(sha_of)
    resent_shas = {messages_sha256(r["messages"]) for r in resent}
    assert not resent_shas & {sha_of[i] for i in saved}, "a saved result was requested again"
    assert len(resent) == total - len(saved)
    assert first_part + len(resent) >= profile_requests + total
    # the interrupted-and-resumed run ends with exactly the uninterrupted run's records
    for name in ("characters.jsonl", *DIALOGUE_FILES):
        assert (out / name).read_bytes() == (first_run["out"] / name).read_bytes(), name


def test_build_with_a_synthesis_section_curates_the_generated_records(first_run, served, tmp_path):
    proxy = served[0]
    out = tmp_path / "release"
    # a previous synthesis of the same recipe in OUT/synthesis is resumed: nothing is re-sent
    shutil.copytree(first_run["out"], out / "synthesis")
    start = proxy.count()
    result = _ocforge(["build", str(first_run["recipe"]), "--out", str(out)], _env(tmp_path))
    assert result.returncode == 0, result.stderr[-3000:]
    assert proxy.count() == start
    release = json.loads((out / "release.json").read_text())
    inputs = {i["config"]: i for i in release["inputs"]}
    assert inputs["characters"]["input"] == "synthesis/characters.jsonl"
    assert (
        inputs["generate"]["synthesis"]["model"]
        == json.loads((out / "synthesis" / "synthesis.json").read_text())["backend"]["model"]
    )
    assert inputs["rewrite"]["synthesis"]["prompts"]["rewrite"]["id"] == "opencharacter-rewrite"
    configs = release["ledger"]["configs"]
    for config, name in zip(
        ("characters", "rewrite", "generate"), ("characters.jsonl", *DIALOGUE_FILES), strict=True
    ):
        generated = len(_rows(out / "synthesis" / name))
        assert inputs[config]["records"] == configs[config]["input"] == generated
    assert configs["characters"]["kept"] == 12  # the imported demo characters
    # what synthesis set aside reaches the build's ledger, card, CLI summary and inspect
    set_aside = json.loads((out / "synthesis" / "synthesis.json").read_text())["ledger"]
    assert release["ledger"]["synthesis"] == set_aside["quarantine"]
    profiles = set_aside["quarantine"]["profiles"]["quarantined"]
    assert sum(profiles.values()) == set_aside["stages"]["profiles"]["quarantined"] > 0
    assert set_aside["quarantine"]["inputs"]["quarantined"]  # the planted bad persona and LIMA row
    assert "synthesis set aside" in result.stdout
    card = (out / "README.md").read_text()
    assert "`synthesis: profiles`" in card and "before curation, synthesis set aside" in card
    shown = _ocforge(["inspect", str(out)], _env(tmp_path))
    assert shown.returncode == 0, shown.stderr[-2000:]
    assert "synthesis: profiles" in shown.stdout


def test_requests_that_time_out_are_counted_as_failed(served, tmp_path):
    from ocforge.builders.synthesis.run import synthesize
    from ocforge.recipe import load_recipe

    proxy, model_dir, _ = served
    # a slow endpoint rather than a near-zero timeout: with a 1 ms timeout, aiohttp's timer
    # could cancel a task after the request had already ended (a CancelledError under load)
    recipe = load_recipe(_variant(tmp_path, proxy, model_dir, request_timeout_s=0.25))
    proxy.delay_s = 1.5
    try:
        result = synthesize(recipe, tmp_path / "out")
    finally:
        proxy.delay_s = 0.0
    _wait_quiet(proxy, 2.0)  # let the abandoned requests drain before other tests count
    stages = result.ledger["stages"]
    assert stages["profiles"]["failed"] == 4
    assert stages["profiles"]["requests"] == {"sent": 4, "answered": 0, "failed": 4}
    assert stages["generate"]["failed"] == stages["generate"]["items"] == 16
    rows = _rows(tmp_path / "out" / "quarantine" / "generate.jsonl")
    assert {(r["outcome"], r["reason"]) for r in rows} == {("failed", "request_timeout")}
    assert not _rows(tmp_path / "out" / "dialogues-generate.jsonl")


def test_unreachable_endpoint_fails_fast_with_the_stage_and_url(tmp_path, served):
    from synth_server import free_port

    from ocforge.builders.synthesis.run import synthesize
    from ocforge.errors import SynthesisError
    from ocforge.recipe import load_recipe

    class Closed:
        url = f"http://127.0.0.1:{free_port()}"

    recipe = load_recipe(_variant(tmp_path, Closed, served[1], ready_timeout_s=1, ready_poll_s=0.5))
    with pytest.raises(
        SynthesisError, match=r"stage 'profiles' failed against http://127\.0\.0\.1:\d+"
    ):
        synthesize(recipe, tmp_path / "out")


def test_a_folder_holding_another_synthesis_is_refused(first_run, served, tmp_path):
    from ocforge.builders.synthesis.run import synthesize
    from ocforge.errors import SynthesisError
    from ocforge.recipe import load_recipe

    proxy, model_dir, _ = served
    out = tmp_path / "out"
    shutil.copytree(first_run["out"], out)
    recipe = load_recipe(first_run["recipe"])
    generation = recipe.synthesis.generation.model_copy(update={"temperature": 0.1})
    changed = recipe.model_copy(
        update={"synthesis": recipe.synthesis.model_copy(update={"generation": generation})}
    )
    start = proxy.count()
    with pytest.raises(SynthesisError, match="holds a synthesis run of a different recipe"):
        synthesize(changed, out)
    assert proxy.count() == start
    (out / "stray.txt").write_text("not ours")
    with pytest.raises(
        SynthesisError, match=r"holds files ocforge synth did not write \(stray.txt\)"
    ):
        synthesize(recipe, out)


def test_characters_the_build_would_remove_get_no_requests(served, tmp_path):
    """Profile checks run before assignment: a placeholder or incomplete profile is skipped
    (counted, with its reason) instead of being answered and then removed by the build."""
    from ocforge.builders.synthesis.run import synthesize
    from ocforge.recipe import load_recipe

    proxy, model_dir, _ = served
    lines = (DEMO_SYNTH.parent / "data" / "characters.jsonl").read_text().splitlines()[:3]
    rows = [json.loads(line) for line in lines]
    rows[1]["character"] = rows[1]["character"].replace("Age: ", "Age: [AGE] ", 1)
    rows[2]["character"] = "\n".join(
        line for line in rows[2]["character"].splitlines() if not line.startswith("Personality:")
    )
    chars = tmp_path / "characters.jsonl"
    chars.write_text("".join(json.dumps(r) + "\n" for r in rows))
    path = _variant(tmp_path, proxy, model_dir)
    data = yaml.safe_load(path.read_text())
    data["synthesis"]["characters"] = {
        "inputs": [{"path": str(chars), "importer": "opencharacter", "source": "t"}]
    }
    data["synthesis"]["dialogues"] = [{"strategy": "generate", "corpora": ["ph-instruct"]}]
    data["dialogues"] = [{"strategy": "generate", "inputs": [{"synthesis": "generate"}]}]
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    start = proxy.count()
    result = synthesize(load_recipe(path), tmp_path / "out")
    sent = proxy.since(start)
    assert result.ledger["assignment"]["pool"] == 1
    assert result.ledger["assignment"]["characters_skipped"] == 2
    assert result.ledger["quarantine"]["screen"] == {
        "skipped": {"incomplete_profile": 1, "placeholder_profile": 1}
    }
    skipped = _rows(tmp_path / "out" / "quarantine" / "screen.jsonl")
    assert {r["id"] for r in skipped} == {rows[1]["character_id"], rows[2]["character_id"]}
    assert all(r["detail"].startswith("characters.jsonl:") for r in skipped)  # file:line
    # every request went to the one usable character: its profile is the system prompt
    name_line = rows[0]["character"].splitlines()[0]
    assert sent and all(any(name_line in str(m["content"]) for m in r["messages"]) for r in sent), [
        r["messages"] for r in sent
    ]
    kept = _rows(tmp_path / "out" / "characters.jsonl")
    assert [c["character_id"] for c in kept] == [rows[0]["character_id"]]
