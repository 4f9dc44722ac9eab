"""The secret scan reads decoded cell values: every pattern, in every position and nesting."""

from __future__ import annotations

import copy
import random
import re

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from release_helpers import corpus, write_build

from ocforge.manifest import read_manifest
from ocforge.publish.local_build import scan_build
from ocforge.publish.secrets import PATTERNS, SecretFoundError, scan_parquet, string_leaves

# one realistic value per pattern (none of them is a live credential)
SECRETS = {
    "huggingface-token": "hf_" + "Ab3dE5gH7jK9mN1pQ3sT5vW7yZ9bC1dE3f",
    "openai-key": "sk-proj-" + "Zx9Yw8Vu7Ts6Rq5Po4Nm3Lk2Ji1Hg0Fe9Dc8Ba7",
    "aws-access-key-id": "AKIAIOSFODNN7EXAMPLE",
    "aws-secret-access-key": "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    "private-key": "-----BEGIN OPENSSH PRIVATE KEY-----",
}
# where a token sits inside a cell; "{}" is the token
CONTEXTS = {
    "start": "{}",
    "newline": "my key:\n{}",
    "crlf": "my key:\r\n{}\r\n",
    "tab": "Key:\t{}",
    "double-quote": 'token = "{}"',
    "single-quote": "token = '{}'",
    "bracket": "[{}]",
    "paren": "({})",
    "brace": "{{{}}}",
    "backtick": "run `{}` now",
    "code-fence": "Here:\n```\n{}\n```\nDone.",
    "code-fence-lang": "```bash\nexport TOKEN={}\n```",
    "after-cjk": "密钥{}的",
    "after-accent": "clé:é{}é",
}
NEAR_MISSES = [
    "use huggingface_hub and hf_hub_download",
    "sk-learn is not sklearn; ask-" + "a" * 40,
    "AKIA alone, AKIAshort",
    "-----BEGIN PUBLIC KEY-----",
    "aws_secret_access_key = short",
    "my_hf_" + "a" * 34,  # part of a longer identifier
]

MESSAGE = pa.struct([("role", pa.string()), ("content", pa.string())])
SCHEMA = pa.schema(
    [
        ("id", pa.string()),
        ("text", pa.string()),
        ("big", pa.large_string()),
        ("tags", pa.list_(pa.string())),
        ("messages", pa.list_(MESSAGE)),
        ("meta", pa.struct([("note", pa.string()),
                            ("inner", pa.struct([("deep", pa.large_list(pa.string()))]))])),
        ("attrs", pa.map_(pa.string(), pa.string())),
        ("label", pa.dictionary(pa.int32(), pa.string())),
        ("blob", pa.binary()),
        ("count", pa.int64()),
    ]
)  # fmt: skip
LOCATIONS = ["text", "big", "tags", "messages", "meta.note", "meta.inner.deep", "attrs", "label",
             "blob"]  # fmt: skip


def _row(row_id: str, where: str | None = None, value: str = "") -> dict:
    """A row of plain text, with ``value`` put at ``where``."""
    row = {
        "id": row_id,
        "text": "hello",
        "big": "a long answer",
        "tags": ["a", "b"],
        "messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "ok"}],
        "meta": {"note": "n", "inner": {"deep": ["x", "y"]}},
        "attrs": [("k", "v")],
        "label": "l",
        "blob": b"bytes",
        "count": 3,
    }
    if where == "tags":
        row["tags"] = ["first", value, "last"]
    elif where == "messages":
        row["messages"][1]["content"] = value
    elif where == "meta.note":
        row["meta"]["note"] = value
    elif where == "meta.inner.deep":
        row["meta"]["inner"]["deep"] = ["x", value]
    elif where == "attrs":
        row["attrs"] = [("k", "v"), ("secret", value)]
    elif where == "blob":
        row["blob"] = value.encode()
    elif where is not None:
        row[where] = value
    return row


def _write(path, rows: list[dict]) -> None:
    pq.write_table(pa.Table.from_pylist(rows, schema=SCHEMA), path, row_group_size=7)


def test_every_pattern_in_every_context_and_nesting_is_found(tmp_path):
    rows, expected = [], []
    for name, secret in SECRETS.items():
        for ctx, template in CONTEXTS.items():
            for where in LOCATIONS:
                row_id = f"{name}/{ctx}/{where}"
                rows.append(_row(row_id, where, template.format(secret)))
                expected.append((row_id, name))
    rows += [_row(f"benign/{i}", "text", t) for i, t in enumerate(NEAR_MISSES)]
    rows += [_row(f"benign-msg/{i}", "messages", t) for i, t in enumerate(NEAR_MISSES)]
    random.Random(0).shuffle(rows)
    path = tmp_path / "x.parquet"
    _write(path, rows)

    found = scan_parquet(path, "data/x.parquet", "id", batch_rows=13)
    assert sorted((f.row_id, f.pattern) for f in found) == sorted(expected)
    # per pattern, then in file order
    order = {r["id"]: i for i, r in enumerate(rows)}
    keys = [(list(PATTERNS).index(f.pattern), order[f.row_id]) for f in found]
    assert keys == sorted(keys)
    report = str(SecretFoundError(found))
    assert all(s not in report for s in SECRETS.values())
    assert "data/x.parquet: row huggingface-token/newline/messages" in report


@pytest.mark.parametrize("name", list(SECRETS))
def test_allowed_pattern_is_not_reported(tmp_path, name):
    path = tmp_path / "x.parquet"
    _write(path, [_row("a", "messages", "x\n" + SECRETS[name]), _row("b")])
    assert [(f.row_id, f.pattern) for f in scan_parquet(path, "x", "id")] == [("a", name)]
    assert scan_parquet(path, "x", "id", allow=[name]) == []


def test_nulls_empty_lists_and_empty_files(tmp_path):
    rows = [
        {"id": "n", "text": None, "tags": None, "messages": None, "meta": None, "attrs": None},
        {"id": "e", "tags": [], "messages": [], "meta": {"note": None, "inner": None}},
        {"id": "s", "tags": [None, "x\thf_" + "Q" * 34], "messages": [None]},
    ]
    path = tmp_path / "n.parquet"
    _write(path, rows)
    assert [(f.row_id, f.pattern) for f in scan_parquet(path, "n", "id")] == [
        ("s", "huggingface-token")
    ]
    _write(path, [])
    assert scan_parquet(path, "n", "id") == []


def test_a_row_id_that_looks_like_a_token_is_not_echoed(tmp_path):
    token = SECRETS["aws-access-key-id"]
    path = tmp_path / "i.parquet"
    _write(path, [_row("ok"), _row(token, "text", "plain")])
    [finding] = scan_parquet(path, "i", "id")
    assert finding.pattern == "aws-access-key-id" and token not in str(finding)
    assert finding.row_id == "#1 (its id matches a pattern)"


def _reference(value, out: list[str]) -> None:
    """Every string reachable from a Python value, by a plain recursive walk."""
    if isinstance(value, str):
        out.append(value)
    elif isinstance(value, bytes):
        out.append(value.decode("utf-8", "replace"))
    elif isinstance(value, dict):
        for v in value.values():
            _reference(v, out)
    elif isinstance(value, list | tuple):
        for v in value:
            _reference(v, out)


def test_leaves_match_a_plain_walk_of_the_decoded_rows():
    rng = random.Random(7)
    words = ["a", "hf_", "\n", "b c", "", "密", "AKIA"]

    def text():
        return None if rng.random() < 0.15 else "".join(rng.choices(words, k=rng.randint(0, 4)))

    def maybe(v):
        return None if rng.random() < 0.1 else v

    rows = [
        {
            "id": f"r{i}",
            "text": text(),
            "big": text(),
            "tags": maybe([text() for _ in range(rng.randint(0, 3))]),
            "messages": maybe([maybe({"role": text(), "content": text()}) for _ in range(2)]),
            "meta": maybe({"note": text(), "inner": maybe({"deep": maybe([text(), text()])})}),
            "attrs": maybe([(f"k{j}", text()) for j in range(rng.randint(0, 2))]),
            "label": text(),
            "blob": maybe(b"\xff\xfe" + (text() or "").encode()),
            "count": i,
        }
        for i in range(300)
    ]
    batch = pa.Table.from_pylist(rows, schema=SCHEMA).to_batches()[0]
    got: dict[int, list[str]] = {i: [] for i in range(len(rows))}
    for column in batch.columns:
        for where, values in string_leaves(column):
            positions = range(len(values)) if where is None else where.to_pylist()
            for r, v in zip(positions, values.to_pylist(), strict=True):
                if v is not None:
                    got[r].append(v)
    for i, row in enumerate(rows):
        want: list[str] = []
        _reference(row, want)
        assert sorted(got[i]) == sorted(want), row


def test_token_after_newline_in_a_built_dialogue_stops_the_release(tmp_path):
    """The issue's case: a token right after a newline / tab in real build shards."""
    configs = copy.deepcopy(corpus())
    hf_row, aws_row = configs["generate"].rows[2], configs["rewrite"].rows[5]
    hf_row["messages"][2]["content"] += "\n" + SECRETS["huggingface-token"]
    aws_row["response"] = "Key:\t" + SECRETS["aws-access-key-id"]
    build = write_build(tmp_path / "b", configs)
    with pytest.raises(SecretFoundError) as err:
        scan_build(build, read_manifest(build), [])
    got = {(f.row_id, f.pattern) for f in err.value.findings}
    assert got == {
        (hf_row["dialogue_id"], "huggingface-token"),
        (aws_row["dialogue_id"], "aws-access-key-id"),
    }
    assert all(re.match(r"data/(generate|rewrite)/", f.file) for f in err.value.findings)
    assert all(s not in str(err.value) for s in SECRETS.values())
