"""Build a tiny random-weight Llama chat model offline, for tests, the CPU demo and benchmarks.

``python -m ocforge.builders.synthesis.tiny_model DIR`` writes a model folder that
``transformers serve DIR`` can load: a byte-level BPE tokenizer trained on a few local sentences,
a chat template, and a two-layer ``LlamaForCausalLM`` with random weights. It writes gibberish:
it exists to exercise the synthesis plumbing (prompts, requests, resume), not to role-play.
"""

from __future__ import annotations

import sys
from pathlib import Path

# A ChatML-style template: system, user and assistant turns, and the generation prompt.
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)

_CORPUS = [
    "Name: Hannah Okafor. Age: 34. Gender: Female. Race: Black. Birth Place: Lagos.",
    "Appearance: a tall woman with reading glasses. General Experience: a night-shift nurse.",
    "Personality: warm, unflappable and briskly practical; she calls everyone love.",
    "How do I get better at public speaking? Practise out loud and ask for feedback.",
    "Rewrite the answer in the voice of the character, keeping every fact of the original.",
    "You are a role-playing assistant. Answer the question in character, in the first person.",
]


def build_tiny_chat_model(out_dir: str | Path, *, seed: int = 0, vocab_size: int = 512) -> Path:
    """Write a tiny random-weight Llama chat model (tokenizer, chat template, weights) to ``out_dir``.

    The same ``seed`` gives the same weights. Takes a few seconds on a CPU; nothing is downloaded.
    """
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import (
        GenerationConfig,
        LlamaConfig,
        LlamaForCausalLM,
        PreTrainedTokenizerFast,
    )

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=specials,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(_CORPUS * 4, trainer=trainer)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token="<|im_start|>",
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        unk_token="<|endoftext|>",
    )
    tokenizer.chat_template = CHAT_TEMPLATE
    tokenizer.save_pretrained(out)

    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=2048,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=False,
        # a wide init makes greedy decoding wander over the vocabulary instead of repeating one token
        initializer_range=1.0,
    )
    model = LlamaForCausalLM(config)
    model.generation_config = GenerationConfig(
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        max_new_tokens=32,
    )
    model.save_pretrained(out)
    return out


if __name__ == "__main__":  # pragma: no cover - a developer convenience
    if len(sys.argv) != 2:
        sys.exit("usage: python -m ocforge.builders.synthesis.tiny_model OUT_DIR")
    print(build_tiny_chat_model(sys.argv[1]))
