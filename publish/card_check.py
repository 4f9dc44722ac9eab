"""The card check that runs before a release or a model is pushed anywhere (``--target hf``
included): card metadata the Hub would refuse stops the command offline, with the card file, the
field and, where the value came from an option or the recipe, where to change it.

The rules are core's (:mod:`ocforge.card_metadata`), the same the local Hub's
``/api/validate-yaml`` applies. Two moments per command:

* before connecting: what the user chose (the recipe's ``card:`` section, ``--license`` /
  ``--tag`` of ``publish model``) is checked as the metadata it becomes;
* before pushing: the whole card as rendered (and, for a dataset, merged with the card on the
  Hub), which also holds the generated ``configs``, ``dataset_info`` and ``model-index``.

Warnings and notes (e.g. ``license: other`` without ``license_name``) do not stop anything; they
are passed to ``progress`` when given.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from ocforge.card_metadata import CardReport, check_metadata, check_readme
from ocforge.errors import CardMetadataError
from ocforge.publish.local_build import LocalBuild
from ocforge.recipe import CardSettings

README = "README.md"
Progress = Callable[[str], None]


def _root(field: str) -> str:
    """The top-level key of a problem's path (``language[0]`` -> ``language``)."""
    return field.split(".")[0].split("[")[0]


def _settle(
    report: CardReport,
    card: str,
    progress: Progress | None,
    origin: Mapping[str, str] | None = None,
    source: str | None = None,
) -> None:
    """Raise for the report's errors (one line), pass its warnings and notes to ``progress``.

    ``origin`` maps a metadata key to the option or recipe key it came from, ``source`` names
    the file that holds them."""
    for finding in [*report.warnings, *report.notes]:
        if progress:
            progress(f"card {finding.level} ({card}): {finding.message}")
    if report.ok:
        return
    detail = "; ".join(p.message for p in report.errors)
    message = f"the Hub would refuse {card}: {detail}"
    fix = sorted(
        {origin[_root(p.field)] for p in report.errors if _root(p.field) in (origin or {})}
    )
    if fix:
        message += f" (set {', '.join(fix)}{f' in {source}' if source else ''})"
    raise CardMetadataError(message + "; nothing was pushed")


_RECIPE_KEYS = {key: f"card.{key}" for key in ("license", "language", "tags", "task_categories")}


def check_card_settings(
    settings: CardSettings, recipe_file: str | Path | None = None, progress: Progress | None = None
) -> None:
    """Check a recipe's ``card:`` section as the dataset card metadata it becomes.

    Raises:
        CardMetadataError: e.g. ``card.license`` is not one of the Hub's license ids.
    """
    data = {
        "license": settings.license,
        "language": list(settings.language),
        "tags": list(settings.tags),
        "task_categories": list(settings.task_categories),
    }
    report = check_metadata(data, "dataset")
    source = str(recipe_file) if recipe_file else "the recipe"
    _settle(report, README, progress, _RECIPE_KEYS, source)


def check_build_card(build: LocalBuild, progress: Progress | None = None) -> LocalBuild:
    """Check the card settings of a build's recipe (:func:`check_card_settings`); returns
    ``build``.

    Raises:
        CardMetadataError: naming the field and the build's recipe.
    """
    check_card_settings(build.settings, f"{build.manifest.recipe.file} of {build.root}", progress)
    return build


def check_model_options(
    license: str, tags: list[str] | None = None, progress: Progress | None = None
) -> None:
    """Check ``publish model``'s ``--license`` and ``--tag`` as the model card metadata they become.

    Raises:
        CardMetadataError: e.g. ``--license`` is not one of the Hub's license ids.
    """
    data: dict[str, Any] = {"license": license}
    if tags:
        data["tags"] = list(tags)
    _settle(
        check_metadata(data, "model"), README, progress, {"license": "--license", "tags": "--tag"}
    )


def check_card_text(
    text: str, repo_type: str, card: str = README, progress: Progress | None = None
) -> str:
    """Check a rendered card (``README.md`` text) of a ``repo_type`` repo before it is pushed;
    returns ``text``.

    Raises:
        CardMetadataError: naming ``card`` and every field the Hub would refuse.
    """
    _settle(check_readme(text, repo_type), card, progress)
    return text
