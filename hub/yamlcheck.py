"""README metadata checks for ``POST /api/validate-yaml`` and ``cardData`` in repo info.

The rules are core's (:mod:`ocforge.card_metadata`: license ids from the Hub's list, the shape
of ``model-index``, ``configs`` and ``dataset_info``, language codes, tags, a warning for empty
metadata), shared with the check ``ocforge release`` runs before it pushes. This module gives
them the Hub's two answer formats:

* JSON ``{"errors": [{"message": ...}], "warnings": [{"message": ...}]}`` (400 with errors),
  which ``HfApi.create_commit`` / ``upload_folder`` read before uploading a README: errors
  become ``ValueError("Invalid metadata in README.md. ...")``, warnings a ``UserWarning``;
* plain text, one ``- Error: ...`` / ``- Warning: ...`` line each, for ``Accept: text/plain``:
  ``RepoCard.validate`` asks for it and raises ``ValueError(response.text)`` on a 400.
"""

from __future__ import annotations

from typing import Any

import yaml

from ocforge.card_metadata import CardReport, check_readme, front_matter

from .protocol import Response, json_response

__all__ = ["extract_front_matter", "load_card_data", "validate_readme", "validate_yaml_response"]

#: the YAML text between the leading ``---`` lines, or ``None`` without front matter
extract_front_matter = front_matter


def load_card_data(readme: str) -> dict[str, Any] | None:
    """Parsed front matter if it is a valid mapping, else ``None`` (never raises)."""
    text = front_matter(readme)
    if text is None:
        return None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError:
        return None
    return data if isinstance(data, dict) else None


def validate_readme(readme: str, repo_type: str) -> list[str]:
    """Error messages for the README's metadata (empty list = the Hub accepts it)."""
    return [problem.message for problem in check_readme(readme, repo_type).errors]


def _wants_text(accept: str | None) -> bool:
    accept = (accept or "").lower()
    return "text/plain" in accept and "application/json" not in accept


def report_text(report: CardReport) -> str:
    lines = [f"- Error: {p.message}" for p in report.errors]
    lines += [f"- Warning: {p.message}" for p in report.warnings]
    return "\n".join(lines)


def validate_yaml_response(readme: str, repo_type: str, accept: str | None) -> Response:
    """The answer to ``/api/validate-yaml``: 200, or 400 when the metadata has errors."""
    report = check_readme(readme, repo_type)
    status = 200 if report.ok else 400
    if _wants_text(accept):
        body = report_text(report).encode("utf-8", "backslashreplace")
        return Response(status, {"Content-Type": "text/plain; charset=utf-8"}, body)
    # The client reads the JSON before the status: both answers must be JSON.
    payload = {
        "errors": [{"message": p.message} for p in report.errors],
        "warnings": [{"message": p.message} for p in report.warnings],
    }
    return json_response(payload, status)
