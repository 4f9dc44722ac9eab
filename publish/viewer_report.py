"""Before a push: would the Hub's Dataset Viewer show this build? The check of
:mod:`ocforge.hub.viewer.compat` (Parquet readable, one schema per split, row-group size
against the viewer's scan limit, page index, first rows within 1 MB) over the build's files,
from the release's one read of them (:mod:`ocforge.publish.file_pass`), as lines for the
release's progress output (``ocforge release [--dry-run]``).
"""

from __future__ import annotations

from ocforge.hub.viewer.compat import CompatReport, ParquetFacts, check_facts
from ocforge.publish.file_pass import BuildRead


def viewer_compatibility(read: BuildRead) -> CompatReport:
    """The report over every split of the build that has files, from what the release's one
    pass over them kept (footers and first rows: no file is opened again)."""
    configs: dict[str, dict[str, list[ParquetFacts]]] = {}
    for file in read.files:
        facts = ParquetFacts(file.entry.path, file.metadata, head=file.head)
        configs.setdefault(file.config, {}).setdefault(file.split, []).append(facts)
    return check_facts(configs)


def viewer_report_lines(read: BuildRead) -> list[str]:
    """One summary line, then a line per finding (errors first)."""
    report = viewer_compatibility(read)
    counted = f"{report.splits} split(s), {report.files} file(s)"
    if not report.findings:
        return [f"viewer check: {counted}: the Hub's Dataset Viewer can show every split"]
    if report.ok:
        head = f"viewer check: {counted}: warnings (the Hub's viewer shows the release)"
    else:
        head = (
            f"viewer check: {counted}: WARNING: the Hub's Dataset Viewer would refuse this release"
        )
    ordered = sorted(report.findings, key=lambda f: f.level != "error")
    return [head, *(f"  {f.line()}" for f in ordered)]
