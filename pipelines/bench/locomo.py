"""LoCoMo retrieval quality, with the baselines in the same run.

Each conversation is ingested as its own user through the normal ingest path (model-free
extraction). Every question's retrieval is scored with LoCoMo's official recall: the fraction
of its evidence dia_ids found in the retrieved context, at k = 5/10/25/50 where k counts TURNS
of context (an episode that brings six turns spends six; a fact spends its source turn), and
at token budgets of rendered context. Baselines on the same turns, same embedder: BM25 over
turns (bm25s), dense cosine over turns (MiniLM), their RRF, and the full history.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import bm25s
import numpy as np

from graph.retrieval import rrf
from pipelines.bench.common import (
    Report,
    line_plot,
    percentiles,
    table,
    timed,
)
from pipelines.formats import load
from pipelines.ingest import ingest_conversation
from schema.nodes import MemoryKind
from schema.protocols import Embedder, MemoryStore
from schema.retrieval import RetrievalRequest, VectorPath
from schema.timeutil import asks_when

__all__ = ["BUDGETS", "CATEGORIES", "KS", "QA", "parse_evidence", "recall", "run_locomo"]

KS = (5, 10, 25, 50)
BUDGETS = (500, 1000, 2000)
CATEGORIES = {1: "multi-hop", 2: "temporal", 3: "open-domain", 4: "single-hop", 5: "adversarial"}


def parse_evidence(raw: Iterable[str]) -> list[str]:
    """Normalise LoCoMo's evidence ids, including its known malformed ones.

    >>> parse_evidence(["D8:6; D9:17", "D:11:26", "D", "D1:3"])
    ['D8:6', 'D9:17', 'D11:26', 'D1:3']
    """
    out: list[str] = []
    for item in raw:
        for part in re.split(r"[;,]\s*", str(item)):
            m = re.fullmatch(r"D:?(\d+):(\d+)", part.strip())
            if m:
                out.append(f"D{m.group(1)}:{m.group(2)}")
    return list(dict.fromkeys(out))


def recall(evidence: Sequence[str], context: Sequence[str]) -> float:
    """Official metric: fraction of evidence ids in the context; no evidence counts 1.

    >>> recall(["D1:1", "D1:2"], ["D1:2", "D9:9"])
    0.5
    >>> recall([], ["D1:1"])
    1.0
    """
    if not evidence:
        return 1.0
    ctx = set(context)
    return sum(1 for e in evidence if e in ctx) / len(evidence)


@dataclass
class QA:
    sample: str
    question: str
    category: int
    evidence: list[str]


@dataclass
class Conversation:
    sample: str
    user_id: str
    turns: list[dict[str, Any]]  # dia_id, speaker, text, caption, date, rendered
    qas: list[QA]


@dataclass
class MethodResult:
    name: str
    recalls: dict[int, list[float]] = field(default_factory=lambda: defaultdict(list))
    budget_recalls: dict[int, list[float]] = field(default_factory=lambda: defaultdict(list))
    categories: list[int] = field(default_factory=list)
    tokens_at_10: list[int] = field(default_factory=list)
    latency_ms: list[float] = field(default_factory=list)

    def add(self, qa: QA, ranked: Sequence[str], tokens: dict[str, int], ms: float) -> None:
        ranked = list(dict.fromkeys(ranked))
        self.categories.append(qa.category)
        for k in KS:
            self.recalls[k].append(recall(qa.evidence, ranked[:k]))
        for budget in BUDGETS:
            used, ctx = 0, []
            for d in ranked:
                cost = tokens.get(d, 0)
                if used + cost > budget:
                    break
                used += cost
                ctx.append(d)
            self.budget_recalls[budget].append(recall(qa.evidence, ctx))
        self.tokens_at_10.append(sum(tokens.get(d, 0) for d in ranked[:10]))
        self.latency_ms.append(ms)

    def summary(self) -> dict[str, Any]:
        cats = np.asarray(self.categories)
        out: dict[str, Any] = {"overall": {}, "by_category": {}, "budget": {}}
        for k in KS:
            vals = np.asarray(self.recalls[k])
            out["overall"][f"r@{k}"] = round(100 * float(vals.mean()), 1)
            for c, name in CATEGORIES.items():
                sel = vals[cats == c]
                out["by_category"].setdefault(name, {})[f"r@{k}"] = (
                    round(100 * float(sel.mean()), 1) if len(sel) else None
                )
        for b in BUDGETS:
            out["budget"][f"{b} tokens"] = round(100 * float(np.mean(self.budget_recalls[b])), 1)
        out["tokens_at_10"] = round(float(np.mean(self.tokens_at_10)), 1)
        out["latency_ms_p50"] = round(float(np.percentile(self.latency_ms, 50)), 2)
        out["latency_ms_p95"] = round(float(np.percentile(self.latency_ms, 95)), 2)
        out["questions"] = len(self.categories)
        return out


def load_conversations(
    path: Path, limit_conversations: int | None, limit_questions: int | None, user_prefix: str
) -> list[Conversation]:
    data = json.loads(path.read_text())
    convs = []
    for sample in data[: limit_conversations or len(data)]:
        sid = sample["sample_id"]
        c = sample["conversation"]
        turns = []
        for key in sorted(
            (k for k in c if re.fullmatch(r"session_\d+", k)), key=lambda k: int(k.split("_")[1])
        ):
            date = c.get(f"{key}_date_time", "")
            for t in c[key]:
                caption = t.get("blip_caption")
                rendered = f'({date}) {t["speaker"]} said, "{t["text"]}"' + (
                    f" and shared {caption}." if caption else ""
                )
                turns.append(
                    {
                        "dia_id": t["dia_id"],
                        "speaker": t["speaker"],
                        "text": t["text"],
                        "caption": caption,
                        "date": date,
                        "rendered": rendered,
                    }
                )
        qas = [
            QA(sid, q["question"], int(q["category"]), parse_evidence(q.get("evidence", [])))
            for q in sample["qa"]
        ]
        convs.append(
            Conversation(sid, f"{user_prefix}{sid}", turns, qas[: limit_questions or len(qas)])
        )
    return convs


def _token_counter(embedder: Any) -> Callable[[str], int]:
    """Tokens as the embedder's own tokenizer counts them (offline; documented in reports)."""
    return embedder.count_tokens


class _Baselines:
    """BM25, dense and RRF over the conversation's rendered turns."""

    def __init__(self, conv: Conversation, embedder: Embedder) -> None:
        self.ids = [t["dia_id"] for t in conv.turns]
        texts = [t["rendered"] for t in conv.turns]
        self.stemmer = _stemmer()
        self.retriever = bm25s.BM25()
        self.retriever.index(
            bm25s.tokenize(texts, stopwords="en", stemmer=self.stemmer, show_progress=False),
            show_progress=False,
        )
        self.embedder = embedder
        self.vectors = embedder.embed(texts)

    def bm25(self, question: str, n: int = 50) -> list[str]:
        q = bm25s.tokenize([question], stopwords="en", stemmer=self.stemmer, show_progress=False)
        docs, _ = self.retriever.retrieve(q, k=min(n, len(self.ids)), show_progress=False)
        return [self.ids[i] for i in docs[0]]

    def dense(self, question: str, n: int = 50, vec: np.ndarray | None = None) -> list[str]:
        v = vec if vec is not None else self.embedder.embed_queries([question])[0]
        order = np.argsort(-(self.vectors @ v))[:n]
        return [self.ids[i] for i in order]


def _stemmer() -> Any:
    import Stemmer

    return Stemmer.Stemmer("english").stemWords


#: untimed questions per conversation before the timed run
WARMUP = 20
STAGES = ("embed", "vector", "fulltext", "vector_wait", "embed_wait", "hydrate", "total")


def personagraph_ranking(
    store: MemoryStore,
    user_id: str,
    question: str,
    *,
    k: int = 50,
    stages: dict[str, list[float]] | None = None,
    lever: str | None = None,
) -> list[str]:
    """The product's retrieval in turn units: raw turns as evidence, each scored by the turns,
    facts and episodes that point at it (provenance) and by its dialogue neighbours. The
    store's own timings are appended to ``stages`` (ms per stage) when given."""
    result = store.retrieve(
        RetrievalRequest(
            user_id=user_id,
            query=question,
            k=k,
            unit="turn",
            expand=[],
            prefer_dated=asks_when(question),
            # the default row is fusion alone; the rerank lever adds a configured reranker
            **({"rerank": False} | (LEVERS[lever].request if lever else {})),
        )
    )
    if stages is not None:
        for name in STAGES:
            stages.setdefault(name, []).append(result.timings_ms.get(name, 0.0))
    return [item.source_id for item in result.items if item.source_id]


@dataclass(frozen=True)
class Lever:
    """One change to the default retrieval, measured alone beside it in the same run."""

    label: str  # the report's name for the variant
    help: str
    request: dict[str, Any]


_KINDS = [MemoryKind.TURN, MemoryKind.EVENT, MemoryKind.FACT, MemoryKind.PROCEDURE]

#: retrieval levers that can be measured alone beside the default, in the same run
#: (``persona bench locomo --lever NAME``, repeatable): each is a change to the request,
#: adding a part the default leaves out or taking out one it has (an ablation)
LEVERS: dict[str, Lever] = {
    "entity": Lever(
        "PersonaGraph + entity",
        "a fourth signal: memories that MENTION an entity the question names",
        {"signals": ["vector", "fulltext", "image", "entity"]},
    ),
    "exact": Lever(
        "PersonaGraph, exact vectors",
        "the exact pre-filter scan for every question instead of the planner's choice",
        {"vector_path": VectorPath.PREFILTER},
    ),
    "without-episodes": Lever(
        "PersonaGraph without episodes",
        "no episode (Event) units voting for the turns they cover",
        {"kinds": [k for k in _KINDS if k != MemoryKind.EVENT]},
    ),
    "without-facts": Lever(
        "PersonaGraph without facts",
        "no facts, habits or goals voting for the turns they came from",
        {"kinds": [MemoryKind.TURN, MemoryKind.EVENT]},
    ),
    "turns-only": Lever(
        "PersonaGraph, turns only",
        "raw turns alone: no derived memory votes",
        {"kinds": [MemoryKind.TURN]},
    ),
    "without-vector": Lever(
        "PersonaGraph without vectors",
        "full-text alone (with neighbours and derived memories)",
        {"signals": ["fulltext", "image"]},
    ),
    "rerank": Lever(
        "PersonaGraph + rerank",
        "the top PERSONA_RERANK_DEPTH candidates re-ordered by the PERSONA_RERANKER cross-encoder",
        {"rerank": True},
    ),
    "without-fulltext": Lever(
        "PersonaGraph without full-text",
        "vectors alone (with neighbours and derived memories)",
        {"signals": ["vector", "image"]},
    ),
}


def run_locomo(
    *,
    data: Path,
    store: MemoryStore,
    embedder: Embedder,
    out_dir: Path,
    limit_conversations: int | None = None,
    limit_questions: int | None = None,
    levers: Sequence[str] = (),
    user_prefix: str = "bench-locomo-",
    progress: Callable[[str, int, int], None] | None = None,
) -> Report:
    report = Report(name="locomo", title="LoCoMo retrieval recall (turn units)")
    say = progress or (lambda _t, _i, _n: None)
    unknown = [lv for lv in levers if lv not in LEVERS]
    if unknown:
        raise ValueError(f"unknown lever {unknown[0]!r}: use {', '.join(LEVERS)}")
    convs = load_conversations(data, limit_conversations, limit_questions, user_prefix)
    count = _token_counter(embedder)
    names = ["PersonaGraph", *(LEVERS[lv].label for lv in levers)]
    methods = {name: MethodResult(name) for name in (*names, "BM25", "Dense", "RRF(BM25, dense)")}
    full_history: list[int] = []
    stages: dict[str, list[float]] = {}
    ingest_s = 0.0
    with timed() as total:
        loaded = {c.source: c for c in load(data, "locomo")}
        for i, conv in enumerate(convs):
            say(f"ingest {conv.sample}", i, len(convs))
            loaded_conv = loaded[conv.sample]
            loaded_conv = type(loaded_conv)(
                conv.user_id, None, loaded_conv.record, loaded_conv.source, loaded_conv.base_dir
            )
            store.delete_user(conv.user_id)  # measure a real ingest of the current code
            with timed() as t_ing:
                ingest_conversation(loaded_conv, store=store, embedder=embedder)
            ingest_s += t_ing.ms / 1000
        # warm-up, untimed: a server just started compiles its query plans and JITs on the
        # first questions (a fresh bench home measured p95 37 ms cold against ~20 warm)
        for conv in convs:
            for qa in conv.qas[:WARMUP]:
                personagraph_ranking(store, conv.user_id, qa.question)
        for conv in convs:
            tokens = {t["dia_id"]: count(t["rendered"]) for t in conv.turns}
            history_tokens = sum(tokens.values())
            base = _Baselines(conv, embedder)
            for j, qa in enumerate(conv.qas):
                if j % 20 == 0:
                    say(f"questions {conv.sample}", j, len(conv.qas))
                with timed() as t:
                    ranked = personagraph_ranking(store, conv.user_id, qa.question, stages=stages)
                methods["PersonaGraph"].add(qa, ranked, tokens, t.ms)
                for lv in levers:
                    with timed() as t:
                        alt = personagraph_ranking(store, conv.user_id, qa.question, lever=lv)
                    methods[LEVERS[lv].label].add(qa, alt, tokens, t.ms)
                with timed() as t:
                    b = base.bm25(qa.question)
                methods["BM25"].add(qa, b, tokens, t.ms)
                with timed() as t:
                    d = base.dense(qa.question)
                methods["Dense"].add(qa, d, tokens, t.ms)
                with timed() as t:
                    fused = [doc for doc, _, _ in rrf({"bm25": b, "dense": d})]
                methods["RRF(BM25, dense)"].add(qa, fused, tokens, t.ms)
                full_history.append(history_tokens)
    report.elapsed_s = total.ms / 1000
    report.describe_server(store)
    summaries = {name: m.summary() for name, m in methods.items()}
    full_tokens = float(np.mean(full_history)) if full_history else 0.0
    report.settings = {
        "data": str(data),
        "conversations": [c.sample for c in convs],
        "questions": sum(len(c.qas) for c in convs),
        "embedder": getattr(embedder, "name", "?"),
        "tokenizer": f"{getattr(embedder, 'name', 'the embedder')}'s own",
        "ingest_s": round(ingest_s, 1),
    }
    report.results = {
        "methods": summaries,
        "full_history_tokens": round(full_tokens, 1),
        "stages_ms": {name: percentiles(v) for name, v in stages.items()},
    }
    report.markdown = _markdown(summaries, full_tokens, report)
    if levers:
        report.markdown += _lever_deltas(summaries, levers)
    report.plots = [str(_plot(methods, out_dir / "locomo_recall.png"))]
    report.markdown += ["", "![recall@k](locomo_recall.png)"]
    report.write(out_dir)
    return report


def _markdown(summaries: dict[str, Any], full_tokens: float, report: Report) -> list[str]:
    s = report.settings
    lines = [
        f"{s['questions']} questions over {len(s['conversations'])} conversations "
        f"({', '.join(s['conversations'])}); ingest (model-free extraction) took "
        f"{s['ingest_s']} s.",
        "",
        "## Recall@k overall (%)",
        "",
    ]
    lines += table(
        ["method", *[f"r@{k}" for k in KS], "tokens @10", "p50 ms", "p95 ms"],
        [
            [
                name,
                *[v["overall"][f"r@{k}"] for k in KS],
                v["tokens_at_10"],
                v["latency_ms_p50"],
                v["latency_ms_p95"],
            ]
            for name, v in summaries.items()
        ],
    )
    lines += [
        "",
        f"Full history (what a long-context model is fed): {full_tokens:.0f} tokens per question.",
        "",
        "## Recall@10 by category (%)",
        "",
    ]
    names = list(CATEGORIES.values())
    lines += table(
        ["method", *names],
        [[name, *[v["by_category"][c]["r@10"] for c in names]] for name, v in summaries.items()],
    )
    stages = report.results.get("stages_ms", {})
    if stages:
        lines += [
            "",
            "## Where PersonaGraph's time goes (ms per question, as the store times it)",
            "",
            "embed, then vector: the query embedding and the vector query, on a worker while "
            "full-text runs in the main transaction; vector wait: how long the main transaction "
            "then waited for the vector signal (embed wait: the part of it the embedding "
            "caused); hydrate: provenance, neighbours and the turns' fields.",
            "",
        ]
        lines += table(
            ["stage", "p50", "p95"],
            [[name, v["p50"], v["p95"]] for name, v in stages.items()],
        )
    lines += ["", "## Recall at a token budget of rendered context (%)", ""]
    lines += table(
        ["method", *[f"{b} tokens" for b in BUDGETS]],
        [[name, *[v["budget"][f"{b} tokens"] for b in BUDGETS]] for name, v in summaries.items()],
    )
    return lines


def _lever_deltas(summaries: dict[str, Any], levers: Sequence[str]) -> list[str]:
    """Each lever's recall@10 against the default's, in points, overall and by category."""
    base = summaries["PersonaGraph"]
    cats = list(CATEGORIES.values())

    def delta(v: dict[str, Any]) -> list[str]:
        pairs = [(v["overall"]["r@10"], base["overall"]["r@10"])]
        pairs += [(v["by_category"][c]["r@10"], base["by_category"][c]["r@10"]) for c in cats]
        return ["-" if a is None or b is None else f"{a - b:+.1f}" for a, b in pairs]

    lines = [
        "",
        "## Each lever alone against the default (recall@10, points)",
        "",
    ]
    lines += table(
        ["lever", "what it changes", "overall", *cats],
        [[lv, LEVERS[lv].help, *delta(summaries[LEVERS[lv].label])] for lv in levers],
    )
    return lines


def _plot(methods: dict[str, MethodResult], out: Path) -> Path:
    series = {
        name: (KS, [100 * float(np.mean(m.recalls[k])) for k in KS]) for name, m in methods.items()
    }
    return line_plot(
        series,
        out,
        title="LoCoMo dev: evidence recall@k",
        xlabel="k (turns of context)",
        ylabel="recall (%)",
        log_x=True,
        xticks=KS,
    )
