"""Repos and browser helpers of the web page tests (tests/localhub/test_web_pages.py).

The site holds the demo release plus three small repos pushed with the unmodified
huggingface_hub client: a public fixture dataset of 250 rows whose card and one row hold
``<script>`` (paging, search, filter, escaping), a private dataset of alice's, and a model whose
card has ``model-index`` results and a ``datasets:`` link to the demo release.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

CHROMIUM = Path("/usr/bin/chromium")
DEMO = "demo/opencharacter-demo"
FIXTURE = "alice/web-fixture"
PRIVATE = "alice/private-notes"
MODEL = "alice/tiny-rp"
FIXTURE_ROWS = 250
NEEDLE_EVERY = 25  # rows 0, 25, 50, ... hold the word "needle"
SCRIPT_ROW = 7
CARD_SCRIPT = "<script>alert('card')</script>"
ROW_SCRIPT = "<script>alert('row')</script>"
NOTE_LINE = "Reviewed offline on the local Hub before the push."

FIXTURE_README = f"""---
license: mit
language:
- en
configs:
- config_name: default
  data_files:
  - split: train
    path: data/train-*.parquet
---
# Fixture {CARD_SCRIPT}

<img src=x onerror="alert('img')"> and [a link](javascript:alert('link')).
"""

PRIVATE_README = """---
license: cc-by-4.0
---
# Secret notes

Only alice and her orgs can read this.
"""

MODEL_README = f"""---
license: apache-2.0
library_name: transformers
pipeline_tag: text-generation
base_model: meta-llama/Llama-3.1-8B
datasets:
- {DEMO}
model-index:
- name: tiny-rp
  results:
  - task:
      type: text-generation
      name: Character consistency
    dataset:
      name: ocforge demo eval_dialogues
      type: {DEMO}
      config: eval_dialogues
      split: test
      revision: v1.0.0
    metrics:
    - type: accuracy
      name: Character choice accuracy
      value: 0.8125
---
# tiny-rp

A tiny role-play model trained on the [demo release](/datasets/{DEMO}).
"""


def fixture_parquet() -> bytes:
    """250 rows: ``n``, a ``text`` with the needle every 25 rows and ``<script>`` in row 7."""
    texts = []
    for i in range(FIXTURE_ROWS):
        text = f"row {i} " + ("needle " if i % NEEDLE_EVERY == 0 else "") + "plain words"
        texts.append(ROW_SCRIPT if i == SCRIPT_ROW else text)
    table = pa.table({"n": list(range(FIXTURE_ROWS)), "text": texts})
    buffer = io.BytesIO()
    pq.write_table(table, buffer, write_page_index=True)
    return buffer.getvalue()


def push_site_repos(api, demo_readme: str) -> dict[str, str]:
    """Create the extra commits and repos; returns the README edit's commit id."""
    edited = demo_readme.rstrip("\n") + f"\n\n{NOTE_LINE}\n"
    note = api.upload_file(
        path_or_fileobj=edited.encode(),
        path_in_repo="README.md",
        repo_id=DEMO,
        repo_type="dataset",
        commit_message="Add a review note to the card",
    )
    api.create_branch(DEMO, branch="dev", repo_type="dataset")
    api.create_repo(FIXTURE, repo_type="dataset")
    api.upload_file(
        path_or_fileobj=fixture_parquet(),
        path_in_repo="data/train-00000-of-00001.parquet",
        repo_id=FIXTURE,
        repo_type="dataset",
    )
    api.upload_file(
        path_or_fileobj=FIXTURE_README.encode(),
        path_in_repo="README.md",
        repo_id=FIXTURE,
        repo_type="dataset",
    )
    api.create_repo(PRIVATE, repo_type="dataset", private=True)
    api.upload_file(
        path_or_fileobj=PRIVATE_README.encode(),
        path_in_repo="README.md",
        repo_id=PRIVATE,
        repo_type="dataset",
    )
    api.create_repo(MODEL)
    api.upload_file(path_or_fileobj=MODEL_README.encode(), path_in_repo="README.md", repo_id=MODEL)
    return {"note": note.oid}


def launch_browser(playwright):
    """Debian's Chromium, headless; a clear failure (not a skip) when it is not installed."""
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} not found: the web page tests need Debian's chromium package "
            "(apt-get install chromium; .ci/run installs it). playwright's own browser "
            "downloads are not used."
        )
    return playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)


def save_screenshot(page, tmp_path: Path, name: str) -> list[Path]:
    """Screenshot into the test's tmp dir and, when set, ``$OCFORGE_SCREENSHOT_DIR``."""
    targets = [tmp_path / name]
    extra = os.environ.get("OCFORGE_SCREENSHOT_DIR")
    if extra:
        Path(extra).mkdir(parents=True, exist_ok=True)
        targets.append(Path(extra) / name)
    shot = page.screenshot(full_page=False)
    for target in targets:
        target.write_bytes(shot)
    return targets
