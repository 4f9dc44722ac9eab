"""The shared row-field reader (reason codes and messages) and the shared digests."""

from __future__ import annotations

import hashlib
import json
import subprocess

import pytest
from huggingface_hub.utils.sha import git_hash

from ocforge.errors import FieldError, OcforgeError
from ocforge.fields import text_field
from ocforge.hashing import canonical_json, file_sha256, git_blob_id, json_sha256


def _error(record, field, **kwargs) -> tuple[str, str]:
    with pytest.raises(FieldError) as info:
        text_field(record, field, **kwargs)
    return info.value.reason, info.value.detail


def test_messages_name_our_field_or_the_source_column_and_our_field():
    assert _error({}, "question") == (
        "missing_field",
        "field 'question': required field is missing (expected a string)",
    )
    assert _error({"synthesized text": None}, "question", column="synthesized text") == (
        "missing_field",
        "column 'synthesized text' (question): required column is missing",
    )
    assert _error({"q": 3}, "question", column="q") == (
        "wrong_type",
        "column 'q' (question): expected a string, got int",
    )
    assert _error({"profile": " \n"}, "profile", nonempty_text=True, expected="profile text") == (
        "missing_field",
        "field 'profile': is empty (expected profile text)",
    )
    assert _error({"persona": ""}, "persona", nonempty_text=True) == (
        "missing_field",
        "field 'persona': is empty",
    )


def test_optional_numeric_and_boolean_values():
    assert text_field({}, "question_id", required=False) is None
    assert text_field({"id": 7}, "character_id", column="id", numeric_ok=True) == "7"
    assert text_field({"age": 41.5}, "age", numeric_ok=True) == "41.5"
    assert _error({"age": True}, "age", numeric_ok=True)[0] == "wrong_type"  # bool is no number
    assert _error({"age": 41}, "age")[0] == "wrong_type"
    assert text_field({"q": ""}, "q") == ""  # empty is only refused when asked


def test_field_errors_are_value_errors_of_ocforge():
    assert issubclass(FieldError, OcforgeError) and issubclass(FieldError, ValueError)


def test_file_and_blob_digests_agree_with_hashlib_and_git(tmp_path):
    data = b"line one\n\xc3\xa9\x00" * 100_000  # more than one 1 MiB block
    path = tmp_path / "blob.bin"
    path.write_bytes(data)
    assert file_sha256(path) == hashlib.sha256(data).hexdigest()
    assert git_blob_id(data) == git_hash(data)
    git = subprocess.run(
        ["git", "hash-object", str(path)], capture_output=True, text=True, check=False
    )
    if git.returncode == 0:  # git is on every development machine; the check needs no network
        assert git_blob_id(data) == git.stdout.strip()


def test_canonical_json_keeps_both_recorded_forms():
    value = {"b": [1, "é"], "a": {"z": None, "y": 1.5}}
    assert canonical_json(value) == '{"a":{"y":1.5,"z":null},"b":[1,"é"]}'.encode()
    spaced = json.dumps(value, sort_keys=True, default=str).encode()
    assert canonical_json(value, style="spaced") == spaced
    assert json_sha256(value) == hashlib.sha256(canonical_json(value)).hexdigest()
    assert json_sha256(value, style="spaced") == hashlib.sha256(spaced).hexdigest()
    assert json_sha256(value) != json_sha256(value, style="spaced")
