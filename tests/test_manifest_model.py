"""``release.json`` through its typed model (ocforge/manifest.py): what the writers wrote before the
model is what they write now, byte for byte; every manifest read and written again is the same
file; old manifests still parse; a damaged one is refused naming the file and the field."""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path

import pytest
from release_helpers import TOKEN, corpus, write_build

from ocforge.errors import ManifestError, OcforgeError
from ocforge.flows.release import release_build
from ocforge.hub import Identity, LocalHub
from ocforge.manifest import (
    MANIFEST_NAME,
    ReleaseManifest,
    manifest_text,
    parse_manifest,
    read_manifest,
    write_manifest,
)
from ocforge.publish.local_build import read_build

GOLDEN = Path(__file__).parent / "golden" / "manifest"
#: a release's manifest, assembled by hand in the form the dict-based writers gave it (the key
#: order of ``build_manifest`` and ``{**build, ...}`` in publish/release.py, json.dumps with
#: indent=2 and ensure_ascii=False): config ledgers without ``modified`` (before commit 296b963),
#: a Hub input, a synthesized input, a config with no rows, non-ASCII text
OLD_RELEASE = GOLDEN / "release-1.1.0-old.json"


def _old_writer(data: dict) -> str:
    """How release.json was written before the model (ocforge/manifest.py, publish/release.py)."""
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def _break(text: str, edit) -> str:
    data = json.loads(text)
    edit(data)
    return json.dumps(data)


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    with LocalHub(
        tmp_path_factory.mktemp("hub"), tokens={TOKEN: Identity("alice", orgs=frozenset({"m"}))}
    ) as running:
        yield running


# --------------------------------------------------------------------------- byte for byte


def test_demo_build_manifest_is_the_pre_model_bytes(demo_build, tmp_path):
    """The demo's release.json (characters, dialogues, eval configs, PII counts) is the JSON the
    dict-based writer gave for the same content, and survives read -> write unchanged."""
    written = (demo_build.out_dir / MANIFEST_NAME).read_text(encoding="utf-8")
    data = json.loads(written)
    assert list(data) == [
        "manifest_version",
        "name",
        "version",
        "parent",
        "recipe",
        "inputs",
        "configs",
        "ledger",
        "tools",
    ]
    assert data["version"] is None and data["parent"] is None  # nulls kept, not dropped
    assert {c["kind"] for c in data["configs"].values()} == {"characters", "dialogues", "eval"}
    assert written == _old_writer(data)
    assert manifest_text(demo_build.manifest) == written  # what build() returns is what it wrote
    assert manifest_text(parse_manifest(written.encode(), "demo")) == written
    write_manifest(tmp_path, read_manifest(demo_build.out_dir))
    assert (tmp_path / MANIFEST_NAME).read_bytes() == written.encode("utf-8")


def test_old_release_manifest_parses_and_round_trips():
    text = OLD_RELEASE.read_text(encoding="utf-8")
    m = read_manifest(OLD_RELEASE)
    assert manifest_text(m) == text
    assert (m.version, m.parent.tag, m.repo) == ("1.1.0", "v1.0.0", "demo/café")
    assert "modified" not in m.ledger.configs["rewrite"].to_dict()  # not added on the way back
    assert m.ledger.to_ledger().summary().startswith("input 7 = kept 4")
    hub_input, synthesized = m.inputs[1], m.inputs[2]
    assert hub_input.fingerprint() == {"hub": "proj-persona/PersonaHub", "revision": "unpinned"}
    assert synthesized.synthesis["model"] == "tiny-chat"
    assert m.configs["generate"].splits == {}
    assert m.data_files()["data/rewrite/test-00000-of-00001.parquet"] == "3" * 64


def test_release_manifest_is_the_builds_plus_the_release_keys(hub, tmp_path):
    """A (dry-run) release stages the build's release.json with version and parent set and the
    release's keys appended, exactly as ``{**build, ...}`` + ``json.dumps`` staged it."""
    build = write_build(tmp_path / "b", corpus(6, 2))
    release_build(
        build,
        "m/bytes",
        endpoint=hub.endpoint,
        token=TOKEN,
        dry_run=True,
        staging_dir=tmp_path / "stage",
    )
    staged = (tmp_path / "stage" / MANIFEST_NAME).read_text(encoding="utf-8")
    got = json.loads(staged)
    expected = {
        **json.loads((build / MANIFEST_NAME).read_text(encoding="utf-8")),
        "version": "1.0.0",
        "parent": None,
        "repo": "m/bytes",
        "card_sha256": got["card_sha256"],
        "card_metadata": got["card_metadata"],
        "changelog": "### v1.0.0\n\nFirst release.",
    }
    assert staged == _old_writer(expected)
    assert manifest_text(parse_manifest(staged, "staged")) == staged


def test_unknown_top_level_keys_are_kept_in_place_of_refused():
    """A release by a newer ocforge may carry a section this one does not know: it is read and
    written back (after the known keys), not refused or dropped."""
    data = json.loads(OLD_RELEASE.read_text(encoding="utf-8"))
    data["future_section"] = {"x": [1, 2]}
    m = parse_manifest(json.dumps(data), "newer")
    assert json.loads(manifest_text(m))["future_section"] == {"x": [1, 2]}
    assert manifest_text(m) == _old_writer(data)


def test_dict_readers_not_yet_on_the_model_get_the_json_form():
    m = read_manifest(OLD_RELEASE)
    assert m.get("parent") == {
        "version": "1.0.0",
        "tag": "v1.0.0",
        "commit": "4b825dc642cb6eb9a060e54bf8d69288fbee4904",
    }
    assert m.get("configs")["rewrite"]["rows"] == 2
    assert m.get("no_such_key", 0) == 0


# --------------------------------------------------------------------------- damaged manifests


@pytest.mark.parametrize(
    ("edit", "field", "what"),
    [
        (
            lambda d: d["configs"]["rewrite"]["splits"]["train"].update(rows="1"),
            "configs.rewrite.splits.train.rows",
            "valid integer (got '1')",
        ),
        (lambda d: d.pop("ledger"), "ledger", "Field required"),
        (
            lambda d: d["configs"]["rewrite"]["splits"]["test"]["files"][0].update(size=1),
            "configs.rewrite.splits.test.files[0].size",
            "Extra inputs are not permitted",
        ),
        (lambda d: d["inputs"][0].update(records=3.0), "inputs[0].records", "(got 3.0)"),
        (
            lambda d: d["configs"]["rewrite"].update(kind="dialogue"),
            "configs.rewrite.kind",
            "'eval'",
        ),
        (lambda d: d.update(manifest_version=2), "manifest_version", "upgrade ocforge"),
        (lambda d: d.update(parent={"version": "1.0.0"}), "parent.tag", "Field required"),
    ],
)
def test_damaged_manifest_names_file_and_field(tmp_path, edit, field, what):
    path = tmp_path / MANIFEST_NAME
    path.write_text(_break(OLD_RELEASE.read_text(encoding="utf-8"), edit), encoding="utf-8")
    with pytest.raises(ManifestError) as err:
        read_manifest(tmp_path)
    message = str(err.value)
    assert message.startswith(f"invalid release.json {path}:\n")
    (line,) = [p for p in err.value.problems if p.startswith(f"{field}: ")]
    assert what in line
    assert isinstance(err.value, OcforgeError) and isinstance(err.value, ValueError)


def test_not_json_names_line_and_column():
    with pytest.raises(
        ManifestError, match=r"invalid release.json org/x@v1: *\n.*not JSON: line 2"
    ):
        parse_manifest('{"manifest_version": 1,\n oops}', "org/x@v1")
    with pytest.raises(ManifestError, match="expected a JSON object, got list"):
        parse_manifest("[]", "org/x@v1")


def test_a_build_with_a_damaged_manifest_is_refused_before_anything_is_read(tmp_path):
    build = write_build(tmp_path / "b", corpus(4, 1))
    text = (build / MANIFEST_NAME).read_text(encoding="utf-8")
    broken = _break(text, lambda d: d["ledger"]["configs"]["rewrite"].update(kept="all"))
    (build / MANIFEST_NAME).write_text(broken, encoding="utf-8")
    with pytest.raises(ManifestError, match=r"ledger\.configs\.rewrite\.kept: Input should be"):
        read_build(build)


def test_write_manifest_validates_a_plain_dict(tmp_path):
    data = json.loads(OLD_RELEASE.read_text(encoding="utf-8"))
    write_manifest(tmp_path, data)  # callers not yet on the model may pass the JSON form
    assert (tmp_path / MANIFEST_NAME).read_text(encoding="utf-8") == _old_writer(data)
    bad = copy.deepcopy(data)
    bad["configs"]["rewrite"]["rows"] = None
    with pytest.raises(ManifestError, match=r"configs\.rewrite\.rows: Input should be"):
        write_manifest(tmp_path / "x", bad)
    assert not (tmp_path / "x").exists()


def test_models_are_frozen():
    m = read_manifest(OLD_RELEASE)
    with pytest.raises(ValueError, match="frozen"):
        m.name = "other"  # type: ignore[misc]
    again = m.model_copy(update={"version": "1.2.0"})
    assert (
        isinstance(again, ReleaseManifest)
        and json.loads(manifest_text(again))["version"] == "1.2.0"
    )
    assert m.version == "1.1.0"


def test_eval_configs_declared_later_keep_the_manifest_bytes(demo_build, demo_recipe, tmp_path):
    """declare_eval_configs reads, extends and writes release.json: with the eval configs already
    declared, writing them again changes nothing."""
    from ocforge.evals.configs import declare_eval_configs, write_eval_configs

    copy_dir = tmp_path / "b"
    shutil.copytree(demo_build.out_dir, copy_dir)
    before = (copy_dir / MANIFEST_NAME).read_bytes()
    rows = demo_recipe.output.row_group_rows
    declare_eval_configs(copy_dir, write_eval_configs(copy_dir, row_group_rows=rows))
    assert (copy_dir / MANIFEST_NAME).read_bytes() == before
