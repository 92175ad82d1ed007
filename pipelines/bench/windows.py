"""Time-window correctness and value, on seeded synthetic timelines.

A generator writes months of sessions for a user: recurring, similar events on different dates
("dentist in March" vs "dentist in July", each occurrence with its own details) among filler
chat, and facts that change (moving city, changing job). Each question names one occurrence's
month; its gold evidence is that occurrence's turns, its gold window that month.

Reported with and without the window: recall of the in-window evidence in the top k turns of
context, and leakage (the share of returned memories neither said inside the window nor, for a
fact, true during it). The window must bring leakage to zero and must not cost recall.

State questions ("Where did I live in May 2024?") ask for a month in which the answer was said
earlier: the gold evidence is the latest such statement before the month, outside the window.
They are run with the window as said-only (what was said inside it) and with states (a fact
on a slot said before the window but true during it counts as in it, the default).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from pipelines.bench.common import Report, context_units, source_maps, table, timed
from pipelines.bench.locomo import recall
from pipelines.formats import LoadedConversation
from pipelines.ingest import ingest_conversation
from schema.nodes import MemoryKind
from schema.protocols import Embedder, MemoryStore
from schema.records import ConversationRecord, SessionRecord, TurnRecord
from schema.retrieval import RetrievalRequest, TimeWindow

__all__ = ["Timeline", "generate_timeline", "run_windows"]

_EVENTS = {
    "dentist": [
        "I had a dentist appointment with Dr. {name} today, {detail}.",
        "The dentist said {detail2}.",
    ],
    "haircut": ["Got a haircut at {place} this afternoon, {detail}.", "The barber {detail2}."],
    "dinner": [
        "Had dinner with {friend} at {place} tonight, {detail}.",
        "{friend} told me {detail2}.",
    ],
    "concert": [
        "Went to a {genre} concert at {place} last night, {detail}.",
        "The band played {detail2}.",
    ],
    "flight": ["My flight to {city} was today, {detail}.", "At the airport {detail2}."],
}
_DETAILS = [
    "it went fine",
    "it took longer than expected",
    "it was a bit painful",
    "it was quick",
    "it was expensive",
    "it was surprisingly fun",
    "it was relaxing",
]
_DETAILS2 = [
    "to come back in six months",
    "everything looked good",
    "something new",
    "my favourite song",
    "nothing special",
    "a funny story",
    "the plan for next time",
]
_NAMES = ["Patel", "Nguyen", "Garcia", "Kim", "Okafor", "Schmidt", "Rossi", "Silva"]
_PLACES = [
    "the corner shop",
    "Luigi's",
    "the Blue Door",
    "Main Street",
    "the old theater",
    "Harbor Hall",
    "the mall",
    "Green Park",
]
_FRIENDS = ["Ana", "Ben", "Chloe", "Dev", "Eli", "Farah", "Gus", "Hana"]
_CITIES = ["Lisbon", "Denver", "Osaka", "Nairobi", "Toronto", "Prague", "Lima", "Seoul"]
_GENRES = ["jazz", "rock", "folk", "classical", "indie"]
_FILLER = [
    "How was your day?",
    "Pretty normal, lots of emails.",
    "I should sleep earlier.",
    "The weather turned cold again.",
    "I watched a documentary about bees.",
    "Work was busy but okay.",
    "I cooked pasta for lunch.",
    "Thanks for listening!",
]
_FACTS = [
    ("I live in {city} now.", _CITIES),
    (
        "I work at {company} these days.",
        ["Acme", "Globex", "Initech", "Umbrella", "Hooli", "Vandelay"],
    ),
]


#: state questions per fact template of :data:`_FACTS` (the slot the extractor gives it)
_STATE_QUESTIONS = ("Where did I live in {month}?", "Where did I work in {month}?")


@dataclass
class Question:
    text: str
    window: TimeWindow
    evidence: list[str]
    event: str


def _month_window(year: int, month: int) -> TimeWindow:
    start = datetime(year, month, 1, tzinfo=UTC)
    return TimeWindow(start=start, end=(start + timedelta(days=32)).replace(day=1))


def state_questions(record: ConversationRecord, *, seed: int, per_kind: int = 4) -> list[Question]:
    """For each fact template: months in which the value in force was stated in an earlier
    month (so the evidence lies before the window) and did not change within the month, up
    to ``per_kind`` of them,
    sampled with their own seeded generator (the timeline's stays untouched)."""
    rng = random.Random(seed * 7919 + 1)
    # (time, turn id) of each statement that changed the value; a repeat of the value in
    # force says nothing new (the extractor keeps one fact, from the first)
    said: dict[int, list[tuple[datetime, str]]] = {}
    current: dict[int, str] = {}
    for session in record.sessions:
        for turn in session.turns:
            for n, (template, _options) in enumerate(_FACTS):
                head = template.split("{")[0]
                if turn.text.startswith(head) and turn.id and current.get(n) != turn.text:
                    current[n] = turn.text
                    said.setdefault(n, []).append((turn.timestamp, turn.id))
    turns = [t for s in record.sessions for t in s.turns]
    first, last = turns[0].timestamp, turns[-1].timestamp
    out: list[Question] = []
    for n, statements in sorted(said.items()):
        statements.sort()
        months: list[Question] = []
        year, month = first.year, first.month
        while (year, month) <= (last.year, last.month):
            w = _month_window(year, month)
            assert w.start is not None
            before = [tid for t, tid in statements if t < w.start]
            inside = any(w.contains(t) for t, _ in statements)  # two answers: left out
            if before and not inside:
                label = f"{w.start:%B %Y}"
                months.append(
                    Question(_STATE_QUESTIONS[n].format(month=label), w, [before[-1]], "state")
                )
            year, month = (year + 1, 1) if month == 12 else (year, month + 1)
        out += rng.sample(months, k=min(per_kind, len(months)))
    return out


@dataclass
class Timeline:
    record: ConversationRecord
    questions: list[Question]
    turns: int


def generate_timeline(
    *,
    months: int = 12,
    sessions_per_week: int = 3,
    seed: int = 7,
    start: datetime = datetime(2024, 1, 1, tzinfo=UTC),
) -> Timeline:
    """A reproducible synthetic timeline (same seed, same data)."""
    rng = random.Random(seed)
    sessions: list[SessionRecord] = []
    questions: list[Question] = []
    end = start + timedelta(days=30 * months)
    day = start
    occurrence = 0
    # each event type recurs in several different months
    schedule: dict[tuple[int, int], list[str]] = {}
    for event in _EVENTS:
        for m in rng.sample(range(months), k=min(months, 4)):
            schedule.setdefault(
                (start.year + (start.month - 1 + m) // 12, (start.month - 1 + m) % 12 + 1), []
            ).append(event)
    placed: set[tuple[int, int, str]] = set()
    while day < end:
        for _ in range(sessions_per_week):
            when = day + timedelta(
                days=rng.randint(0, 6), hours=rng.randint(8, 21), minutes=rng.randint(0, 59)
            )
            if when >= end:
                continue
            turns: list[TurnRecord] = []
            t = when
            due = [
                e
                for e in schedule.get((when.year, when.month), [])
                if (when.year, when.month, e) not in placed
            ]
            if due and rng.random() < 0.6:
                event = due[0]
                placed.add((when.year, when.month, event))
                occurrence += 1
                ids: list[str] = []
                fill = {
                    "name": rng.choice(_NAMES),
                    "place": rng.choice(_PLACES),
                    "friend": rng.choice(_FRIENDS),
                    "city": rng.choice(_CITIES),
                    "genre": rng.choice(_GENRES),
                    "detail": rng.choice(_DETAILS),
                    "detail2": rng.choice(_DETAILS2),
                }
                for line in _EVENTS[event]:
                    tid = f"occ{occurrence}-{len(ids)}"
                    ids.append(tid)
                    turns.append(
                        TurnRecord(
                            role="user",
                            speaker="Alex",
                            text=line.format(**fill),
                            timestamp=t,
                            id=tid,
                        )
                    )
                    t += timedelta(minutes=1)
                questions.append(
                    Question(
                        text=f"What happened at the {event} in {when:%B %Y}?",
                        window=_month_window(when.year, when.month),
                        evidence=ids,
                        event=event,
                    )
                )
            for _ in range(rng.randint(2, 5)):
                turns.append(
                    TurnRecord(
                        role="user",
                        speaker="Alex",
                        text=rng.choice(_FILLER),
                        timestamp=t,
                        id=f"f{len(sessions)}-{len(turns)}",
                    )
                )
                t += timedelta(minutes=1)
            if rng.random() < 0.08:
                template, options = rng.choice(_FACTS)
                value = rng.choice(options)
                turns.append(
                    TurnRecord(
                        role="user",
                        speaker="Alex",
                        text=template.format(city=value, company=value),
                        timestamp=t,
                        id=f"fact{len(sessions)}",
                    )
                )
            sessions.append(SessionRecord(id=f"s{len(sessions)}", turns=turns))
        day += timedelta(days=7)
    sessions.sort(key=lambda s: s.turns[0].timestamp)
    record = ConversationRecord(sessions=sessions)
    return Timeline(
        record,
        questions + state_questions(record, seed=seed),
        sum(len(s.turns) for s in sessions),
    )


def _in_window(item: Any, window: TimeWindow) -> bool:
    """Said inside the window, or a fact the store says is true during it whose interval
    [said, valid_to) does overlap the window (checked here, not taken on trust)."""
    if window.contains(item.t):
        return True
    if item.kind != MemoryKind.FACT or not item.why.true_in_window:
        return False
    began = window.end is None or item.t < window.end
    return began and (item.valid_to is None or window.start is None or item.valid_to > window.start)


def run_windows(
    *,
    store: MemoryStore,
    embedder: Embedder,
    out_dir: Path,
    months: int = 12,
    seeds: Sequence[int] = (7, 8, 9, 10, 11),
    k: int = 10,
    user_id: str = "bench-windows",
    progress: Callable[[str, int, int], None] | None = None,
) -> Report:
    """One user per seeded timeline (``<user_id>-<seed>``); the figures pool every question.
    One timeline has about 20 event questions, so several seeds keep a single question from
    moving recall by 5 points. Every question runs without a window, with it said-only and
    with it (states true during it included: the default)."""
    report = Report(name="windows", title="Time windows: in-window recall and leakage")
    say = progress or (lambda _t, _i, _n: None)
    timelines = {seed: generate_timeline(months=months, seed=seed) for seed in seeds}
    modes: dict[str, tuple[bool, bool]] = {  # name -> (windowed, states)
        "without window": (False, True),
        "with window, said only": (True, False),
        "with window": (True, True),
    }
    results: dict[str, dict[str, dict[str, list[float]]]] = {
        group: {mode: {"recall": [], "leak": []} for mode in modes}
        for group in ("events", "states")
    }
    with timed() as total:
        for n, (seed, timeline) in enumerate(timelines.items()):
            user = f"{user_id}-{seed}"
            conv = LoadedConversation(user, "Alex", timeline.record, "synthetic", Path("."))
            say(f"timeline seed {seed}", n, len(timelines))
            store.delete_user(user)
            ingest_conversation(conv, store=store, embedder=embedder)
            turn_source, provenance = source_maps(store, user)
            for q in timeline.questions:
                group = "states" if q.event == "state" else "events"
                for mode, (windowed, with_states) in modes.items():
                    window = q.window if windowed else TimeWindow()
                    res = store.retrieve(
                        RetrievalRequest(
                            user_id=user,
                            query=q.text,
                            k=k,
                            window=window,
                            states_in_window=with_states,
                        )
                    )
                    units: list[str] = []
                    inside: list[bool] = []
                    for item in res.items:
                        units += context_units(item, turn_source, provenance)
                        inside += [
                            _in_window(item, q.window),
                            *(q.window.contains(t.t) for t in item.turns),
                            *(q.window.contains(r.t) for r in item.related),
                        ]
                    got = results[group][mode]
                    got["recall"].append(recall(q.evidence, list(dict.fromkeys(units))[:k]))
                    got["leak"].append(inside.count(False) / (len(inside) or 1))
    report.elapsed_s = total.ms / 1000
    report.describe_server(store)

    def summary(group: str) -> dict[str, dict[str, float | int]]:
        return {
            mode: {
                "recall": round(100 * float(np.mean(v["recall"])), 1) if v["recall"] else 0.0,
                "leakage": round(100 * float(np.mean(v["leak"])), 2) if v["leak"] else 0.0,
                "questions_with_leak": int(sum(1 for x in v["leak"] if x > 0)),
            }
            for mode, v in results[group].items()
        }

    events, states = summary("events"), summary("states")
    turns = sum(t.turns for t in timelines.values())
    sessions = sum(len(t.record.sessions) for t in timelines.values())
    n_states = len(results["states"]["with window"]["recall"])
    n_events = len(results["events"]["with window"]["recall"])
    report.settings = {
        "months": months,
        "seeds": list(seeds),
        "k": k,
        "turns": turns,
        "sessions": sessions,
        "questions": n_events,
        "state_questions": n_states,
    }
    report.results = {**events, "states": states}
    columns = [
        "retrieval",
        "in-window recall@k (%)",
        "leakage (% of returned memories)",
        "questions with any leak",
    ]

    def rows(found: dict[str, dict[str, float | int]]) -> list[list[Any]]:
        return [[m, v["recall"], v["leakage"], v["questions_with_leak"]] for m, v in found.items()]

    report.markdown = [
        f"{len(timelines)} synthetic timelines of {months} months (seeds "
        f"{', '.join(map(str, seeds))}), one user each: {sessions} sessions, {turns} turns; "
        f"k = {k} turns of context. A returned memory leaks when it was neither said inside the "
        "window nor, for a fact, true during it (its interval checked by the benchmark).",
        "",
        f'**Recurring events** ({n_events} questions such as "What happened at the dentist in '
        'March 2024?"; the evidence was said in that month):',
        "",
        *table(columns, rows(events)),
        "",
        f'**States** ({n_states} questions such as "Where did I live in May 2024?"; the '
        "answer was said in an earlier month and still held): said-only windows cannot reach "
        "it; by default a fact on a slot said before the window but true during it is in it.",
        "",
        *table(columns, rows(states)),
        "",
        "Without a window, which occurrence of a recurring event wins is decided by near-ties "
        "(the occurrences read alike), which the approximate vector index breaks differently "
        "from one index build to the next: expect that row to move by several points between "
        "runs. With the window there is nothing to tie with.",
    ]
    report.write(out_dir)
    return report
