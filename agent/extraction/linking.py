"""Linking: topics (ABOUT) and named entities (MENTIONS) of the memories extracted, model-free
in both modes (an LLM's entities would change ids between runs; these are deterministic)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from agent.extraction.nodes import new_entity, new_topic
from agent.extraction.text import entities, stem
from schema.nodes import Entity, MemoryNode, Topic, merge_named
from schema.protocols import Link

__all__ = ["Links", "link_topics_and_entities"]


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
    and "paintings" meet); turns, events and facts MENTION the named entities in their text.
    A topic or entity seen in several forms is named by the preferred one
    (:func:`schema.nodes.preferred_name`), whatever order the memories come in."""
    out = Links()
    for m in memories:
        if m.kind.value in ("event", "fact", "procedure"):
            for kw in m.keywords[:3]:
                key = stem(kw)
                topic = new_topic(user_id, key, kw.lower())
                merge_named(out.topics, [topic])
                out.about.append(Link(memory_id=m.id, node_id=topic.id))
        if m.kind.value in ("turn", "event", "fact"):
            for name in entities(m.text, exclude=speakers):
                ent = new_entity(user_id, name)
                merge_named(out.entities, [ent])
                out.mentions.append(Link(memory_id=m.id, node_id=ent.id))
    return out
