"""Errors of ``ocforge train`` (to move to ocforge/errors.py with the other public exceptions)."""

from __future__ import annotations

from ocforge.errors import OcforgeError


class TrainError(OcforgeError, RuntimeError):
    """Training cannot start or continue as asked; the message says what to change."""
