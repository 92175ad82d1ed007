"""Pure parts of hybrid retrieval: the safe Lucene query, the tenant token, rank fusion."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence

__all__ = ["MAX_TERMS", "RRF_K", "escape_lucene", "lucene_query", "rrf", "tenant_token"]

RRF_K = 60
MAX_TERMS = 48  # far below Lucene's 1024-clause limit even with two fields per term
_LUCENE_SPECIAL = re.compile(r'([+\-&|!(){}\[\]^"~*?:\\/])')
_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)?", re.UNICODE)
_STOP = frozenset(
    (
        "a an and are as at be but by for from had has have he her hers him his how i if in into "
        "is it its me my no not of on or our ours she so than that the their them then there "
        "these they this to was we were what when where which who whom why will with you your "
        "yours did do does doing am been being can could would should shall may might must"
    ).split()
)


def tenant_token(user_id: str) -> str:
    """A digits-only token for the user (no analyzer can split or stem it).

    >>> tenant_token("alice") == tenant_token("alice") != tenant_token("bob")
    True
    """
    return "t" + str(int(hashlib.sha256(user_id.encode("utf-8")).hexdigest()[:15], 16))


def escape_lucene(term: str) -> str:
    r"""Backslash-escape Lucene's special characters.

    >>> escape_lucene('a+b (c) "d" *:x')
    'a\\+b \\(c\\) \\"d\\" \\*\\:x'
    """
    return _LUCENE_SPECIAL.sub(r"\\\1", term)


def terms(text: str) -> list[str]:
    """Lowercased word tokens without stopwords, in order, without repeats."""
    seen: dict[str, None] = {}
    for raw in _WORD.findall(text.lower()):
        word = raw.replace("’", "'").split("'")[0]
        if len(word) > 1 and word not in _STOP:
            seen.setdefault(word, None)
    return list(seen)


def lucene_query(user_id: str, query: str, keywords: Sequence[str] = ()) -> str | None:
    """A Lucene query that can only match this user's memories and cannot be injected.

    User text never reaches Lucene's parser as syntax: it is reduced to word tokens, each
    escaped, joined by OR (Lucene's default); operators such as AND/OR/NOT are lowercased and
    so are plain words. Keywords are boosted. Returns None when no searchable term remains.

    >>> q = lucene_query("u", "Dentist in March?", ["teeth"])
    >>> q.endswith("keywords:(teeth dentist march)^2)")
    True
    >>> lucene_query("u", "the of and") is None
    True
    """
    kw_terms = terms(" ".join(keywords))
    all_terms = list(dict.fromkeys([*kw_terms, *terms(query)]))[:MAX_TERMS]
    if not all_terms:
        return None
    body = " ".join(escape_lucene(t) for t in all_terms)
    return (
        f"+tenant:{tenant_token(user_id)} "
        f"+(text:({body}) OR speaker:({body}) OR image_caption:({body}) OR keywords:({body})^2)"
    )


def rrf(
    rankings: Mapping[str, Sequence[str]],
    *,
    k: int = RRF_K,
    weights: dict[str, float] | None = None,
) -> list[tuple[str, float, dict[str, int]]]:
    """Reciprocal rank fusion: score(d) = sum_s w_s / (k + rank_s(d)), ranks from 1.

    Returns (id, fused score, {signal: rank}) best first; ties keep first-seen order.

    >>> [d for d, _, _ in rrf({"a": ["x", "y"], "b": ["y", "z"]})]
    ['y', 'x', 'z']
    """
    scores: dict[str, float] = {}
    ranks: dict[str, dict[str, int]] = {}
    for signal, ids in rankings.items():
        w = (weights or {}).get(signal, 1.0)
        for position, doc in enumerate(_unique(ids), start=1):
            scores[doc] = scores.get(doc, 0.0) + w / (k + position)
            ranks.setdefault(doc, {})[signal] = position
    order = sorted(scores, key=lambda d: -scores[d])
    return [(d, scores[d], ranks[d]) for d in order]


def _unique(ids: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(ids))
