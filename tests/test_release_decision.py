"""The release decisions as pure functions: no server, no files (publish/decision.py for datasets,
decide_model in models/publish.py, Refs.pending in publish/protocol.py)."""

from __future__ import annotations

import pytest
from manifest_helpers import config_entry, file_entry, ledger_entry, manifest

from ocforge.errors import ModelPublishError, TagExistsError, VersionError
from ocforge.manifest import ParentRef
from ocforge.models.publish import decide_model
from ocforge.publish.decision import decide, pending_build
from ocforge.publish.protocol import Refs
from ocforge.publish.versions import Version

REPO = "t/decide"


def _manifest(files=("a",), schema="s1", card="c1", version=None):
    train = [file_entry(f"data/rewrite/train-{i}.parquet", sha) for i, sha in enumerate(files)]
    rewrite = config_entry({"train": train}, schema=schema)
    return manifest({"rewrite": rewrite}, version=version, card_sha256=card)


def _released(build, version):
    return build.model_copy(update={"version": version, "parent": None, "repo": REPO})


def _decide(refs, current, previous=None, **kw):
    return decide(refs, current, repo_id=REPO, previous=previous, **kw)


V1 = Refs(True, "c1", {"v1.0.0": "c1"})


def test_first_release_is_1_0_0():
    d = _decide(Refs(exists=False), _manifest())
    assert (d.action, str(d.version), d.level, d.reason) == (
        "release",
        "1.0.0",
        "major",
        "first release",
    )
    assert str(_decide(Refs(False), _manifest(), version="2.3.4").version) == "2.3.4"


@pytest.mark.parametrize(
    ("change", "level", "version"),
    [
        ({"files": ("b",)}, "minor", "1.1.0"),
        ({"schema": "s2"}, "major", "2.0.0"),
        ({"card": "c2"}, "patch", "1.0.1"),
    ],
)
def test_changes_give_the_level_and_the_next_version(change, level, version):
    previous = _released(_manifest(), "1.0.0")
    d = _decide(V1, _manifest(**change), previous)
    assert (d.action, d.level, str(d.version)) == ("release", level, version)
    assert d.reason == f"{level} change since v1.0.0"
    # an explicit bump or version wins over the detected level
    assert str(_decide(V1, _manifest(**change), previous, bump="major").version) == "2.0.0"
    assert str(_decide(V1, _manifest(**change), previous, version="1.5.0").version) == "1.5.0"


def test_identical_content_is_up_to_date_and_an_explicit_version_is_ignored():
    previous = _released(_manifest(), "1.0.0")
    d = _decide(V1, _manifest(), previous)
    assert (d.action, str(d.version), d.notes) == ("up-to-date", "1.0.0", ())
    d = _decide(V1, _manifest(), previous, version="3.0.0")
    assert d.action == "up-to-date"
    assert d.notes == ("content identical to v1.0.0: --version 3.0.0 ignored",)


def test_a_version_that_is_not_newer_is_refused():
    previous = _released(_manifest(), "1.0.0")
    with pytest.raises(VersionError, match="not newer than the latest release 1.0.0"):
        _decide(V1, _manifest(files=("b",)), previous, version="1.0.0")
    with pytest.raises(VersionError, match="invalid version"):
        _decide(V1, _manifest(files=("b",)), previous, version="one")
    assert issubclass(TagExistsError, VersionError) and issubclass(VersionError, ValueError)


def test_untagged_head_of_this_build_is_finished_only_when_its_files_are_the_builds():
    previous = _released(_manifest(), "1.0.0")
    current = _manifest(files=("b",))
    parent = ParentRef(version="1.0.0", tag="v1.0.0", commit="c1")
    head = _released(current, "1.1.0").model_copy(update={"parent": parent})
    refs = Refs(True, "c2", {"v1.0.0": "c1"})  # c2: committed, never tagged
    assert pending_build(refs, head, current) == Version(1, 1, 0)
    d = _decide(refs, current, previous, head_manifest=head, head_holds_build=True)
    assert (d.action, str(d.version)) == ("finish-tag", "1.1.0")
    # main's data files differ from the build's: a new commit, same version, and a note why
    d = _decide(refs, current, previous, head_manifest=head, head_holds_build=False)
    assert (d.action, str(d.version)) == ("release", "1.1.0")
    assert d.notes and "differs from this build's files" in d.notes[0]
    # a dry run never finishes a tag
    d = _decide(refs, current, previous, head_manifest=head, head_holds_build=True, finish=False)
    assert d.action == "release" and d.notes == ()


def test_untagged_head_of_another_build_is_superseded():
    previous = _released(_manifest(), "1.0.0")
    current = _manifest(files=("b",))
    refs = Refs(True, "c2", {"v1.0.0": "c1"})
    other_ledger = _released(current, "1.1.0").model_copy(
        update={"ledger": ledger_entry({"rewrite": (4, 3)})}
    )
    other_rows = _released(_manifest(files=("z",)), "1.1.0")
    for head in (other_ledger, other_rows):
        assert pending_build(refs, head, current) is None
        d = _decide(refs, current, previous, head_manifest=head, head_holds_build=True)
        assert (d.action, str(d.version)) == ("release", "1.1.0")


def test_pending_needs_an_untagged_head_and_a_new_version():
    refs = Refs(True, "c2", {"v1.0.0": "c1", "stable": "c2"})
    assert refs.pending(Version(1, 1, 0)) == Version(1, 1, 0)  # "stable" is not a version tag
    assert refs.pending(Version(1, 0, 0)) is None  # already a version
    assert refs.pending(None) is None
    assert Refs(True, "c1", {"v1.0.0": "c1"}).pending(Version(1, 1, 0)) is None  # head tagged
    assert Refs(False).pending(Version(1, 0, 0)) is None
    assert Refs(True, "c3", {"v2.0.0": "c1"}).pending(Version(1, 5, 0)) is None  # older


def test_model_decisions():
    empty, tagged = Refs(True, "c0", {}), Refs(True, "c1", {"v1.0.0": "c1"})
    d = decide_model(Refs(False), changed=True, version=None)
    assert (str(d.version), d.tag_needed) == ("1.0.0", True)
    assert (
        str(decide_model(empty, False, None).version),
        decide_model(empty, False, None).tag_needed,
    ) == ("1.0.0", True)
    # main ahead of v1.0.0 by eval results, same weights: still v1.0.0, no tag
    ahead = Refs(True, "c2", {"v1.0.0": "c1"})
    d = decide_model(ahead, changed=False, version=None)
    assert (str(d.version), d.tag_needed) == ("1.0.0", False)
    # an interrupted publish of v1.1.0 at the head: tagged now
    d = decide_model(ahead, changed=False, version=None, pending=Version(1, 1, 0))
    assert (str(d.version), d.tag_needed) == ("1.1.0", True)
    assert str(decide_model(tagged, changed=True, version=None).version) == "1.1.0"
    # the head already is v1.0.0: asking for it again is not an error and makes no tag
    assert decide_model(tagged, changed=False, version="1.0.0").tag_needed is False
    with pytest.raises(ModelPublishError, match="tag v1.0.0 already exists.*never move"):
        decide_model(tagged, changed=True, version="1.0.0")
    with pytest.raises(ModelPublishError, match="already exists"):
        decide_model(ahead, changed=False, version="1.0.0")  # v1.0.0 is another commit
