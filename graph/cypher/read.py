"""Read queries: retrieval signals, expansions, listings, histories, export.

Every query binds ``$user_id`` and filters on it; time windows are predicates on the indexed
``t`` property (``t >= $start AND t < $end``), never applied after the fact in Python. States
true during a window but said before it (facts on a slot) have queries of their own.
"""

from __future__ import annotations

from graph.cypher import label, prop
from schema.model import FULLTEXT_INDEX, IMAGE_VECTOR_INDEX, VECTOR_INDEX

__all__ = [
    "ACTIVE_FACTS",
    "EVENT_TURNS",
    "EXISTING_IDS",
    "FACT_HISTORY",
    "FETCH_MEMORIES",
    "LAST_SESSION",
    "LAST_SESSION_TURNS",
    "LATEST_SNAPSHOT",
    "LIST_MEMORIES",
    "MEMORY_PROVENANCE",
    "PERSONALITY_HISTORY",
    "PREVIOUS_TURNS",
    "PROCEDURES",
    "PROFILE",
    "SAME_DAY",
    "SAME_TOPIC",
    "SESSIONS",
    "SESSION_TURNS",
    "STORED_TURNS",
    "SUPERSEDING",
    "TURN_NEIGHBOURS",
    "USER_EDGES",
    "USER_NAME",
    "USER_VECTOR_COUNT",
    "USER_VECTOR_DAYS",
    "VERSIONED_LABELS",
    "epoch",
    "fulltext_search",
    "image_search",
    "one_record",
    "states_in_window",
    "user_nodes",
    "vector_auto",
    "vector_postfilter",
    "vector_prefilter",
    "vector_search",
    "window_predicate",
    "with_states",
]


def epoch(expr: str) -> str:
    """A stored DateTime as ``[epoch seconds, nanosecond]`` (null stays null): the driver
    hydrates a DateTime in about 0.25 ms here, so hot reads send numbers and
    :func:`graph.rows.from_epoch` rebuilds the same UTC instant."""
    if not expr.replace(".", "").isidentifier():
        raise ValueError(expr)
    return f"CASE WHEN {expr} IS NULL THEN null ELSE [{expr}.epochSeconds, {expr}.nanosecond] END"


#: the fields of a retrieval item; times as epoch pairs (see :func:`epoch`). ``status`` and
#: ``until`` come from FETCH_MEMORIES: a turn whose facts were all replaced is no longer true
MEMORY_FIELDS = (
    "m {.id, .kind, .text, t: " + epoch("m.t") + ", .t_offset, .session_id, .speaker, "
    ".source_id, .keywords, status: status, valid_to: " + epoch("until") + ", .turn_ids, .index, "
    ".image_caption}"
)


def window_predicate(var: str, has_start: bool, has_end: bool) -> str:
    """`` AND var.t >= $start AND var.t < $end`` for the bounds that are set."""
    if not var.isidentifier():
        raise ValueError(var)
    out = ""
    if has_start:
        out += f" AND {var}.t >= $start"
    if has_end:
        out += f" AND {var}.t < $end"
    return out


#: what a candidate query returns per hit: its score and what evidence scoring needs (so
#: turn units do not look the candidates up again)
HIT = "m.id AS id, score, m.kind AS kind, coalesce(m.turn_ids, []) AS turn_ids, m.text AS text"


def _collected(query: str, columns: tuple[str, ...], name: str) -> tuple[str, str]:
    """The query's ``CYPHER 25`` prefix (or "") and its rows collected into a list of maps
    ``name``: ``CALL () { body } WITH collect({...}) AS name``."""
    prefix = "CYPHER 25\n" if query.startswith("CYPHER 25") else ""
    body = query.removeprefix("CYPHER 25").strip()
    fields = ", ".join(f"{c}: {c}" for c in columns)
    return prefix, f"CALL () {{\n{body}\n}}\nWITH collect({{{fields}}}) AS {name}"


def one_record(
    query: str, columns: tuple[str, ...] = ("id", "score", "kind", "turn_ids", "text")
) -> str:
    """The rows of a candidate query as ONE record, a list of maps: the Python driver's cost
    is per record (about 60 us each here), the list is decoded in one go. The query's
    ``CYPHER 25`` prefix, if any, stays in front."""
    prefix, hits = _collected(query, columns, "hits")
    return f"{prefix}{hits}\nRETURN hits"


def with_states(
    query: str, columns: tuple[str, ...], states: str, state_columns: tuple[str, ...]
) -> str:
    """A :func:`one_record` query and the states true during the window
    (:func:`states_in_window`) in ONE statement: ``hits`` and ``states``, each a list of maps
    (one round trip; both read the same ``$vector``). The states are collected inside a
    subquery of their own, so none still gives the one row."""
    prefix, hits = _collected(query, columns, "hits")
    _, true = _collected(states, state_columns, "states")
    return f"{prefix}{hits}\nCALL () {{\n{true}\nRETURN states\n}}\nRETURN hits, states"


def _search_clause(has_start: bool, has_end: bool, *, kinds_in_index: bool) -> str:
    """``MATCH ... SEARCH`` with user, window (and kinds, where the server can) filtered in
    the index, ending in ``WITH m, score`` (kinds filtered there otherwise)."""
    kinds = " AND m.kind IN $kinds" if kinds_in_index else ""
    post = "" if kinds_in_index else " WHERE m.kind IN $kinds"
    return f"""MATCH (m:Memory)
  SEARCH m IN (VECTOR INDEX `{VECTOR_INDEX}` FOR $vector
    WHERE m.user_id = $user_id{window_predicate("m", has_start, has_end)}{kinds}
    LIMIT $depth) SCORE AS score
WITH m, score{post}"""


def _scope_predicate(has_start: bool, has_end: bool) -> str:
    """The user's memories with a vector in the window and kinds (range index (user_id, t))."""
    return (
        f"m.user_id = $user_id{window_predicate('m', has_start, has_end)}\n"
        "  AND m.kind IN $kinds AND m.embedding IS NOT NULL"
    )


def vector_search(has_start: bool, has_end: bool, *, kinds_in_index: bool) -> str:
    """Cypher 25 SEARCH: user, window and kinds filtered INSIDE the vector index."""
    return f"""CYPHER 25
{_search_clause(has_start, has_end, kinds_in_index=kinds_in_index)}
RETURN {HIT}
ORDER BY score DESC
"""


def vector_auto(has_start: bool, has_end: bool, *, kinds_in_index: bool) -> str:
    """One query that picks its path: the scope (the user's memories in the window and
    kinds) is collected up to ``$cutoff + 1``; at most ``$cutoff`` are scored exactly (the
    pre-filter, on the nodes already in hand), more go to the in-index SEARCH. Each row
    names the path that ran and the scope it was chosen by."""
    return f"""CYPHER 25
MATCH (m:Memory)
WHERE {_scope_predicate(has_start, has_end)}
WITH m LIMIT $cutoff + 1
WITH collect(m) AS scope
CALL (scope) {{
  WITH scope WHERE size(scope) <= $cutoff
  UNWIND scope AS m
  WITH m, vector.similarity.cosine(m.embedding, $vector) AS score
  ORDER BY score DESC
  LIMIT $depth
  RETURN m, score, 'prefilter' AS path
  UNION ALL
  WITH scope WHERE size(scope) > $cutoff
  {_search_clause(has_start, has_end, kinds_in_index=kinds_in_index)}
  RETURN m, score, 'search' AS path
}}
RETURN {HIT}, path, size(scope) AS scope
ORDER BY score DESC
"""


def image_search(has_start: bool, has_end: bool, *, search_clause: bool) -> str:
    """Text-to-image: the CLIP text vector against the user's turn images in the window."""
    if search_clause:
        return f"""CYPHER 25
MATCH (m:Turn)
  SEARCH m IN (VECTOR INDEX `{IMAGE_VECTOR_INDEX}` FOR $image_vector
    WHERE m.user_id = $user_id{window_predicate("m", has_start, has_end)}
    LIMIT $depth) SCORE AS score
WITH m, score WHERE score >= $min_score
RETURN {HIT}
ORDER BY score DESC
"""
    return f"""
MATCH (m:Turn)
WHERE m.user_id = $user_id{window_predicate("m", has_start, has_end)}
  AND m.image_embedding IS NOT NULL
WITH m, vector.similarity.cosine(m.image_embedding, $image_vector) AS score
WHERE score >= $min_score
ORDER BY score DESC
LIMIT $depth
RETURN {HIT}
"""


def vector_prefilter(has_start: bool, has_end: bool) -> str:
    """Exact cosine over the user's memories in the window (range index on (user_id, t))."""
    return f"""
MATCH (m:Memory)
WHERE {_scope_predicate(has_start, has_end)}
WITH m, vector.similarity.cosine(m.embedding, $vector) AS score
ORDER BY score DESC
LIMIT $depth
RETURN {HIT}
"""


def vector_postfilter(has_start: bool, has_end: bool, *, search_clause: bool) -> str:
    """Global ANN top-$fetch, THEN the user/window filter: what peers do. Benchmarks only:
    it silently loses a user's results when other users' memories crowd the top-k."""
    if search_clause:
        head = f"""CYPHER 25
MATCH (m:Memory)
  SEARCH m IN (VECTOR INDEX `{VECTOR_INDEX}` FOR $vector LIMIT $fetch) SCORE AS score"""
    else:
        head = (
            f"CALL db.index.vector.queryNodes('{VECTOR_INDEX}', $fetch, $vector) "
            "YIELD node AS m, score"
        )
    return f"""{head}
WITH m, score
WHERE m.user_id = $user_id{window_predicate("m", has_start, has_end)} AND m.kind IN $kinds
RETURN {HIT}
ORDER BY score DESC
LIMIT $depth
"""


def states_in_window(has_start: bool, has_end: bool) -> str:
    """Facts on a slot (where the user lives, works, what they love: states that a newer
    fact on the slot closes) said OUTSIDE the window but true during it: valid from when
    said until ``valid_to`` (open while nothing replaced them); exact cosine against
    ``$vector``, the (user_id, slot) index finds them, a few per slot. Only for a window
    with a start: with an end alone, a fact true before it was said before it (inside)."""
    if not has_start:
        raise ValueError("a state true during a window needs the window's start")
    said_inside = "m.t >= $start" + (" AND m.t < $end" if has_end else "")
    began = "\n  AND coalesce(m.valid_from, m.t) < $end" if has_end else ""
    return f"""
MATCH (m:Fact)
WHERE m.user_id = $user_id AND m.slot IS NOT NULL AND m.embedding IS NOT NULL
  AND NOT ({said_inside}){began}
  AND (m.valid_to IS NULL OR m.valid_to > $start)
WITH m, vector.similarity.cosine(m.embedding, $vector) AS score
ORDER BY score DESC
LIMIT $depth
RETURN {HIT}
"""


def fulltext_search(has_start: bool, has_end: bool) -> str:
    """Lucene over text and keywords. The Lucene string carries ``+tenant:<token>`` so the
    index itself narrows to the user; the Cypher predicate re-checks user_id (the
    authoritative filter) and applies the window and kinds before the LIMIT."""
    return f"""
CALL db.index.fulltext.queryNodes('{FULLTEXT_INDEX}', $lucene) YIELD node AS m, score
WITH m, score
WHERE m.user_id = $user_id{window_predicate("m", has_start, has_end)} AND m.kind IN $kinds
RETURN {HIT}
LIMIT $depth
"""


def entity_mentions(has_start: bool, has_end: bool) -> str:
    """Memories that MENTION entities the query names (``$padded``: the query lower-cased,
    non-alphanumerics as spaces, a space at each end), the most entities named first."""
    return f"""
MATCH (e:Entity)
WHERE e.user_id = $user_id AND $padded CONTAINS (' ' + toLower(e.name) + ' ')
MATCH (m:Memory)-[:MENTIONS]->(e)
WHERE m.user_id = $user_id{window_predicate("m", has_start, has_end)} AND m.kind IN $kinds
WITH m, toFloat(count(DISTINCT e)) AS score
ORDER BY score DESC, m.t DESC
RETURN {HIT}
LIMIT $depth
"""


#: a turn is "superseded" from the last of its facts' replacements, when every fact said in
#: it was replaced ("I love sushi" after "I hate sushi now"); others keep their own status
FETCH_MEMORIES = f"""
UNWIND $ids AS mid
MATCH (m:Memory {{id: mid, user_id: $user_id}})
CALL (m) {{
  OPTIONAL MATCH (f:Fact {{user_id: $user_id}})-[:DERIVED_FROM]->(m)
  WHERE m:Turn
  WITH count(f) AS facts, count(CASE WHEN f.status = 'superseded' THEN 1 END) AS replaced,
       max(f.valid_to) AS last
  RETURN CASE WHEN facts > 0 AND replaced = facts THEN last END AS outdated
}}
WITH m, coalesce(m.valid_to, outdated) AS until,
     coalesce(m.status, CASE WHEN outdated IS NOT NULL THEN 'superseded' END) AS status
RETURN collect({MEMORY_FIELDS}) AS ms
"""

# Server-level (no user data): the memory the server was given, for benchmark reports.
SERVER_MEMORY_SETTINGS = """
SHOW SETTINGS YIELD name, value
WHERE name IN ['server.memory.heap.initial_size', 'server.memory.heap.max_size',
               'server.memory.pagecache.size']
RETURN name, value
"""

STORED_TURNS = """
UNWIND $ids AS mid
MATCH (m:Turn {id: mid, user_id: $user_id})
RETURN m.id AS id, m {.text, .t, .role, .speaker} AS m
"""

#: the user's memories, counted up to ``$cap`` from the (user_id, t) range index alone: every
#: memory has a time, and every stored one its vector (the write embeds what comes without),
#: so this bounds the vector scope from above. Asking ``m.embedding IS NOT NULL`` read each
#: node's vector from the store: 11.7 ms against 1.3 for 151 memories, paid on the first
#: retrieval after every write
USER_VECTOR_COUNT = """
MATCH (m:Memory)
WHERE m.user_id = $user_id AND m.t IS NOT NULL
WITH m LIMIT $cap
RETURN count(m) AS n
"""

#: the user's memories per UTC day (epoch day), up to ``$cap`` of them, from the same index as
#: :data:`USER_VECTOR_COUNT` (6 ms for 1,000 memories; 119 with the embedding check): what
#: the vector planner bounds a window's scope by
USER_VECTOR_DAYS = """
MATCH (m:Memory)
WHERE m.user_id = $user_id AND m.t IS NOT NULL
WITH m.t AS t LIMIT $cap
WITH toInteger(floor(t.epochSeconds / 86400.0)) AS day, count(*) AS n
RETURN collect([day, n]) AS days
"""

EXISTING_IDS = """
UNWIND $ids AS mid
MATCH (m:Memory {id: mid, user_id: $user_id})
RETURN m.id AS id
"""

MEMORY_PROVENANCE = """
UNWIND $ids AS mid
MATCH (m:Memory {id: mid, user_id: $user_id})
RETURN m.id AS id, m.kind AS kind, coalesce(m.turn_ids, []) AS turn_ids, m.text AS text
"""

# one record of lists, not a record per turn: the driver's cost is per record
TURN_NEIGHBOURS = """
UNWIND $ids AS tid
MATCH (t:Turn {id: tid, user_id: $user_id})
OPTIONAL MATCH (t)-[:NEXT]-(n:Turn {user_id: $user_id})
WITH t, collect(n.id) AS near, collect(CASE WHEN n.dated THEN n.id END) AS dated_near
RETURN collect(t.id) AS ids, collect(near) AS neighbours,
       [x IN collect(CASE WHEN t.dated THEN t.id END) WHERE x IS NOT NULL] +
       reduce(acc = [], d IN collect(dated_near) | acc + d) AS dated
"""

EVENT_TURNS = """
UNWIND $ids AS eid
MATCH (e:Event {id: eid, user_id: $user_id})-[:DERIVED_FROM]->(m:Turn {user_id: $user_id})
WITH e, m ORDER BY m.t, m.index
RETURN e.id AS event_id,
       collect(m {.id, .kind, .text, .t, .t_offset, .session_id, .speaker, .source_id, .index,
                  .image_caption}) AS turns
"""

SUPERSEDING = """
UNWIND $ids AS fid
MATCH (old:Fact {id: fid, user_id: $user_id})
MATCH p = (new:Fact {user_id: $user_id})-[:SUPERSEDES*1..10]->(old)
WHERE new.status = 'active'
WITH fid, new AS m, length(p) AS hops ORDER BY hops
WITH fid, collect(m {.id, .kind, .text, .t, .t_offset, .status, .valid_to, .keywords}) AS ms
RETURN fid AS fact_id, ms[0] AS m
"""

SAME_DAY = """
UNWIND $ids AS mid
MATCH (a:Memory {id: mid, user_id: $user_id})-[:ON]->(d:Day {user_id: $user_id})
MATCH (m:Memory {user_id: $user_id})-[:ON]->(d)
WHERE m.id <> a.id AND m.kind IN $kinds AND NOT m.id IN $exclude
WITH mid, d, m ORDER BY abs(duration.inSeconds(a.t, m.t).seconds)
WITH mid, d, collect(m {.id, .kind, .text, .t, .t_offset, .session_id, .speaker, .source_id}) AS all
WITH mid, d, all[..$per_item] AS ms
RETURN mid AS memory_id, toString(d.date) AS via, ms
"""

SAME_TOPIC = """
UNWIND $ids AS mid
MATCH (a:Memory {id: mid, user_id: $user_id})-[:ABOUT]->(tp:Topic {user_id: $user_id})
MATCH (m:Memory {user_id: $user_id})-[:ABOUT]->(tp)
WHERE m.id <> a.id AND m.kind IN $kinds AND NOT m.id IN $exclude
WITH mid, tp, m ORDER BY m.t DESC
WITH mid, tp, collect(m {.id, .kind, .text, .t, .t_offset, .session_id})[..$per_item] AS ms
RETURN mid AS memory_id, tp.name AS via, ms
"""

SESSION_TURNS = """
MATCH (m:Turn {user_id: $user_id, session_id: $session_id})
RETURN m {.*, embedding: CASE WHEN $with_embeddings THEN m.embedding END,
          image_embedding: null} AS m
ORDER BY m.index
"""

#: each session with the UTC offset its first turn was said in (sessions are stored in UTC;
#: listings show them in the user's local time, like the memories)
SESSIONS = """
MATCH (s:Session) WHERE s.user_id = $user_id
  AND ($unconsolidated_only = false OR s.consolidated_at IS NULL)
CALL (s) {
  OPTIONAL MATCH (m:Turn {user_id: $user_id, session_id: s.id})
  WITH m ORDER BY m.index LIMIT 1
  RETURN m.t_offset AS t_offset
}
RETURN s {.*} AS s, t_offset ORDER BY s.start, s.index
"""

LAST_SESSION_TURNS = """
MATCH (m:Turn {user_id: $user_id, session_id: $session_id})
WITH m ORDER BY m.index DESC LIMIT $limit
RETURN m {.*, embedding: null, image_embedding: null} AS m
ORDER BY m.index
"""

LATEST_SNAPSHOT = """
MATCH (s:PersonalitySnapshot) WHERE s.user_id = $user_id
RETURN s {.*} AS s ORDER BY s.step DESC LIMIT 1
"""

USER_NAME = """
MATCH (u:User {id: $user_id, user_id: $user_id})
RETURN u.name AS name, u.timezone AS timezone
"""

LAST_SESSION = """
MATCH (s:Session) WHERE s.user_id = $user_id
RETURN s {.*} AS s ORDER BY s.end DESC, s.index DESC LIMIT 1
"""

LIST_MEMORIES = """
MATCH (m:Memory)
WHERE m.user_id = $user_id AND m.kind IN $kinds
  AND ($start IS NULL OR m.t >= $start) AND ($end IS NULL OR m.t < $end)
RETURN m {.*, embedding: null, image_embedding: null} AS m
ORDER BY m.t, m.index
LIMIT $limit
"""

ACTIVE_FACTS = """
MATCH (m:Fact) WHERE m.user_id = $user_id AND m.status = 'active'
  AND ($slot IS NULL OR m.slot = $slot)
RETURN m {.*, embedding: null} AS m ORDER BY m.t
"""

FACT_HISTORY = """
MATCH (m:Fact) WHERE m.user_id = $user_id AND m.slot = $slot
OPTIONAL MATCH (m)-[:SUPERSEDES]->(old:Fact {user_id: $user_id})
WITH m, collect(old.id) AS supersedes
RETURN m {.*, embedding: null, supersedes: supersedes} AS m
ORDER BY m.valid_from, m.id
"""

VERSIONED_LABELS = """
MATCH (n:Fact|Procedure|ProfileEntry {id: $id, user_id: $user_id})
RETURN labels(n) AS labels
"""

PROCEDURES = """
MATCH (m:Procedure) WHERE m.user_id = $user_id AND ($active_only = false OR m.status = 'active')
RETURN m {.*, embedding: null} AS m ORDER BY m.t
"""

PROFILE = """
MATCH (e:ProfileEntry) WHERE e.user_id = $user_id
RETURN e {.*} AS e ORDER BY e.key, e.version
"""

PERSONALITY_HISTORY = """
MATCH (s:PersonalitySnapshot) WHERE s.user_id = $user_id
RETURN s {.*} AS s ORDER BY s.step
"""


#: the property each label's time slice is cut on (labels absent here are not cut)
_TIME_PROPERTY = {
    "Turn": "t",
    "Event": "t",
    "Fact": "t",
    "Procedure": "t",
    "PersonalitySnapshot": "t",
    "Session": "start",
    "Day": "date",
}


def user_nodes(node_label: str, *, windowed: bool) -> str:
    """All of one user's nodes with one label (seeking the per-label user_id index)."""
    lbl = label(node_label)
    cut = ""
    tprop = _TIME_PROPERTY.get(node_label)
    if windowed and tprop:
        field = f"n.{prop(tprop)}"
        if node_label == "Day":
            cut = (
                f" AND ($start IS NULL OR {field} >= date($start))"
                f" AND ($end IS NULL OR {field} < date($end))"
            )
        else:
            cut = f" AND ($start IS NULL OR {field} >= $start) AND ($end IS NULL OR {field} < $end)"
    return f"""
MATCH (n:{lbl}) WHERE n.user_id = $user_id{cut}
RETURN elementId(n) AS eid, labels(n) AS labels,
       n {{.*, embedding: null, image_embedding: null}} AS props
"""


USER_EDGES = """
UNWIND $eids AS eid
MATCH (a) WHERE elementId(a) = eid
MATCH (a)-[r]->(b) WHERE b.user_id = $user_id
RETURN elementId(a) AS src, elementId(b) AS dst, type(r) AS type, properties(r) AS props
"""

ALL_MEMORIES_PAGE = """
MATCH (m:Memory) WHERE m.kind IN $kinds AND m.id > $after
WITH m ORDER BY m.id LIMIT $limit
OPTIONAL MATCH (p:Turn {user_id: m.user_id, session_id: m.session_id, index: m.index - 1})
WHERE m.kind = 'turn'
RETURN m.id AS id, m.user_id AS user_id, m.text AS text, m.image_caption AS caption,
       m.kind AS kind, m.speaker AS speaker, p.speaker AS prev_speaker, p.text AS prev_text
ORDER BY m.id
"""

# The stored turn before each of some turns (same user and session, index one less): what a
# short turn is embedded with when its predecessor was written in an earlier batch.
PREVIOUS_TURNS = """
UNWIND $rows AS r
MATCH (p:Turn {user_id: $user_id, session_id: r.session_id, index: r.index - 1})
RETURN r.id AS id, p.speaker AS speaker, p.text AS text
"""

EVENT_TURN_IDS_PAGE = """
MATCH (e:Event) WHERE e.id > $after
WITH e ORDER BY e.id LIMIT $limit
MATCH (e)-[:DERIVED_FROM]->(t:Turn) WHERE t.user_id = e.user_id
RETURN e.id AS id, e.user_id AS user_id, collect(t.embedding) AS vectors
"""
