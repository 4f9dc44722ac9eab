"""The ``ocforge`` command line (``ocforge.cli:app``)."""

from ocforge.cli.app import app

__all__ = ["app"]
