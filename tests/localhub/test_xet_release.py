"""Releases that upload only what changed: ``ocforge.flows.release.release`` builds v2 of a
recipe after v1's layout, and the unmodified huggingface_hub client, through hf_xet with default
settings, uploads a small part of v1's bytes (the server's count of new xorb bytes).

The corpus is raw input files (characters and ``generate`` dialogues in the demo's formats) built
by the real curation pipeline. v2 appends 5% dialogues (new questions, new characters) to the
input files, as a corpus grows, and adds a first input file with a re-cased exact copy, a
lightly edited near copy and a verbatim copy (the same row id) of three v1 rows: read before the
originals, they are what dedup without a parent would keep.
"""

from __future__ import annotations

import io
import json
import random
import urllib.request
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from ocforge.flows.build import build
from ocforge.flows.release import release
from ocforge.hub import LocalHub
from ocforge.manifest import read_manifest
from ocforge.parent_layout import LayoutParent
from ocforge.publish.hub_client import connect
from ocforge.publish.parent import read_layout
from ocforge.recipe import load_recipe
from ocforge.records import PROFILE_FIELDS

TOKEN = "hf_xet_release_tests_token_0123456789"
REPO = "alice/xet-release"
_rng = random.Random(0)
VOCAB = sorted({"".join(_rng.choice("bcdfghklmnprstvz") + _rng.choice("aeiou") for _ in range(3)) for _ in range(4000)})  # fmt: skip
RECIPE = """\
name: xet-release
characters:
  inputs: [{path: characters.jsonl, source: test, fields: {profile: character}}]
dialogues:
  - strategy: generate
    inputs: [INPUTS]
filters:
  quality: {character_breaks: false, gopher_quality: false, gopher_repetition: false}
  dialogue: {name_consistency: false, profile_leakage: false}
  language: {enabled: false}
  pii: {enabled: false}
  dedup: {exact: true, near: {bands: 20, rows: 5}}
  decontamination: {enabled: false}
splits: {test_fraction: 0.1, seed: 0}
executor: {type: local, tasks: 2, workers: 2}
output: {max_shard_rows: 100000, row_group_rows: 1000}
card: {license: cc-by-4.0}
"""


def _words(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(VOCAB) for _ in range(n))


def _corpus(n_chars: int, per_char: int, seed: int, prefix: str) -> tuple[list, list]:
    rng = random.Random(seed)
    chars, dialogues = [], []
    for c in range(n_chars):
        ref = f"{prefix}-{c:05d}"
        fields = {f: _words(rng, 4) for f in PROFILE_FIELDS}
        fields.update(name=f"Person {prefix} {c}", age=str(20 + c % 50), gender="female")
        profile = "\n".join(f"{f.replace('_', ' ').title()}: {v}" for f, v in fields.items())
        chars.append({"character_id": ref, "persona": _words(rng, 10), "character": profile})
        for q in range(per_char):
            dialogues.append(
                {
                    "character_id": ref,
                    "question_id": f"{prefix}-q{c:05d}-{q}",
                    "source_corpus": "test",
                    "question": f"{_words(rng, 8)}?",
                    "response": _words(rng, rng.randint(40, 90)),
                }
            )
    return chars, dialogues


def _write(folder: Path, chars: list, dialogues: list, copies: list | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    files = {"characters": chars, "generate": dialogues, **({"copies": copies} if copies else {})}
    for name, rows in files.items():
        text = "".join(json.dumps(r) + "\n" for r in rows)
        (folder / f"{name}.jsonl").write_text(text, encoding="utf-8")
    inputs = [f"{{path: {n}.jsonl, source: test}}" for n in ("copies", "generate") if n in files]
    recipe = RECIPE.replace("INPUTS", ", ".join(inputs))
    (folder / "recipe.yaml").write_text(recipe, encoding="utf-8")
    return folder / "recipe.yaml"


def _stats(hub: LocalHub, revision: str) -> dict:
    url = f"{hub.endpoint}/api/datasets/{REPO}/localhub-upload-stats/{revision}"
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {TOKEN}"})
    with urllib.request.urlopen(request, timeout=30) as answer:
        return json.load(answer)


def _data(build_dir: Path) -> dict[str, bytes]:
    return {p.relative_to(build_dir).as_posix(): p.read_bytes() for p in sorted((build_dir / "data").rglob("*.parquet"))}  # fmt: skip


def _ids(data: bytes, column: str) -> list[str]:
    return pq.read_table(io.BytesIO(data), columns=[column]).column(0).to_pylist()


@pytest.fixture(scope="module")
def released(tmp_path_factory):
    """v1 and v2 of the recipe released to one local Hub; the builds and the upload stats."""
    tmp = tmp_path_factory.mktemp("xet-release")
    chars, dialogues = _corpus(300, 20, seed=1, prefix="oc")
    more_chars, more = _corpus(15, 20, seed=2, prefix="new")  # +5%: new people, new questions
    exact = dict(dialogues[7], response=dialogues[7]["response"].upper())  # same dedup key
    words = dialogues[11]["response"].split()
    near = dict(dialogues[11], response=" ".join([*words[:-1], "zzzz"]))  # one word edited
    v1 = _write(tmp / "v1", chars, dialogues)
    verbatim = dialogues[3]  # the same id as v1's row: only its provenance tells them apart
    v2 = _write(tmp / "v2", chars + more_chars, dialogues + more, copies=[exact, near, verbatim])
    with LocalHub(tmp / "hub", tokens={TOKEN: "alice"}) as hub:
        hub_kw = {"endpoint": hub.endpoint, "token": TOKEN, "verify": False}
        first = release(load_recipe(v1), REPO, build_dir=tmp / "b1", **hub_kw)
        second = release(load_recipe(v2), REPO, build_dir=tmp / "b2", **hub_kw)
        yield {
            "tmp": tmp, "hub": hub, "hub_kw": hub_kw, "v2": v2, "first": first, "second": second,
            "stats1": _stats(hub, first.commit), "stats2": _stats(hub, second.commit),
            "copies": (exact, near, dialogues[7], dialogues[11]),
            "verbatim": _dialogue_id(released_build=tmp / "b1", question=verbatim["question"]),
        }  # fmt: skip


def _dialogue_id(released_build: Path, question: str) -> str:
    table = pq.read_table(released_build / "data" / "generate", columns=["dialogue_id", "question"])
    ids = [i for i, q in zip(*(c.to_pylist() for c in table.columns), strict=True) if q == question]
    assert len(ids) == 1, ids
    return ids[0]


def test_v2_shards_start_with_v1s_rows_in_v1s_order(released):
    b1, b2 = _data(released["tmp"] / "b1"), _data(released["tmp"] / "b2")
    assert sorted(b1) == sorted(b2)  # the same shard files: the shard counts followed v1
    grew = 0
    for path in b1:
        if path.startswith("data/eval_"):
            continue  # derived by evals/configs.py, which is not given the parent's layout
        column = "character_id" if path.startswith("data/characters/") else "dialogue_id"
        old, new = _ids(b1[path], column), _ids(b2[path], column)
        assert new[: len(old)] == old, path  # every v1 row kept, in v1's order, first
        grew += len(new) > len(old)
    assert grew >= 2  # the new characters and dialogues landed after them
    manifest = read_manifest(released["tmp"] / "b2")
    first = released["first"]
    assert manifest.layout is not None and manifest.layout.parent.to_dict() == {
        "repo": REPO, "version": first.version, "tag": first.tag, "commit": first.commit
    }  # fmt: skip
    assert read_manifest(released["tmp"] / "b1").layout is None  # v1 followed nothing


def test_dedup_keeps_the_released_row_over_a_new_copy_before_it(released):
    exact, near, old_exact, old_near = released["copies"]
    b2 = released["tmp"] / "b2"
    responses = set()
    for path in sorted((b2 / "data" / "generate").glob("*.parquet")):
        responses.update(pq.read_table(path, columns=["response"]).column(0).to_pylist())
    assert old_exact["response"] in responses and exact["response"] not in responses
    assert old_near["response"] in responses and near["response"] not in responses
    ledger = read_manifest(b2).ledger.configs["generate"].reasons["duplicates"]
    assert ledger == {"exact_duplicate": 2, "near_duplicate": 1}
    # of two copies with one id, the one v1 released (its input line): the row keeps its bytes
    assert _provenance(b2, released["verbatim"]) == {"input": "generate.jsonl", "line": 4}


def test_without_a_parent_the_copies_would_win(released, tmp_path):
    """The control: the same v2 inputs built with no parent keep the copies (first in input
    order), so the test above can fail."""
    exact, near, old_exact, old_near = released["copies"]
    out = build(load_recipe(released["v2"]), tmp_path / "fresh").out_dir
    responses = set()
    for path in sorted((out / "data" / "generate").glob("*.parquet")):
        responses.update(pq.read_table(path, columns=["response"]).column(0).to_pylist())
    assert exact["response"] in responses and old_exact["response"] not in responses
    assert near["response"] in responses and old_near["response"] not in responses
    assert _provenance(out, released["verbatim"]) == {"input": "copies.jsonl", "line": 3}


def _provenance(build_dir: Path, row_id: str) -> dict:
    table = pq.read_table(build_dir / "data" / "generate", columns=["dialogue_id", "provenance"])
    found = [p for i, p in zip(*(c.to_pylist() for c in table.columns), strict=True) if i == row_id]
    assert len(found) == 1, found
    return {k: found[0][k] for k in ("input", "line")}


def test_rebuild_from_scratch_against_v1_gives_the_same_bytes(released, tmp_path):
    first, tmp = released["first"], released["tmp"]
    parent = LayoutParent(REPO, first.version, first.tag, first.commit)
    hub = released["hub"]
    with connect(endpoint=hub.endpoint, token=TOKEN) as conn:
        layout = read_layout(conn, parent, tmp_path / "cache")  # from the Hub: no local files
    out = build(load_recipe(released["v2"]), tmp_path / "again", parent=layout).out_dir
    assert _data(out) == _data(tmp / "b2")
    assert (out / "release.json").read_bytes() == (tmp / "b2" / "release.json").read_bytes()


def test_xet_upload_of_v2_sends_a_small_part_of_v1s_bytes(released):
    """The server's count of new xorb bytes per commit (a xorb packs chunks of several files,
    so only the commit's total is meaningful). v2's include the eval configs, which do not
    follow v1 yet, and the plots and the small characters files."""
    s1, s2 = released["stats1"], released["stats2"]
    v1_data = sum(f["size"] for p, f in s1["files"].items() if p.startswith("data/"))
    assert v1_data > 3_000_000 and s1["new_lfs_bytes"] == s2["new_lfs_bytes"] == 0  # all Xet
    assert s1["new_xorb_bytes"] >= 0.95 * v1_data  # v1 sent everything
    print(f"v2 new xorb bytes / v1 data bytes: {s2['new_xorb_bytes'] / v1_data:.3f}")
    assert s2["new_xorb_bytes"] <= 0.25 * v1_data, (s2["new_xorb_bytes"], v1_data)


def test_releasing_again_with_the_same_inputs_is_up_to_date_without_a_build(released, tmp_path):
    again = release(load_recipe(released["v2"]), REPO, build_dir=released["tmp"] / "b2", **released["hub_kw"])  # fmt: skip
    assert again.status == "up-to-date" and again.version == released["second"].version


def test_a_release_in_a_new_process_dedups_against_the_previous_runs_uploads(tmp_path):
    """``ocforge publish`` with the in-process local Hub, twice, in two processes: the server
    comes back on its port (ROOT/port), so hf_xet's cache, keyed by the server's address,
    still knows what the first run sent, and the second run sends almost nothing new."""
    import os
    import subprocess
    import sys

    from release_helpers import corpus, write_build

    build = write_build(tmp_path / "b", corpus(200, 20), max_shard_rows=100_000)
    exe = Path(sys.executable).parent / "ocforge"
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "ocforge"]
    env = {**os.environ, "OCFORGE_HUB_ROOT": str(tmp_path / "hub"), "HF_HOME": str(tmp_path / "hf")}
    env.pop("OCFORGE_HUB_URL", None)
    ports = []
    for repo in ("alice/first", "alice/second"):
        args = ["publish", "dataset", str(build), "--repo", repo, "--no-verify"]
        proc = subprocess.run([*cmd, *args], env=env, capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stderr[-2000:]
        ports.append((tmp_path / "hub" / "port").read_text())
    assert ports[0] == ports[1]
    token = next(
        line.split()[0]
        for line in (tmp_path / "hub" / "tokens").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    )
    with LocalHub(tmp_path / "hub", tokens={token: "alice"}) as hub:
        first, second = (_stats_of(hub, repo, token) for repo in ("alice/first", "alice/second"))
    assert first["xet_file_bytes"] > 1_000_000
    assert first["new_xorb_bytes"] >= 0.9 * first["xet_file_bytes"]
    assert second["new_xorb_bytes"] <= 0.05 * second["xet_file_bytes"], second


def _stats_of(hub: LocalHub, repo: str, token: str) -> dict:
    url = f"{hub.endpoint}/api/datasets/{repo}/localhub-upload-stats/v1.0.0"
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=30) as answer:
        return json.load(answer)
