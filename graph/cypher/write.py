"""Idempotent, batched writes. Every statement is an UNWIND over rows, MERGEs on the stable id
together with ``user_id`` (so an id that belonged to another user fails the uniqueness
constraint instead of being overwritten), and is scoped to ``$user_id``."""

from __future__ import annotations

import re

from graph.cypher import label, prop, rel
from schema.errors import UnsafeIdentifier

__all__ = [
    "CONSOLIDATE_SESSIONS",
    "LINK_ABOUT",
    "LINK_MENTIONS",
    "MERGE_ENTITIES",
    "MERGE_SESSIONS",
    "MERGE_TIME_TREE",
    "MERGE_TOPICS",
    "MERGE_USER",
    "SET_EMBEDDINGS",
    "attach",
    "link_derived_from",
    "link_on_day",
    "merge_memories",
    "merge_owned",
    "relink_chain",
    "supersede",
]

MERGE_USER = """
MERGE (u:User {id: $user_id, user_id: $user_id})
ON CREATE SET u.created_at = $created_at
SET u.name = coalesce($name, u.name), u.timezone = coalesce($timezone, u.timezone)
"""

MERGE_SESSIONS = """
UNWIND $rows AS r
MATCH (u:User {id: $user_id, user_id: $user_id})
MERGE (s:Session {id: r.id, user_id: $user_id})
SET s.source_id = r.source_id, s.index = r.index, s.start = r.start, s.end = r.end
MERGE (u)-[:HAS_SESSION]->(s)
"""

CONSOLIDATE_SESSIONS = """
UNWIND $ids AS sid
MATCH (s:Session {id: sid, user_id: $user_id})
WHERE s.consolidated_at IS NULL
SET s.consolidated_at = coalesce($at, s.end)
RETURN s.id AS id
"""


def merge_memories(kind_label: str, vector_values: bool = False) -> str:
    """Memory nodes (Turn/Event/Fact/Procedure): properties set, embedding stored as float[].

    With ``vector_values`` each row's embedding arrives as a VECTOR parameter (packed float32)
    and ``toFloatList`` (Cypher 25) turns it into the same float[] as a list would store. The
    list form cost the client ~0.2 ms per 384-d vector in packing (800 turns: ~190 ms against
    ~30 ms as vectors, measured here)."""
    lbl = label(kind_label)
    prefix, value = (
        ("CYPHER 25\n", "toFloatList(r.embedding)") if vector_values else ("", "r.embedding")
    )
    return f"""{prefix}
UNWIND $rows AS r
MERGE (m:{lbl}:`Memory` {{id: r.id, user_id: $user_id}})
SET m += r.props
WITH m, r WHERE r.embedding IS NOT NULL
CALL db.create.setNodeVectorProperty(m, 'embedding', {value})
"""


_ROW_FIELD = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _owner_id(owner_key: str) -> str:
    """The owner's id in a row: ``$user_id`` for ``user``, else the row field ``r.<key>``.

    The key names a field of the rows the store builds (``session_id``, ``profile_id``), not
    a node property, so it is checked as a plain identifier rather than against the schema.

    >>> _owner_id("profile_id")
    'r.`profile_id`'
    >>> _owner_id("x`}) DETACH DELETE (n")
    Traceback (most recent call last):
    ...
    schema.errors.UnsafeIdentifier: row field 'x`}) DETACH DELETE (n' is not an identifier
    """
    if owner_key == "user":
        return "$user_id"
    if not _ROW_FIELD.match(owner_key):
        raise UnsafeIdentifier(f"row field {owner_key!r} is not an identifier")
    return f"r.`{owner_key}`"


def merge_owned(node_label: str, owner_label: str, has_rel: str, owner_key: str) -> str:
    """Nodes hung from an owner (User or Session) by a HAS_* relationship.

    ``owner_key`` names the row field holding the owner's id (``user`` = the user itself)."""
    lbl, owner, has = label(node_label), label(owner_label), rel(has_rel)
    owner_id = _owner_id(owner_key)
    return f"""
UNWIND $rows AS r
MERGE (n:{lbl} {{id: r.id, user_id: $user_id}})
SET n += r.props
WITH n, r
MATCH (o:{owner} {{id: {owner_id}, user_id: $user_id}})
MERGE (o)-[:{has}]->(n)
"""


def attach(owner_label: str, has_rel: str, node_label: str, owner_key: str) -> str:
    """``(owner)-[:HAS_*]->(n)`` for rows ``{id, <owner_key>}`` (``user`` = the user)."""
    owner, has, lbl = label(owner_label), rel(has_rel), label(node_label)
    owner_id = _owner_id(owner_key)
    return f"""
UNWIND $rows AS r
MATCH (n:{lbl} {{id: r.id, user_id: $user_id}})
MATCH (o:{owner} {{id: {owner_id}, user_id: $user_id}})
MERGE (o)-[:{has}]->(n)
"""


SET_EMBEDDINGS = """
UNWIND $rows AS r
MATCH (m:Memory {id: r.id, user_id: $user_id})
CALL db.create.setNodeVectorProperty(m, $property, r.embedding)
"""

MERGE_TIME_TREE = """
UNWIND $days AS d
MERGE (y:Year {id: d.year_id, user_id: $user_id}) ON CREATE SET y.year = d.year
MERGE (mo:Month {id: d.month_id, user_id: $user_id})
  ON CREATE SET mo.year = d.year, mo.month = d.month
MERGE (day:Day {id: d.day_id, user_id: $user_id}) ON CREATE SET day.date = d.date
MERGE (day)-[:PART_OF]->(mo)
MERGE (mo)-[:PART_OF]->(y)
"""


def link_on_day(node_label: str) -> str:
    lbl = label(node_label)
    return f"""
UNWIND $rows AS r
MATCH (n:{lbl} {{id: r.id, user_id: $user_id}})
MATCH (d:Day {{id: r.day_id, user_id: $user_id}})
MERGE (n)-[:ON]->(d)
"""


def link_derived_from(node_label: str) -> str:
    """Provenance: ``n`` DERIVED_FROM each turn in ``r.turn_ids`` (the same user's only)."""
    lbl = label(node_label)
    return f"""
UNWIND $rows AS r
MATCH (n:{lbl} {{id: r.id, user_id: $user_id}})
UNWIND r.turn_ids AS tid
MATCH (t:Turn {{id: tid, user_id: $user_id}})
MERGE (n)-[:DERIVED_FROM]->(t)
"""


#: a topic or entity is keyed by a normal form and named by the shortest surface form seen
#: (alphabetical among equals): the name is the same whatever order the writes came in
MERGE_TOPICS = """
UNWIND $rows AS r
MERGE (t:Topic {id: r.id, user_id: $user_id}) ON CREATE SET t.name = r.name
WITH t, r WHERE size(r.name) < size(t.name) OR (size(r.name) = size(t.name) AND r.name < t.name)
SET t.name = r.name
"""

MERGE_ENTITIES = """
UNWIND $rows AS r
MERGE (e:Entity {id: r.id, user_id: $user_id}) ON CREATE SET e.name = r.name
WITH e, r WHERE size(r.name) < size(e.name) OR (size(r.name) = size(e.name) AND r.name < e.name)
SET e.name = r.name
"""

LINK_ABOUT = """
UNWIND $rows AS r
MATCH (m:Memory {id: r.memory_id, user_id: $user_id})
MATCH (t:Topic {id: r.node_id, user_id: $user_id})
MERGE (m)-[:ABOUT]->(t)
"""

LINK_MENTIONS = """
UNWIND $rows AS r
MATCH (m:Memory {id: r.memory_id, user_id: $user_id})
MATCH (e:Entity {id: r.node_id, user_id: $user_id})
MERGE (m)-[:MENTIONS]->(e)
"""


def supersede(node_label: str) -> str:
    """``new`` SUPERSEDES ``old``; the old node stays, closed at ``at`` (first closing wins),
    unless the row inserts ``new`` into the history (``instead_of``: the later version whose
    edge to ``old`` goes, as ``new`` now stands between them)."""
    lbl = label(node_label)
    status = {"Fact": ", old.status = 'superseded'", "Procedure": ", old.status = 'retired'"}
    return f"""
UNWIND $rows AS r
MATCH (new:{lbl} {{id: r.new_id, user_id: $user_id}})
MATCH (old:{lbl} {{id: r.old_id, user_id: $user_id}})
MERGE (new)-[s:SUPERSEDES]->(old)
ON CREATE SET s.at = r.at, s.reason = r.reason
SET old.valid_to = CASE WHEN r.instead_of IS NULL THEN coalesce(old.valid_to, r.at)
                        ELSE r.at END{status.get(node_label, "")}
WITH old, r WHERE r.instead_of IS NOT NULL
OPTIONAL MATCH (:{lbl} {{id: r.instead_of, user_id: $user_id}})-[e:SUPERSEDES]->(old)
DELETE e
"""


def relink_chain(node_label: str, order_key: str, scope_key: str | None = None) -> str:
    """Make the NEXT chain of one user's nodes follow ``order_key``: stale links are removed,
    missing ones merged. Idempotent. With ``scope_key`` (e.g. session_id) there is one chain
    per scope value, for the values in ``$scopes``."""
    lbl, key = label(node_label), prop(order_key)
    if scope_key:
        sk = prop(scope_key)
        head = f"""
MATCH (n:{lbl}) WHERE n.user_id = $user_id AND n.{sk} IN $scopes
WITH n ORDER BY n.{key}, n.id
WITH n.{sk} AS scope, collect(n) AS ns"""
    else:
        head = f"""
MATCH (n:{lbl}) WHERE n.user_id = $user_id
WITH n ORDER BY n.{key}, n.id
WITH collect(n) AS ns"""
    return f"""{head}
CALL (ns) {{
  UNWIND range(0, size(ns) - 1) AS i
  WITH ns[i] AS a, CASE WHEN i + 1 < size(ns) THEN ns[i + 1] END AS b
  MATCH (a)-[r:NEXT]->(x:{lbl})
  WHERE b IS NULL OR x <> b
  DELETE r
}}
CALL (ns) {{
  UNWIND range(0, size(ns) - 2) AS i
  WITH ns[i] AS a, ns[i + 1] AS b
  MERGE (a)-[:NEXT]->(b)
}}
RETURN sum(size(ns)) AS n
"""


def delete_user_nodes(node_label: str) -> str:
    """Every node of one user with this label, in batches (auto-commit transaction)."""
    lbl = label(node_label)
    return f"""
MATCH (n:{lbl}) WHERE n.user_id = $user_id
CALL (n) {{ DETACH DELETE n }} IN TRANSACTIONS OF 5000 ROWS
"""


SET_ANY_EMBEDDINGS = """
UNWIND $rows AS r
MATCH (m:Memory {id: r.id, user_id: r.user_id})
CALL db.create.setNodeVectorProperty(m, 'embedding', r.embedding)
"""
