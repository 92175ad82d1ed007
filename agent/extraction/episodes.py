"""Episodic segmentation: a session cut into events. Model-free (TextTiling over the turn
embeddings, plus clock jumps) and LLM-driven (the segment_episodes prompt), side by side."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from langchain_core.language_models.chat_models import BaseChatModel

from agent.extraction.common import Failures, call_json, chat_turn
from agent.extraction.nodes import new_event
from agent.extraction.text import keywords
from agent.prompts import segment_episodes
from agent.prompts._common import JsonResponseError
from schema.nodes import Event, Session, Turn

__all__ = ["HeuristicSegmenter", "LLMSegmenter"]


@dataclass
class HeuristicSegmenter:
    """TextTiling over turn embeddings: cut a session where the similarity between the
    turns before and after a gap dips well below its neighbours, or where the clock jumps.

    ``window`` turns on each side are averaged; a gap is a boundary when its depth score
    (how far it sits below the peaks around it) exceeds ``mean - depth_std * std`` of all
    depth scores and both sides have at least ``min_turns``. Segments never exceed
    ``max_turns``.
    """

    window: int = 3
    min_turns: int = 3
    max_turns: int = 14
    depth_std: float = 0.5
    time_gap_minutes: float = 30.0

    def boundaries(self, turns: Sequence[Turn]) -> list[int]:
        """Indices i where a new segment starts (always includes 0)."""
        n = len(turns)
        if n <= self.min_turns:  # too short to tile; still split where the clock jumps
            return [0] + [g for g in range(1, n) if self._jump(turns, g)]
        vecs = np.asarray([t.embedding for t in turns], dtype=np.float32)
        sims = np.zeros(n)
        for gap in range(1, n):
            left = vecs[max(0, gap - self.window) : gap].mean(axis=0)
            right = vecs[gap : gap + self.window].mean(axis=0)
            denom = float(np.linalg.norm(left) * np.linalg.norm(right)) or 1.0
            sims[gap] = float(left @ right) / denom
        depth = np.zeros(n)
        for gap in range(1, n):
            lpeak = sims[max(1, gap - self.window) : gap + 1].max()
            rpeak = sims[gap : min(n, gap + self.window + 1)].max()
            depth[gap] = (lpeak - sims[gap]) + (rpeak - sims[gap])
        scores = depth[1:]
        cutoff = scores.mean() + self.depth_std * scores.std() if len(scores) else 0.0
        starts = [0]
        for gap in sorted(range(1, n), key=lambda g: -depth[g]):
            jump = self._jump(turns, gap)
            if depth[gap] <= cutoff and not jump:
                continue
            cand = sorted([*starts, gap])
            lengths = np.diff([*cand, n])
            if lengths.min() >= self.min_turns or jump:
                starts = cand
        # split what is still too long at its deepest inner gap
        changed = True
        while changed:
            changed = False
            bounds = [*sorted(starts), n]
            for a, b in itertools.pairwise(bounds):
                if b - a > self.max_turns:
                    inner = range(a + self.min_turns, b - self.min_turns + 1)
                    cut = max(inner, key=lambda g: depth[g]) if inner else (a + b) // 2
                    starts.append(cut)
                    changed = True
                    break
        return sorted(set(starts))

    def _jump(self, turns: Sequence[Turn], gap: int) -> bool:
        minutes = (turns[gap].t - turns[gap - 1].t).total_seconds() / 60
        return minutes >= self.time_gap_minutes

    def segment(self, user_id: str, session: Session, turns: Sequence[Turn]) -> list[Event]:
        ordered = sorted(turns, key=lambda t: t.index)
        if not ordered:
            return []
        starts = self.boundaries(ordered)
        events: list[Event] = []
        speakers = list(dict.fromkeys(t.speaker for t in ordered))
        for a, b in zip(starts, [*starts[1:], len(ordered)], strict=False):
            seg = ordered[a:b]
            body = " ".join(t.text for t in seg)
            kws = keywords(body, 6, exclude=speakers)
            who = " and ".join(dict.fromkeys(t.speaker for t in seg))
            vecs = np.asarray([t.embedding for t in seg], dtype=np.float32)
            centroid = vecs.mean(axis=0)
            norm = float(np.linalg.norm(centroid)) or 1.0
            central = seg[int(np.argmax(vecs @ centroid))]
            summary = (
                f"{who} talked about {', '.join(kws) or 'various things'}. "
                f'{central.speaker}: "{_clip(central.text, 200)}"'
            )
            events.append(
                new_event(
                    user_id,
                    session.id,
                    seg,
                    text=summary,
                    keywords=kws,
                    source="heuristic",
                    embedding=(centroid / norm).tolist(),
                )
            )
        return events


def _clip(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1].rsplit(" ", 1)[0] + "…"


class LLMSegmenter:
    """Episodes drawn by the model over the whole session (they must cover every turn once);
    TextTiling takes over for a session the model fails on."""

    def __init__(self, model: BaseChatModel, *, retries: int = 1) -> None:
        self.model = model
        self.retries = retries
        self.fallback = HeuristicSegmenter()
        self.failures = Failures()

    def segment(self, user_id: str, session: Session, turns: Sequence[Turn]) -> list[Event]:
        ordered = sorted(turns, key=lambda t: t.index)
        msgs = segment_episodes.render([chat_turn(t) for t in ordered])
        try:
            resp = call_json(self.model, msgs, segment_episodes.Response, retries=self.retries)
            covered = [i for ep in resp.events for i in ep.turns]
            if sorted(covered) != list(range(len(ordered))):
                raise JsonResponseError("episodes must cover every turn exactly once")
        except JsonResponseError as exc:
            self.failures.add(f"segment {session.id}: {exc}")
            return self.fallback.segment(user_id, session, ordered)
        events = []
        for ep in resp.events:
            seg = [ordered[i] for i in sorted(ep.turns)]
            events.append(
                new_event(
                    user_id,
                    session.id,
                    seg,
                    text=ep.summary,
                    keywords=ep.keywords or keywords(ep.summary, 6),
                    source="llm",
                )
            )
        return events
