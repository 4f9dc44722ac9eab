"""Release building blocks without a server: versions, secret patterns, layout, card parts."""

from __future__ import annotations

import hashlib

import polars as pl
import pytest
from huggingface_hub import DatasetCard, DatasetCardData
from manifest_helpers import config_entry, file_entry, manifest
from release_helpers import corpus, write_build

from ocforge.cards.dataset_card import GENERATED_END, GENERATED_START, merge_card
from ocforge.cards.plots import render_plots
from ocforge.cards.statistics import config_stats, response_lengths
from ocforge.errors import VersionError
from ocforge.layout import shard_count, shard_index
from ocforge.publish.secrets import scan_parquet, scan_text
from ocforge.publish.versions import Version, change_level, next_version


def test_version_rules():
    v = Version.parse("v1.2.3")
    assert (v.bump("major"), v.bump("minor"), v.bump("patch")) == (
        Version(2, 0, 0),
        Version(1, 3, 0),
        Version(1, 2, 4),
    )
    assert next_version(None, "major", "auto", None) == Version(1, 0, 0)
    assert next_version(v, "minor", "auto", None) == Version(1, 3, 0)
    assert next_version(v, None, "auto", None) == Version(1, 2, 4)
    assert next_version(v, "patch", "major", None) == Version(2, 0, 0)
    with pytest.raises(VersionError, match="not newer"):
        next_version(v, "minor", "auto", "1.2.3")
    with pytest.raises(VersionError, match="MAJOR.MINOR.PATCH"):
        Version.parse("1.2")


def _manifest(schema="s", files=(("data/a/train-0.parquet", "x"),)):
    train = [file_entry(p, h) for p, h in files]
    return manifest({"a": config_entry({"train": train}, schema=schema)})


def test_change_levels():
    base = _manifest()
    assert change_level(None, base, False) == "major"
    assert change_level(base, _manifest(), False) is None
    assert change_level(base, _manifest(), True) == "patch"
    assert change_level(base, _manifest(files=(("data/a/train-0.parquet", "y"),)), False) == "minor"
    assert change_level(base, _manifest(schema="t"), False) == "major"


def test_shards_are_stable_under_small_changes():
    ids = [hashlib.sha256(str(i).encode()).hexdigest()[:16] for i in range(1000)]
    n = shard_count(len(ids), 100)
    assert n == 16 and shard_count(len(ids) + 10, 100) == n  # small growth: same shard count
    before = {i: shard_index(i, n) for i in ids}
    assert {i: shard_index(i, n) for i in ids} == before  # deterministic
    assert len(set(before.values())) == n


@pytest.mark.parametrize(
    ("text", "pattern"),
    [
        ("token hf_" + "AbCdEfGhIj" * 4, "huggingface-token"),
        ("OPENAI_API_KEY=sk-proj-" + "x1Y2z3" * 7, "openai-key"),
        ("id AKIAIOSFODNN7EXAMPLE here", "aws-access-key-id"),
        (
            "aws_secret_access_key = " + "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            "aws-secret-access-key",
        ),
        ("-----BEGIN RSA PRIVATE KEY-----", "private-key"),
    ],
)
def test_secret_patterns(text, pattern):
    [finding] = scan_text(f"line one\n{text}\n", "README.md")
    assert (finding.pattern, finding.line) == (pattern, 2)
    assert scan_text(text, "README.md", allow=[pattern]) == []


def test_benign_text_is_not_a_secret(tmp_path):
    assert scan_text("use huggingface_hub and hf_hub_download; sk-learn; AKIA", "x") == []
    path = tmp_path / "a.parquet"
    pl.DataFrame({"id": ["a", "b"], "t": ["hello", "-----BEGIN PRIVATE KEY----- x"]}).write_parquet(
        path
    )
    [finding] = scan_parquet(path, "data/x.parquet", "id")
    assert (finding.row_id, finding.pattern) == ("b", "private-key")


def test_statistics_match_the_rows_and_plots_are_deterministic(tmp_path):
    configs = corpus(n_characters=30, per_character=4)
    build = write_build(tmp_path / "b", configs)
    chars = config_stats(build, "characters", "characters", ["train", "test"])
    assert sum(chars.rows.values()) == 30 and chars.characters == 30
    assert dict(chars.genders) == {"female": 10, "male": 10, "non-binary": 10}
    rewrite = config_stats(build, "rewrite", "dialogues", ["train", "test"])
    words = [len(r["response"].split()) for r in configs["rewrite"].rows]
    assert rewrite.response_words["max"] == max(words)
    assert rewrite.response_words["mean"] == round(sum(words) / len(words), 1)
    assert sorted(response_lengths(build, "rewrite", ["train", "test"])) == sorted(words)
    lengths = {"rewrite": words}
    first = render_plots(tmp_path / "p1", [chars, rewrite], lengths)
    render_plots(tmp_path / "p2", [chars, rewrite], lengths)
    paths = [rel for items in first.values() for _t, rel in items]
    assert "plots/rewrite-answer-length.png" in paths
    for rel in paths:
        data = (tmp_path / "p1" / rel).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and data == (tmp_path / "p2" / rel).read_bytes()


def test_merge_keeps_text_outside_markers_and_handles_cards_without_markers():
    meta = DatasetCardData(license="cc-by-4.0", pretty_name="New")
    body = f"{GENERATED_START}\n# New body\n{GENERATED_END}\n"
    existing = (
        "---\nlicense: mit\ncustom: kept\n---\n\nIntro by hand.\n\n"
        f"{GENERATED_START}\n# Old body\n{GENERATED_END}\n\nOutro by hand.\n"
    )
    merged = DatasetCard(merge_card(existing, meta, body, {"license": "mit"}))
    assert "Intro by hand." in merged.text and "Outro by hand." in merged.text
    assert "# New body" in merged.text and "# Old body" not in merged.text
    assert merged.data["license"] == "cc-by-4.0"  # not edited by hand since the last release
    assert merged.data["custom"] == "kept"
    by_hand = DatasetCard(merge_card(existing, meta, body, {"license": "cc-by-4.0"}))
    assert by_hand.data["license"] == "mit"  # changed by hand on the Hub: kept
    plain = DatasetCard(merge_card("---\nlicense: mit\n---\nOld card text.\n", meta, body))
    assert plain.text.index("# New body") < plain.text.index("Old card text.")
    fresh = merge_card(None, meta, body)
    assert fresh.count(GENERATED_START) == 1 and "## Notes" in fresh


def test_verification_groups_balance_bytes_and_keep_every_config_once():
    from ocforge.publish.verify import _groups

    def config(*sizes):
        files = [file_entry(f"data/c/train-{i}.parquet", size=s) for i, s in enumerate(sizes)]
        return config_entry({"train": files})

    built = manifest(
        {
            "characters": config(10),
            "rewrite": config(400, 300),
            "generate": config(600),
            "eval_dialogues": config(90),
            "eval_choice": config(80),
            "empty": config_entry({}),  # no split: nothing to load
        }
    )
    two = _groups(built, 2)
    assert sorted(c for g in two for c in g) == sorted(set(built.configs) - {"empty"})
    loads = [sum(f.bytes for c in g for f in built.configs[c].files()) for g in two]
    assert max(loads) - min(loads) <= 100  # 700 + 10 against 600 + 90 + 80
    order = [c for c in built.configs if c != "empty"]
    assert all(g == sorted(g, key=order.index) for g in two)
    assert _groups(built, 1) == [order]
    assert len(_groups(manifest({"only": config(5)}), 2)) == 1
