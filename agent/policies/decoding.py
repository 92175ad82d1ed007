"""Greedy decoding without loops. A small policy decoded greedily sometimes falls into a loop
(``"keywords": ["team", "takes", "takes", "takes", ...``) until ``max_new_tokens`` cuts it off
with its tag unclosed. transformers' own guards do not fit: ``no_repeat_ngram_size`` and
``repetition_penalty`` look at the prompt too, so they would stop the model copying the
memories' words and dates into its answer, which is what it is trained to do. This one looks only
at the tokens generated so far, and only at a unit repeated back to back.
"""

from __future__ import annotations

from typing import Any

__all__ = ["LoopBreaker", "greedy_guard", "repeated_unit"]


def repeated_unit(seq: list[int], *, max_unit: int = 8, repeats: int = 3) -> list[int] | None:
    """The shortest unit of at most ``max_unit`` tokens that ends ``seq`` ``repeats`` times in a
    row, else None.

    >>> repeated_unit([5, 1, 2, 1, 2, 1, 2])
    [1, 2]
    >>> repeated_unit([1, 2, 1, 2]) is None  # twice is not a loop yet
    True
    >>> repeated_unit([7, 7, 7])
    [7]
    """
    for n in range(1, max_unit + 1):
        if len(seq) < n * repeats:
            return None
        unit = seq[-n:]
        if all(seq[len(seq) - (k + 1) * n : len(seq) - k * n] == unit for k in range(repeats)):
            return unit
    return None


class LoopBreaker:
    """A transformers logits processor: when the generated tokens end in the same unit
    ``repeats`` times, the token that would begin one more copy is banned (the model takes its
    next choice, usually the closing bracket or tag). ``prompt_len`` is the (padded) prompt width:
    tokens before it are never looked at."""

    def __init__(self, prompt_len: int, *, max_unit: int = 8, repeats: int = 3) -> None:
        self.prompt_len = prompt_len
        self.max_unit = max_unit
        self.repeats = repeats

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        generated = input_ids[:, self.prompt_len :]
        if generated.shape[1] < self.repeats:
            return scores
        for row, seq in enumerate(generated.tolist()):
            unit = repeated_unit(seq, max_unit=self.max_unit, repeats=self.repeats)
            if unit is not None:
                scores[row, unit[0]] = float("-inf")
        return scores


def greedy_guard(prompt_len: int) -> Any:
    """The ``logits_processor`` every greedy generation of a local model passes."""
    from transformers import LogitsProcessorList

    return LogitsProcessorList([LoopBreaker(prompt_len)])
