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
) -> str:
    """The whole README.md of a model repo. Deterministic: same arguments, same text.

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
    if eval_results:
        return apply_eval_results(str(card), eval_results, model_id.split("/")[-1])
    return str(card)


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
