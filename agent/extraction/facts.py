"""Semantic facts from what the user says: model-free (first-person declarative sentences,
rewritten in the third person, with a slot that lets a newer fact supersede an older one)
and LLM-driven (the extract_facts prompt), side by side. Deterministic ids: the same turns
always give the same facts, so re-ingesting changes nothing."""

from __future__ import annotations

import re
from collections.abc import Sequence

from langchain_core.language_models.chat_models import BaseChatModel

from agent.extraction.common import FIRST_PERSON, Failures, call_json
from agent.extraction.nodes import new_fact
from agent.extraction.slots import other_slot, slot_of
from agent.extraction.text import capital_i, keywords, sentences, third_person
from agent.prompts import extract_facts
from agent.prompts._common import JsonResponseError
from schema.nodes import Fact, Turn

__all__ = ["HeuristicFactExtractor", "LLMFactExtractor", "other_slot", "slot_of"]

_TRIVIAL = re.compile(
    r"^(i'm|i am) (good|fine|great|ok|okay|doing (well|good|great))\b|^(i )?(thank|thanks)|"
    r"^i (know|see|agree|guess|think so|hope so|mean)\b|^(i'm|i am) (so )?(glad|happy|sorry) "
    r"(to hear|for you|that)",
    re.I,
)


class HeuristicFactExtractor:
    """Facts from first-person, declarative user sentences (no language model).

    A sentence qualifies when it is in the first person (or fills a slot for someone the
    speaker names: "Jonas moved to Rome"), is not a question, has at least
    four words and two content words, and is not small talk. The fact's statement is the
    sentence rewritten in the third person; keywords are its content words.
    """

    def extract(
        self, user_id: str, turns: Sequence[Turn], active: Sequence[Fact] = ()
    ) -> list[Fact]:
        facts: list[Fact] = []
        for turn in turns:
            if turn.role != "user":
                continue
            for i, said in enumerate(sentences(turn.text)):
                sent = capital_i(said)
                slot = slot_of(sent, turn.speaker) or other_slot(sent, turn.speaker)
                if not self._qualifies(sent, slot is not None):
                    continue
                statement = third_person(sent, turn.speaker)
                kws = keywords(sent, 5, exclude=[turn.speaker])
                facts.append(
                    new_fact(
                        user_id,
                        turn,
                        (i,),
                        text=statement,
                        keywords=kws,
                        confidence=0.7 if slot else 0.5,
                        slot=slot,
                        source="heuristic",
                    )
                )
        return facts

    @staticmethod
    def _qualifies(sent: str, slotted: bool | None = None) -> bool:
        """``slotted``: whether the sentence fills a slot (computed when not given)."""
        # a question anywhere: "Where did I move? what was it called" is one sentence to
        # the splitter (no capital after the '?'), and no statement about the user
        if "?" in sent or _TRIVIAL.search(sent.strip()):
            return False
        if slotted is None:
            slotted = bool(slot_of(sent, "") or other_slot(sent, ""))
        # a slot's statement may be short ("I love sushi.", "We split up.") and say "we"
        if slotted:
            return len(sent.split()) >= 3 and len(keywords(sent, 5)) >= 1
        if not FIRST_PERSON.search(sent) or len(sent.split()) < 4:
            return False
        return len(keywords(sent, 5)) >= 2


class LLMFactExtractor:
    """Facts proposed by the model (JSON, one repair retry); the model-free extractor takes
    over for a turn the model fails on."""

    def __init__(self, model: BaseChatModel, *, retries: int = 1) -> None:
        self.model = model
        self.retries = retries
        self.fallback = HeuristicFactExtractor()
        self.failures = Failures()

    def extract(
        self, user_id: str, turns: Sequence[Turn], active: Sequence[Fact] = ()
    ) -> list[Fact]:
        out: list[Fact] = []
        for turn in turns:
            if turn.role != "user":
                continue
            msgs = extract_facts.render(
                speaker=turn.speaker, text=turn.text, when=turn.t, active=[*active, *out]
            )
            try:
                resp = call_json(self.model, msgs, extract_facts.Response, retries=self.retries)
            except JsonResponseError as exc:
                self.failures.add(f"extract_facts {turn.id}: {exc}")
                out += self.fallback.extract(user_id, [turn], active)
                continue
            if not resp.keep:
                continue
            known = {f.id for f in (*active, *out)}
            for i, f in enumerate(resp.facts):
                out.append(
                    new_fact(
                        user_id,
                        turn,
                        ("llm", i),
                        text=f.statement,
                        keywords=f.keywords or keywords(f.statement, 5),
                        confidence=f.confidence,
                        slot=f"{turn.speaker.lower()}:{f.slot}" if f.slot else None,
                        source="llm",
                        supersedes=[s for s in f.supersedes if s in known],
                    )
                )
        return out
