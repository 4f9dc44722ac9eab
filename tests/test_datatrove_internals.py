"""The datatrove internals ocforge builds on, checked against the installed datatrove.

We override private methods of datatrove's executor and writers, call private helpers of its
dedup stages and read attributes its filters set in ``__init__``; the fast paths in filters/ copy
stage logic and are checked against datatrove's own output in their tests. pyproject.toml bounds
datatrove to the versions these checks passed on: a failure here names the internal that changed,
so that a new datatrove release is adopted on purpose, not by accident.
"""

from __future__ import annotations

import inspect
import re
from importlib.metadata import version
from pathlib import Path
from string import Template

import pytest
from datatrove.data import Document
from datatrove.executor.base import PipelineExecutor
from datatrove.executor.local import LocalPipelineExecutor
from datatrove.pipeline.dedup.exact_dedup import ExactDedupSignature
from datatrove.pipeline.dedup.minhash import MinhashDedupBuckets, MinhashDedupSignature
from datatrove.pipeline.filters.base_filter import BaseFilter
from datatrove.pipeline.filters.gopher_quality_filter import GopherQualityFilter
from datatrove.pipeline.filters.gopher_repetition_filter import GopherRepetitionFilter
from datatrove.pipeline.readers.base import BaseDiskReader
from datatrove.pipeline.writers.disk_base import DiskWriter
from datatrove.pipeline.writers.jsonl import JsonlWriter
from datatrove.utils.word_tokenizers import WordTokenizer

from ocforge.filters.exact_dedup import signature_step
from ocforge.filters.executors import make_executor
from ocforge.filters.io import IntermediateWriter, removed_writer
from ocforge.filters.minhash import bucket_step, minhash_config
from ocforge.filters.tally import TalliedFilter
from ocforge.filters.text_quality import AnswerQualityFilter, AnswerRepetitionFilter
from ocforge.filters.textnorm import FastWordTokenizer

ROOT = Path(__file__).resolve().parent.parent

# (class, private method we override or call) -> its parameters, as our code calls them
SIGNATURES = {
    (PipelineExecutor, "_run_for_rank"): ["self", "rank", "local_rank", "node_rank"],
    (LocalPipelineExecutor, "_launch_run_for_rank"): [
        "self",
        "rank",
        "ranks_q",
        "completed",
        "completed_lock",
    ],
    (DiskWriter, "_get_output_filename"): ["self", "document", "rank", "kwargs"],
    (DiskWriter, "_get_output_file_with_retry"): ["self", "output_filename"],
    (JsonlWriter, "_write"): ["self", "document", "file_handler", "_filename"],
    (BaseDiskReader, "read_file"): ["self", "filepath"],
    (ExactDedupSignature, "get_hashes"): ["self", "doc", "doc_idx"],
    (ExactDedupSignature, "save_hashes"): ["self", "rank", "signatures"],
    (BaseFilter, "run"): ["self", "data", "rank", "world_size"],
}


@pytest.mark.parametrize(
    ("cls", "method"), list(SIGNATURES), ids=[f"{c.__name__}.{m}" for c, m in SIGNATURES]
)
def test_private_methods_we_override_keep_their_signature(cls, method):
    assert hasattr(cls, method), (
        f"datatrove {version('datatrove')}: {cls.__module__}.{cls.__name__}.{method} is gone; "
        "filters/ overrides or calls it"
    )
    params = list(inspect.signature(getattr(cls, method)).parameters)
    assert params == SIGNATURES[(cls, method)], (
        f"datatrove {version('datatrove')}: {cls.__name__}.{method}{params} changed "
        f"(ocforge expects {SIGNATURES[(cls, method)]})"
    )


def test_the_bounds_in_pyproject_hold_the_installed_datatrove():
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    low, high = re.search(r'"datatrove\[[^\]]*\]>=([\d.]+),<([\d.]+)"', text).groups()

    def key(v: str) -> tuple[int, ...]:
        return tuple(int(p) for p in v.split(".")[:3])

    installed = version("datatrove")
    assert key(low) <= key(installed) < key(high), (installed, low, high)


def test_attributes_our_subclasses_read_are_set_by_datatrove(tmp_path):
    writer = removed_writer(str(tmp_path / "removed"), "dropped", "quality", "too_short")
    assert isinstance(writer, DiskWriter) and isinstance(writer.output_filename, Template)
    intermediate = IntermediateWriter(str(tmp_path / "mid"))
    assert isinstance(intermediate.output_filename, Template) and callable(intermediate.adapter)
    buckets = bucket_step(str(tmp_path / "sigs"), str(tmp_path / "buckets"), minhash_config())
    assert isinstance(buckets, MinhashDedupBuckets)
    for name in ("config", "index_folder", "input_folder", "output_folder"):
        assert hasattr(buckets, name), f"MinhashDedupBuckets.{name} is gone"
    assert {"num_buckets", "hashes_per_bucket"} <= set(vars(buckets.config)), "MinhashConfig"
    signatures = MinhashDedupSignature(str(tmp_path / "s"), minhash_config())
    for name in ("config", "output_folder", "num_hashes"):
        assert hasattr(signatures, name), f"MinhashDedupSignature.{name} is gone"
    exact = signature_step(str(tmp_path / "exact"))
    doc = Document(text="a b", id="0", metadata={"dedup_key": "a b"})
    assert exact.get_hashes(doc, 0), "ExactDedupSignature.get_hashes"


def test_gopher_filters_set_the_thresholds_our_fast_paths_read():
    quality = AnswerQualityFilter()
    for name in (
        "min_doc_words",
        "max_doc_words",
        "min_avg_word_length",
        "max_avg_word_length",
        "max_symbol_word_ratio",
        "max_bullet_lines_ratio",
        "max_ellipsis_lines_ratio",
        "max_non_alpha_words_ratio",
        "min_stop_words",
        "stop_words",
    ):
        assert hasattr(quality, name), f"GopherQualityFilter.{name} is gone"
    assert isinstance(quality, GopherQualityFilter)
    repetition = AnswerRepetitionFilter()
    assert isinstance(repetition, GopherRepetitionFilter)
    for name in (
        "dup_line_frac",
        "dup_para_frac",
        "dup_line_char_frac",
        "dup_para_char_frac",
        "dup_n_grams",
        "paragraph_exp",
        "_line_splitter",
    ):
        assert hasattr(repetition, name), f"GopherRepetitionFilter.{name} is gone"


def test_our_word_tokenizer_implements_every_abstract_method():
    missing = WordTokenizer.__abstractmethods__ - set(vars(FastWordTokenizer))
    assert not missing, f"datatrove's WordTokenizer has new abstract methods: {sorted(missing)}"


class _Short(BaseFilter):
    name = "short"

    def filter(self, doc: Document) -> bool | tuple[bool, str]:
        return len(doc.text.split()) > 2 or (False, "too_short")


class _TalliedShort(TalliedFilter, _Short):
    pass


def _counts(step: BaseFilter) -> dict[str, tuple[float, int]]:
    return {
        key: (stat.total, stat.n)
        for key, stat in step.stats.stats.items()
        if key not in ("time", "global_mean_time")
    }


def test_the_tallied_filter_loop_records_what_datatrove_s_loop_does():
    """TalliedFilter copies BaseFilter.run with the statistics summed per task: same documents
    passed on, same counts (per reason) and document-length statistics."""
    texts = ["one two three", "no", "four five six seven", "", "eight nine ten eleven twelve"]
    kept = {}
    for cls in (_Short, _TalliedShort):
        step = cls()
        docs = [Document(text=t, id=str(i)) for i, t in enumerate(texts)]
        kept[cls] = [d.id for d in step.run(iter(docs))]
        kept[cls, "stats"] = _counts(step)
    assert kept[_Short] == kept[_TalliedShort] == ["0", "2", "4"]
    assert kept[_Short, "stats"] == kept[_TalliedShort, "stats"], "BaseFilter.run's statistics"


def test_the_quiet_local_executor_runs_a_task(tmp_path):
    """The overridden _run_for_rank/_launch_run_for_rank still run a pipeline (one local task)."""
    seen = tmp_path / "seen.txt"

    def step(data, rank: int = 0, world_size: int = 1):
        seen.write_text(f"{rank}/{world_size}")
        yield from data or []

    from ocforge.recipe import ExecutorSettings

    executor = make_executor(ExecutorSettings(), [step], str(tmp_path / "logs"), tasks=1)
    assert isinstance(executor, LocalPipelineExecutor)
    executor.run()
    assert seen.read_text() == "0/1"
