"""The model card of a published checkpoint: huggingface_hub ``ModelCardData`` metadata (base
model, dataset link, license, tags, ``model-index``) and a body from ``model_card.md.j2`` that pins
the exact dataset release (tag and commit), lists training facts and shows a chat usage snippet.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from huggingface_hub import ModelCard, ModelCardData

TEMPLATE = Path(__file__).with_name("model_card.md.j2")
EVALS_START = "<!-- ocforge:evals:start -->"
EVALS_END = "<!-- ocforge:evals:end -->"
TRAINING_HEADING = "## Training"
TRAINING_START = "<!-- ocforge:training:start -->"
TRAINING_END = "<!-- ocforge:training:end -->"
DEFAULT_TAGS = ("role-play", "character", "opencharacter", "ocforge", "chat")
EXAMPLE_PROFILE = (
    "Name: Mara Quist\nAge: 52\nGender: Female\nRace: White (Dutch)\nBirth Place: Harlingen, "
    "Netherlands\nAppearance: Weathered face, grey braid, oil-stained overalls.\nGeneral "
    "Experience: Thirty years as a ferry mechanic on the Wadden Sea.\nPersonality: Blunt, warm "
    "underneath, explains everything with engine metaphors."
)


def model_card_data(
    *,
    model_name: str,
    base_model: str,
    dataset_repo: str,
    license: str,
    tags: list[str] | tuple[str, ...] = DEFAULT_TAGS,
    language: list[str] | None = None,
    eval_results: list[Any] | None = None,
) -> ModelCardData:
    """Metadata: ``base_model`` + ``base_model_relation: finetune``, ``datasets`` linking the
    dataset repo, ``library_name: transformers``, ``pipeline_tag: text-generation``, license,
    tags and (when given) ``model-index`` results."""
    return ModelCardData(
        # model-index's `name`; without results it would be dumped as a stray `model_name` key
        model_name=model_name if eval_results else None,
        base_model=base_model,
        base_model_relation="finetune",
        datasets=[dataset_repo],
        library_name="transformers",
        pipeline_tag="text-generation",
        license=license,
        language=language or ["en"],
        tags=list(dict.fromkeys(tags)),
        eval_results=eval_results or None,
    )


def render_model_card(
    *,
    model_id: str,
    base_model: str,
    dataset_repo: str,
    dataset_revision: str,
    dataset_sha: str,
    dataset_version: str | None,
    license: str,
    model_type: str,
    num_parameters: int,
    has_chat_template: bool,
    training_facts: dict[str, Any],
    endpoint: str = "https://huggingface.co",
    dataset_rows: int | None = None,
    tags: list[str] | tuple[str, ...] | None = None,
    eval_results: list[Any] | None = None,
    example_profile: str = EXAMPLE_PROFILE,
    training: dict[str, Any] | None = None,
) -> str:
    """The whole README.md of a model repo. Deterministic: same arguments, same text.

    ``endpoint`` is the host of the dataset link (empty: a link relative to the Hub that serves
    the card). ``training`` (plain data from the checkpoint's training manifest, see
    ``ocforge.training_manifest.card_training``) adds a Training section before Usage.

    ``eval_results`` (``EvalResult`` list) go through :func:`apply_eval_results`, the same path
    ``ocforge eval push`` takes, so a card re-rendered with the results it already holds is
    byte-identical to it.
    """
    data = model_card_data(
        model_name=model_id.split("/")[-1],
        base_model=base_model,
        dataset_repo=dataset_repo,
        license=license,
        tags=tags or DEFAULT_TAGS,
    )
    card = ModelCard.from_template(
        data,
        template_str=TEMPLATE.read_text(encoding="utf-8"),
        model_id=model_id,
        base_model=base_model,
        dataset_repo=dataset_repo,
        dataset_url=f"{endpoint.rstrip('/')}/datasets/{dataset_repo}/tree/{dataset_revision}",
        dataset_revision=dataset_revision,
        dataset_sha=dataset_sha,
        dataset_version=dataset_version,
        dataset_rows=dataset_rows,
        training_facts=training_facts,
        model_type=model_type,
        num_parameters=f"{num_parameters:,}" if num_parameters else None,
        has_chat_template=has_chat_template,
        example_profile=example_profile,
    )
    text = str(card)
    if training:
        text = insert_training_section(text, training)
    if eval_results:
        return apply_eval_results(text, eval_results, model_id.split("/")[-1])
    return text


def _dropped(dropped: dict[str, int]) -> str:
    return ", ".join(f"{n} {reason.replace('_', ' ')}" for reason, n in dropped.items()) or "none"


def training_section(training: dict[str, Any]) -> str:
    """The Training section: exactly what the model was trained on (release and commit, rows used
    and dropped per config and reason, the recipe and its sha256, seed, steps, tool versions)."""
    lines = [
        TRAINING_START,
        TRAINING_HEADING,
        "",
        f"Trained with `ocforge train sft` on `{training['dataset']}` (commit "
        f"`{training['dataset_sha']}`), `train` split, {training['rows_used']} rows, loss on the "
        "assistant's answers only (the character profile is the system prompt).",
        "",
        "| config | corpora | rows in release | used | dropped |",
        "|---|---|---|---|---|",
    ]
    for c in training["configs"]:
        corpora = c["corpora"] if isinstance(c["corpora"], str) else ", ".join(c["corpora"])
        lines.append(
            f"| `{c['config']}` | {corpora} | {c['rows']} | {c['used']} | {_dropped(c['dropped'])} |"
        )
    facts = {
        "recipe": f"`{training.get('recipe')}` (sha256 `{training.get('recipe_sha256')}`)",
        "base model": f"`{training.get('base_model')}`",
        "chat template": training.get("chat_template"),
        "seed": training.get("seed"),
        "optimizer steps": training.get("steps"),
        "epochs": training.get("epochs"),
        "versions": ", ".join(f"{k} {v}" for k, v in sorted(training.get("versions", {}).items())),
    }
    lines += ["", "| | |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in facts.items() if v not in (None, "")]
    if training.get("recipe_text"):
        lines += ["", "<details><summary>Training recipe</summary>", "", "```yaml"]
        lines += [training["recipe_text"].rstrip("\n"), "```", "", "</details>"]
    return "\n".join([*lines, TRAINING_END]) + "\n"


def insert_training_section(card_text: str, training: dict[str, Any]) -> str:
    """``card_text`` with the Training section before ``## Usage`` (appended if there is none);
    a section already there is replaced, so rendering twice gives the same text."""
    section = training_section(training)
    if TRAINING_START in card_text and TRAINING_END in card_text:
        head, _, rest = card_text.partition(TRAINING_START)
        card_text = head.rstrip("\n") + "\n" + rest.partition(TRAINING_END)[2].lstrip("\n")
    head, sep, tail = card_text.partition("\n## Usage")
    if not sep:
        return card_text.rstrip("\n") + "\n\n" + section
    return head.rstrip("\n") + "\n\n" + section + "\n## Usage" + tail


def _evals_table(results: list[Any]) -> str:
    rows = [
        f"| {r.metric_name or r.metric_type} | `{r.dataset_config}` | {r.dataset_name} "
        f"(`{(r.dataset_revision or '')[:12]}`) | {r.metric_value:.4g} |"
        for r in results
    ]
    return "\n".join(
        [
            EVALS_START,
            "| task metric | config | dataset | value |",
            "|---|---|---|---|",
            *rows,
            EVALS_END,
        ]
    )


def apply_eval_results(card_text: str, results: list[Any], model_name: str) -> str:
    """``card_text`` with ``model-index`` set to exactly ``results`` and the evaluation table in
    the body (between the ``ocforge:evals`` markers; appended if they are absent). Other metadata
    keys and their order are kept. Idempotent: applying the same results twice changes nothing."""
    card = ModelCard(card_text)
    card.data.eval_results = list(results) or None
    card.data.model_name = (card.data.model_name or model_name) if results else None
    text = card.text
    section = _evals_table(results)
    if EVALS_START in text and EVALS_END in text:
        head, _, rest = text.partition(EVALS_START)
        _, _, tail = rest.partition(EVALS_END)
        text = head + section + tail
    else:
        text = text.rstrip("\n") + "\n\n## Evaluation results\n\n" + section + "\n"
    card.text = text
    return str(card)
