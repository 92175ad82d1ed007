"""Pure parts of hybrid retrieval: reciprocal rank fusion and the injection-proof Lucene query."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from graph.candidates import DayCounts
from graph.retrieval import (
    MAX_TERMS,
    MAX_WINDOW_MONTHS,
    RRF_K,
    escape_lucene,
    lucene_query,
    month_token,
    rrf,
    tenant_token,
    window_months,
)

# ----------------------------------------------------------------------------- RRF
_ids = st.sampled_from([f"m{i}" for i in range(12)])
_rankings = st.dictionaries(
    st.sampled_from(["vector", "fulltext", "image"]), st.lists(_ids, max_size=15), max_size=3
)


def _first_rank(ids: list[str], doc: str) -> int | None:
    """1-based rank among the distinct ids (a repeated id counts once, where first seen)."""
    distinct = list(dict.fromkeys(ids))
    return distinct.index(doc) + 1 if doc in distinct else None


@given(_rankings)
def test_rrf_returns_each_document_once_best_first(rankings: dict[str, list[str]]) -> None:
    fused = rrf(rankings)
    ids = [d for d, _, _ in fused]
    assert len(ids) == len(set(ids))
    assert set(ids) == {d for lst in rankings.values() for d in lst}
    scores = [s for _, s, _ in fused]
    assert scores == sorted(scores, reverse=True)


@given(_rankings)
def test_rrf_ranks_are_first_positions_from_one(rankings: dict[str, list[str]]) -> None:
    for doc, score, ranks in rrf(rankings):
        expected = {
            name: r for name, lst in rankings.items() if (r := _first_rank(lst, doc)) is not None
        }
        assert ranks == expected
        assert score == pytest.approx(sum(1 / (RRF_K + r) for r in expected.values()))


@given(_rankings)
def test_rrf_respects_dominance(rankings: dict[str, list[str]]) -> None:
    """A document that appears in every signal another one appears in, at a rank at least as
    good, is never ordered after it."""
    fused = rrf(rankings)
    position = {d: i for i, (d, _, _) in enumerate(fused)}
    ranks = {d: r for d, _, r in fused}
    for a, ra in ranks.items():
        for b, rb in ranks.items():
            if a == b:
                continue
            if all(s in ra and ra[s] <= rb[s] for s in rb):
                strictly = len(ra) > len(rb) or any(ra[s] < rb[s] for s in rb)
                if strictly:
                    assert position[a] < position[b], (a, b, rankings)


@given(st.lists(_ids, min_size=1, max_size=15))
def test_rrf_single_signal_keeps_its_order(ids: list[str]) -> None:
    assert [d for d, _, _ in rrf({"vector": ids})] == list(dict.fromkeys(ids))


def test_rrf_ties_keep_first_seen_order_and_weights_apply() -> None:
    assert [d for d, _, _ in rrf({"a": ["x", "y"], "b": ["y", "x"]})] == ["x", "y"]
    assert [d for d, _, _ in rrf({"a": ["y", "x"], "b": ["x", "y"]})] == ["y", "x"]
    weighted = rrf({"a": ["x", "y"], "b": ["y", "x"]}, weights={"b": 2.0})
    assert [d for d, _, _ in weighted] == ["y", "x"]
    assert rrf({}) == []
    assert rrf({"a": [], "b": []}) == []


def test_rrf_agreement_beats_a_single_top_rank() -> None:
    fused = rrf({"vector": ["solo", "both"], "fulltext": ["both"]})
    assert [d for d, _, _ in fused] == ["both", "solo"]


# ----------------------------------------------------------------------------- Lucene
_SPECIAL = set('+-&|!(){}[]^"~*?:\\/')


def _unescaped(text: str) -> list[str]:
    """The characters of a Lucene string that are NOT backslash-escaped."""
    out, i = [], 0
    while i < len(text):
        if text[i] == "\\":
            i += 2
            continue
        out.append(text[i])
        i += 1
    return out


_FRAME = re.compile(r"^\+tenant:(?P<tenant>t\d+) \+\((?P<inner>.*)\)$", re.S)
_CLAUSE = re.compile(r"^(?P<field>[a-z_]+):\((?P<body>.*)\)(?:\^(?P<boost>\d+))?$", re.S)


def _frame(query: str) -> tuple[str, dict[str, str]]:
    """``+tenant:<token> +(f1:(body) OR f2:(body) ...)`` -> (token, {field: body})."""
    m = _FRAME.match(query)
    assert m, query
    clauses = {}
    for part in m["inner"].split(" OR "):  # terms are lowercase: " OR " is only the operator
        c = _CLAUSE.match(part)
        assert c, part
        clauses[c["field"]] = c["body"]
    return m["tenant"], clauses


ADVERSARIAL = [
    "*:*",
    "tenant:*",
    "user_id:B",
    '") OR (',
    "\\",
    "~",
    "AND OR NOT",
    "+tenant:t1 OR *",
    "text:(a) OR tenant:(t123)",
    "a AND b OR c NOT d && e || f",
    "fuzzy~2 wild* ques? [a TO z] {a TO z} ^3 /regex/",
    "' OR 1=1 //",
    "}) MATCH (n) RETURN n //",
    "Ünïcödé wörds 東京 ١٢٣ émoji 🐶",
    " ".join(f"term{i}" for i in range(5000)),
    "x" * 50_000,
]


def _check_safe(user_id: str, query: str, keywords: list[str]) -> None:
    out = lucene_query(user_id, query, keywords)
    if out is None:
        return
    tenant, clauses = _frame(out)
    assert tenant == tenant_token(user_id)
    assert "text" in clauses
    assert "tenant" not in clauses, "user text never reaches the tenant field"
    bodies = set(clauses.values())
    assert len(bodies) == 1, clauses
    body = bodies.pop()
    terms = body.split(" ")
    assert 1 <= len(terms) <= MAX_TERMS
    assert len(terms) == len(set(terms))
    for term in terms:
        # every term is one escaped word: no operator, field, wildcard, group or quote
        assert term, out
        assert not (_SPECIAL & set(_unescaped(term))), term
        assert term not in ("AND", "OR", "NOT", "TO")
        assert not any(ch.isspace() for ch in term)
    # the structure around the body is balanced and the body adds no structure
    assert _unescaped(out).count("(") == _unescaped(out).count(")") == 1 + len(clauses)


@pytest.mark.parametrize("text", ADVERSARIAL, ids=range(len(ADVERSARIAL)))
def test_lucene_query_is_safe_for_adversarial_text(text: str) -> None:
    _check_safe("alice", text, [])
    _check_safe("alice", "dentist", [text])
    _check_safe("alice", text, [text, text])


@given(query=st.text(max_size=300), keywords=st.lists(st.text(max_size=30), max_size=5))
@example(query="*:*", keywords=["tenant:*"])
@example(query='") OR (', keywords=["\\"])
def test_lucene_query_never_yields_an_unsafe_query(query: str, keywords: list[str]) -> None:
    _check_safe("user-1", query, keywords)


@given(st.text(max_size=200))
def test_escape_lucene_leaves_no_special_character_unescaped(text: str) -> None:
    escaped = escape_lucene(text)
    assert not (_SPECIAL & set(_unescaped(escaped)))
    # escaping is reversible: drop each escaping backslash
    assert re.sub(r"\\(.)", r"\1", escaped, flags=re.S) == text


def test_lucene_query_content() -> None:
    q = lucene_query("alice", "When did I see the Dentist?", ["teeth", "Dentist"])
    assert q is not None
    body = _frame(q)[1]["text"]
    # keywords first, lowercased, deduplicated, stopwords dropped
    assert body.split(" ") == ["teeth", "dentist", "see"]
    assert lucene_query("alice", "the of and AND OR NOT", []) is None
    assert lucene_query("alice", "", []) is None
    assert lucene_query("alice", "x", []) is None  # one-letter words are not searched
    many = lucene_query("alice", " ".join(f"w{i}" for i in range(500)))
    assert many is not None
    assert len(_frame(many)[1]["text"].split(" ")) == MAX_TERMS


def test_tenant_token_is_a_single_digit_token_per_user() -> None:
    a, b = tenant_token("alice"), tenant_token("bob")
    assert a != b
    assert a == tenant_token("alice")
    for tok in (a, b, tenant_token("x" * 1000), tenant_token("名前")):
        assert re.fullmatch(r"t\d+", tok)


# ------------------------------------------------------------- month narrowing of full-text
def test_window_months_cover_every_utc_month_the_window_touches() -> None:
    minus5 = timezone(timedelta(hours=-5))
    # 31 May 21:00 at -05:00 is 1 June 02:00 UTC: the stored time is UTC, so is the token
    assert month_token(datetime(2023, 5, 31, 21, 0, tzinfo=minus5)) == "m202306"
    assert window_months(
        datetime(2023, 5, 31, 21, 0, tzinfo=minus5), datetime(2023, 6, 2, tzinfo=UTC)
    ) == ["m202306"]
    # the end is exclusive: a window ending at midnight on 1 March does not touch March
    assert window_months(datetime(2023, 12, 15, tzinfo=UTC), datetime(2024, 3, 1, tzinfo=UTC)) == [
        "m202312",
        "m202401",
        "m202402",
    ]
    assert window_months(
        datetime(2024, 3, 1, tzinfo=UTC), datetime(2024, 3, 1, 0, 0, 1, tzinfo=UTC)
    ) == ["m202403"]
    # open or very wide windows are left to the Cypher filter
    assert window_months(None, datetime(2024, 1, 1, tzinfo=UTC)) is None
    assert window_months(datetime(2024, 1, 1, tzinfo=UTC), None) is None
    wide_end = datetime(2024, 1, 1, tzinfo=UTC) + timedelta(days=31 * MAX_WINDOW_MONTHS + 31)
    assert window_months(datetime(2024, 1, 1, tzinfo=UTC), wide_end) is None
    edge = window_months(datetime(2020, 1, 1, tzinfo=UTC), datetime(2023, 1, 1, tzinfo=UTC))
    assert edge is not None and len(edge) == MAX_WINDOW_MONTHS == 36


@given(
    start=st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2090, 1, 1)),
    length=st.timedeltas(min_value=timedelta(seconds=1), max_value=timedelta(days=1000)),
    inside=st.integers(min_value=0, max_value=10**15),
    offset_h=st.integers(min_value=-12, max_value=14),
)
def test_a_time_inside_the_window_has_one_of_its_month_tokens(
    start: datetime, length: timedelta, inside: int, offset_h: int
) -> None:
    begin = start.replace(tzinfo=timezone(timedelta(hours=offset_h)))
    end = begin + length
    months = window_months(begin, end)
    if months is None:
        return  # wider than MAX_WINDOW_MONTHS: no narrowing at all
    t = begin + timedelta(microseconds=inside % (length // timedelta(microseconds=1)))
    assert begin <= t < end
    assert month_token(t) in months
    assert len(months) == len(set(months)) <= MAX_WINDOW_MONTHS


def test_the_month_clause_is_required_scoreless_and_never_user_text() -> None:
    q = lucene_query("alice", "dentist", months=["m202305", "m202306"])
    assert q is not None
    base = lucene_query("alice", "dentist")
    assert q == f"{base} +t_month:(m202305 m202306)^0"
    for bad in (["m2023) OR (x"], ["*"], ["202305"], ["m1"]):
        with pytest.raises(ValueError, match="not month tokens"):
            lucene_query("alice", "dentist", months=bad)
    # no window, no clause: the frame the safety checks above parse stays as it was
    assert "t_month" not in (lucene_query("alice", "dentist", months=None) or "")
    assert "t_month" not in (lucene_query("alice", "dentist", months=[]) or "")


# ----------------------------------------------------------------------------- day counts
_DAY_S = 86400
_ORIGIN = datetime(2022, 1, 1, tzinfo=UTC)  # epoch day 18993


@given(
    per_day=st.dictionaries(st.integers(18990, 19060), st.integers(1, 9), max_size=20),
    start_s=st.one_of(st.none(), st.integers(0, _DAY_S * 70)),
    length_s=st.one_of(st.none(), st.integers(1, _DAY_S * 30)),
)
@example(per_day={18993: 4}, start_s=0, length_s=_DAY_S)  # exactly one whole day
@example(per_day={18993: 4, 18994: 2}, start_s=_DAY_S // 2, length_s=_DAY_S)  # cuts both
def test_day_counts_bound_every_window_as_their_definition_says(
    per_day: dict[int, int], start_s: int | None, length_s: int | None
) -> None:
    """The vector planner settles a path from these bounds; each must equal its definition
    (memories on the days a half-open window touches, and on the days it covers whole) for
    windows cutting days anywhere, open at either end, or missing every day."""
    start = _ORIGIN + timedelta(seconds=start_s) if start_s is not None else None
    end = (start or _ORIGIN) + timedelta(seconds=length_s) if length_s is not None else None
    lo = start.timestamp() if start else float("-inf")
    hi = end.timestamp() if end else float("inf")
    touched = sum(n for d, n in per_day.items() if (d + 1) * _DAY_S > lo and d * _DAY_S < hi)
    covered = sum(n for d, n in per_day.items() if d * _DAY_S >= lo and (d + 1) * _DAY_S <= hi)
    assert DayCounts(per_day).bounds(start, end) == (touched, covered)
