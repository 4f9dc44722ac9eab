"""Before a push: would the Hub's Dataset Viewer show this build? The check of
:mod:`ocforge.hub.viewer.compat` (Parquet readable, one schema per split, row-group size
against the viewer's scan limit, page index, first rows within 1 MB) over the build's files,
as lines for the release's progress output (``ocforge release [--dry-run]``).
"""

from __future__ import annotations

from pathlib import Path

from ocforge.hub.viewer.compat import CompatReport, check_configs
from ocforge.publish.local_build import LocalBuild


def viewer_compatibility(build: LocalBuild) -> CompatReport:
    """The report over every split of the build that has files (in the build folder)."""
    configs: dict[str, dict[str, list[tuple[str, Path]]]] = {}
    for name, out in build.outputs.items():
        splits = {
            split: [(f.path, build.root / f.path) for f in entry.files]
            for split, entry in out.splits.items()
            if entry.files
        }
        if splits:
            configs[name] = splits
    return check_configs(configs)


def viewer_report_lines(build: LocalBuild) -> list[str]:
    """One summary line, then a line per finding (errors first)."""
    report = viewer_compatibility(build)
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
