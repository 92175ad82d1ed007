"""Seeded synthetic lives: months of conversations in the native format, and questions about
them with gold answers and gold evidence (the source ids of the turns that hold the answer).

A conversation is either a person talking to the assistant (``assistant`` style: questions in
the first or the third person) or two friends talking to each other (``dialogue`` style, like
LoCoMo: third-person questions about both). Over the months people move, change jobs, travel,
plan trips, buy things, go out, pick up and drop habits, set goals, change their tastes, and
mention the people in their lives, whose news becomes questions too. Things are said with
relative dates ("yesterday", "last weekend", "next month"); a when-question's gold answer is
what that phrase means on the day it was said, worded the way the agent's prompts word it
(:func:`agent.temporal.relative_note`). Some questions ask about what was never said.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from agent.temporal import WEEKDAYS, elapsed, relative_note
from pipelines.synth import world as W
from schema.datasets import GoldQuestion, QuestionKind
from schema.records import ConversationRecord, SessionRecord, TurnRecord, UserRecord
from schema.timeutil import spoken_date

__all__ = ["SyntheticConversation", "generate_conversation"]

NOT_MENTIONED = "That was not mentioned."


@dataclass
class _Turn:
    speaker: str
    text: str
    role: str = "user"
    key: str | None = None


@dataclass
class _Actor:
    name: str
    homes: list[tuple[date, str, str]] = field(default_factory=list)  # (since, city, key)
    jobs: list[tuple[date, str, str, str]] = field(default_factory=list)  # since, role, co, key
    people: dict[str, tuple[str, str]] = field(default_factory=dict)  # name -> (relation, key)
    trips: set[str] = field(default_factory=set)
    pets: set[str] = field(default_factory=set)
    habit: tuple[str, str, str, str] | None = None  # activity, weekday, part, key
    moved: tuple[str, date, str] | None = None  # city, day, key (the latest move)
    taste: tuple[str, str, str] | None = None  # noun, liked, key (a preference that may change)


@dataclass
class _Pending:
    """A question whose evidence is still turn keys (source ids come after layout)."""

    kind: QuestionKind
    third: str
    first: str | None
    answer: str
    keys: list[str]
    about: str = "user"
    subject: str = ""
    window: tuple[datetime, datetime] | None = None
    hint: dict[str, Any] = field(default_factory=dict)


@dataclass
class SyntheticConversation:
    persona: str
    style: str
    record: ConversationRecord
    questions: list[GoldQuestion]
    user_name: str | None


class _Life:
    """Builds one conversation session by session; every statement registers the questions
    it can answer."""

    def __init__(self, rng: random.Random, persona: str, style: str, months: int) -> None:
        self.rng = rng
        self.persona = persona
        self.style = style
        names = rng.sample(W.FIRST_NAMES, 12)
        self.actors = [_Actor(names[0])] + ([_Actor(names[1])] if style == "dialogue" else [])
        self.spare_names = names[2:]
        start = datetime(rng.choice([2022, 2023, 2024]), rng.randint(1, 12), 1, tzinfo=UTC)
        start += timedelta(days=rng.randint(0, 20))
        n = rng.randint(max(6, months * 2 - 2), months * 2 + 2)
        gaps = [rng.randint(4, 18) for _ in range(n)]
        self.days = []
        day = start
        for g in gaps:
            hour, minute = rng.randint(8, 20), rng.choice([0, 5, 10, 15, 20, 30, 40, 45, 50])
            self.days.append(day.replace(hour=hour, minute=minute))
            day += timedelta(days=g)
        self.sessions: list[list[_Turn]] = [[] for _ in self.days]
        self.pending: list[_Pending] = []
        self.used_cities: set[str] = set()
        self.used_dest: set[str] = set()
        self._options: dict[str, list[str]] = {}
        self.scheduled: dict[int, list[Callable[[int], None]]] = {}
        self._key = 0

    # ------------------------------------------------------------------ helpers
    def key(self) -> str:
        self._key += 1
        return f"k{self._key}"

    def other(self, actor: _Actor) -> _Actor | None:
        rest = [a for a in self.actors if a is not actor]
        return rest[0] if rest else None

    def say(self, s: int, actor: _Actor, text: str, *, key: str | None = None) -> str:
        k = key or self.key()
        self.sessions[s].append(_Turn(actor.name, text, key=k))
        return k

    def state(self, s: int, actor: _Actor, core: str) -> tuple[str, str]:
        """Say a piece of news the way people do, often wrapped in chat ("Hey Mel! ...
        Anyway, how are you?"), so a model learns to find the clause that matters in a longer
        turn. Returns (turn key, the text said)."""
        text = core
        friend = self.other(actor)
        if self.rng.random() < 0.6:
            pool = W.CHATTY_PREFIX["friend" if friend else "assistant"]
            prefix = self.rng.choice(pool).format(friend=friend.name if friend else "")
            text = f"{prefix} {text}"
        if self.rng.random() < 0.5:
            text = f"{text} {self.rng.choice(W.CHATTY_SUFFIX)}"
        return self.say(s, actor, text), text

    def later(self, s: int, beat: Callable[[int], None]) -> None:
        """Schedule a beat in a later session (a look-alike of something said now)."""
        if s + 1 < len(self.days):
            self.scheduled.setdefault(self.rng.randrange(s + 1, len(self.days)), []).append(beat)

    def react(self, s: int, actor: _Actor, pool: dict[str, list[str]] = W.POSITIVE_REPLIES) -> None:
        """The assistant's or the friend's reaction to what ``actor`` said."""
        friend = self.other(actor)
        if friend is None:
            self.sessions[s].append(
                _Turn("assistant", self.rng.choice(pool["assistant"]), role="assistant")
            )
        else:
            self.sessions[s].append(_Turn(friend.name, self.rng.choice(pool["friend"])))

    def filler(self, s: int, actor: _Actor) -> None:
        self.say(s, actor, self.rng.choice(W.FILLER_USER))
        self.react(s, actor, W.NEUTRAL_REPLIES)

    def past(self, s: int) -> tuple[str, date]:
        """A backward time phrase said on session ``s`` and the day the event fell on."""
        said = self.days[s].date()
        r = self.rng.random()
        if r < 0.25:
            return "yesterday", said - timedelta(days=1)
        if r < 0.45:
            monday = said - timedelta(days=said.weekday())
            return "last weekend", monday - timedelta(days=2)
        if r < 0.65:
            return "last week", said - timedelta(days=self.rng.randint(4, 9))
        if r < 0.8:
            wd = self.rng.randrange(7)
            back = (said.weekday() - wd) % 7 or 7
            return f"last {WEEKDAYS[wd].capitalize()}", said - timedelta(days=back)
        if r < 0.9:
            n = self.rng.choice([2, 3])
            return f"{['', '', 'two', 'three'][n]} days ago", said - timedelta(days=n)
        return "today", said

    def future(self, s: int) -> str:
        return self.rng.choice(["next month", "next week", "next weekend", "in two weeks"])

    def when_answer(self, s: int, text: str) -> str:
        note = relative_note(text, said_at=self.days[s])
        return note[1] if note else spoken_date(self.days[s])

    def ask(
        self,
        kind: QuestionKind,
        third: str,
        first: str | None,
        answer: str,
        keys: list[str],
        **extra: Any,
    ) -> None:
        self.pending.append(_Pending(kind, third, first, answer, keys, **extra))

    def first_person(self, actor: _Actor) -> bool:
        return self.style == "assistant" and actor is self.actors[0]

    # ------------------------------------------------------------------ beats
    def intro(self, s: int, actor: _Actor) -> None:
        city = self.rng.choice([c for c in W.CITIES if c not in self.used_cities])
        self.used_cities.add(city)
        years = self.rng.randint(2, 9)
        k = self.say(s, actor, f"I've been living in {city} for about {years} years now.")
        actor.homes.append((self.days[s].date() - timedelta(days=365 * years), city, k))
        self.react(s, actor, W.ACK_REPLIES)
        role, companies = self.rng.choice(W.JOBS)
        company = self.rng.choice(companies)
        k = self.say(s, actor, f"I work as a {role} at {company}, it keeps me busy.")
        actor.jobs.append((self.days[s].date() - timedelta(days=400), role, company, k))
        self.react(s, actor, W.ACK_REPLIES)

    def relation(self, s: int, actor: _Actor) -> None:
        name = self.spare_names.pop()
        taken = {v[0] for v in actor.people.values()}
        rel = self.rng.choice([r for r in W.RELATIONS if r not in taken])
        tail = self.rng.choice(
            [
                "is the funniest person I know",
                "came over for dinner",
                "helped me fix my bike",
                "is coming to stay with me for a few days",
                "called me for an hour about nothing",
                "sent me the sweetest card",
                "taught me how to make dumplings",
                "always gives the best advice",
            ]
        )
        k = self.say(s, actor, f"My {rel} {name} {tail}.")
        actor.people[name] = (rel, k)
        self.react(s, actor, W.ACK_REPLIES)
        self.ask(
            "person",
            f"Who is {name} to {actor.name}?",
            f"Who is {name}?" if self.first_person(actor) else None,
            f"{actor.name}'s {rel}" if not self.first_person(actor) else f"your {rel}",
            [k],
            about="person",
            subject=name,
            hint={"keywords": [name]},
        )

    def move(self, s: int, actor: _Actor) -> None:
        city = self.rng.choice([c for c in W.CITIES if c not in self.used_cities])
        self.used_cities.add(city)
        phrase, day = self.past(s)
        text = self.rng.choice(
            [
                f"I finally moved to {city} {phrase}!",
                f"Big news: I moved into a new apartment in {city} {phrase}.",
                f"I packed up everything and moved to {city} {phrase}.",
            ]
        )
        k, text = self.state(s, actor, text)
        before = actor.homes[-1] if actor.homes else None
        actor.homes.append((day, city, k))
        self.react(s, actor)
        self.say(s, actor, f"The new place is close to {self.rng.choice(W.PARKS)}.")
        self.react(s, actor)
        me = self.first_person(actor)
        self.ask(
            "when",
            f"When did {actor.name} move to {city}?",
            f"When did I move to {city}?" if me else None,
            self.when_answer(s, text),
            [k],
            subject=actor.name,
        )
        if before is not None:
            self.ask(
                "then",
                f"Where did {actor.name} live before moving to {city}?",
                f"Where did I live before moving to {city}?" if me else None,
                before[1],
                [before[2], k],
                subject=actor.name,
            )
        actor.moved = (city, day, k)

    def job(self, s: int, actor: _Actor) -> None:
        role, companies = self.rng.choice(W.JOBS)
        company = self.rng.choice(companies)
        phrase, day = self.past(s)
        text = f"I started a new job as a {role} at {company} {phrase}."
        k, text = self.state(s, actor, text)
        before = actor.jobs[-1] if actor.jobs else None
        actor.jobs.append((day, role, company, k))
        self.react(s, actor)
        me = self.first_person(actor)
        self.ask(
            "when",
            f"When did {actor.name} start working at {company}?",
            f"When did I start working at {company}?" if me else None,
            self.when_answer(s, text),
            [k],
            subject=actor.name,
        )
        if before is not None:
            self.ask(
                "then",
                f"Where did {actor.name} work before joining {company}?",
                f"Where did I work before joining {company}?" if me else None,
                before[2],
                [before[3], k],
                subject=actor.name,
            )
        home = [h for h in actor.homes if h[0] <= day]
        if home:
            self.ask(
                "multi_hop",
                f"Which city was {actor.name} living in when starting the job at {company}?",
                f"Which city was I living in when I started the job at {company}?" if me else None,
                home[-1][1],
                [home[-1][2], k],
                subject=actor.name,
            )

    def trip(self, s: int, actor: _Actor) -> None:
        dest = self.rng.choice([d for d in W.DESTINATIONS if d not in self.used_dest])
        self.used_dest.add(dest)
        actor.trips.add(dest)
        phrase, day = self.past(s)
        detail, short = self.rng.choice(W.TRIP_DETAILS)
        companions = [f"my {rel} {n}" for n, (rel, _) in actor.people.items()] or [
            "a couple of friends"
        ]
        companion = self.rng.choice(companions)
        text = f"I got back from a trip to {dest} {phrase}, I went with {companion}."
        k, text = self.state(s, actor, text)
        self.react(s, actor)
        k2 = self.say(s, actor, f"In {dest} {detail}.")
        self.react(s, actor)
        me = self.first_person(actor)
        self.ask(
            "when",
            f"When did {actor.name} go to {dest}?",
            f"When did I go to {dest}?" if me else None,
            self.when_answer(s, text),
            [k],
            subject=actor.name,
        )
        self.ask(
            "single_hop",
            f"Who did {actor.name} go to {dest} with?",
            f"Who did I go to {dest} with?" if me else None,
            companion.replace("my ", f"{actor.name}'s " if not me else "your ", 1),
            [k],
            subject=actor.name,
        )
        said = self.days[s]
        if day.month == said.month:  # the question names the month it was said in
            first = said.replace(day=1, hour=0, minute=0)
            nxt = (first + timedelta(days=32)).replace(day=1)
            month = f"{first.strftime('%B')} {first.year}"
            self.ask(
                "single_hop",
                f"Where did {actor.name} travel in {month}?",
                f"Where did I travel in {month}?" if me else None,
                dest,
                [k],
                subject=actor.name,
                window=(first, nxt),
            )
        self.ask(
            "single_hop",
            f"What did {actor.name} do in {dest}?",
            f"What did I do in {dest}?" if me else None,
            short,
            [k2],
            subject=actor.name,
        )

    def plan(self, s: int, actor: _Actor) -> None:
        dest = self.rng.choice([d for d in W.DESTINATIONS if d not in self.used_dest])
        self.used_dest.add(dest)
        actor.trips.add(dest)
        phrase = self.future(s)
        text = f"I'm going to {dest} {phrase}, I already booked the flights."
        k, text = self.state(s, actor, text)
        self.react(s, actor)
        me = self.first_person(actor)
        self.ask(
            "when",
            f"When is {actor.name} planning to go to {dest}?",
            f"When am I going to {dest}?" if me else None,
            self.when_answer(s, text),
            [k],
            subject=actor.name,
        )

    def purchase(self, s: int, actor: _Actor) -> None:
        item, purpose, topic = self.rng.choice(W.PURCHASES)
        phrase, _ = self.past(s)
        text = f"I bought {item} {phrase} for {purpose}."
        k, text = self.state(s, actor, text)
        self.react(s, actor)
        me = self.first_person(actor)
        self.ask(
            "single_hop",
            f"What did {actor.name} buy for {topic}?",
            f"What did I buy for {topic}?" if me else None,
            item,
            [k],
            subject=actor.name,
        )

    def outing(self, s: int, actor: _Actor) -> None:
        template, question, where = self.rng.choice(W.OUTINGS)
        slots = {
            "genre": self.rng.choice(W.GENRES),
            "venue": self.rng.choice(W.VENUES),
            "park": self.rng.choice(W.PARKS),
            "friend": self.rng.choice(list(actor.people) or ["a friend"]),
        }
        phrase, _ = self.past(s)
        text = "I " + template.format(rel=phrase, **slots) + "."
        k, text = self.state(s, actor, text)
        self.react(s, actor)
        self.look_alike(s, actor, template, slots)
        me = self.first_person(actor)
        q = question.format(**slots)
        self.ask(
            "when",
            f"When did {actor.name} {q}?",
            f"When did I {q}?" if me else None,
            self.when_answer(s, text),
            [k],
            subject=actor.name,
        )
        if where:
            self.ask(
                "single_hop",
                f"Where did {actor.name} {q}?",
                f"Where did I {q}?" if me else None,
                where.format(**slots),
                [k],
                subject=actor.name,
            )

    def look_alike(self, s: int, actor: _Actor, template: str, slots: dict[str, str]) -> None:
        """Later, someone else does the same kind of thing elsewhere: a question about
        ``actor`` must be answered from the memory about ``actor``, not its look-alike."""
        if self.rng.random() > 0.6:
            return
        other = self.other(actor)
        names = [n for n in actor.people if n != slots.get("friend")]
        twin = {
            **slots,
            "venue": self.rng.choice([v for v in W.VENUES if v != slots["venue"]]),
            "park": self.rng.choice([p for p in W.PARKS if p != slots["park"]]),
        }

        def beat(s2: int) -> None:
            phrase, _ = self.past(s2)
            what = template.format(rel=phrase, **twin)
            if other is not None and (not names or self.rng.random() < 0.5):
                self.state(s2, other, f"I {what} too.")
                self.react(s2, other)
            elif names:
                self.state(s2, actor, f"{self.rng.choice(names)} {what}.")
                self.react(s2, actor)

        self.later(s, beat)

    def person_event(self, s: int, actor: _Actor) -> None:
        if not actor.people:
            return
        name = self.rng.choice(list(actor.people))
        rel, intro = actor.people[name]
        template, question, detail_q, detail_a = self.rng.choice(W.PERSON_EVENTS)
        slots = {
            "baby": self.rng.choice(W.BABY_NAMES),
            "pet": self.rng.choice(self.rng.choice(W.PETS)[1]),
            "band": self.rng.choice(W.BAND_NAMES),
            "city": self.rng.choice([c for c in W.CITIES if c not in self.used_cities]),
        }
        phrase, _ = self.past(s)
        text = f"{name} {template.format(rel=phrase, **slots)}!"
        k, text = self.state(s, actor, text)
        self.react(s, actor)
        q = question.format(**slots)
        answer = self.when_answer(s, text)
        self.ask("when", f"When did {name} {q}?", None, answer, [k], about="person", subject=name)
        whose = "my" if self.first_person(actor) else f"{actor.name}'s"
        self.ask(
            "multi_hop",
            f"When did {actor.name}'s {rel} {q}?",
            f"When did my {rel} {q}?" if whose == "my" else None,
            answer,
            [intro, k],
            about="person",
            subject=name,
        )
        if detail_q:
            self.ask(
                "single_hop",
                detail_q.format(name=name),
                None,
                (detail_a or "").format(**slots),
                [k],
                about="person",
                subject=name,
            )
        # attribution swap: the actor did not do this (unless it is true of them too)
        if "move to" not in q:
            self.ask(
                "unanswerable",
                f"When did {actor.name} {q}?",
                f"When did I {q}?" if self.first_person(actor) else None,
                NOT_MENTIONED,
                [],
                subject=actor.name,
            )

    def habit(self, s: int, actor: _Actor) -> None:
        activity, verb = self.rng.choice(W.HABITS)
        wd, part = self.rng.choice(WEEKDAYS).capitalize(), self.rng.choice(W.PARTS_OF_DAY)
        text = f"I've started {activity} every {wd} {part}, I really like the routine."
        if activity.startswith(("a ", "piano", "volunteer")):
            text = f"I signed up for {activity} every {wd} {part}."
        k, text = self.state(s, actor, text)
        self.react(s, actor)
        me = self.first_person(actor)
        self.ask(
            "habit",
            f"What does {actor.name} do every {wd} {part}?",
            f"What do I do every {wd} {part}?" if me else None,
            activity,
            [k],
            subject=actor.name,
        )
        self.ask(
            "habit",
            f"How often does {actor.name} {verb}?",
            f"How often do I {verb}?" if me else None,
            f"every {wd} {part}",
            [k],
            subject=actor.name,
        )
        actor.habit = (activity, wd, part, k)

    def habit_change(self, s: int, actor: _Actor) -> None:
        if actor.habit is None:
            return
        activity, wd, part, k_old = actor.habit
        new, _verb = self.rng.choice([h for h in W.HABITS if h[0] != activity])
        k = self.say(s, actor, f"I stopped {activity}, now I do {new} on {wd} {part}s instead.")
        self.react(s, actor)
        me = self.first_person(actor)
        self.ask(
            "now",
            f"What does {actor.name} do on {wd} {part}s now?",
            f"What do I do on {wd} {part}s now?" if me else None,
            new,
            [k],
            subject=actor.name,
        )
        self.ask(
            "then",
            f"What did {actor.name} do on {wd} {part}s before {new}?",
            f"What did I do on {wd} {part}s before {new}?" if me else None,
            activity,
            [k_old, k],
            subject=actor.name,
        )

    def goal(self, s: int, actor: _Actor) -> None:
        goal, topic = self.rng.choice(W.GOALS)
        text = self.rng.choice(
            [f"My big goal this year is to {goal}.", f"I've decided I want to {goal} this year."]
        )
        k, text = self.state(s, actor, text)
        self.react(s, actor)
        me = self.first_person(actor)
        short = goal
        self.ask(
            "goal",
            f"What goal did {actor.name} set for this year?",
            "What goal did I set for this year?" if me else None,
            short,
            [k],
            subject=actor.name,
            hint={"topic": topic},
        )

    def preference(self, s: int, actor: _Actor) -> None:
        _topic, noun, options = self.rng.choice(W.PREFERENCES)
        a = self.rng.choice(options)
        k = self.say(s, actor, f"I'm really into {a} these days.")
        self.react(s, actor)
        actor.taste = (noun, a, k)
        self._options[actor.name] = [o for o in options if o != a]
        me = self.first_person(actor)
        self.ask(
            "preference",
            f"What {noun} is {actor.name} into?",
            f"What {noun} am I into?" if me else None,
            a,
            [k],
            subject=actor.name,
        )

    def preference_change(self, s2: int, actor: _Actor) -> None:
        if actor.taste is None:
            return
        noun, a, k = actor.taste
        b = self.rng.choice(self._options[actor.name])
        # the unchanged-preference question no longer has one answer
        self.pending = [p for p in self.pending if not (p.kind == "preference" and k in p.keys)]
        me = self.first_person(actor)
        k2 = self.say(s2, actor, f"Honestly I'm over {a}, {b} is my thing now.")
        self.react(s2, actor)
        self.ask(
            "now",
            f"What {noun} is {actor.name} into now?",
            f"What {noun} am I into now?" if me else None,
            b,
            [k2],
            subject=actor.name,
        )
        self.ask(
            "then",
            f"What {noun} was {actor.name} into before {b}?",
            f"What {noun} was I into before {b}?" if me else None,
            a,
            [k, k2],
            subject=actor.name,
        )

    def pet(self, s: int, actor: _Actor) -> None:
        animal, names = self.rng.choice(W.PETS)
        name = self.rng.choice(names)
        actor.pets.add(animal)
        phrase, _ = self.past(s)
        text = f"We adopted a {animal} named {name} {phrase}!"
        k, text = self.state(s, actor, text)
        self.react(s, actor)
        me = self.first_person(actor)
        self.ask(
            "single_hop",
            f"What is the name of {actor.name}'s {animal}?",
            f"What is my {animal} called?" if me else None,
            name,
            [k],
            subject=actor.name,
        )
        self.ask(
            "when",
            f"When did {actor.name} adopt {name}?",
            f"When did I adopt {name}?" if me else None,
            self.when_answer(s, text),
            [k],
            subject=actor.name,
        )

    def never(self, actor: _Actor) -> None:
        """Questions about what was never said."""
        dest = self.rng.choice([d for d in W.DESTINATIONS if d not in self.used_dest])
        me = self.first_person(actor)
        self.ask(
            "unanswerable",
            f"When did {actor.name} go to {dest}?",
            f"When did I go to {dest}?" if me else None,
            NOT_MENTIONED,
            [],
            subject=actor.name,
        )
        animals = [a for a, _ in W.PETS if a not in actor.pets]
        animal = self.rng.choice(animals)
        self.ask(
            "unanswerable",
            f"What is the name of {actor.name}'s {animal}?",
            f"What is my {animal} called?" if me else None,
            NOT_MENTIONED,
            [],
            subject=actor.name,
        )

    def how_long(self, asked: datetime) -> None:
        movers = [a for a in self.actors if a.moved]
        if not movers:
            return
        actor = self.rng.choice(movers)
        city, day, k = actor.moved  # type: ignore[misc]
        answer = elapsed(day, asked.date())
        me = self.first_person(actor)
        self.ask(
            "how_long",
            f"How long ago did {actor.name} move to {city}?",
            f"How long ago did I move to {city}?" if me else None,
            answer,
            [k],
            subject=actor.name,
            hint={"event_day": day.isoformat()},
        )

    # ------------------------------------------------------------------ plan
    def live(self) -> None:
        rng, n = self.rng, len(self.days)
        Beat = Callable[[int, _Actor], None]  # noqa: N806
        beats: list[tuple[int, Beat, _Actor]] = []

        def at(lo: float, hi: float) -> int:
            return min(n - 1, max(0, int(rng.uniform(lo, hi) * n)))

        plan: list[tuple[float, float, Beat]] = [
            (0.3, 0.9, self.move),
            (0.3, 0.9, self.job),
            (0.1, 0.95, self.trip),
            (0.2, 0.95, self.trip),
            (0.3, 1.0, self.plan),
            (0.1, 1.0, self.purchase),
            (0.1, 1.0, self.outing),
            (0.1, 1.0, self.outing),
            (0.45, 1.0, self.person_event),
            (0.45, 1.0, self.person_event),
            (0.1, 0.5, self.habit),
            (0.6, 1.0, self.habit_change),
            (0.1, 1.0, self.goal),
            (0.1, 1.0, self.pet),
        ]
        for actor in self.actors:
            beats.append((0, self.intro, actor))
            beats += [(at(0.0, 0.4), self.relation, actor) for _ in range(rng.randint(2, 3))]
            beats += [(at(lo, hi), fn, actor) for lo, hi, fn in plan if rng.random() < 0.85]
            beats.append((at(0.05, 0.45), self.preference, actor))
            if rng.random() < 0.7:
                beats.append((at(0.55, 1.0), self.preference_change, actor))
        # session by session, in order: openers, beats with filler between, closers
        by_session: dict[int, list[tuple[Beat, _Actor]]] = {}
        for s, fn, who in sorted(beats, key=lambda b: b[0]):
            by_session.setdefault(s, []).append((fn, who))
        for s in range(n):
            actor = rng.choice(self.actors)
            hour = self.days[s].hour
            part = "morning" if hour < 12 else "afternoon" if hour < 17 else "evening"
            self.say(s, actor, rng.choice(W.OPENERS_BY_HOUR[part]))
            self.react(s, actor, W.OPENER_REPLIES)
            for fn, who in by_session.get(s, []):
                fn(s, who)
                if rng.random() < 0.5:
                    self.filler(s, rng.choice(self.actors))
            for beat in self.scheduled.get(s, []):
                beat(s)
            for _ in range(rng.randint(1, 3)):
                self.filler(s, rng.choice(self.actors))
            self.say(s, rng.choice(self.actors), rng.choice(W.FILLER_CLOSERS))

    def build(self, questions_per_kind: dict[str, int]) -> SyntheticConversation:
        self.live()
        last = self.days[-1]
        asked = (last + timedelta(days=self.rng.randint(2, 9))).replace(
            hour=self.rng.randint(9, 20), minute=0
        )
        for actor in self.actors:
            self.never(actor)
        self.how_long(asked)
        # layout: timestamps and LoCoMo-style source ids D<session>:<turn>
        source: dict[str, str] = {}
        sessions = []
        for si, (day, turns) in enumerate(zip(self.days, self.sessions, strict=True)):
            records = []
            t = day
            for ti, turn in enumerate(turns):
                sid = f"D{si + 1}:{ti + 1}"
                if turn.key:
                    source[turn.key] = sid
                role = "assistant" if turn.role == "assistant" else "user"
                records.append(
                    TurnRecord(role=role, speaker=turn.speaker, text=turn.text, timestamp=t, id=sid)
                )
                t += timedelta(seconds=self.rng.randint(25, 90))
            sessions.append(SessionRecord(id=f"session-{si + 1}", turns=records))
        main = self.actors[0]
        user_name = main.name if self.style == "assistant" else None
        record = ConversationRecord(
            user=UserRecord(id=self.persona, name=user_name),
            timezone="UTC",
            sessions=sessions,
        )
        questions: list[GoldQuestion] = []
        counts: dict[str, int] = {}
        order = list(self.pending)
        self.rng.shuffle(order)
        for p in order:
            if counts.get(p.kind, 0) >= questions_per_kind.get(p.kind, 0):
                continue
            counts[p.kind] = counts.get(p.kind, 0) + 1
            first = p.first is not None and self.rng.random() < 0.5
            text = p.first if first and p.first else p.third
            answer = p.answer
            if not first and answer.startswith("your "):
                answer = answer.replace("your ", f"{main.name}'s ", 1)
            questions.append(
                GoldQuestion(
                    id=f"{self.persona}-q{len(questions) + 1}",
                    user_id=self.persona,
                    persona=self.persona,
                    question=text,
                    asked_at=asked,
                    answer=answer,
                    evidence=[source[k] for k in p.keys],
                    kind=p.kind,
                    about="person" if p.about == "person" else "user",
                    window_start=p.window[0] if p.window else None,
                    window_end=p.window[1] if p.window else None,
                    user_name=user_name,
                    hint={**p.hint, "subject": p.subject},
                )
            )
        return SyntheticConversation(self.persona, self.style, record, questions, user_name)


#: how many questions of each kind a conversation contributes (at most)
DEFAULT_MIX: dict[str, int] = {
    "when": 5,
    "now": 2,
    "then": 2,
    "how_long": 1,
    "habit": 1,
    "preference": 1,
    "goal": 1,
    "person": 2,
    "multi_hop": 2,
    "single_hop": 3,
    "unanswerable": 2,
}


def generate_conversation(
    seed: int,
    persona: str,
    *,
    style: str | None = None,
    months: int = 6,
    mix: dict[str, int] | None = None,
) -> SyntheticConversation:
    """One seeded conversation (same seed, same conversation) with its questions.

    >>> a = generate_conversation(3, "p3")
    >>> b = generate_conversation(3, "p3")
    >>> a.record == b.record and a.questions == b.questions
    True
    >>> all(q.evidence or q.kind == "unanswerable" for q in a.questions)
    True
    """
    rng = random.Random(seed)
    chosen = style or rng.choice(["assistant", "dialogue"])
    return _Life(rng, persona, chosen, months).build(mix or DEFAULT_MIX)
