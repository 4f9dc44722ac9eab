"""Recipes: one YAML file describes one dataset release (inputs, configs, filters, splits, ...).

``load_recipe`` turns the YAML into validated pydantic objects. Every problem is reported with the
recipe file, the YAML path of the key (and its line) and what was expected; unknown keys are
errors, so a typo never silently falls back to a default.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import (
    BaseModel,
    Field,
    ValidationError,
    model_validator,
)

from ocforge.errors import RecipeError
from ocforge.hashing import bytes_sha256
from ocforge.recipe_inputs import (  # noqa: F401  (re-exported: the recipe's public names)
    CHARACTER_FIELDS,
    CONFIGS_DIR,
    DEFAULT_CHARACTER_BREAKS,
    DEMO_RECIPE,
    DIALOGUE_FIELDS,
    IMPORTER_KEYS,
    PERSONA_FIELDS,
    PROMPTS_DIR,
    QUESTION_FIELDS,
    HubSource,
    InputSpec,
    Strict,
)
from ocforge.recipe_settings import (  # noqa: F401
    CardSettings,
    CharactersConfig,
    DecontaminationSettings,
    DedupSettings,
    DialogueConfig,
    DialogueFilterSettings,
    EvalSetSpec,
    ExecutorSettings,
    FilterSettings,
    LanguageSettings,
    LengthBounds,
    NearDedupSettings,
    OutputSettings,
    PiiSettings,
    PublishSettings,
    QualitySettings,
    RaySettings,
    SemanticDedupSettings,
    SlurmSettings,
    SplitSettings,
)
from ocforge.recipe_synthesis import (  # noqa: F401
    AssignmentSettings,
    BackendSettings,
    GenerationSettings,
    ProfileSynthesis,
    QuestionCorpus,
    SynthCharacters,
    SynthDialogues,
    SynthesisSettings,
    unknown_corpora,
)

M = TypeVar("M", bound=BaseModel)


def _reference_problems(data: dict[str, Any]) -> list[tuple[tuple[Any, ...], str]]:
    """Cross-reference checks over the raw YAML, for when other keys failed validation: pydantic
    runs a model's own checks only once all its fields are valid, and a recipe with several
    mistakes should report all of them at once."""
    synthesis = data.get("synthesis")
    if not isinstance(synthesis, dict):
        return []
    questions = synthesis.get("questions")
    dialogues = synthesis.get("dialogues")
    if not isinstance(questions, list) or not isinstance(dialogues, list):
        return []
    corpora = [str(q["corpus"]) for q in questions if isinstance(q, dict) and "corpus" in q]
    out = []
    for i, d in enumerate(dialogues):
        if isinstance(d, dict):
            for msg in unknown_corpora(corpora, [(d.get("strategy"), d.get("corpora"))]):
                out.append((("synthesis", "dialogues", i, "corpora"), msg))
    return out


class Recipe(Strict):
    """A whole recipe. ``path`` and ``sha256`` are filled in by :func:`load_recipe`."""

    name: str = Field(pattern=r"^[\w.\-]+$")
    description: str = ""
    characters: CharactersConfig
    dialogues: list[DialogueConfig] = Field(default_factory=list)
    filters: FilterSettings = Field(default_factory=FilterSettings)
    splits: SplitSettings = Field(default_factory=SplitSettings)
    executor: ExecutorSettings = Field(default_factory=ExecutorSettings)
    output: OutputSettings = Field(default_factory=OutputSettings)
    card: CardSettings = Field(default_factory=CardSettings)
    publish: PublishSettings = Field(default_factory=PublishSettings)
    synthesis: SynthesisSettings | None = None

    path: Path | None = Field(default=None, exclude=True)
    sha256: str | None = Field(default=None, exclude=True)

    @model_validator(mode="after")
    def _unique_configs(self) -> Recipe:
        names = [self.characters.name, *(d.config_name for d in self.dialogues)]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"config names must be unique, repeated: {', '.join(dupes)}")
        produced = set()
        if self.synthesis is not None:
            produced = {"characters"} | {d.strategy for d in self.synthesis.dialogues}
        for cfg in [self.characters, *self.dialogues]:
            for spec in cfg.inputs:
                if spec.synthesis is not None and spec.synthesis not in produced:
                    raise ValueError(
                        f"config {getattr(cfg, 'name', None) or cfg.config_name!r} reads synthesis "
                        f"output {spec.synthesis!r}, which this recipe's synthesis section does not "
                        "produce (add it under synthesis.dialogues)"
                    )
        return self

    @property
    def base_dir(self) -> Path:
        return self.path.parent if self.path else Path.cwd()

    def config_names(self) -> list[str]:
        return [self.characters.name, *(d.config_name for d in self.dialogues)]


def _yaml_path(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "<top level>"


def _line_of(root: yaml.Node | None, loc: tuple[Any, ...]) -> int | None:
    """1-based line of the deepest YAML node along ``loc`` (for error messages)."""
    node, line = root, None
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if key.value == part:
                    line = key.start_mark.line + 1
                    node = value
                    break
            else:
                return line
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            if part >= len(node.value):
                return line
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            return line
    return line


def _describe(error: dict[str, Any]) -> str:
    if error["type"] == "extra_forbidden":
        return "unknown key (check the spelling; unknown keys are not ignored)"
    if error["type"] == "missing":
        return "required key is missing"
    msg = str(error["msg"]).removeprefix("Value error, ")
    if error["type"] not in ("value_error",) and "input" in error:
        got = error["input"]
        if not isinstance(got, dict | list):
            msg += f" (got {got!r})"
    return msg


def load_yaml_model(
    path: str | Path,
    model: type[M],
    *,
    context: dict[str, Any] | None = None,
    reference_problems: Callable[[dict[str, Any]], list[tuple[tuple[Any, ...], str]]] | None = None,
) -> tuple[M, bytes]:
    """``model`` validated from the YAML file at ``path``, and the file's bytes.

    ``reference_problems(data)`` adds checks over the raw YAML, reported with the schema's own
    problems when those stop pydantic before the model's checks (so that every mistake of a
    file is reported at once).

    Raises:
        RecipeError: the file is unreadable, not YAML or not the schema; every problem is
            reported as ``FILE:LINE: yaml.path: message``.
    """
    path = Path(path)
    shown = str(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise RecipeError(shown, [f"cannot read the recipe file: {exc.strerror}"]) from None
    text = raw.decode("utf-8", errors="replace")
    try:
        data = yaml.safe_load(text)
        root = yaml.compose(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{shown}:{mark.line + 1}" if mark else shown
        raise RecipeError(shown, [f"{where}: not valid YAML: {exc}"]) from None
    if not isinstance(data, dict):
        raise RecipeError(shown, [f"{shown}: expected a mapping at the top level"])
    try:
        return model.model_validate(data, context=context), raw
    except ValidationError as exc:
        found = [(tuple(err["loc"]), _describe(err)) for err in exc.errors()]
        extra = reference_problems(data) if reference_problems else []
        found += [p for p in extra if not any(p[1] in m for _, m in found)]
        raise RecipeError(shown, [_problem(root, loc, msg, shown) for loc, msg in found]) from None


def load_recipe(path: str | Path) -> Recipe:
    """Read and validate a recipe YAML file.

    Relative paths inside the recipe are resolved against the recipe's folder.

    Raises:
        RecipeError: the file is missing, is not YAML, or does not match the schema; the error
            lists every problem with its YAML path and line.
    """
    path = Path(path)
    context = {"base_dir": path.resolve().parent}
    recipe, raw = load_yaml_model(
        path, Recipe, context=context, reference_problems=_reference_problems
    )
    return recipe.model_copy(update={"path": path.resolve(), "sha256": bytes_sha256(raw)})


def _problem(root: yaml.Node | None, loc: tuple[Any, ...], message: str, shown: str) -> str:
    line = _line_of(root, loc)
    return f"{f'{shown}:{line}' if line else shown}: {_yaml_path(loc)}: {message}"


def yaml_problems(root: yaml.Node | None, errors: list[dict[str, Any]], shown: str) -> list[str]:
    """``FILE:LINE: yaml.path: message`` for each pydantic error of a YAML file composed as
    ``root``: the recipe's error format, for the other YAML schemas (e.g. training recipes)."""
    return [_problem(root, tuple(err["loc"]), _describe(err), shown) for err in errors]
