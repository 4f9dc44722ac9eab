from __future__ import annotations

import pytest

from ocforge.errors import ProfileParseError
from ocforge.profiles import parse_profile
from ocforge.records import character_id, normalize_text


def test_parses_the_eight_fields_and_multiline_values():
    text = (
        "Name: Ada Quill\nAge: 41\nGender: female\nRace: English\nBirth Place: Leeds\n"
        "Appearance: Short grey hair.\nGeneral Experience: Printer.\nShe later taught typesetting.\n"
        "Personality: Dry wit."
    )
    fields = parse_profile(text)
    assert fields["name"] == "Ada Quill"
    assert fields["birth_place"] == "Leeds"
    assert fields["general_experience"] == "Printer.\nShe later taught typesetting."
    assert fields["personality"] == "Dry wit."


def test_markdown_labels_and_missing_fields():
    fields = parse_profile("**Name:** Bo Chen\n- **Age**: 30\n**Personality**: calm")
    assert fields["name"] == "Bo Chen" and fields["age"] == "30" and fields["personality"] == "calm"
    assert fields["race"] is None and fields["appearance"] is None


def test_no_name_is_an_error():
    with pytest.raises(ProfileParseError, match="Name"):
        parse_profile("Age: 30\nPersonality: calm")


def test_ids_ignore_case_and_whitespace_only():
    assert character_id("Name: A\nAge: 3") == character_id("name:  a\n age: 3 ")
    assert character_id("Name: A.") != character_id("Name: A")
    assert normalize_text("  Hello\u00a0 World ") == "hello world"


def test_a_spelled_out_age_stays_as_written_and_parses_to_years():
    from ocforge.profiles import parse_age

    fields = parse_profile("Name: Ada Quill\nAge: forty-six\nGender: female")
    assert fields["age"] == "forty-six"
    assert parse_age(fields["age"]) == 46
