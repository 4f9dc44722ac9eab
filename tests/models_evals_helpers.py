"""Helpers for the model-publishing and eval tests: a tiny random-weight chat model built from
scratch (no download), and the demo corpus released with its eval configs on a local Hub."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

DEMO_DATA = Path(__file__).resolve().parent.parent / "configs" / "demo" / "data"
CHAT_TEMPLATE = (
    "{% for m in messages %}<|{{ m['role'] }}|>\n{{ m['content'] }}<|eos|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>\n{% endif %}"
)
WRITE_TOKEN = "hf_models_evals_writer_1"


def _corpus() -> list[str]:
    texts = []
    for path in sorted(DEMO_DATA.glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(row, dict):
                texts += [v for v in row.values() if isinstance(v, str)]
    return texts


def build_tiny_model(out: Path, *, chat_template: bool = True, trainer_state: bool = True) -> Path:
    """A 2-layer, hidden-64 Llama with a byte-level BPE tokenizer trained on the demo texts, saved
    with save_pretrained (safetensors). Deterministic weights (seed 0)."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    specials = ["<|pad|>", "<|bos|>", "<|eos|>", "<|system|>", "<|user|>", "<|assistant|>"]
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=600,
        special_tokens=specials,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(_corpus(), trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token="<|bos|>",
        eos_token="<|eos|>",
        pad_token="<|pad|>",
        model_max_length=2048,
    )
    if chat_template:
        fast.chat_template = CHAT_TEMPLATE
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=len(fast),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=2048,
        bos_token_id=fast.bos_token_id,
        eos_token_id=fast.eos_token_id,
        pad_token_id=fast.pad_token_id,
        tie_word_embeddings=True,
    )
    model = LlamaForCausalLM(config)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    fast.save_pretrained(out)
    if trainer_state:
        state = {
            "global_step": 120,
            "epoch": 3.0,
            "num_train_epochs": 3,
            "train_batch_size": 8,
            "log_history": [{"loss": 4.1, "step": 60}, {"loss": 3.2, "step": 120}],
        }
        (out / "trainer_state.json").write_text(json.dumps(state), encoding="utf-8")
        (out / "training_args.json").write_text(
            json.dumps({"learning_rate": 2e-5, "seed": 42, "lr_scheduler_type": "cosine"}),
            encoding="utf-8",
        )
    return out


def tiny_model(tmp_path_factory) -> Path:
    """The tiny model, built once per test session (shared by the model and eval tests)."""
    path = tmp_path_factory.getbasetemp() / "tiny-chat-model"
    if not (path / "config.json").is_file():
        tmp = tmp_path_factory.mktemp("tiny-build")
        build_tiny_model(tmp / "m")
        shutil.move(str(tmp / "m"), str(path))
    return path


def copy_model(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst
