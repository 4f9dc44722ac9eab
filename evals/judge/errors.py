"""Errors of ``ocforge eval judge``.

They belong in :mod:`ocforge.errors` with the other public exceptions and live here until that
file gains them; both derive from ``OcforgeError``, so the CLI reports them without a traceback.
"""

from __future__ import annotations

from ocforge.errors import OcforgeError


class JudgeError(OcforgeError, RuntimeError):
    """A judged evaluation cannot run or finish: an endpoint refused or could not be reached, a
    prepared set is missing or malformed, or the results cannot be recorded."""


class JudgeConfigError(OcforgeError, ValueError):
    """A file under ``configs/judge/`` is malformed: the message names the file and the key."""
