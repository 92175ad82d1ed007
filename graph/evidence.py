"""Evidence scoring for turn units, as pure code beside :func:`graph.retrieval.rrf`: every
hit passes its reciprocal rank to the turns it stands for (a turn to itself, a fact or
procedure to its source turns, an event to the turns it covers); each turn then passes a
share to its dialogue neighbours; on a time question, turns that anchor a time gain a share.
The queries that feed these functions live in graph/results.py; nothing here touches Neo4j.

>>> total, why = vote(
...     {"vector": ["f1", "t9"], "fulltext": ["t9"]},
...     {("vector", "f1"): 0.9, ("vector", "t9"): 0.8, ("fulltext", "t9"): 3.0},
...     {"f1": Provenance("fact", ("t1",), "i moved"), "t9": Provenance("turn", (), "")},
... )
>>> rank(total, exclude=set())
['t9', 't1']
>>> [s.via for s in why["t1"]]
['fact f1']
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import NamedTuple

from schema.retrieval import Signal

__all__ = [
    "DATED_BOOST",
    "EVIDENCE_RRF_K",
    "NEIGHBOUR_SHARE",
    "SIGNAL_WEIGHTS",
    "Provenance",
    "Vote",
    "boost_dated",
    "rank",
    "spread_to_neighbours",
    "vote",
]

#: the rank constant of evidence votes: sharper than memory fusion's 60 (graph.retrieval.RRF_K),
#: so a turn at the top of one signal outweighs turns in the middle of several. Measured on
#: the LoCoMo dev split (999 questions, docs/benchmarks/locomo.md): recall@10 73.2 at 60, 75.4
#: at 20, 76.0 at 10, 75.6 at 5; at 10 every category rose and 4 of 5 conversations
EVIDENCE_RRF_K = 10
#: the share of a turn's score passed to each dialogue neighbour (NEXT). With bge-small at
#: EVIDENCE_RRF_K 10 (LoCoMo dev, 999 questions): 0.2 -> 0.1 keeps recall@10 (77.0 / 77.0) and
#: lifts multi-hop 48.2 -> 50.6 and open-domain 47.3 -> 51.1; MiniLM is flat (76.0 / 75.9)
NEIGHBOUR_SHARE = 0.1
#: time questions: extra score share of a turn that anchors a time
DATED_BOOST = 0.5
#: each signal's vote, relative to full-text's (measured: docs/benchmarks/embedders.md)
SIGNAL_WEIGHTS: dict[str, float] = {"vector": 1.0, "fulltext": 1.0}


class Vote(NamedTuple):
    """One signal's vote for a turn while scoring: the fields of :class:`Signal`, as a plain
    tuple. A LoCoMo question casts about 800 (candidates, their turns, neighbours) and
    returns a few dozen turns; validating a Signal for each vote cost ~3 ms a question, so
    only the returned turns' votes become Signals (:meth:`signal`)."""

    name: str
    rank: int
    score: float
    via: str | None = None

    def signal(self) -> Signal:
        return Signal.model_validate(self._asdict())


Scores = dict[str, float]
Signals = dict[str, list[Vote]]


class Provenance(NamedTuple):
    kind: str  # turn | event | fact | procedure
    turn_ids: Sequence[str]  # the turns it stands for (empty for a turn)
    statement: str  # normalised text: one statement is one piece of evidence


def vote(
    rankings: Mapping[str, Sequence[str]],
    scores: Mapping[tuple[str, str], float],
    provenance: Mapping[str, Provenance],
) -> tuple[Scores, Signals]:
    """Each signal's ranked hits vote 1/(EVIDENCE_RRF_K + rank) for the turns they stand for. A
    statement votes once per turn and signal: a habit restating a fact from the same
    sentence does not count twice."""
    total: Scores = defaultdict(float)
    signals: Signals = defaultdict(list)
    counted: set[tuple[str, str, str]] = set()
    for name, ids in rankings.items():
        weight = SIGNAL_WEIGHTS.get(name, 1.0)
        for position, mid in enumerate(ids, start=1):
            kind, turn_ids, statement = provenance.get(mid, Provenance("turn", (), mid))
            targets = [mid] if kind == "turn" else list(turn_ids)
            for tid in targets:
                if kind != "turn" and (tid, name, statement) in counted:
                    continue
                counted.add((tid, name, statement))
                total[tid] += weight / (EVIDENCE_RRF_K + position)
                via = None if kind == "turn" else f"{kind} {mid}"
                signals[tid].append(Vote(name, position, float(scores[(name, mid)]), via))
    return total, signals


def spread_to_neighbours(
    total: Scores,
    signals: Signals,
    neighbours: Mapping[str, Iterable[str]],
    share: float = NEIGHBOUR_SHARE,
) -> None:
    """Each voted turn passes ``share`` of its own vote to its NEXT neighbours.

    >>> t, s = {"a": 1.0}, {"a": []}
    >>> spread_to_neighbours(t, s, {"a": ["b"]}, share=0.2); t["b"], s["b"][0].via
    (0.2, 'turn a')
    """
    base = dict(total)
    for tid, near in neighbours.items():
        for n in near:
            gain = share * base.get(tid, 0.0)
            total[n] = total.get(n, 0.0) + gain
            signals.setdefault(n, []).append(Vote("neighbour", 1, gain, f"turn {tid}"))


def boost_dated(
    total: Scores, signals: Signals, dated: Iterable[str], share: float = DATED_BOOST
) -> None:
    """Turns that anchor a time (a date said in them) gain ``share`` of their score."""
    for tid in dated:
        gain = share * total[tid]
        total[tid] += gain
        signals.setdefault(tid, []).append(Vote("dated", 1, gain))


def rank(total: Mapping[str, float], exclude: set[str]) -> list[str]:
    """Turn ids by score, best first, without the excluded ones (stable on ties)."""
    return [t for t in sorted(total, key=lambda t: -total[t]) if t not in exclude]
