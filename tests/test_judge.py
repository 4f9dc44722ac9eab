"""``ocforge eval judge`` on real servers on 127.0.0.1: a local Hub holding the demo release, a
tiny model served by ``transformers serve`` answering in character (through a recording proxy),
and scripted judges speaking the chat-completions protocol (tests/judge_server.py: a real judge
LLM cannot run here). Covered: the prepared set pinned to the release, parse failures with the
repair turn and missing scores, timeouts, the cache (a re-run sends nothing), resume after
kill -9, a second judge, lm-eval-shaped results recomputed from the samples, and --push twice.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import shutil
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

import pytest
from judge_server import ScriptedJudge
from models_evals_helpers import WRITE_TOKEN, tiny_model
from synth_server import RecordingProxy, transformers_serve

from ocforge.errors import JudgeConfigError, JudgeError
from ocforge.evals.judge.client import CACHE_FILE, Endpoint, ResponseCache
from ocforge.evals.judge.parsing import Unusable, parse_examples, parse_score
from ocforge.evals.judge.spec import JUDGE_DIR, load_spec
from ocforge.hub import Identity, LocalHub

OCFORGE = Path(sys.executable).parent / "ocforge"
DATASET, PREPARED, MODEL = "ocforge/demo", "ocforge/demo-personagym", "alice/tiny-rp"
DIMENSIONS = [d.id for d in load_spec().dimensions]
TEMP0 = {"temperature": 0.0, "max_tokens": 12}  # greedy answers: the same text every run


# -- fast: parsing and configuration -------------------------------------------------------------


@pytest.mark.parametrize(
    "text, score",
    [("Good voice.\nScore: 4", 4), ("Score: 1\n\n", 1), ("x\nScore:5", 5)],
)
def test_score_is_the_strict_final_line(text, score):
    assert parse_score(text) == score


@pytest.mark.parametrize(
    "text", ["Score: 0", "Score: 6", "Score: 4.5", "score: 3", "Score: 3\nThanks!", "", "**4**"]
)
def test_anything_else_is_unusable(text):
    with pytest.raises(Unusable, match="Score: N"):
        parse_score(text)


def test_examples_need_all_five_labels_in_order():
    assert parse_examples("Score 1: a\nScore 2: b\nmore b\nScore 3: c\nScore 4: d\nScore 5: e")[
        1
    ] == ("b\nmore b")
    with pytest.raises(Unusable, match="in order"):
        parse_examples("Score 2: b\nScore 1: a\nScore 3: c\nScore 4: d\nScore 5: e")


def test_a_broken_config_names_its_file_and_key(tmp_path):
    shutil.copytree(JUDGE_DIR, tmp_path / "judge")
    dims = tmp_path / "judge" / "dimensions-v1.yaml"
    dims.write_text(dims.read_text().replace("      5: The action is the best", "      6: x"))
    with pytest.raises(JudgeConfigError, match=r"dimensions-v1.yaml: dimensions\[0\].levels"):
        load_spec(tmp_path / "judge")


# -- the world: a Hub with the demo release, the served model, the judges -------------------------


@pytest.fixture(scope="module")
def world(tmp_path_factory, demo_build):
    from ocforge.flows.release import release_build
    from ocforge.models.publish import publish_model
    from ocforge.publish.hub_client import connect

    root = tmp_path_factory.mktemp("judge")
    shutil.copytree(demo_build.out_dir, root / "build")
    model_dir = tiny_model(tmp_path_factory)
    identity = Identity("alice", orgs=frozenset({"ocforge"}))
    with contextlib.ExitStack() as stack:
        hub = stack.enter_context(LocalHub(root / "hub", tokens={WRITE_TOKEN: identity}))
        released = release_build(
            root / "build", DATASET, version="1.0.0", endpoint=hub.endpoint, token=WRITE_TOKEN
        )
        conn = stack.enter_context(connect("local", endpoint=hub.endpoint, token=WRITE_TOKEN))
        publish_model(
            conn.api, model_dir, MODEL, base_model="meta-llama/Llama-3.1-8B",
            dataset=f"{DATASET}@{released.tag}", license="apache-2.0",
        )  # fmt: skip
        served = stack.enter_context(transformers_serve(model_dir, root))
        env = {
            **os.environ,
            "OCFORGE_HUB_URL": hub.endpoint,
            "OCFORGE_HUB_TOKEN": WRITE_TOKEN,
            "HF_HOME": str(root / "hf-home"),
        }
        yield {
            "root": root,
            "conn": conn,
            "release_sha": released.commit,
            "model_dir": model_dir,
            "proxy": stack.enter_context(RecordingProxy(served)),
            "generator": stack.enter_context(ScriptedJudge(seed=7)),
            "judge": stack.enter_context(
                ScriptedJudge(seed=1, malformed_every=2, hopeless_every=2)
            ),
            "judge2": stack.enter_context(ScriptedJudge(seed=2)),
            "env": env,
        }


def _cli(world, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    exe = [str(OCFORGE)] if OCFORGE.exists() else [sys.executable, "-m", "ocforge"]
    return subprocess.run(
        [*exe, *args], env=env or world["env"], capture_output=True, text=True, timeout=300
    )


@pytest.fixture(scope="module")
def prepared(world):
    gen = world["generator"]
    result = _cli(
        world, "eval", "judge", "prepare", "--dataset", f"{DATASET}@v1.0.0",
        "--generator-url", gen.url, "--generator-model", "scripted-generator",
        "--out", str(world["root"] / "prepared"), "--push",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "committed and tagged" in result.stdout
    return result


def _judge_run(world, output: Path, judges: list[str], **kw):
    from ocforge.evals.judge.flow import judge_model

    model = Endpoint(world["proxy"].url, str(world["model_dir"]))
    ends = [Endpoint(world[j].url, f"scripted-{j}") for j in judges]
    return judge_model(
        world["conn"].api, f"{PREPARED}@v1.0.0", model, ends, output,
        model=f"{MODEL}@v1.0.0", answer_sampling=TEMP0, **kw,
    )  # fmt: skip


@pytest.fixture(scope="module")
def judged(world, prepared):
    out = world["root"] / "judged"
    start = world["proxy"].count()
    record = _judge_run(world, out, ["judge", "judge2"])
    answers = world["proxy"].since(start)
    rows = [json.loads(line) for line in (out / "samples.jsonl").read_text().splitlines()]
    return {"out": out, "record": record, "rows": rows, "answers": answers}


# -- the prepared set --------------------------------------------------------------------------


def _test_profiles(world) -> dict[str, str]:
    import pyarrow.parquet as pq

    path = next((world["root"] / "build" / "data" / "characters").glob("test-*.parquet"))
    return {r["character_id"]: r["profile"] for r in pq.read_table(path).to_pylist()}


@pytest.mark.slow
def test_prepared_set_is_pinned_to_the_release_and_published_once(world, prepared):
    from ocforge.evals.judge.hubio import load_prepared

    api = world["conn"].api
    tags = {t.name: t.target_commit for t in api.list_repo_refs(PREPARED, repo_type="dataset").tags}
    assert set(tags) == {"v1.0.0"}
    got = load_prepared(api, f"{PREPARED}@v1.0.0", "light")
    m = got.manifest
    assert m["source"] == {
        "repo_id": DATASET, "revision": "v1.0.0", "sha": world["release_sha"], "version": "1.0.0",
    }  # fmt: skip
    spec = load_spec()
    assert m["prompts"] == spec.versions and m["generator"]["model"] == "scripted-generator"
    assert m["generator"]["sampling"] == spec.sampling["generator"]
    profiles = _test_profiles(world)
    assert len(got.items) == len(profiles) * len(DIMENSIONS) == m["configs"]["light"]["rows"]
    assert {(i["character_id"], i["dimension"]) for i in got.items} == {
        (c, d) for c in profiles for d in DIMENSIONS
    }
    for item in got.items:
        assert item["profile"] == profiles[item["character_id"]]
        assert len(item["examples"]) == 5 and all(item["examples"])
        assert 1 <= len(item["settings"]) <= spec.max_settings
        assert set(item["settings"]) <= set(spec.settings)
    again = _cli(
        world,
        "eval",
        "judge",
        "prepare",
        "--dataset",
        f"{DATASET}@v1.0.0",
        "--generator-url",
        "http://127.0.0.1:9",
        "--generator-model",
        "scripted-generator",
        "--out",
        str(world["root"] / "prepared"),
        "--push",
    )  # fmt: skip  (port 9: nothing listens; every reply comes from the cache)
    assert again.returncode == 0, again.stderr
    assert "already published (no commit)" in again.stdout
    refs = api.list_repo_refs(PREPARED, repo_type="dataset")
    assert {t.name: t.target_commit for t in refs.tags} == tags


@pytest.mark.slow
def test_a_full_set_holds_the_light_set(world, prepared):
    from ocforge.evals.judge.client import Endpoint as E
    from ocforge.evals.judge.flow import prepare_release
    from ocforge.evals.judge.hubio import load_prepared

    api, out = world["conn"].api, world["root"] / "prepared-full"
    done = prepare_release(
        api, f"{DATASET}@v1.0.0", E(world["generator"].url, "scripted-generator"), out,
        protocol="full",
    )  # fmt: skip
    assert done.published is None and set(done.manifest["configs"]) == {"light", "full"}
    full, light = (load_prepared(api, str(out), c).items for c in ("full", "light"))
    assert len(full) == 10 * len(light)
    assert [i for i in full if i["question_index"] == 0] == light


# -- answers, verdicts, results ---------------------------------------------------------------


@pytest.mark.slow
def test_answers_are_in_character_with_recorded_sampling(world, judged):
    profiles = _test_profiles(world)
    record, answers = judged["record"], judged["answers"]
    assert len(answers) == len(profiles) * len(DIMENSIONS)
    sampling = record["answer_sampling"]
    assert sampling == {**load_spec().sampling["answer"], **TEMP0}
    for body in answers:
        system, user = body["messages"]
        assert system["role"] == "system" and system["content"] in profiles.values()
        assert user["role"] == "user"
        assert {k: body[k] for k in sampling} == sampling
    assert all(r["filtered_resps"][0] for r in judged["rows"])
    assert record["model"]["repo_id"] == MODEL and record["model"]["sha"]


@pytest.mark.slow
def test_parse_failures_get_one_repair_then_the_score_is_missing(world, judged):
    judge, rows = world["judge"], judged["rows"]
    fates = {"ok": 0, "malformed": 0, "hopeless": 0}
    for row in rows:
        v = row["verdicts"][0]
        prompt = _prompt_for(judge, row)
        fate = judge.fate(prompt)
        fates[fate] += 1
        if fate == "hopeless":
            assert v["score"] is None and v["status"] == "parse_failure"
            assert v["repaired"] and len(v["replies"]) == 2
        else:
            assert v["score"] == judge.score_of(prompt) and v["status"] == "ok"
            assert v["repaired"] == (fate == "malformed")
            assert v["rationale"]
    assert fates["malformed"] and fates["hopeless"] and fates["ok"], fates
    summary = judged["record"]["judges"][0]
    assert summary["parse_failures"] == fates["hopeless"]
    assert summary["parse_failure_rate"] == pytest.approx(fates["hopeless"] / len(rows))
    assert summary["repaired"] == fates["malformed"] + fates["hopeless"]
    assert judged["record"]["metric_args"]["parse_failure_rate"] == pytest.approx(
        fates["hopeless"] / (2 * len(rows)), abs=1e-6
    )  # over both judges' verdicts
    assert all(r["score"] != 0 for r in rows)


def _prompt_for(judge: ScriptedJudge, row) -> str:
    """The verdict prompt ``judge`` was sent for a sample: the first user turn naming its answer
    and question."""
    for body in judge.requests:
        first = next(m["content"] for m in body["messages"] if m["role"] == "user")
        if f"Question:\n{row['doc']['question']}\n" in first and (
            f"Answer to grade:\n{row['filtered_resps'][0]}\n" in first
        ):
            return first
    raise AssertionError(f"no verdict request for {row['doc']['item_id']}")


@pytest.mark.slow
def test_a_second_judge_is_averaged_in(world, judged):
    judge2 = world["judge2"]
    for row in judged["rows"]:
        first, second = row["verdicts"]
        assert second["judge"] == "scripted-judge2"
        assert second["score"] == judge2.score_of(_prompt_for(judge2, row))
        scores = [v["score"] for v in (first, second) if v["score"] is not None]
        assert row["score"] == pytest.approx(sum(scores) / len(scores))
    assert judged["record"]["metric_args"]["judges"] == "scripted-judge, scripted-judge2"


@pytest.mark.slow
def test_results_are_lm_eval_shaped_and_follow_from_the_samples(judged):
    lm = json.loads((judged["out"] / "lm_eval_results.json").read_text())
    record = judged["record"]
    group = record["group"]
    assert group == "demo_personagym_light"
    tasks = lm["group_subtasks"][group]
    assert tasks == [f"{group}_{d}" for d in DIMENSIONS]
    for key in ("results", "groups", "group_subtasks", "n-samples", "higher_is_better", "versions", "configs"):  # fmt: skip
        assert key in lm, key
    means = []
    for task in tasks:
        scores = [
            r["score"] for r in judged["rows"] if r["task"] == task and r["score"] is not None
        ]
        entry = lm["results"][task]
        assert entry["score,none"] == pytest.approx(statistics.fmean(scores))
        se = statistics.stdev(scores) / math.sqrt(len(scores))
        assert entry["score_stderr,none"] == pytest.approx(se)
        assert lm["n-samples"][task] == {"original": 4, "effective": len(scores)}
        assert lm["higher_is_better"][task] == {"score": True}
        assert lm["configs"][task]["dataset_kwargs"]["revision"] == record["dataset"]["sha"]
        means.append(statistics.fmean(scores))
        assert record["metrics"][task] == {"score": entry["score,none"]}
    pscore = lm["results"][group]["score,none"]
    assert pscore == pytest.approx(sum(means) / 5) == lm["groups"][group]["score,none"]
    assert record["metrics"][group] == {"pscore": pscore}
    assert 1 <= pscore <= 5 and record["characters"]["n"] == 4


@pytest.mark.slow
def test_a_rerun_sends_no_request_and_writes_the_same_results(world, judged):
    before = {k: world[k].count() for k in ("judge", "judge2", "proxy")}
    first = (judged["out"] / "results.json").read_bytes()
    _judge_run(world, judged["out"], ["judge", "judge2"])
    assert {k: world[k].count() for k in before} == before
    assert (judged["out"] / "results.json").read_bytes() == first
    stats = json.loads((judged["out"] / "run_stats.json").read_text())
    assert all(s["sent"] == 0 and s["cached"] > 0 for s in stats.values())


@pytest.mark.slow
def test_push_twice_records_the_results_once(world, judged):
    from huggingface_hub import ModelCard

    from ocforge.evals.judge.flow import push_judge_results
    from ocforge.publish.dataset_ref import download_text

    api = world["conn"].api
    first = push_judge_results(api, MODEL, judged["out"])
    assert first.commit and first.entries == 6
    counts = {k: world[k].count() for k in ("judge", "judge2", "proxy")}
    again = _cli(
        world, "eval", "judge", "run", "--prepared", f"{PREPARED}@v1.0.0",
        "--model-url", world["proxy"].url, "--model-name", str(world["model_dir"]),
        "--model", f"{MODEL}@v1.0.0", "--max-tokens", "12", "--temperature", "0",
        "--judge-url", world["judge"].url, "--judge-model", "scripted-judge",
        "--judge2-url", world["judge2"].url, "--judge2-model", "scripted-judge2",
        "--output", str(judged["out"]), "--push",
    )  # fmt: skip
    assert again.returncode == 0, again.stderr
    assert "already holds these results (no commit)" in again.stdout
    assert {k: world[k].count() for k in counts} == counts
    card = ModelCard(download_text(api, MODEL, "README.md", api.model_info(MODEL).sha))
    results = [r for r in card.data.eval_results if r.dataset_type == PREPARED]
    assert len(results) == 6 and len({r.metric_name for r in results}) == 6
    args = results[0].metric_args
    assert results[0].metric_config == "light" and args["protocol"] == "PersonaGym-Light"
    assert args["judges"] == "scripted-judge, scripted-judge2"
    assert args["judge_prompt"] == "personagym-judge v1"
    assert args["dataset_commit"] == world["release_sha"]
    assert {r.dataset_revision for r in results} == {judged["record"]["dataset"]["sha"]}
    pscore = judged["record"]["metrics"]["demo_personagym_light"]["pscore"]
    assert ("demo_personagym_light pscore", round(pscore, 6)) in {
        (r.metric_name, r.metric_value) for r in results
    }


# -- timeouts, refusals, resume ---------------------------------------------------------------


@pytest.mark.slow
def test_timeouts_are_counted_and_leave_the_score_missing(world, prepared):
    from ocforge.evals.judge.flow import judge_model

    with ScriptedJudge(seed=3, slow_every=3, slow_s=1.5) as slow, ScriptedJudge() as answers:
        out = world["root"] / "timeouts"
        record = judge_model(
            world["conn"].api, f"{PREPARED}@v1.0.0", Endpoint(answers.url, "m"),
            [Endpoint(slow.url, "slow-judge", timeout_s=0.5, retries=1)], out,
        )  # fmt: skip
        rows = [json.loads(line) for line in (out / "samples.jsonl").read_text().splitlines()]
        slow_rows = [r for r in rows if slow.fate(_prompt_for(slow, r)) == "slow"]
    assert slow_rows and len(slow_rows) < len(rows)
    for r in slow_rows:
        v = r["verdicts"][0]
        assert v["score"] is None and v["status"] == "no_reply"
        assert v["problem"] == "timeout after 0.5 s" and r["score"] is None
    stats = json.loads((out / "run_stats.json").read_text())
    judge_stats = next(s for k, s in stats.items() if k.startswith("slow-judge"))
    assert judge_stats["timeouts"] == 2 * len(slow_rows)  # the try and its retry
    assert judge_stats["failed"] == len(slow_rows)
    assert record["judges"][0]["no_reply"] == len(slow_rows)
    assert record["judges"][0]["parse_failures"] == 0


@pytest.mark.slow
def test_a_refusing_or_unreachable_endpoint_stops_with_a_clear_error(world, prepared, tmp_path):
    from ocforge.evals.judge.flow import judge_model

    api = world["conn"].api
    with pytest.raises(JudgeError, match="cannot reach m at http://127.0.0.1:9/v1/chat"):
        judge_model(api, f"{PREPARED}@v1.0.0", Endpoint("http://127.0.0.1:9", "m"),
                    [Endpoint(world["judge"].url, "j")], tmp_path / "a")  # fmt: skip
    with pytest.raises(JudgeError, match="refused the request: HTTP 404"):
        judge_model(api, f"{PREPARED}@v1.0.0", Endpoint(world["judge"].url + "/nope", "m"),
                    [Endpoint(world["judge"].url, "j")], tmp_path / "b")  # fmt: skip
    with pytest.raises(JudgeError, match="environment variable OCFORGE_NO_SUCH_KEY"):
        judge_model(api, f"{PREPARED}@v1.0.0", Endpoint(world["judge"].url, "m", "OCFORGE_NO_SUCH_KEY"),
                    [Endpoint(world["judge"].url, "j")], tmp_path / "c")  # fmt: skip
    with pytest.raises(JudgeError, match="not written by 'ocforge eval judge prepare'"):
        judge_model(api, str(tmp_path), Endpoint(world["judge"].url, "m"),
                    [Endpoint(world["judge"].url, "j")], tmp_path / "d")  # fmt: skip


@pytest.mark.slow
def test_resume_after_kill_9_sends_only_what_was_not_stored(world, prepared):
    out = world["root"] / "killed"
    secret = "sk-judge-secret-123456"
    env = {**world["env"], "JUDGE_KEY": secret}
    with (
        ScriptedJudge(delay_s=0.05) as answers,
        ScriptedJudge(seed=4, delay_s=0.15, malformed_every=3) as judge,
    ):
        args = [
            "eval", "judge", "run", "--prepared", f"{PREPARED}@v1.0.0",
            "--model-url", answers.url, "--model-name", "m", "--concurrency", "2",
            "--judge-url", judge.url, "--judge-model", "j", "--judge-api-key-env", "JUDGE_KEY",
            "--output", str(out),
        ]  # fmt: skip
        exe = [str(OCFORGE)] if OCFORGE.exists() else [sys.executable, "-m", "ocforge"]
        proc = subprocess.Popen(
            [*exe, *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        deadline = time.monotonic() + 120
        while judge.count() < 8 and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        os.kill(proc.pid, signal.SIGKILL)
        proc.communicate()
        assert proc.returncode == -signal.SIGKILL
        cache = ResponseCache(out / CACHE_FILE)
        stored = {"m": cache.count("m"), "j": cache.count("j")}
        cache.close()
        sent = {"m": answers.count(), "j": judge.count()}
        assert 0 < stored["j"] < 20 and not (out / "results.json").exists()
        done = _cli(world, *args, env=env)
        assert done.returncode == 0, done.stderr
        cache = ResponseCache(out / CACHE_FILE)
        final = {"m": cache.count("m"), "j": cache.count("j")}
        cache.close()
        # the second run sent exactly the requests whose replies were not stored
        assert answers.count() - sent["m"] == final["m"] - stored["m"]
        assert judge.count() - sent["j"] == final["j"] - stored["j"]
        assert set(judge.auth) == {f"Bearer {secret}"}
    record = json.loads((out / "results.json").read_text())
    assert all(
        v == {"original": 4, "effective": 4} for v in record["lm_eval"]["n-samples"].values()
    )
    for path in [*out.glob("*.json*")]:
        assert secret not in path.read_text()
    assert secret not in done.stdout + done.stderr


@pytest.mark.slow
def test_an_unknown_prepared_set_is_named(world):
    from ocforge.evals.judge.hubio import load_prepared

    with pytest.raises(JudgeError, match="prepared set ocforge/nope not found"):
        load_prepared(world["conn"].api, "ocforge/nope@v1.0.0", "light")
    with pytest.raises(JudgeError, match="has no revision 'v9.9.9'"):
        load_prepared(world["conn"].api, f"{DATASET}@v9.9.9", "light")
    with pytest.raises(JudgeError, match="has no personagym.json: not a set written by"):
        load_prepared(world["conn"].api, f"{DATASET}@v1.0.0", "light")
