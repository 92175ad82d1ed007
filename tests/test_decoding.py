"""Greedy decoding breaks a loop in what the model generated, and only there: the prompt may
repeat itself (memories often do), and the answer may copy it."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from agent.policies.decoding import LoopBreaker  # noqa: E402


def _ids(*rows: list[int]) -> torch.Tensor:
    return torch.tensor(rows)


def test_the_token_that_would_repeat_a_unit_a_fourth_time_is_banned() -> None:
    # prompt of width 2, then "takes ," three times
    ids = _ids([9, 9, 4, 5, 4, 5, 4, 5], [9, 9, 4, 5, 6, 7, 8, 3])
    scores = torch.zeros(2, 10)
    out = LoopBreaker(prompt_len=2)(ids, scores.clone())
    assert out[0, 4] == float("-inf")
    assert torch.isfinite(out[0, [i for i in range(10) if i != 4]]).all()
    assert torch.isfinite(out[1]).all()  # no loop in the second row: nothing banned


def test_a_sentence_said_twice_running_may_not_start_a_third_time() -> None:
    """The 135M policy's quote loop (``"X" / "X" / "X" ...``): a long unit is a loop at its
    second copy; said once more after something else, or inside the prompt, it is not."""
    sentence = list(range(20, 32))  # 12 tokens
    looping = [9, 9, *sentence, *sentence]
    copied = [9, *sentence, 5, *sentence]  # the answer copying its quote
    out = LoopBreaker(prompt_len=2)(_ids(looping, copied), torch.zeros(2, 40))
    assert out[0, 20] == float("-inf")
    assert torch.isfinite(out[1]).all()
    out = LoopBreaker(prompt_len=len(looping) - 1)(_ids([*looping, 7]), torch.zeros(1, 40))
    assert torch.isfinite(out).all()


def test_repeats_inside_the_prompt_are_not_a_loop() -> None:
    ids = _ids([4, 5, 4, 5, 4, 5, 4, 5, 1])  # the prompt repeats; one token generated
    out = LoopBreaker(prompt_len=8)(ids, torch.zeros(1, 10))
    assert torch.isfinite(out).all()
    # the same sequence seen as generated text is a loop
    out = LoopBreaker(prompt_len=0)(_ids([4, 5, 4, 5, 4, 5]), torch.zeros(1, 10))
    assert out[0, 4] == float("-inf")


def test_greedy_generation_of_a_looping_model_ends_its_loop() -> None:
    """A model whose every next-token choice is "the token before the last one" loops forever
    under plain greedy decoding; with the breaker the generated text holds no unit three times
    running beyond the third copy."""
    from transformers import LogitsProcessorList

    from agent.policies.decoding import repeated_unit

    class Looper(torch.nn.Module):
        def forward(self, ids: torch.Tensor) -> torch.Tensor:
            logits = torch.full((ids.shape[0], 12), -5.0)
            logits[torch.arange(ids.shape[0]), ids[:, -2]] = 5.0  # loop of period 2
            logits[:, 11] = 0.0  # the "closing tag": its second choice
            return logits

    model, breaker = Looper(), LogitsProcessorList([LoopBreaker(prompt_len=2)])
    plain = ids = torch.tensor([[3, 7]])
    for _ in range(10):
        nxt = model(plain).argmax(-1, keepdim=True)
        plain = torch.cat([plain, nxt], 1)
    assert plain[0, 2:].tolist() == [3, 7] * 5
    for _ in range(10):
        scores = breaker(ids, model(ids))
        ids = torch.cat([ids, scores.argmax(-1, keepdim=True)], 1)
        if ids[0, -1] == 11:
            break
    generated = ids[0, 2:].tolist()
    assert generated[-1] == 11 and len(generated) < 10
    assert repeated_unit(generated[:-1], repeats=4) is None
