"""Exception classes raised by ocforge's public functions."""

from __future__ import annotations


class OcforgeError(Exception):
    """Base class of every error ocforge raises on purpose."""


class RecipeError(OcforgeError):
    """A recipe file is unreadable, mistyped or points at inputs that do not exist.

    Each entry of ``problems`` is one human-readable line naming the recipe file, the YAML path of
    the offending key (and its line when known) and what was expected.
    """

    def __init__(self, recipe_path: str, problems: list[str]):
        self.recipe_path = recipe_path
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"invalid recipe {recipe_path}:\n{lines}")


class LedgerError(OcforgeError):
    """The run lost or invented rows: ``input != kept + dropped + duplicates + quarantined``."""


class BuildError(OcforgeError):
    """A build step failed; the message names the step and the cause."""


class SynthesisError(OcforgeError):
    """Synthesis could not run or finish: the message names the stage and the cause."""
