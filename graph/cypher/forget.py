"""Forget queries: what a scope holds, what is derived from it, what it leaves empty or makes
current again, and the deletes. Every query binds ``$user_id``; labels are whitelisted."""

from __future__ import annotations

from graph.cypher import label
from graph.cypher.read import window_predicate

__all__ = [
    "DAYS_LEFT_EMPTY",
    "DERIVED",
    "IMAGES_STILL_USED",
    "MEMORY",
    "MONTHS_LEFT_EMPTY",
    "PROFILE_MIRRORS",
    "PROFILE_SAME_TURNS",
    "RENUMBER_SNAPSHOTS",
    "SESSIONS_LEFT_EMPTY",
    "SESSION_TURNS",
    "TEXTS_STILL_HELD",
    "YEARS_LEFT_EMPTY",
    "bridge",
    "bridged",
    "delete_ids",
    "reactivate",
    "superseded_by",
    "tags_left_empty",
    "texts_of",
    "turns_in_window",
    "user_nodes_brief",
]

_BRIEF = (
    "[x IN labels(n) WHERE x <> 'Memory'][0] AS label, n.id AS id, "
    "coalesce(n.text, n.key + ': ' + coalesce(n.value, '(deleted)'), n.name, n.source_id, "
    "CASE WHEN n.step IS NOT NULL THEN 'step ' + toString(n.step) END, '') AS text, n.t AS t"
)

MEMORY = f"""
MATCH (n:Memory {{id: $id}}) WHERE n.user_id = $user_id
RETURN {_BRIEF}, n.session_id AS session_id, n.image_path AS image_path
"""

#: profile entries that mirror a fact (the profile update names the fact it copies in its
#: ``reason``: "fact <id>: <text>")
PROFILE_MIRRORS = f"""
MATCH (n:ProfileEntry) WHERE n.user_id = $user_id AND n.reason STARTS WITH $prefix
RETURN {_BRIEF}
"""

#: profile entries said in the same turn as a fact (an LLM updater's reason names no fact):
#: a copy of it when its value shares a word with the fact beyond the user's name
PROFILE_SAME_TURNS = f"""
MATCH (f:Fact {{id: $id}})-[:DERIVED_FROM]->(t:Turn)<-[:DERIVED_FROM]-(n:ProfileEntry)
WHERE f.user_id = $user_id AND t.user_id = $user_id AND n.user_id = $user_id
  AND n.value IS NOT NULL
OPTIONAL MATCH (u:User {{id: $user_id, user_id: $user_id}})
RETURN DISTINCT {_BRIEF}, n.value AS value, f.text AS fact, u.name AS user_name
"""

SESSION_TURNS = f"""
MATCH (s:Session {{id: $session_id}}) WHERE s.user_id = $user_id
OPTIONAL MATCH (s)-[:HAS_TURN]->(n:Turn) WHERE n.user_id = $user_id
RETURN s.id AS session, s.source_id AS source_id, {_BRIEF}, n.image_path AS image_path
"""


def turns_in_window(has_start: bool, has_end: bool) -> str:
    return f"""
MATCH (n:Turn) WHERE n.user_id = $user_id{window_predicate("n", has_start, has_end)}
RETURN {_BRIEF}, n.session_id AS session_id, n.image_path AS image_path
"""


#: every memory, profile entry or snapshot DERIVED_FROM one of the turns
DERIVED = f"""
UNWIND $turn_ids AS tid
MATCH (t:Turn {{id: tid}})<-[:DERIVED_FROM]-(n) WHERE t.user_id = $user_id AND n.user_id = $user_id
RETURN DISTINCT {_BRIEF}
"""


def superseded_by(node_label: str) -> str:
    """Versions superseded by a removed one that are not removed themselves."""
    lbl = label(node_label)
    return f"""
MATCH (new:{lbl})-[:SUPERSEDES]->(n:{lbl})
WHERE new.user_id = $user_id AND n.user_id = $user_id AND new.id IN $ids AND NOT n.id IN $ids
  AND NOT EXISTS {{ MATCH (other:{lbl})-[:SUPERSEDES]->(n) WHERE NOT other.id IN $ids }}
RETURN DISTINCT {_BRIEF}
"""


def bridged(node_label: str) -> str:
    """Versions superseded by a removed one that a KEPT later version superseded in turn
    (through removed versions only): that nearest kept successor, and when it replaced the
    removed version it follows."""
    lbl = label(node_label)
    return f"""
MATCH (x:{lbl})-[:SUPERSEDES]->(n:{lbl})
WHERE x.user_id = $user_id AND n.user_id = $user_id AND x.id IN $ids AND NOT n.id IN $ids
  AND NOT EXISTS {{ MATCH (other:{lbl})-[:SUPERSEDES]->(n) WHERE NOT other.id IN $ids }}
MATCH p = (kept:{lbl})-[:SUPERSEDES*1..8]->(x)
WHERE kept.user_id = $user_id AND NOT kept.id IN $ids
  AND all(v IN nodes(p)[1..] WHERE v.id IN $ids)
WITH n, kept, relationships(p)[0].at AS at, length(p) AS hops,
     coalesce(kept.text, kept.key + ': ' + coalesce(kept.value, '')) AS text
ORDER BY hops
WITH n, collect({{id: kept.id, text: text, at: at}})[0] AS succ
RETURN DISTINCT {_BRIEF}, succ.id AS new_id, succ.text AS new_text, succ.at AS at
"""


def bridge(node_label: str) -> str:
    """``new`` replaces ``old`` at ``at``: the chain skips a forgotten version."""
    lbl = label(node_label)
    return f"""
UNWIND $rows AS r
MATCH (new:{lbl} {{id: r.new_id, user_id: $user_id}})
MATCH (old:{lbl} {{id: r.old_id, user_id: $user_id}})
MERGE (new)-[s:SUPERSEDES]->(old)
ON CREATE SET s.at = r.at, s.reason = 'its successor was forgotten'
SET old.valid_to = r.at
"""


SESSIONS_LEFT_EMPTY = """
MATCH (s:Session) WHERE s.user_id = $user_id AND s.id IN $session_ids
OPTIONAL MATCH (s)-[:HAS_TURN]->(t:Turn)
WITH s, collect(t.id) AS turns WHERE all(x IN turns WHERE x IN $ids)
RETURN 'Session' AS label, s.id AS id, s.source_id AS text, s.start AS t
"""

DAYS_LEFT_EMPTY = """
MATCH (d:Day) WHERE d.user_id = $user_id
OPTIONAL MATCH (n)-[:ON]->(d)
WITH d, collect(n.id) AS on WHERE all(x IN on WHERE x IN $ids)
RETURN 'Day' AS label, d.id AS id, toString(d.date) AS text, null AS t
"""

MONTHS_LEFT_EMPTY = """
MATCH (m:Month) WHERE m.user_id = $user_id
OPTIONAL MATCH (d:Day)-[:PART_OF]->(m)
WITH m, collect(d.id) AS days WHERE all(x IN days WHERE x IN $ids)
RETURN 'Month' AS label, m.id AS id, toString(m.year) + '-' + toString(m.month) AS text, null AS t
"""

YEARS_LEFT_EMPTY = """
MATCH (y:Year) WHERE y.user_id = $user_id
OPTIONAL MATCH (m:Month)-[:PART_OF]->(y)
WITH y, collect(m.id) AS months WHERE all(x IN months WHERE x IN $ids)
RETURN 'Year' AS label, y.id AS id, toString(y.year) AS text, null AS t
"""


def tags_left_empty(node_label: str) -> str:
    """Topics or entities whose every memory goes."""
    lbl = label(node_label)
    rel = "ABOUT" if node_label == "Topic" else "MENTIONS"
    return f"""
MATCH (g:{lbl}) WHERE g.user_id = $user_id
OPTIONAL MATCH (m)-[:{rel}]->(g)
WITH g, collect(m.id) AS ms WHERE all(x IN ms WHERE x IN $ids)
RETURN '{node_label}' AS label, g.id AS id, g.name AS text, null AS t
"""


#: content-addressed images are shared: a file stays while any other turn points at it (this
#: is the one query that looks past the user, and it returns only paths the caller gave)
IMAGES_STILL_USED = """
UNWIND $paths AS p
MATCH (t:Turn) WHERE t.image_path = p AND NOT (t.user_id = $user_id AND t.id IN $ids)
RETURN DISTINCT p AS path
"""


def user_nodes_brief(node_label: str) -> str:
    return f"""
MATCH (n:{label(node_label)}) WHERE n.user_id = $user_id
RETURN {_BRIEF}, n.image_path AS image_path
"""


def delete_ids(node_label: str) -> str:
    return f"""
UNWIND $ids AS nid
MATCH (n:{label(node_label)} {{id: nid}}) WHERE n.user_id = $user_id
DETACH DELETE n
"""


def reactivate(node_label: str) -> str:
    """A version whose successor was forgotten holds again (its interval reopens)."""
    lbl = label(node_label)
    status = {"Fact": ", n.status = 'active'", "Procedure": ", n.status = 'active'"}
    return f"""
UNWIND $ids AS nid
MATCH (n:{lbl} {{id: nid}}) WHERE n.user_id = $user_id
SET n.valid_to = null{status.get(node_label, "")}
"""


def texts_of(node_label: str) -> str:
    """The words of the given nodes that a conversation thread may have quoted: a memory's
    text, a profile entry's value, an image's caption."""
    return f"""
UNWIND $ids AS nid
MATCH (n:{label(node_label)} {{id: nid}}) WHERE n.user_id = $user_id
UNWIND [x IN [n.text, n.value, n.image_caption] WHERE x IS NOT NULL AND trim(x) <> ''] AS text
RETURN DISTINCT text
"""


#: of those words, the ones a memory or profile entry that stays still holds (not forgotten)
TEXTS_STILL_HELD = """
CALL () {
  MATCH (m:Memory) WHERE m.user_id = $user_id AND m.text IN $texts AND NOT m.id IN $ids
  RETURN m.text AS text
  UNION
  MATCH (m:Turn) WHERE m.user_id = $user_id AND m.image_caption IN $texts AND NOT m.id IN $ids
  RETURN m.image_caption AS text
  UNION
  MATCH (m:ProfileEntry) WHERE m.user_id = $user_id AND m.value IN $texts AND NOT m.id IN $ids
  RETURN m.value AS text
}
RETURN DISTINCT text
"""

#: a recomputed personality series, written over the snapshots that stay. Ids move to a
#: temporary value first, so a snapshot can take the id a forgotten or moved one had.
RENUMBER_SNAPSHOTS = """
UNWIND $rows AS row
MATCH (n:PersonalitySnapshot {id: row.old}) WHERE n.user_id = $user_id
SET n.id = row.old + ':renumbering'
WITH collect(n) AS moved
UNWIND $rows AS row
MATCH (n:PersonalitySnapshot {id: row.old + ':renumbering'}) WHERE n.user_id = $user_id
SET n += row.props, n.id = row.id
RETURN count(n) AS n
"""
