"""Tiny chat models built locally (no hub): a byte-level BPE tokenizer trained on a few
thousand synthetic lines, wrapped with a ChatML template, and a ~3M-parameter Qwen2 model
with random weights. They exercise the real loading and generation code (the ``hf`` policy,
SFT and GRPO) on a CPU in seconds.

The six protocol tags are added as NON-special tokens: trl's GRPO decodes completions with
``skip_special_tokens=True``, which would strip special tokens before a reward sees them.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from pathlib import Path

from agent.policies.models import CHAT_TEMPLATE

__all__ = ["CHAT_TEMPLATE", "PROTOCOL_TAGS", "build_tiny_chat_model"]

PROTOCOL_TAGS = ["<think>", "</think>", "<retrieve>", "</retrieve>", "<answer>", "</answer>"]

_WORDS = (
    "i you we my your memory remember when where what who dentist march july running park dog "
    "pepper boston denver marathon sister trip today yesterday week month year session answer "
    "think retrieve keywords start end time window question user assistant the a of in on to "
    "and is was did went saw moved live work nurse hospital hike mountain goal habit monday "
    'thursday morning evening 2023 2024 01 02 03 04 05 06 07 08 09 10 11 12 : - { } [ ] " ,'
).split()


def _corpus(n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    lines = []
    for _ in range(n):
        words = [rng.choice(_WORDS) for _ in range(rng.randint(4, 16))]
        if rng.random() < 0.5:
            words = [
                "<think>",
                *words[:5],
                "</think>",
                rng.choice(["<retrieve>", "<answer>"]),
                *words[5:],
                rng.choice(["</retrieve>", "</answer>"]),
            ]
        lines.append(" ".join(words))
    return lines


def build_tiny_chat_model(
    out_dir: Path,
    *,
    hidden: int = 64,
    layers: int = 2,
    heads: int = 4,
    kv_heads: int = 2,
    vocab: int = 1024,
    seed: int = 0,
    corpus: Sequence[str] | None = None,
) -> Path:
    """Write a tokenizer + random Qwen2 causal LM with a chat template to ``out_dir``. With a
    ``corpus`` the tokenizer is trained on it (short sequences for the text it will see)."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast, Qwen2Config, Qwen2ForCausalLM

    torch.manual_seed(seed)
    out_dir.mkdir(parents=True, exist_ok=True)
    special = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab,
        special_tokens=special,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tok.train_from_iterator(list(corpus) if corpus else _corpus(3000, seed), trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        bos_token=None,
        unk_token=None,
        model_max_length=2048,
    )
    fast.add_tokens(PROTOCOL_TAGS)  # not special: they must survive skip_special_tokens
    fast.chat_template = CHAT_TEMPLATE
    config = Qwen2Config(
        vocab_size=len(fast),
        hidden_size=hidden,
        intermediate_size=hidden * 2,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        num_key_value_heads=kv_heads,
        max_position_embeddings=2048,
        tie_word_embeddings=True,
        eos_token_id=fast.eos_token_id,
        pad_token_id=fast.pad_token_id,
        bos_token_id=None,
    )
    model = Qwen2ForCausalLM(config)
    model.generation_config.eos_token_id = fast.eos_token_id
    model.generation_config.pad_token_id = fast.pad_token_id
    model.save_pretrained(out_dir)
    fast.save_pretrained(out_dir)
    return out_dir
