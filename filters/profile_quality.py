"""Character profiles that cannot be used: missing fields, template placeholders, impossible ages.

Runs on the ``characters`` config after validation (which already quarantines profiles without
a ``Name:`` line). Dropped characters take their dialogues with them (``character_removed``).
"""

from __future__ import annotations

from datatrove.data import Document
from datatrove.pipeline.filters.base_filter import BaseFilter

from ocforge.filters.tally import TalliedFilter
from ocforge.profile_rules import age_problem, profile_problem
from ocforge.records import PROFILE_FIELDS

__all__ = ["ProfileCompletenessFilter", "age_problem"]


class ProfileCompletenessFilter(TalliedFilter, BaseFilter):
    """Drop profiles that miss ``required`` fields (``incomplete_profile``), still hold template
    placeholders (``placeholder_profile``) or give an age that is not an age (``invalid_age``)."""

    name = "🧾 profile completeness"

    def __init__(
        self,
        required: list[str] | None = None,
        max_age: int = 10_000,
        exclusion_writer=None,
    ):
        super().__init__(exclusion_writer)
        self.required = list(PROFILE_FIELDS if required is None else required)
        self.max_age = max_age

    def filter(self, doc: Document) -> bool | tuple[bool, str]:
        problem = profile_problem(doc.metadata["record"], self.required, self.max_age)
        if problem is None:
            return True
        reason, doc.metadata["detail"] = problem
        return False, reason
