"""Release cards on the local Hub: metadata round trip, hand edits kept, plots, secret scan,
and verification failures."""

from __future__ import annotations

import copy
import json

import pytest
from huggingface_hub import DatasetCard, DatasetCardData
from release_helpers import RECIPE, TOKEN, client, corpus, write_build

from ocforge.errors import SecretFoundError, VerificationError
from ocforge.flows.release import release_build
from ocforge.hub import Identity, LocalHub
from ocforge.publish.hub_client import connect


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    with LocalHub(
        tmp_path_factory.mktemp("hub"), tokens={TOKEN: Identity("alice", orgs=frozenset({"c"}))}
    ) as running:
        yield running


def _release(hub, build, repo, **kw):
    kw.setdefault("verify", False)
    return release_build(build, repo, endpoint=hub.endpoint, token=TOKEN, **kw)


def _readme(hub, repo, revision="main"):
    with connect(endpoint=hub.endpoint, token=TOKEN) as conn:
        return conn.api.hf_hub_download(repo, "README.md", repo_type="dataset", revision=revision)


def test_card_metadata_round_trips_and_datasets_reads_it(hub, tmp_path):
    configs = corpus()
    _release(hub, write_build(tmp_path / "b", configs), "c/roundtrip")
    text = open(_readme(hub, "c/roundtrip")).read()
    card = DatasetCard(text)
    data = card.data.to_dict()
    assert data["license"] == "cc-by-nc-sa-4.0"
    assert data["source_datasets"] == ["proj-persona/PersonaHub"]
    assert data["pretty_name"] == "Release test corpus"
    # dump -> parse gives the same metadata
    assert DatasetCardData(**data).to_dict() == data
    assert DatasetCard(f"---\n{card.data.to_yaml()}\n---\n{card.text}").data.to_dict() == data
    manifest = json.loads((tmp_path / "b" / "release.json").read_text())
    # datasets reads configs and dataset_info (in a client process, from the Hub)
    infos = client(
        hub,
        """
        import json
        from datasets import load_dataset_builder
        out = {}
        for cfg in ("characters", "rewrite", "generate"):
            b = load_dataset_builder("c/roundtrip", cfg, revision="v1.0.0")
            out[cfg] = {name: s.num_examples for name, s in b.info.splits.items()}
        print(json.dumps(out))
        """,
        tmp_path,
    )
    assert infos == {
        c: {s: i["rows"] for s, i in cfg["splits"].items()}
        for c, cfg in manifest["configs"].items()
    }
    # plots are committed and embedded
    assert "](plots/rewrite-answer-length.png)" in card.text
    with connect(endpoint=hub.endpoint, token=TOKEN) as conn:
        files = conn.api.list_repo_files("c/roundtrip", repo_type="dataset", revision="v1.0.0")
    assert "plots/rewrite-answer-length.png" in files and "release.json" in files


def test_hand_edits_on_the_hub_survive_the_next_release(hub, tmp_path):
    configs = corpus()
    _release(hub, write_build(tmp_path / "b1", configs), "c/merge")
    card = DatasetCard(open(_readme(hub, "c/merge")).read())
    card.data["license"] = "cc-by-nc-4.0"  # a maintainer changes a generated key by hand
    card.data["extra_gated_prompt"] = "Agree to the terms."  # and adds a key of their own
    card.text = card.text + "\n## Maintainer notes\n\nHand-written paragraph.\n"
    with connect(endpoint=hub.endpoint, token=TOKEN) as conn:
        conn.api.upload_file(
            path_or_fileobj=str(card).encode(),
            path_in_repo="README.md",
            repo_id="c/merge",
            repo_type="dataset",
            commit_message="hand edit",
        )
    more = copy.deepcopy(configs)
    more["rewrite"].rows.pop()
    v2 = _release(hub, write_build(tmp_path / "b2", more), "c/merge")
    assert v2.version == "1.1.0"
    merged = DatasetCard(open(_readme(hub, "c/merge", "v1.1.0")).read())
    assert merged.data["license"] == "cc-by-nc-4.0"
    assert merged.data["extra_gated_prompt"] == "Agree to the terms."
    assert "Hand-written paragraph." in merged.text
    assert "**Version 1.1.0**" in merged.text and "**Version 1.0.0**" not in merged.text
    rewrite = {c["config_name"]: c for c in merged.data["dataset_info"]}["rewrite"]
    train_test = {s["name"]: s["num_examples"] for s in rewrite["splits"]}
    assert sum(train_test.values()) == len(more["rewrite"].rows)
    assert merged.text.count("ocforge:generated:start") == 1


def test_secret_scan_refuses_and_names_file_row_and_pattern(hub, tmp_path):
    configs = copy.deepcopy(corpus())
    row = configs["generate"].rows[3]
    row["response"] += " my key is hf_" + "a1B2c3D4e5" * 4
    build = write_build(tmp_path / "b", configs)
    with pytest.raises(SecretFoundError) as err:
        _release(hub, build, "c/secret")
    [finding] = err.value.findings
    assert finding.row_id == row["dialogue_id"] and finding.pattern == "huggingface-token"
    assert finding.file.startswith("data/generate/")
    assert "a1B2c3D4e5" not in str(err.value)  # the secret itself is never echoed
    with pytest.raises(Exception, match="RepositoryNotFound|404"):
        with connect(endpoint=hub.endpoint, token=TOKEN) as conn:
            conn.api.repo_info("c/secret", repo_type="dataset")
    # the recipe may allow it explicitly
    allowed = RECIPE + "publish:\n  allow_secret_patterns: [huggingface-token]\n"
    ok = _release(hub, write_build(tmp_path / "b2", configs, recipe=allowed), "c/secret")
    assert ok.status == "released"


def test_secret_in_card_text_is_refused(hub, tmp_path):
    recipe = RECIPE + "  description: 'deploy with AKIAABCDEFGHIJKLMNOP'\n"
    build = write_build(tmp_path / "b", corpus(), recipe=recipe)
    with pytest.raises(SecretFoundError, match="README.md: line .*aws-access-key-id"):
        _release(hub, build, "c/cardsecret")


def test_verification_mismatch_fails_loudly(hub, tmp_path):
    build = write_build(tmp_path / "b", corpus())
    manifest = json.loads((build / "release.json").read_text())
    manifest["configs"]["rewrite"]["splits"]["train"]["rows"] += 1  # claims a row it lacks
    (build / "release.json").write_text(json.dumps(manifest))
    with pytest.raises(VerificationError, match="rewrite/train: loaded"):
        _release(hub, build, "c/verify", verify=True)


def test_card_records_synthesis_provenance_and_dry_run_keeps_staged_card(hub, tmp_path):
    build = write_build(tmp_path / "b", corpus())
    (build / "synthesis").mkdir()
    (build / "synthesis" / "synthesis.json").write_text(
        json.dumps(
            {
                "backend": {"type": "endpoint", "model": "tiny-chat", "endpoint_url": "http://h"},
                "generation": {"temperature": 0.7, "top_p": 0.95},
                "prompts": {"profile": {"id": "profile", "version": 1, "sha256": "ab12" * 16}},
            }
        )
    )
    dry = _release(hub, build, "c/provenance", dry_run=True, staging_dir=tmp_path / "stage")
    card = (tmp_path / "stage" / "README.md").read_text()
    assert "model `tiny-chat` (endpoint) with temperature=0.7, top_p=0.95" in card
    assert "`profile` (sha256 `" + ("ab12" * 4) + "`)" in card
    assert "http://h" not in card
    assert json.loads((tmp_path / "stage" / "release.json").read_text())["version"] == dry.version


def test_card_reports_kept_rows_changed_on_the_way(hub, tmp_path):
    """PII masking and re-pointed dialogues change kept rows without removing them: the card's
    curation report lists them apart from the outcomes, with what each counter counts."""
    build = write_build(tmp_path / "b", corpus())
    manifest = json.loads((build / "release.json").read_text())
    ledger = manifest["ledger"]["configs"]
    ledger["rewrite"]["modified"] = {"pii_email": 3, "rows_masked": 2, "repointed_to_kept_twin": 0}
    ledger["generate"]["modified"] = {"repointed_to_kept_twin": 4}
    (build / "release.json").write_text(json.dumps(manifest))
    _release(hub, build, "c/modified")
    text = open(_readme(hub, "c/modified")).read()
    report = text.split("## Curation report", 1)[1].split("## Provenance", 1)[0]
    assert "Kept rows changed on the way" in report
    assert "| `rewrite` | email spans masked (`pii_email`) | 3 |" in report
    assert "| `rewrite` | rows with personal data masked (`rows_masked`) | 2 |" in report
    assert "| `generate` | dialogues moved to the kept twin of a duplicate character" in report
    assert "repointed_to_kept_twin`) | 0" not in report  # nothing changed: no row
