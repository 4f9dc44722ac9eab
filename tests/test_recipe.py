"""Recipe validation: every problem names the file, the YAML path (and line) and the expectation."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from ocforge.cli import app
from ocforge.errors import RecipeError
from ocforge.recipe import DEMO_RECIPE, load_recipe


def _write_variant(tmp_path: Path, mutate) -> Path:
    """Copy the demo recipe next to its data (paths stay valid) after applying ``mutate``."""
    data = yaml.safe_load(DEMO_RECIPE.read_text())
    for section in [data["characters"], *data["dialogues"]]:
        for spec in section["inputs"]:
            spec["path"] = str(DEMO_RECIPE.parent / spec["path"])
    mutate(data)
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def test_demo_recipe_is_valid():
    recipe = load_recipe(DEMO_RECIPE)
    assert recipe.config_names() == ["characters", "rewrite", "generate"]
    assert len(recipe.sha256) == 64


def test_typo_key_is_an_error_naming_file_path_and_line(tmp_path):
    def mutate(d):
        d["filters"]["quality"]["min_respones_words"] = d["filters"]["quality"].pop(
            "min_response_words"
        )

    path = _write_variant(tmp_path, mutate)
    with pytest.raises(RecipeError) as err:
        load_recipe(path)
    (problem,) = err.value.problems
    assert str(path) in problem
    assert "filters.quality.min_respones_words" in problem
    assert "unknown key" in problem
    line = next(
        i for i, t in enumerate(path.read_text().splitlines(), 1) if "min_respones_words" in t
    )
    assert f"{path}:{line}:" in problem


def test_top_level_typo(tmp_path):
    path = _write_variant(tmp_path, lambda d: d.__setitem__("fitlers", d.pop("filters")))
    with pytest.raises(RecipeError, match=r"fitlers: unknown key"):
        load_recipe(path)


def test_wrong_type_names_key_and_expectation(tmp_path):
    path = _write_variant(tmp_path, lambda d: d["splits"].__setitem__("test_fraction", "lots"))
    with pytest.raises(RecipeError) as err:
        load_recipe(path)
    text = str(err.value)
    assert "splits.test_fraction" in text
    assert "valid number" in text and "'lots'" in text


def test_bad_enum_value(tmp_path):
    path = _write_variant(tmp_path, lambda d: d["dialogues"][1].__setitem__("strategy", "generat"))
    with pytest.raises(
        RecipeError, match=r"dialogues\[1\]\.strategy: Input should be 'rewrite' or 'generate'"
    ):
        load_recipe(path)


def test_missing_input_file_names_key_and_path(tmp_path):
    def mutate(d):
        d["dialogues"][0]["inputs"][0]["path"] = "data/nope.jsonl"

    path = _write_variant(tmp_path, mutate)
    with pytest.raises(RecipeError) as err:
        load_recipe(path)
    (problem,) = err.value.problems
    assert "dialogues[0].inputs[0].path" in problem
    assert "input file not found" in problem and str(tmp_path / "data" / "nope.jsonl") in problem


def test_unknown_field_mapping(tmp_path):
    def mutate(d):
        d["characters"]["inputs"][0]["fields"]["profil"] = "character"

    path = _write_variant(tmp_path, mutate)
    with pytest.raises(
        RecipeError, match=r"characters\.inputs: .*unknown record field\(s\) profil"
    ):
        load_recipe(path)


def test_several_problems_are_all_reported(tmp_path):
    def mutate(d):
        d["splits"]["test_fraction"] = 2
        d["executor"]["tasks"] = 0
        d["card"]["licence"] = "mit"

    path = _write_variant(tmp_path, mutate)
    with pytest.raises(RecipeError) as err:
        load_recipe(path)
    joined = "\n".join(err.value.problems)
    assert len(err.value.problems) == 3
    for key in ("splits.test_fraction", "executor.tasks", "card.licence"):
        assert key in joined


def test_not_yaml_and_missing_file(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: [unclosed\n")
    with pytest.raises(RecipeError, match="not valid YAML"):
        load_recipe(bad)
    with pytest.raises(RecipeError, match="cannot read the recipe file"):
        load_recipe(tmp_path / "absent.yaml")


def test_cli_validate_reports_error_and_exit_code(tmp_path):
    path = _write_variant(tmp_path, lambda d: d["splits"].__setitem__("sed", 1))
    result = CliRunner().invoke(app, ["validate", str(path)])
    assert result.exit_code == 1
    assert "splits.sed" in result.output
    ok = CliRunner().invoke(app, ["validate", str(DEMO_RECIPE)])
    assert ok.exit_code == 0, ok.output
    assert "config generate" in ok.output
