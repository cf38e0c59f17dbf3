"""Retrieval metrics (numpy only): Recall@k and median rank with explicit, pessimistic tie handling.

Conventions:

* A *score matrix* ``scores`` has shape ``(Nq, Ng)``: one row per query, one column per gallery item, higher is
  better. A *positives matrix* ``positives`` has the same shape and is ``True`` where the gallery item counts as a
  correct answer to the query. A query may have several positives (duplicate captions, label-level hits); its
  rank is the rank of its **best-ranked positive**.
* Ranks are 1-based. With ``best`` the highest score among the query's positives, the rank is
  ``1 + #{negatives with score >= best}``.
* **Ties are pessimistic**: a negative whose score equals the best positive's score is ranked *before* it. A
  model that gives every item the same score therefore gets the worst possible rank (``1 + #negatives``), never
  R@1 = 100. Positives never push each other down (only the best one counts).
* ``NaN`` scores are rejected; ``-inf`` / ``+inf`` are ordinary (very low / high) scores.

Both directions of a text-motion score matrix are computed by :func:`bidirectional_metrics`: text-to-motion
uses the rows of ``scores`` as queries, motion-to-text its transpose.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from backend.errors import InvalidInputError

__all__ = [
    "RECALL_KS",
    "average_metrics",
    "best_positive_ranks",
    "bidirectional_metrics",
    "median_rank",
    "recall_at_k",
    "retrieval_metrics",
]

#: The cut-offs reported everywhere (R@1, R@2, R@3, R@5, R@10).
RECALL_KS: tuple[int, ...] = (1, 2, 3, 5, 10)


def _check_pair(scores: np.ndarray, positives: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Validate shapes / dtypes / values of a score matrix and its positives matrix."""
    scores = np.asarray(scores, dtype=np.float64)
    positives = np.asarray(positives)
    if scores.ndim != 2:
        raise InvalidInputError(f"scores must be a 2-D (queries, gallery) matrix, got shape {scores.shape}")
    if positives.shape != scores.shape:
        raise InvalidInputError(
            f"positives shape {positives.shape} does not match scores shape {scores.shape}"
        )
    if positives.dtype != np.bool_:
        raise InvalidInputError(f"positives must be a boolean matrix, got dtype {positives.dtype}")
    if np.isnan(scores).any():
        row = int(np.argwhere(np.isnan(scores))[0, 0])
        raise InvalidInputError(f"scores contain NaN (first in query row {row})")
    return scores, positives


def best_positive_ranks(scores: np.ndarray, positives: np.ndarray) -> np.ndarray:
    """1-based rank of each query's best-ranked positive, ties counted pessimistically.

    Args:
        scores: ``(Nq, Ng)`` float scores, higher = more relevant.
        positives: ``(Nq, Ng)`` bool, ``True`` where the gallery item is a correct answer. Every query
            needs at least one positive.

    Returns:
        ``(Nq,)`` int64 ranks in ``[1, Ng]``.

    Raises:
        InvalidInputError: bad shapes, non-boolean positives, NaN scores, or a query without positives
            (names the first such row).

    >>> s = np.array([[0.9, 0.5, 0.1], [0.2, 0.2, 0.3]])
    >>> p = np.array([[False, True, False], [True, False, False]])
    >>> best_positive_ranks(s, p).tolist()  # row 1: the tie with column 1 goes against the positive
    [2, 3]
    """
    scores, positives = _check_pair(scores, positives)
    has_pos = positives.any(axis=1)
    if not has_pos.all():
        row = int(np.flatnonzero(~has_pos)[0])
        raise InvalidInputError(f"query row {row} has no positive in the gallery")
    best = np.where(positives, scores, -np.inf).max(axis=1)
    # a positive at -inf: every negative (also -inf) ties with it and is counted before it
    beats = (scores >= best[:, None]) & ~positives
    return (1 + beats.sum(axis=1)).astype(np.int64)


def recall_at_k(ranks: np.ndarray, k: int) -> float:
    """Percentage of queries whose best positive is within the top ``k``.

    Args:
        ranks: ``(Nq,)`` 1-based ranks from :func:`best_positive_ranks`.
        k: cut-off (>= 1).

    Returns:
        Recall in percent, ``[0, 100]``.

    >>> recall_at_k(np.array([1, 2, 5, 11]), 2)
    50.0
    """
    ranks = np.asarray(ranks)
    if k < 1:
        raise InvalidInputError(f"k must be >= 1, got {k}")
    if ranks.size == 0:
        raise InvalidInputError("ranks is empty: no queries to evaluate")
    return float(100.0 * np.mean(ranks <= k))


def median_rank(ranks: np.ndarray) -> float:
    """Median of the 1-based ranks (MedR; lower is better; 1.0 is perfect).

    >>> median_rank(np.array([1, 2, 5, 11]))
    3.5
    """
    ranks = np.asarray(ranks)
    if ranks.size == 0:
        raise InvalidInputError("ranks is empty: no queries to evaluate")
    return float(np.median(ranks))


def retrieval_metrics(
    scores: np.ndarray, positives: np.ndarray, ks: Sequence[int] = RECALL_KS
) -> dict[str, float]:
    """R@k for every ``k`` in ``ks``, MedR, mean rank and the number of queries, for one direction.

    Args:
        scores: ``(Nq, Ng)`` scores (rows are the queries).
        positives: ``(Nq, Ng)`` bool positives.
        ks: recall cut-offs.

    Returns:
        ``{"R@1": %, ..., "MedR": float, "MeanR": float, "n_queries": int, "n_gallery": int}``.

    >>> s = np.array([[3.0, 1.0, 2.0], [0.0, 1.0, 1.0], [5.0, 4.0, 3.0]])
    >>> p = np.eye(3, dtype=bool)
    >>> m = retrieval_metrics(s, p, ks=(1, 2))
    >>> round(m["R@1"], 2), round(m["R@2"], 2), m["MedR"]  # ranks 1, 2 (tie), 3
    (33.33, 66.67, 2.0)
    """
    ranks = best_positive_ranks(scores, positives)
    out: dict[str, float] = {f"R@{k}": recall_at_k(ranks, k) for k in ks}
    out["MedR"] = median_rank(ranks)
    out["MeanR"] = float(ranks.mean())
    out["n_queries"] = int(ranks.size)
    out["n_gallery"] = int(np.asarray(scores).shape[1])
    return out


def bidirectional_metrics(
    scores: np.ndarray, positives: np.ndarray, ks: Sequence[int] = RECALL_KS
) -> dict[str, dict[str, float]]:
    """Text-to-motion and motion-to-text metrics of one text x motion score matrix.

    Motion queries (columns) that have no positive among the texts are left out of ``m2t`` (they cannot be
    answered); every text row must have at least one positive.

    Args:
        scores: ``(Nt, Nm)`` text x motion scores.
        positives: ``(Nt, Nm)`` bool.
        ks: recall cut-offs.

    Returns:
        ``{"t2m": metrics, "m2t": metrics}`` (see :func:`retrieval_metrics`).

    >>> s = np.array([[0.9, 0.1], [0.8, 0.7]])
    >>> p = np.eye(2, dtype=bool)
    >>> r = bidirectional_metrics(s, p, ks=(1,))
    >>> r["t2m"]["R@1"], r["m2t"]["R@1"]
    (50.0, 100.0)
    """
    scores, positives = _check_pair(scores, positives)
    cols = positives.any(axis=0)
    return {
        "t2m": retrieval_metrics(scores, positives, ks),
        "m2t": retrieval_metrics(scores[:, cols].T, positives[:, cols].T, ks),
    }


def average_metrics(runs: Sequence[dict[str, float]]) -> dict[str, float]:
    """Mean of several metric dicts with the same keys (e.g. one per batch of 32).

    ``n_queries`` is summed (queries over all batches); ``n_gallery`` is averaged; ``n_batches`` is added.

    >>> average_metrics([{"R@1": 100.0, "n_queries": 2}, {"R@1": 50.0, "n_queries": 2}])
    {'R@1': 75.0, 'n_queries': 4, 'n_batches': 2}
    """
    if not runs:
        raise InvalidInputError("average_metrics needs at least one metrics dict")
    keys = list(runs[0])
    out: dict[str, float] = {}
    for key in keys:
        values = [r[key] for r in runs]
        out[key] = int(sum(values)) if key == "n_queries" else float(np.mean(values))
    out["n_batches"] = len(runs)
    return out
