"""The filter stage of each config: which datatrove steps run, in which order, with the
recipe's settings. Dedup and the last stage are :mod:`ocforge.flows.curation`'s."""

from __future__ import annotations

from pathlib import Path

from ocforge.builders.sources import RecordReader
from ocforge.filters.dialogue import (
    NameConsistencyFilter,
    ProfileLeakageFilter,
    RewriteSanityFilter,
)
from ocforge.filters.language import LanguageIdFilter
from ocforge.filters.linking import CascadeCharacterRemoval, ResolveCharacter
from ocforge.filters.pii import PiiMasker
from ocforge.filters.profile_quality import ProfileCompletenessFilter
from ocforge.filters.quality import CharacterBreakFilter, ResponseLengthFilter
from ocforge.filters.text_quality import answer_quality_filters
from ocforge.filters.validation import ValidateCharacters, ValidateDialogues
from ocforge.flows.curation import Stages
from ocforge.recipe import CHARACTER_FIELDS, DIALOGUE_FIELDS, DialogueConfig, InputSpec, Recipe


def character_steps(recipe: Recipe, stages: Stages, inputs: list[tuple[str, InputSpec]]) -> list:
    """The filter stage of the characters config, in order."""
    name = recipe.characters.name
    dialogue = recipe.filters.dialogue
    steps: list = [
        RecordReader(inputs, CHARACTER_FIELDS),
        ValidateCharacters(exclusion_writer=stages.removed(name, "validation", "quarantined")),
    ]
    if dialogue.profile_completeness:
        steps.append(
            ProfileCompletenessFilter(
                dialogue.required_profile_fields,
                dialogue.max_age,
                exclusion_writer=stages.removed(name, "profile-completeness", "dropped"),
            )
        )
    return steps


def dialogue_steps(
    recipe: Recipe,
    stages: Stages,
    dcfg: DialogueConfig,
    inputs: list[tuple[str, InputSpec]],
    index_path: Path,
    break_patterns: list[str],
) -> list:
    """The filter stage of a dialogue config, in order."""
    name = dcfg.config_name
    f = recipe.filters
    quality, dialogue = f.quality, f.dialogue
    bounds = quality.length_by_strategy.get(dcfg.strategy)
    min_words = bounds.min_response_words if bounds else quality.min_response_words
    max_words = bounds.max_response_words if bounds else quality.max_response_words

    def dropped(step: str):
        return stages.removed(name, step, "dropped")

    steps: list = [
        RecordReader(inputs, DIALOGUE_FIELDS),
        ValidateDialogues(
            dcfg.strategy, exclusion_writer=stages.removed(name, "validation", "quarantined")
        ),
    ]
    if f.pii.enabled:  # before linking, so ids and chat messages hold the masked text
        steps.append(PiiMasker())
    steps += [
        ResolveCharacter(str(index_path), stages.removed(name, "resolve-character", "quarantined")),
        CascadeCharacterRemoval(str(index_path), dropped("cascade")),
        ResponseLengthFilter(min_words, max_words, exclusion_writer=dropped("response-length")),
    ]
    if quality.character_breaks:
        steps.append(
            CharacterBreakFilter(break_patterns, exclusion_writer=dropped("character-break"))
        )
    if f.language.enabled:
        steps.append(
            LanguageIdFilter(
                f.language.languages, f.language.threshold, exclusion_writer=dropped("language")
            )
        )
    if quality.gopher_quality or quality.gopher_repetition:
        gopher = answer_quality_filters(
            dropped,
            max_non_alpha_words_ratio=quality.max_non_alpha_words_ratio,
            repetition=quality.gopher_repetition,
        )
        steps += gopher if quality.gopher_quality else gopher[1:]
    if dialogue.name_consistency:
        steps.append(NameConsistencyFilter(exclusion_writer=dropped("name-consistency")))
    if dialogue.profile_leakage:
        steps.append(
            ProfileLeakageFilter(
                dialogue.leakage_ngram,
                dialogue.leakage_threshold,
                exclusion_writer=dropped("profile-leakage"),
            )
        )
    if dialogue.rewrite_sanity and dcfg.strategy == "rewrite":
        steps.append(
            RewriteSanityFilter(
                dialogue.rewrite_max_similarity,
                dialogue.rewrite_min_content_kept,
                exclusion_writer=dropped("rewrite-sanity"),
            )
        )
    return steps
