"""Recall broken down by source and macro-averaged over action labels (numpy only).

Every query has a rank (:func:`~backend.evaluation.metrics.best_positive_ranks`, ties pessimistic) against the
*whole* gallery; the breakdown only groups the queries:

* ``micro``: all queries, each counts once (what the plain protocol tables report);
* ``macro``: the mean over action labels of each label's recall (each label counts equally, however many
  queries or clips it has; a query of several labels counts for each);
* ``source:<name>``: the queries of one source (a text belongs to the sources of the clips it describes, a
  clip to its own), still ranked against the whole gallery -- a source is not scored on an easier gallery.

:func:`caption_breakdown` applies this to the caption protocols (text -> motion and motion -> text) and
:func:`query_set_breakdown` to the held-out query sets of :mod:`backend.evaluation.query_sets`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from backend.errors import InvalidInputError
from backend.evaluation.clip_labels import action_key
from backend.evaluation.metrics import best_positive_ranks
from backend.evaluation.protocols import EvalSet
from backend.evaluation.query_sets import Query, QuerySet, concept_positives

__all__ = ["BREAKDOWN_KS", "caption_breakdown", "grouped_recall", "query_set_breakdown"]

#: cut-offs of the breakdown tables
BREAKDOWN_KS: tuple[int, ...] = (1, 3, 5, 10)


def grouped_recall(
    ranks: np.ndarray,
    actions: Sequence[Sequence[str]],
    sources: Sequence[Sequence[str]],
    ks: Sequence[int] = BREAKDOWN_KS,
) -> list[dict[str, object]]:
    """Micro, macro-over-actions and per-source recall of ranked queries.

    Args:
        ranks: ``(Nq,)`` 1-based ranks.
        actions: per query, its action labels (at least one).
        sources: per query, its sources.
        ks: cut-offs.

    Returns:
        Rows ``{"group", "R@k"..., "n_queries", "n_actions"}``: ``micro``, ``macro``, then ``source:<name>``
        in name order (each source row is itself macro-averaged over that source's actions).

    >>> rows = grouped_recall(np.array([1, 3, 1, 1]), [["a"], ["a"], ["b"], ["b"]], [["x"], ["x"], ["y"], ["x"]],
    ...                       ks=(1,))
    >>> [(r["group"], r["R@1"]) for r in rows]
    [('micro', 75.0), ('macro', 75.0), ('source:x', 75.0), ('source:y', 100.0)]
    """
    ranks = np.asarray(ranks)
    if not (len(ranks) == len(actions) == len(sources)):
        raise InvalidInputError(
            f"{len(ranks)} ranks, {len(actions)} action lists, {len(sources)} source lists"
        )
    if ranks.size == 0:
        raise InvalidInputError("no queries to break down")

    def macro(idx: np.ndarray) -> dict[str, object]:
        per_action: dict[str, list[int]] = {}
        for i in idx:
            for a in actions[i]:
                per_action.setdefault(a, []).append(int(ranks[i]))
        row: dict[str, object] = {
            f"R@{k}": float(100.0 * np.mean([np.mean(np.asarray(r) <= k) for r in per_action.values()]))
            for k in ks
        }
        return {**row, "n_queries": int(idx.size), "n_actions": len(per_action)}

    every = np.arange(ranks.size)
    micro = {f"R@{k}": float(100.0 * np.mean(ranks <= k)) for k in ks}
    n_actions = len({a for acts in actions for a in acts})
    out: list[dict[str, object]] = [
        {"group": "micro", **micro, "n_queries": int(ranks.size), "n_actions": n_actions},
        {"group": "macro", **macro(every)},
    ]
    for name in sorted({s for srcs in sources for s in srcs}):
        idx = np.array([i for i, srcs in enumerate(sources) if name in srcs])
        out.append({"group": f"source:{name}", **macro(idx)})
    return out


def caption_breakdown(
    scores: np.ndarray,
    ev: EvalSet,
    positives: Mapping[str, np.ndarray],
    clip_sources: Sequence[str],
    ks: Sequence[int] = BREAKDOWN_KS,
) -> list[dict[str, object]]:
    """Per-source and macro rows of caption protocols, both directions, all query kinds together.

    Args:
        scores: ``(Nt, Nc)`` text x clip scores of ``ev``.
        ev: the evaluation set.
        positives: protocol name -> ``(Nt, Nc)`` bool positives (``ev.membership`` for ``all``, label
            positives for ``action`` ...).
        clip_sources: ``Nc`` source names.
        ks: cut-offs.

    Returns:
        Rows of :func:`grouped_recall` with ``protocol`` and ``direction`` added.
    """
    scores = np.asarray(scores, dtype=np.float64)
    if len(clip_sources) != len(ev.clip_ids):
        raise InvalidInputError(f"{len(clip_sources)} clip sources for {len(ev.clip_ids)} clips")
    clip_actions = [action_key(lab, cid) for lab, cid in zip(ev.clip_labels, ev.clip_ids, strict=True)]
    text_actions = [sorted({clip_actions[c] for c in np.flatnonzero(row)}) for row in ev.membership]
    text_sources = [sorted({clip_sources[c] for c in np.flatnonzero(row).tolist()}) for row in ev.membership]
    out: list[dict[str, object]] = []
    for name, pos in positives.items():
        t2m = best_positive_ranks(scores, pos)
        for row in grouped_recall(t2m, text_actions, text_sources, ks):
            out.append({"protocol": name, "direction": "t2m", **row})
        cols = np.flatnonzero(pos.any(axis=0))
        m2t = best_positive_ranks(scores[:, cols].T, pos[:, cols].T)
        acts = [[clip_actions[c]] for c in cols.tolist()]
        srcs = [[clip_sources[c]] for c in cols.tolist()]
        for row in grouped_recall(m2t, acts, srcs, ks):
            out.append({"protocol": name, "direction": "m2t", **row})
    return out


def query_set_breakdown(
    scores: np.ndarray,
    queries: Sequence[Query],
    query_set: QuerySet,
    clip_labels: Sequence[Mapping[str, str]],
    clip_sources: Sequence[str],
    ks: Sequence[int] = BREAKDOWN_KS,
) -> tuple[list[dict[str, object]], list[str]]:
    """Action@k of held-out queries against a gallery, per form (natural / terse) and concept kind.

    A query is answered by any clip of its concept (:func:`concept_positives`); queries whose concept has no
    clip in the gallery are left out (and listed). Macro = over concepts.

    Args:
        scores: ``(Nq, Nc)`` query x clip scores.
        queries: the ``Nq`` queries.
        query_set: their query set (concept definitions).
        clip_labels: ``Nc`` label dicts of the gallery.
        clip_sources: ``Nc`` source names.
        ks: cut-offs.

    Returns:
        ``(rows, skipped concept names)``; rows are :func:`grouped_recall` rows with ``kind`` and ``form``.
    """
    scores = np.asarray(scores, dtype=np.float64)
    if scores.shape != (len(queries), len(clip_labels)):
        raise InvalidInputError(
            f"scores shape {scores.shape} != (queries, clips) ({len(queries)}, {len(clip_labels)})"
        )
    pos_of = {name: concept_positives(c, clip_labels) for name, c in query_set.concepts.items()}
    keep = [i for i, q in enumerate(queries) if pos_of[q.concept].any()]
    skipped = sorted({q.concept for q in queries} - {queries[i].concept for i in keep})
    out: list[dict[str, object]] = []
    groups: dict[tuple[str, str], list[int]] = {}
    for i in keep:
        q = queries[i]
        groups.setdefault((query_set.concepts[q.concept].kind, q.form), []).append(i)
    for (kind, form), idx in sorted(groups.items()):
        pos = np.stack([pos_of[queries[i].concept] for i in idx])
        ranks = best_positive_ranks(scores[idx], pos)
        actions = [[queries[i].concept] for i in idx]
        sources = [sorted({clip_sources[c] for c in np.flatnonzero(p).tolist()}) for p in pos]
        for row in grouped_recall(ranks, actions, sources, ks):
            out.append({"kind": kind, "form": form, **row})
    return out, skipped
