"""Analytics and explorer queries. Every one binds ``$user_id``; times are predicates on the
indexed ``t`` (``memory_user_t``), ``valid_from``/``valid_to`` or a SUPERSEDES edge's ``at``
(reached from the user's own nodes: every query starts from a label's user_id index);
buckets use each memory's local day (``t`` plus the offset it was said in). Plain Cypher 5, so
the 5.26 LTS line runs them too."""

from __future__ import annotations

from graph.cypher import label
from graph.cypher.read import window_predicate
from schema.edges import Supersedes

__all__ = [
    "ACTIVE_AT",
    "ACTIVITY",
    "BETWEEN",
    "DURATION",
    "FACT_CHANGES",
    "PROCEDURE_SPANS",
    "PROFILE_AT",
    "SNAPSHOTS",
    "SUPERSEDING_LABELS",
    "TOPICS",
    "USERS",
    "count_by_label",
    "explorer_view",
    "neighbours",
    "node",
    "provenance",
    "supersession",
]

#: the users of this server (the local UI's user picker; no memory content)
USERS = """
MATCH (u:User)
OPTIONAL MATCH (u)-[:HAS_SESSION]->(s:Session)
RETURN u.id AS id, u.name AS name, count(s) AS sessions
ORDER BY u.id
"""

_LOCAL_DAY = "date(m.t + duration({seconds: coalesce(m.t_offset, 0)}))"


def _per_label(labels: list[str], body: str) -> str:
    """``CALL () { MATCH (n:A) WHERE ... RETURN n UNION ALL MATCH (n:B) ... }``: each branch
    seeks its label's user_id index (a label-free MATCH would scan every node)."""
    parts = [
        f"MATCH (n:{label(name)}) WHERE n.user_id = $user_id{body} RETURN n" for name in labels
    ]
    if not parts:
        raise ValueError("no labels")
    return "CALL () {\n  " + "\n  UNION ALL\n  ".join(parts) + "\n}"


def ACTIVITY(has_start: bool, has_end: bool) -> str:  # noqa: N802 - a query builder
    return f"""
MATCH (m:Memory) WHERE m.user_id = $user_id{window_predicate("m", has_start, has_end)}
WITH date.truncate($unit, {_LOCAL_DAY}) AS period, m.kind AS kind, m.session_id AS sid
RETURN period, kind, count(*) AS n, count(DISTINCT sid) AS sessions
ORDER BY period
"""


def TOPICS(has_start: bool, has_end: bool) -> str:  # noqa: N802
    return f"""
MATCH (m:Memory) WHERE m.user_id = $user_id{window_predicate("m", has_start, has_end)}
MATCH (m)-[:ABOUT]->(tp:Topic) WHERE tp.user_id = $user_id
WITH date.truncate($unit, {_LOCAL_DAY}) AS period, tp.name AS topic
RETURN period, topic, count(*) AS n
ORDER BY period, n DESC
"""


def TAG_LINKS(has_start: bool, has_end: bool) -> str:  # noqa: N802
    """Only what the networkx analytics need: each memory's ABOUT/MENTIONS edges (ids, labels,
    names), one row per edge, instead of the whole exported subgraph."""
    return f"""
MATCH (m:Memory) WHERE m.user_id = $user_id{window_predicate("m", has_start, has_end)}
MATCH (m)-[r:ABOUT|MENTIONS]->(tag) WHERE tag.user_id = $user_id
RETURN m.id AS memory, [x IN labels(m) WHERE x <> 'Memory'][0] AS memory_label,
       tag.id AS tag, labels(tag)[0] AS tag_label, tag.name AS name
"""


#: the labels a SUPERSEDES edge starts from (facts, profile entries, procedures)
SUPERSEDING_LABELS: list[str] = sorted({new for new, _ in Supersedes.pairs})

#: what superseded what: starts from the user's nodes of each superseding label (a user_id
#: index seek per label), never from the SUPERSEDES edges of every user
FACT_CHANGES = f"""
{_per_label(SUPERSEDING_LABELS, "")}
MATCH (n)-[s:SUPERSEDES]->(old)
WHERE old.user_id = $user_id
  AND ($start IS NULL OR s.at >= $start) AND ($end IS NULL OR s.at < $end)
CALL (n) {{
  OPTIONAL MATCH (n)-[:DERIVED_FROM]->(src:Turn)
  RETURN src.t_offset AS src_offset LIMIT 1
}}
RETURN s.at AS at, coalesce(n.t_offset, src_offset) AS t_offset,
       [x IN labels(n) WHERE x <> 'Memory'][0] AS label,
       coalesce(n.slot, n.key) AS slot,
       old.id AS old_id, coalesce(old.text, old.key + ': ' + coalesce(old.value, '')) AS old_text,
       n.id AS new_id, coalesce(n.text, n.key + ': ' + coalesce(n.value, '')) AS new_text,
       coalesce(old.valid_from, old.t) AS old_from
ORDER BY at
"""

PROCEDURE_SPANS = """
MATCH (m:Procedure) WHERE m.user_id = $user_id
RETURN m.id AS id, m.type AS type, m.text AS text, m.t AS start, m.valid_to AS end,
       m.status AS status
ORDER BY m.t
"""

SNAPSHOTS = """
MATCH (s:PersonalitySnapshot) WHERE s.user_id = $user_id
OPTIONAL MATCH (s)-[:DERIVED_FROM]->(t:Turn) WHERE t.user_id = $user_id
RETURN s {.*} AS s, t.text AS turn_text
ORDER BY s.step
"""

#: facts and procedures valid at $at: began before it, not yet closed (indexed on t)
ACTIVE_AT = """
MATCH (m:Memory) WHERE m.user_id = $user_id AND m.t <= $at AND m.kind IN ['fact', 'procedure']
  AND (m.valid_to IS NULL OR m.valid_to > $at)
RETURN m.id AS id, m.kind AS kind, m.t AS t, m.t_offset AS t_offset, m.text AS text,
       m.status AS status, m.valid_to AS valid_to
ORDER BY m.t
"""

PROFILE_AT = """
MATCH (e:ProfileEntry) WHERE e.user_id = $user_id AND e.valid_from <= $at
  AND (e.valid_to IS NULL OR e.valid_to > $at)
RETURN e.key AS key, e.value AS value
ORDER BY e.key
"""


def BETWEEN(has_start: bool, has_end: bool) -> str:  # noqa: N802
    """Memories before / after / between times: the window predicate on the indexed t."""
    return f"""
MATCH (m:Memory) WHERE m.user_id = $user_id{window_predicate("m", has_start, has_end)}
  AND m.kind IN $kinds
RETURN m.id AS id, m.kind AS kind, m.t AS t, m.t_offset AS t_offset, m.text AS text,
       m.status AS status, m.valid_to AS valid_to
ORDER BY m.t
LIMIT $limit
"""


DURATION = """
MATCH (a:Memory {id: $a, user_id: $user_id}), (b:Memory {id: $b, user_id: $user_id})
RETURN a.t AS a_t, b.t AS b_t, duration.between(a.t, b.t) AS d,
       duration.inDays(a.t, b.t).days AS days
"""

_PROPS = "{.*, embedding: null, image_embedding: null, tenant: null, t_month: null}"


def count_by_label(labels: list[str]) -> str:
    return f"""
{_per_label(labels, "")}
RETURN [x IN labels(n) WHERE x <> 'Memory'][0] AS label, count(*) AS n
"""


def _time_cut(has_start: bool, has_end: bool) -> str:
    """The window for the explorer: timed nodes inside it, untimed ones (topics) always."""
    cut = ""
    if has_start:
        cut += " AND (n.t IS NULL OR n.t >= $start)"
    if has_end:
        cut += " AND (n.t IS NULL OR n.t < $end)"
    return cut


def explorer_view(labels: list[str], has_start: bool, has_end: bool) -> str:
    """The explorer's view in one round trip and ONE record: the count of every node that
    matches, the newest ``$limit`` of them (id, label, time as an epoch pair, the fields of a
    caption, cut to 61 characters) and the edges leaving them as ``[type, source, target]``
    (the caller keeps those whose target is shown: a set lookup in Python instead of a list
    scan per relationship in Cypher). Lists of plain values, not records of nodes: the driver
    hydrates a DateTime in ~0.25 ms and a record in ~60 us, which was most of a 2,000-node
    view's time."""
    cut = _time_cut(has_start, has_end)
    caption = "[x IN [n.text, n.name, n.key, n.source_id] WHERE x IS NOT NULL AND x <> ''][0]"
    return f"""
CALL () {{
  {_per_label(labels, cut)}
  RETURN count(n) AS total
}}
CALL () {{
  {_per_label(labels, cut)}
  WITH n ORDER BY coalesce(n.t, n.start, datetime({{epochSeconds: 0}})) DESC, n.id
  LIMIT $limit
  RETURN collect(n) AS ns
}}
CALL (ns) {{
  UNWIND ns AS a
  MATCH (a)-[r]->(b) WHERE b.user_id = $user_id
  RETURN collect([type(r), a.id, b.id]) AS edges
}}
RETURN total, edges,
       [n IN ns | [n.id, [x IN labels(n) WHERE x <> 'Memory'][0],
                   coalesce(n.t, n.start).epochSeconds, coalesce(n.t, n.start).nanosecond,
                   left(toString({caption}), 61), toString(n.date), n.step, n.user_id]] AS nodes
"""


def node(node_label: str) -> str:
    return f"""
MATCH (n:{label(node_label)} {{id: $id}}) WHERE n.user_id = $user_id
RETURN n.id AS id, [x IN labels(n) WHERE x <> 'Memory'][0] AS label, n {_PROPS} AS props
"""


def provenance(node_label: str) -> str:
    return f"""
MATCH (n:{label(node_label)} {{id: $id}})-[:DERIVED_FROM]->(t:Turn)
WHERE n.user_id = $user_id AND t.user_id = $user_id
RETURN t.id AS id, 'Turn' AS label, t {_PROPS} AS props
ORDER BY t.t
"""


def supersession(node_label: str) -> str:
    """Every version linked to the node by SUPERSEDES, oldest first."""
    lbl = label(node_label)
    return f"""
MATCH (n:{lbl} {{id: $id}}) WHERE n.user_id = $user_id
MATCH (n)-[:SUPERSEDES*0..50]-(c:{lbl}) WHERE c.user_id = $user_id
WITH DISTINCT c
RETURN c.id AS id, '{node_label}' AS label, c {_PROPS} AS props
ORDER BY coalesce(c.valid_from, c.t), c.id
"""


def neighbours(node_label: str) -> str:
    return f"""
MATCH (n:{label(node_label)} {{id: $id}})-[r]-(m) WHERE n.user_id = $user_id
  AND m.user_id = $user_id
RETURN CASE WHEN startNode(r) = n THEN 'out' ELSE 'in' END AS direction, type(r) AS type,
       m.id AS id, [x IN labels(m) WHERE x <> 'Memory'][0] AS label, m {_PROPS} AS props
ORDER BY type, coalesce(m.t, m.start)
LIMIT $limit
"""
