"""Greedy decoding without loops. A small policy decoded greedily sometimes falls into a loop
(``"keywords": ["team", "takes", "takes", "takes", ...``) until ``max_new_tokens`` cuts it off
with its tag unclosed. transformers' own guards do not fit: ``no_repeat_ngram_size`` and
``repetition_penalty`` look at the prompt too, so they would stop the model copying the
memories' words and dates into its answer, which is what it is trained to do. This one looks only
at the tokens generated so far, and only at a unit repeated back to back: a short unit (up to 8
tokens) three times, a long one (up to 48: a quoted sentence) twice. The 135M policy quoting
its evidence sometimes says the same sentence again and again (``"That place is amazing!" /
"That place is amazing!" / ...``) until its budget runs out; a short list may say "very, very"
but nothing it is trained to write says a whole sentence twice in a row.
"""

from __future__ import annotations

from typing import Any

__all__ = ["LOOP_RULES", "LoopBreaker", "loop_guard", "loop_unit", "repeated_unit"]

#: (shortest unit, longest unit, copies back to back that make a loop), tried in order
LOOP_RULES: tuple[tuple[int, int, int], ...] = ((1, 8, 3), (9, 48, 2))


def repeated_unit(
    seq: list[int], *, max_unit: int = 8, repeats: int = 3, min_unit: int = 1
) -> list[int] | None:
    """The shortest unit of ``min_unit`` to ``max_unit`` tokens that ends ``seq`` ``repeats``
    times in a row, else None.

    >>> repeated_unit([5, 1, 2, 1, 2, 1, 2])
    [1, 2]
    >>> repeated_unit([1, 2, 1, 2]) is None  # twice is not a loop yet
    True
    >>> repeated_unit([7, 7, 7])
    [7]
    """
    for n in range(min_unit, max_unit + 1):
        if len(seq) < n * repeats:
            return None
        unit = seq[-n:]
        if all(seq[len(seq) - (k + 1) * n : len(seq) - k * n] == unit for k in range(repeats)):
            return unit
    return None


def loop_unit(
    seq: list[int], rules: tuple[tuple[int, int, int], ...] = LOOP_RULES
) -> list[int] | None:
    """The unit ``seq`` ends by looping on under any of ``rules``, else None.

    >>> sentence = list(range(10, 22))           # 12 tokens, said twice running
    >>> loop_unit([1, *sentence, *sentence]) == sentence
    True
    >>> loop_unit([1, *sentence, 2, *sentence]) is None   # said again, not back to back
    True
    >>> loop_unit([3, 4, 3, 4])                  # a short unit needs a third copy
    """
    for lo, hi, repeats in rules:
        unit = repeated_unit(seq, max_unit=hi, repeats=repeats, min_unit=lo)
        if unit is not None:
            return unit
    return None


class LoopBreaker:
    """A transformers logits processor: when the generated tokens end in a loop (a unit
    repeated back to back as :data:`LOOP_RULES` define), the token that would begin one more
    copy is banned (the model takes its next choice, usually the closing bracket or tag).
    ``prompt_len`` is the (padded) prompt width: tokens before it are never looked at."""

    def __init__(
        self, prompt_len: int, *, rules: tuple[tuple[int, int, int], ...] = LOOP_RULES
    ) -> None:
        self.prompt_len = prompt_len
        self.rules = rules
        self._shortest = min(lo * repeats for lo, _, repeats in rules)

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        generated = input_ids[:, self.prompt_len :]
        if generated.shape[1] < self._shortest:
            return scores
        for row, seq in enumerate(generated.tolist()):
            unit = loop_unit(seq, self.rules)
            if unit is not None:
                scores[row, unit[0]] = float("-inf")
        return scores


def loop_guard(prompt_len: int) -> Any:
    """The ``logits_processor`` every generation of a local model at run time passes (sampled
    or greedy), and the evaluation's greedy decoding."""
    from transformers import LogitsProcessorList

    return LogitsProcessorList([LoopBreaker(prompt_len)])
