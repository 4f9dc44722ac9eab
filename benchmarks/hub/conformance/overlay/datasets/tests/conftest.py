"""Our conftest for datasets' own tests, run against the local Hub (ocforge conformance).

The sdist ships the tests without ``tests/conftest.py`` and ``tests/fixtures/``; this file,
written for ocforge, gives the in-scope tests their fixtures (``fixtures/hub.py``,
``fixtures/files.py``), a private datasets cache per test, and the markers they use.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from .fixtures.files import (  # noqa: F401 (fixtures are found by name)
    csv_path,
    text_file,
    text_file_content,
    zip_csv_with_dir_path,
    zip_image_path,
)
from .fixtures.hub import (  # noqa: F401 (fixtures are found by name)
    _hf_gated_dataset_repo_txt_data,
    _hf_private_dataset_repo_txt_data,
    _hf_private_dataset_repo_zipped_img_data,
    _hf_private_dataset_repo_zipped_txt_data,
    ci_hfh_hf_hub_url,
    ci_hub_config,
    cleanup_repo,
    hf_api,
    hf_gated_dataset_repo_txt_data,
    hf_private_dataset_repo_txt_data,
    hf_private_dataset_repo_zipped_img_data,
    hf_private_dataset_repo_zipped_txt_data,
    hf_token,
    set_ci_hub_access_token,
    temporary_repo,
)

# data file the image push tests read by path; the sdist does not ship tests/features/
TEST_IMAGE = Path(__file__).parent / "features" / "data" / "test_image_rgb.jpg"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "unit: unit test")
    config.addinivalue_line("markers", "integration: integration test (talks to the Hub)")
    if not TEST_IMAGE.exists():
        try:
            from PIL import Image
        except ImportError:  # the image tests are require_pil-marked and skip
            return
        TEST_IMAGE.parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (32, 24), (40, 120, 200)).save(TEST_IMAGE)


@pytest.fixture(autouse=True)
def _private_datasets_cache(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
):
    """A fresh datasets cache per test, so a test never loads another's cached build."""
    cache = tmp_path_factory.mktemp("hf_datasets_cache")
    monkeypatch.setattr("datasets.config.HF_DATASETS_CACHE", cache)
    monkeypatch.setattr("datasets.config.HF_MODULES_CACHE", cache / "modules")
    monkeypatch.setattr("datasets.config.DOWNLOADED_DATASETS_PATH", cache / "downloads")
    monkeypatch.setattr(
        "datasets.config.EXTRACTED_DATASETS_PATH", cache / "downloads" / "extracted"
    )
    monkeypatch.setattr("datasets.config.HF_UPDATE_DOWNLOAD_COUNTS", False)
