"""Model-free extraction (the fast path): facts from first-person statements, episodic
segmentation by topic shift, topics and entities. Deterministic: the same turns always give
the same memories with the same ids, so re-ingesting changes nothing.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from agent.extraction.text import STOPWORDS, entities, keywords, sentences, stem, third_person
from schema.agent import MemoryOp, PersonalityObservation
from schema.nodes import (
    Entity,
    Event,
    Fact,
    MemoryNode,
    Procedure,
    ProfileEntry,
    Session,
    Topic,
    Turn,
    make_id,
)
from schema.protocols import Link

__all__ = [
    "HeuristicFactExtractor",
    "HeuristicMemoryUpdater",
    "HeuristicSegmenter",
    "Links",
    "NoPersonality",
    "link_topics_and_entities",
    "slot_of",
]

_FIRST_PERSON = re.compile(r"\b(I|I'm|I’m|I've|I’ve|I'd|I’d|I'll|I’ll|my|My|me)\b")
_TRIVIAL = re.compile(
    r"^(i'm|i am) (good|fine|great|ok|okay|doing (well|good|great))\b|^(i )?(thank|thanks)|"
    r"^i (know|see|agree|guess|think so|hope so|mean)\b|^(i'm|i am) (so )?(glad|happy|sorry) "
    r"(to hear|for you|that)",
    re.I,
)

# (pattern, slot template). The slot names what a fact is about; a newer fact with the same
# slot (for the same speaker) supersedes the older one.
_SLOTS: Sequence[tuple[re.Pattern[str], str]] = [
    (re.compile(r"\bmy name is\b", re.I), "name"),
    (re.compile(r"\bI(?:'m| am) (\d{1,3}) (?:years old|yo)\b", re.I), "age"),
    (
        re.compile(
            r"\bI (?:live|am living|'m living) in\b|\bI (?:just )?moved to\b|\bI relocated to\b",
            re.I,
        ),
        "lives_in",
    ),
    (
        re.compile(
            r"\bI work (?:as|at|for)\b|\bmy (?:new )?job\b|\bI(?:'m| am) (?:now )?employed\b|"
            r"\bI (?:got|started) a (?:new )?job\b",
            re.I,
        ),
        "job",
    ),
    (re.compile(r"\bmy fav(?:ou?rite|e) ([a-z]+(?: [a-z]+)?) (?:is|are)\b", re.I), "favorite:{0}"),
    (
        re.compile(
            r"\bI(?:'m| am) (?:now )?(married|single|engaged|divorced|dating|in a relationship)\b",
            re.I,
        ),
        "relationship",
    ),
    (
        re.compile(
            r"\bI (?:really )?(?:love|like|enjoy|hate|dislike|can't stand|don't like) "
            r"(?:to )?(?:the |my |a |an )?([a-z]+)",
            re.I,
        ),
        "opinion:{0}",
    ),
    (
        re.compile(
            r"\bI(?:'m| am) (?:currently |now )?(?:reading|learning|studying|training for|"
            r"working on) ",
            re.I,
        ),
        "doing",
    ),
]


def slot_of(sentence: str, speaker: str) -> str | None:
    """The slot a first-person sentence fills, prefixed by the speaker.

    >>> slot_of("I just moved to Denver.", "Ana")
    'ana:lives_in'
    >>> slot_of("I hate sushi now", "Ana") == slot_of("I love sushi!", "Ana")
    True
    """
    for pattern, template in _SLOTS:
        match = pattern.search(sentence)
        if match:
            groups = [g.lower() for g in match.groups() if g]
            if any(g in STOPWORDS for g in groups):
                continue  # "I love how ..." names no object
            args = [stem(g) for g in groups]
            return f"{speaker.lower()}:{template.format(*args) if '{' in template else template}"
    return None


class HeuristicFactExtractor:
    """Facts from first-person, declarative user sentences (no language model).

    A sentence qualifies when it is in the first person, is not a question, has at least
    four words and two content words, and is not small talk. The fact's statement is the
    sentence rewritten in the third person; keywords are its content words.
    """

    source = "heuristic"

    def extract(
        self, user_id: str, turns: Sequence[Turn], active: Sequence[Fact] = ()
    ) -> list[Fact]:
        facts: list[Fact] = []
        for turn in turns:
            if turn.role != "user":
                continue
            for i, sent in enumerate(sentences(turn.text)):
                if not self._qualifies(sent):
                    continue
                statement = third_person(sent, turn.speaker)
                kws = keywords(sent, 5, exclude=[turn.speaker])
                slot = slot_of(sent, turn.speaker)
                facts.append(
                    Fact(
                        id=make_id("fact", user_id, turn.id, i),
                        user_id=user_id,
                        t=turn.t,
                        text=statement,
                        keywords=kws,
                        valid_from=turn.t,
                        confidence=0.7 if slot else 0.5,
                        slot=slot,
                        source="heuristic",
                        turn_ids=[turn.id],
                    )
                )
        return facts

    @staticmethod
    def _qualifies(sent: str) -> bool:
        if sent.rstrip().endswith("?") or not _FIRST_PERSON.search(sent):
            return False
        if len(sent.split()) < 4 or _TRIVIAL.search(sent.strip()):
            return False
        return len(keywords(sent, 5)) >= 2


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
                Event(
                    id=make_id("event", user_id, session.id, seg[0].index, seg[-1].index),
                    user_id=user_id,
                    session_id=session.id,
                    t=seg[0].t,
                    t_end=seg[-1].t,
                    text=summary,
                    keywords=kws,
                    turn_ids=[t.id for t in seg],
                    embedding=(centroid / norm).tolist(),
                    source="heuristic",
                )
            )
        return events


def _clip(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1].rsplit(" ", 1)[0] + "…"


@dataclass
class Links:
    topics: list[Topic] = field(default_factory=list)
    entities: list[Entity] = field(default_factory=list)
    about: list[Link] = field(default_factory=list)
    mentions: list[Link] = field(default_factory=list)


def link_topics_and_entities(
    user_id: str, memories: Sequence[MemoryNode], *, speakers: Sequence[str] = ()
) -> Links:
    """Events and facts are ABOUT the topics of their first keywords (stemmed, so "painting"
    and "paintings" meet); turns, events and facts MENTION the named entities in their text."""
    out = Links()
    topics: dict[str, Topic] = {}
    ents: dict[str, Entity] = {}
    for m in memories:
        if m.kind.value in ("event", "fact", "procedure"):
            for kw in m.keywords[:3]:
                key = stem(kw)
                topic = topics.setdefault(
                    key, Topic(id=make_id("topic", user_id, key), user_id=user_id, name=key)
                )
                out.about.append(Link(memory_id=m.id, node_id=topic.id))
        if m.kind.value in ("turn", "event", "fact"):
            for name in entities(m.text, exclude=speakers):
                key = name.lower()
                ent = ents.setdefault(
                    key, Entity(id=make_id("entity", user_id, key), user_id=user_id, name=name)
                )
                out.mentions.append(Link(memory_id=m.id, node_id=ent.id))
    out.topics = list(topics.values())
    out.entities = list(ents.values())
    return out


_HABIT = re.compile(
    r"\b(every|each)\s+(day|morning|evening|night|week|weekend|monday|tuesday|wednesday|thursday|"
    r"friday|saturday|sunday)\b|\bon\s+(mondays|tuesdays|wednesdays|thursdays|fridays|saturdays|"
    r"sundays|(monday|tuesday|wednesday|thursday|friday|saturday|sunday)\s+(mornings|evenings|"
    r"nights))\b|\b(usually|always|regularly)\b",
    re.I,
)
_GOAL = re.compile(
    r"\bmy (new )?goal (this year |for .{1,20} )?is\b|\bI (want|plan|hope|aim) to\b|"
    r"\bI(?:'m| am) (training|saving|studying) for\b",
    re.I,
)
#: fact slots mirrored into the core profile (key, whether a later value may replace it)
_PROFILE_SLOTS = {
    "name": ("name", False),
    "lives_in": ("location", True),
    "job": ("occupation", True),
    "relationship": ("relationship", True),
    "age": ("age", True),
}


class HeuristicMemoryUpdater:
    """Model-free procedural and core-profile maintenance, as explicit operations.

    Habits: first-person sentences with a schedule ("on Thursday mornings", "every week").
    Goals: "my goal is", "I plan to", "I'm training for". A new habit/goal whose content words
    overlap an active one by half or more UPDATES it (with the reason); otherwise it is ADDED.
    Profile: facts on the slots name/lives_in/job/relationship/age ADD or UPDATE the matching
    key (the name is only ever added, never changed)."""

    def propose(
        self,
        turns: Sequence[Turn],
        procedures: Sequence[Procedure],
        profile: Sequence[ProfileEntry],
        facts: Sequence[Fact] = (),
    ) -> list[MemoryOp]:
        ops: list[MemoryOp] = []
        active = [p for p in procedures if p.status == "active"]
        for turn in (t for t in turns if t.role == "user"):
            for sent in sentences(turn.text):
                kind = "goal" if _GOAL.search(sent) else "habit" if _HABIT.search(sent) else None
                if kind is None or sent.rstrip().endswith("?") or not _FIRST_PERSON.search(sent):
                    continue
                text = third_person(sent, turn.speaker)
                match = self._similar(text, [p for p in active if p.type == kind])
                trigger = _HABIT.search(sent)
                if match is not None:
                    ops.append(
                        MemoryOp(
                            op="update",
                            target="procedure",
                            id=match.id,
                            value=text,
                            type=kind,
                            trigger=trigger.group(0) if trigger else None,
                            reason=f"{turn.speaker} restated it: {sent!r}",
                            turn_ids=[turn.id],
                        )
                    )
                else:
                    ops.append(
                        MemoryOp(
                            op="add",
                            target="procedure",
                            value=text,
                            type=kind,
                            trigger=trigger.group(0) if trigger else None,
                            reason=f"{turn.speaker} said: {sent!r}",
                            turn_ids=[turn.id],
                        )
                    )
        current = {e.key: e for e in profile if e.valid_to is None}
        for fact in sorted(facts, key=lambda f: f.valid_from):
            slot = (fact.slot or "").split(":", 1)[-1]
            if slot not in _PROFILE_SLOTS:
                continue
            key, mutable = _PROFILE_SLOTS[slot]
            old = current.get(key)
            if old is not None and (not mutable or old.value == fact.text):
                continue
            ops.append(
                MemoryOp(
                    op="update" if old else "add",
                    target="profile",
                    key=key,
                    value=fact.text,
                    reason=f"fact {fact.id}: {fact.text}",
                    turn_ids=list(fact.turn_ids),
                )
            )
            current[key] = ProfileEntry(
                id="pending",
                user_id=fact.user_id,
                key=key,
                value=fact.text,
                version=1,
                op="add",
                valid_from=fact.valid_from,
            )
        return ops

    @staticmethod
    def _similar(text: str, candidates: Sequence[Procedure]) -> Procedure | None:
        words = {stem(w) for w in keywords(text, 8)}
        best, best_score = None, 0.0
        for p in candidates:
            other = {stem(w) for w in keywords(p.text, 8)}
            score = len(words & other) / (min(len(words), len(other)) or 1)
            if score > best_score:
                best, best_score = p, score
        return best if best_score >= 0.5 else None


class NoPersonality:
    """Model-free mode makes no personality claims: every trait is 'no signal'."""

    def infer(self, turn: Turn, context: Sequence[Turn] = ()) -> PersonalityObservation:
        return PersonalityObservation()
