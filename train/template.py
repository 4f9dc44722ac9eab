"""The chat template training uses: one with ``{% generation %}`` markers, so that the loss falls
on the assistant's answer (and its end-of-turn token) only.

In order: the recipe's ``chat_template`` file (set on the tokenizer, so the checkpoint carries
it); the base model's own template when it has markers; TRL's patched copy of a template it knows
(original Llama-3, Qwen, Gemma, Phi-3, ...). Anything else is an error that says how to provide one.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ocforge.errors import TrainError

EXAMPLE_TEMPLATE = "configs/train/chatml-generation.jinja"


@dataclass(frozen=True)
class TrainingTemplate:
    """``template`` is passed to ``apply_chat_template``; None: the tokenizer's own."""

    template: str | None
    text: str  # the template actually rendered
    source: str  # "recipe", "base model" or "trl patch"

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()


def _no_markers(base: str, why: str) -> TrainError:
    return TrainError(
        f"{base}: {why}, and assistant-only loss needs a chat template with {{% generation %}} "
        f"markers around each assistant answer. Write a copy of the model's template with "
        f"{{% generation %}}...{{% endgeneration %}} around the assistant content and its "
        f"end-of-turn token (the ChatML example: {EXAMPLE_TEMPLATE}) and point the training "
        "recipe's `chat_template:` at the .jinja file"
    )


def training_template(tokenizer: Any, recipe_template: Path | None, base: str) -> TrainingTemplate:
    """Resolve the template (setting a recipe's on ``tokenizer``).

    Raises:
        TrainError: no usable template; the message says how to provide one.
    """
    from trl.chat_template_utils import get_training_chat_template, has_generation_markers

    if recipe_template is not None:
        text = recipe_template.read_text(encoding="utf-8")
        if not has_generation_markers(text):
            raise _no_markers(str(recipe_template), "the recipe's chat template has no markers")
        tokenizer.chat_template = text
        return TrainingTemplate(None, text, "recipe")
    own = tokenizer.chat_template
    if not own:
        raise _no_markers(base, "the model has no chat template")
    if has_generation_markers(own):
        return TrainingTemplate(None, own, "base model")
    try:
        patched = get_training_chat_template(tokenizer)
    except ValueError:
        raise _no_markers(
            base, "its chat template has no markers and TRL has no patch for it"
        ) from None
    if patched is None:
        return TrainingTemplate(None, own, "base model")
    return TrainingTemplate(patched, patched, "trl patch")
