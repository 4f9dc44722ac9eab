"""Card metadata rules (ocforge/card_metadata.py): valid and invalid examples of each rule, the
warning for empty metadata, and the one-line errors of the pre-push check (publish/card_check.py).
The same rules answer the local Hub's /api/validate-yaml (tests/localhub/test_card_validation.py).
"""

from __future__ import annotations

import copy

import pytest
import yaml

from ocforge.card_metadata import (
    LICENSES_FILE,
    check_metadata,
    check_readme,
    front_matter,
    hub_licenses,
)
from ocforge.errors import CardMetadataError
from ocforge.publish.card_check import check_card_settings, check_card_text, check_model_options
from ocforge.recipe import CardSettings

MODEL_INDEX = [
    {
        "name": "tiny-rp",
        "results": [
            {
                "task": {"type": "text-generation", "name": "demo"},
                "dataset": {"type": "ocforge/demo", "name": "ocforge demo", "split": "test"},
                "metrics": [{"type": "accuracy", "value": 0.81, "name": "acc"}],
                "source": {"name": "ocforge eval", "url": "https://example.org/run"},
            }
        ],
    }
]
CONFIGS = [
    {
        "config_name": "rewrite",
        "default": True,
        "data_files": [
            {"split": "train", "path": "data/rewrite/train-*.parquet"},
            {
                "split": "test",
                "path": ["data/rewrite/test-0.parquet", "data/rewrite/test-1.parquet"],
            },
        ],
    },
    {"config_name": "generate", "data_files": "data/generate/*.parquet"},
    {"config_name": "characters", "data_files": ["a/*.parquet", "b/*.parquet"], "data_dir": "c"},
]
DATASET_INFO = [
    {
        "config_name": "rewrite",
        "features": [
            {"name": "question", "dtype": "string"},
            {"name": "provenance", "struct": [{"name": "line", "dtype": "int64"}]},
            {"name": "messages", "list": [{"name": "role", "dtype": "string"}]},
        ],
        "splits": [{"name": "train", "num_bytes": 1200, "num_examples": 12}],
        "download_size": 900,
        "dataset_size": 1200,
    },
    {"config_name": "generate", "splits": [{"name": "test", "num_bytes": 0, "num_examples": 0}]},
]


def errors(data, repo_type: str = "dataset") -> list[str]:
    return [p.message for p in check_metadata(data, repo_type).errors]


def fields(data, repo_type: str = "dataset") -> list[str]:
    return [p.field for p in check_metadata(data, repo_type).errors]


# -- licenses --------------------------------------------------------------------------------


def test_the_license_list_is_the_hubs_data_file():
    licenses = hub_licenses()
    listed = yaml.safe_load(LICENSES_FILE.read_text(encoding="utf-8"))["licenses"]
    assert list(licenses) == list(listed) and len(licenses) > 80
    for common in ("apache-2.0", "mit", "cc-by-4.0", "cc-by-nc-sa-4.0", "llama3.1", "other"):
        assert common in licenses
    assert licenses["cc-by-4.0"] == "Creative Commons Attribution 4.0"


@pytest.mark.parametrize("value", ["mit", "cc-by-nc-sa-4.0", "openrail++", ["mit", "apache-2.0"]])
def test_known_licenses_pass(value):
    assert errors({"license": value}) == []


def test_an_unknown_license_names_the_field_the_value_and_the_list():
    (message,) = errors({"license": "cc-by-4"})
    assert message.startswith('"license" must be one of [apache-2.0, mit, ')
    assert 'got "cc-by-4" (did you mean "cc-by-4.0"?)' in message
    assert 'use "other" with license_name and license_link' in message
    assert fields({"license": ["mit", "asdf"]}) == ["license[1]"]
    assert fields({"license": []}) == ["license"]
    assert fields({"license": 3}, "model") == ["license"]


def test_license_other_without_name_and_link_is_a_note_not_an_error():
    report = check_metadata({"license": "other"}, "model")
    assert report.ok and report.warnings == []  # the Hub accepts it without a word
    (note,) = report.notes
    assert note.level == "note" and note.field == "license_name"
    assert '"license_name" and "license_link" missing' in note.message
    named = {"license": "other", "license_name": "my-license-1.0", "license_link": "LICENSE"}
    assert check_metadata(named, "model").notes == []
    only_name = check_metadata({"license": "other", "license_name": "x-1.0"}, "model")
    assert [n.field for n in only_name.notes] == ["license_link"]
    assert fields({"license": "other", "license_name": "", "license_link": "LICENSE"}) == [
        "license_name"
    ]


# -- language and tags ---------------------------------------------------------------------


@pytest.mark.parametrize("value", ["en", ["en", "fr", "yue"], ["code"], "multilingual"])
def test_language_codes_pass(value):
    assert errors({"language": value}) == []


@pytest.mark.parametrize(
    ("value", "field"),
    [("English", "language"), (["en", "en-US"], "language[1]"), ([1], "language[0]")],
)
def test_language_that_is_not_an_iso_code_fails(value, field):
    (message,) = errors({"language": value})
    assert message.startswith(f'"{field}" must be an ISO 639-1, 639-2 or 639-3 code')
    assert "language_details" in message


def test_tags_must_be_a_list_of_strings():
    assert errors({"tags": ["role-play", "synthetic"]}) == []
    assert errors({"tags": "role-play"}) == ['"tags" must be a list of strings, got "role-play"']
    assert fields({"tags": ["ok", 3, ""]}) == ["tags[1]", "tags[2]"]


# -- model-index ---------------------------------------------------------------------------


def test_a_complete_model_index_passes():
    assert errors({"model-index": MODEL_INDEX}, "model") == []


def _drop(*keys: str | int):
    """A copy of MODEL_INDEX without the entry at ``keys`` (the last key is removed)."""

    def change(model_index: list) -> list:
        node = model_index
        for key in keys[:-1]:
            node = node[key]
        node.pop(keys[-1])
        return model_index

    return change


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda m: "foo", "model-index"),
        (lambda m: [], "model-index"),
        (lambda m: ["x"], "model-index[0]"),
        (_drop(0, "name"), "model-index[0].name"),
        (_drop(0, "results"), "model-index[0].results"),
        (_drop(0, "results", 0, "task", "type"), "model-index[0].results[0].task.type"),
        (_drop(0, "results", 0, "dataset"), "model-index[0].results[0].dataset"),
        (_drop(0, "results", 0, "dataset", "name"), "model-index[0].results[0].dataset.name"),
        (_drop(0, "results", 0, "dataset", "type"), "model-index[0].results[0].dataset.type"),
        (_drop(0, "results", 0, "metrics", 0), "model-index[0].results[0].metrics"),
        (_drop(0, "results", 0, "metrics", 0, "type"), "model-index[0].results[0].metrics[0].type"),
        (
            _drop(0, "results", 0, "metrics", 0, "value"),
            "model-index[0].results[0].metrics[0].value",
        ),
        (_drop(0, "results", 0, "source", "url"), "model-index[0].results[0].source.url"),
    ],
)
def test_a_broken_model_index_names_the_missing_field(change, field):
    model_index = change(copy.deepcopy(MODEL_INDEX))
    problems = check_metadata({"model-index": model_index}, "model").errors
    assert [p.field for p in problems] == [field]
    assert problems[0].message.startswith(f'"{field}" ')


def test_model_index_is_a_model_card_rule():
    assert errors({"model-index": "foo"}, "dataset") == []


# -- configs and dataset_info --------------------------------------------------------------


def test_configs_as_datasets_reads_them_pass():
    assert errors({"configs": CONFIGS, "dataset_info": DATASET_INFO}) == []


@pytest.mark.parametrize(
    ("configs", "field"),
    [
        ({"config_name": "x"}, "configs"),
        ([{"data_files": "x"}], "configs[0].config_name"),
        ([{"config_name": "a"}, {"config_name": "a"}], "configs[1].config_name"),
        ([{"config_name": "a", "default": "yes"}], "configs[0].default"),
        ([{"config_name": "a", "data_files": []}], "configs[0].data_files"),
        ([{"config_name": "a", "data_files": [{"split": "train"}]}], "configs[0].data_files[0]"),
        (
            [{"config_name": "a", "data_files": [{"split": "my-split", "path": "x"}]}],
            "configs[0].data_files[0].split",
        ),
        (
            [{"config_name": "a", "data_files": [{"split": "train", "path": []}]}],
            "configs[0].data_files[0].path",
        ),
    ],
)
def test_broken_configs_name_the_field(configs, field):
    assert fields({"configs": configs}) == [field]


def test_at_most_one_default_config():
    two = [{"config_name": "a", "default": True}, {"config_name": "b", "default": True}]
    (message,) = errors({"configs": two})
    assert message == (
        'At most one config may have "default: true": configs[0] and configs[1] both do'
    )


@pytest.mark.parametrize(
    ("info", "field"),
    [
        ("x", "dataset_info"),
        ({"splits": [{"name": "train", "num_bytes": 1}]}, "dataset_info.splits[0].num_examples"),
        (
            {"splits": [{"name": "train", "num_bytes": "1", "num_examples": 1}]},
            "dataset_info.splits[0].num_bytes",
        ),
        (
            {"splits": [{"name": "tr ain", "num_bytes": 1, "num_examples": 1}]},
            "dataset_info.splits[0].name",
        ),
        ({"features": [{"name": "q"}]}, "dataset_info.features[0]"),
        ({"features": [{"dtype": "string"}]}, "dataset_info.features[0].name"),
        (
            {"features": [{"name": "p", "struct": [{"name": "x"}]}]},
            "dataset_info.features[0].struct[0]",
        ),
        ({"dataset_size": -1}, "dataset_info.dataset_size"),
        ([{"config_name": "a"}, {"config_name": "a"}], "dataset_info[1].config_name"),
    ],
)
def test_broken_dataset_info_names_the_field(info, field):
    assert fields({"dataset_info": info}) == [field]


def test_dataset_rules_do_not_apply_to_model_cards():
    assert errors({"configs": "x", "dataset_info": "y"}, "model") == []


# -- the README as a whole -----------------------------------------------------------------


@pytest.mark.parametrize(
    "readme", ["Just text, no metadata.", "---\n---\n# Title\n", "---\n{}\n---\n"]
)
def test_empty_or_missing_metadata_is_a_warning(readme):
    report = check_readme(readme, "model")
    assert report.ok
    (warning,) = report.warnings
    assert warning.message.startswith("empty or missing yaml metadata in repo card")
    assert "model-cards" in warning.message
    assert "datasets-cards" in check_readme(readme, "dataset").warnings[0].message


def test_readme_syntax_and_shape_errors():
    (syntax,) = check_readme("---\nlicense: [mit\n---\n", "dataset").errors
    assert syntax.message.startswith("Invalid YAML in README.md metadata (line")
    (shape,) = check_readme("---\n- a\n- b\n---\n", "dataset").errors
    assert shape.message.startswith("README.md metadata must be a YAML mapping")
    assert check_readme("---\nlicense: mit\n---\n# Card\n", "dataset").ok
    assert front_matter("---\r\nlicense: mit\r\n---\r\ntext") == "license: mit"


def test_front_matter_after_blank_lines_is_read_as_on_the_hub():
    # huggingface_hub's REGEX_YAML_BLOCK allows leading whitespace, so the Hub reads this card
    readme = "\n\n---\nmodel-index: foo\nlicense: [mit\n---\ntext"
    assert front_matter(readme) == "model-index: foo\nlicense: [mit"
    (syntax,) = check_readme(readme, "model").errors
    assert "(line 5, " in syntax.message  # counted in README.md, not in the block
    assert front_matter("text\n---\nlicense: mit\n---\n") is None  # not at the start


def test_every_problem_of_a_card_is_reported():
    readme = "---\nlicense: asdf\nlanguage: English\ntags: x\nmodel-index: foo\n---\n"
    assert [p.field for p in check_readme(readme, "model").errors] == [
        "license",
        "language",
        "tags",
        "model-index",
    ]


# -- the check before a push -----------------------------------------------------------------


def test_recipe_card_settings_fail_with_the_card_file_the_field_and_the_recipe_key():
    check_card_settings(CardSettings(license="cc-by-4.0"), "recipe.yaml")
    with pytest.raises(CardMetadataError) as caught:
        check_card_settings(CardSettings(license="cc-by-4", language=["English"]), "r.yaml")
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith('the Hub would refuse README.md: "license" must be one of [')
    assert '"language[0]" must be an ISO 639-1' in message
    assert message.endswith("(set card.language, card.license in r.yaml); nothing was pushed")


def test_warnings_and_notes_go_to_progress_and_do_not_stop_the_push():
    seen: list[str] = []
    check_card_settings(CardSettings(), "recipe.yaml", progress=seen.append)  # license: other
    assert len(seen) == 1 and seen[0].startswith('card note (README.md): "license_name"')
    text = "Only a title, no metadata.\n"
    assert check_card_text(text, "dataset", progress=seen.append) == text
    assert seen[1].startswith("card warning (README.md): empty or missing yaml metadata")


def test_model_options_and_rendered_cards_fail_before_a_push():
    check_model_options("apache-2.0", ["role-play"])
    with pytest.raises(CardMetadataError, match=r'got "apache" \(did you mean "apache-2.0"\?\)'):
        check_model_options("apache", None)
    with pytest.raises(CardMetadataError, match=r"\(set --tag\)"):
        check_model_options("mit", [""])
    bad = "---\nlicense: mit\nmodel-index:\n- name: m\n  results:\n  - task: {type: t}\n---\n"
    with pytest.raises(CardMetadataError, match=r'refuse README\.md: "model-index\[0\]'):
        check_card_text(bad, "model")
