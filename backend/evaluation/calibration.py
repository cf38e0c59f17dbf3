""" "No close match": fitting a model's hit confidence on validation data, and its AUROC.

The map itself (:class:`backend.model.confidence.ConfidenceMap`: features, logistic map, JSON) lives with the
model, because the server applies it to every hit; this module fits it. Features of a query's score row
against a gallery (:func:`score_features`) are those a search has for its best hit: the best score, its
margin over the mean of ranks 2-11 and the query's caption-bank ``coverage`` when the search was expanded
(:func:`backend.model.confidence.confidence_features`; a feature not given is left out of the fit). A logistic
regression (``sklearn.linear_model.LogisticRegression``, balanced class weights) maps them to the probability
that the gallery holds the queried action; the threshold is the fit's balanced operating point (Youden's J).
The map is kept **monotone** (a higher score or margin never lowers the confidence, so hits further down a
list never look surer than the ones above): a feature whose fitted weight comes out negative -- the two are
correlated and the fit sees few absent queries -- is dropped and the rest refitted.

Honest protocol (:func:`backend.evaluation.suite` ``calibration``):

* **fit** on the *validation* gallery: positives = library held-out phrasings of the val clips (never used
  in training), negatives = the ``fit`` pool of absent actions of the query set;
* **evaluate** on the *test* gallery: positives = held-out query-set queries whose action the test gallery
  holds; negatives = (a) the ``eval`` pool of absent actions (no source holds them; never seen by the fit)
  and (b) query-set actions the model was trained on but the test gallery lacks (bow, dance, ...).

AUROC (``sklearn.metrics.roc_auc_score``) is reported for the fitted confidence and for the raw best score.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from backend.errors import InvalidInputError
from backend.model.confidence import (
    CONFIDENCE_FEATURES,
    ConfidenceMap,
    confidence_features,
    reference_score,
)

__all__ = ["FEATURES", "Calibration", "auroc", "fit_calibration", "score_features"]

#: feature names, in column order (the server's: backend.model.confidence)
FEATURES: tuple[str, ...] = CONFIDENCE_FEATURES

#: the fitted map (one class for fitting and serving)
Calibration = ConfidenceMap


def score_features(scores: np.ndarray, coverage: np.ndarray | None = None) -> np.ndarray:
    """Features of each query's best hit from its score row.

    Args:
        scores: ``(Nq, Nc)`` scores against one gallery (``Nc >= 2``).
        coverage: ``(Nq,)`` caption-bank coverage of each query (None = unknown: NaN).

    Returns:
        ``(Nq, 3)`` float64: best score, best minus the mean of ranks 2-11, coverage.

    >>> score_features(np.array([[1.0, 0.0, 0.5, 0.0]]), np.array([0.9])).round(3).tolist()
    [[1.0, 0.833, 0.9]]
    """
    s = np.asarray(scores, dtype=np.float64)
    if s.ndim != 2 or s.shape[1] < 2:
        raise InvalidInputError(f"scores must be (queries, >= 2 clips), got shape {s.shape}")
    if not np.isfinite(s).all():
        s = np.where(np.isfinite(s), s, np.nan)
        fill = np.nanmin(s, axis=1, keepdims=True)
        s = np.where(np.isnan(s), fill, s)
    srt = -np.sort(-s, axis=1)
    ref = np.array([reference_score(row) for row in srt])
    return confidence_features(srt[:, 0], ref, coverage)


def row_confidence(cal: ConfidenceMap, scores: np.ndarray, coverage: np.ndarray | None = None) -> np.ndarray:
    """``(Nq,)`` confidences of each query's best hit for ``(Nq, Nc)`` score rows (and query coverages)."""
    f = score_features(scores, coverage)
    return cal.confidence(f[:, 0], f[:, 0] - f[:, 1], f[:, 2])


def auroc(labels: Sequence[bool], values: Sequence[float] | np.ndarray) -> float | None:
    """Area under the ROC curve (None when one class is missing).

    >>> auroc([True, False, True, False], [0.9, 0.1, 0.8, 0.3])
    1.0
    """
    from sklearn.metrics import roc_auc_score

    y = np.asarray(labels, dtype=bool)
    if y.all() or not y.any():
        return None
    return float(roc_auc_score(y, np.asarray(values, dtype=np.float64)))


def fit_calibration(
    pos_scores: np.ndarray,
    neg_scores: np.ndarray,
    pos_coverage: np.ndarray | None = None,
    neg_coverage: np.ndarray | None = None,
) -> ConfidenceMap:
    """Fit the confidence on score rows of queries whose action the gallery holds (pos) or lacks (neg), with
    their caption-bank coverages when the searches were expanded (both or neither).

    Raises:
        InvalidInputError: either set empty.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_curve

    if len(pos_scores) == 0 or len(neg_scores) == 0:
        raise InvalidInputError(
            f"calibration needs positive and negative queries, got {len(pos_scores)} and {len(neg_scores)}"
        )
    if (pos_coverage is None) != (neg_coverage is None):
        raise InvalidInputError(
            "give the coverage of both the positive and the negative queries, or of neither"
        )
    x = np.concatenate([score_features(pos_scores, pos_coverage), score_features(neg_scores, neg_coverage)])
    y = np.r_[np.ones(len(pos_scores)), np.zeros(len(neg_scores))]
    known = np.isfinite(x).all(axis=0)  # coverage unknown (not expanded): left out of the fit
    mean = np.where(known, np.nan_to_num(x).mean(axis=0), 0.0)
    scale = np.where(known, np.maximum(np.nan_to_num(x).std(axis=0), 1e-9), 1.0)
    z = np.nan_to_num((x - mean) / scale)
    keep = known.copy()
    while True:  # monotone: a feature whose weight comes out negative is dropped and the rest refitted
        clf = LogisticRegression(class_weight="balanced", C=1.0).fit(z[:, keep], y)
        if (clf.coef_[0] >= 0).all() or keep.sum() == 1:
            break
        keep[np.flatnonzero(keep)[int(np.argmin(clf.coef_[0]))]] = False
    coef = np.zeros(x.shape[1])
    coef[keep] = np.maximum(clf.coef_[0], 0.0)
    p = clf.predict_proba(z[:, keep])[:, 1]
    fpr, tpr, thr = roc_curve(y, p)
    best = int(np.argmax(tpr - fpr))
    threshold = float(np.clip(thr[best], 0.0, 1.0))
    return ConfidenceMap(
        [float(v) for v in coef],
        float(clf.intercept_[0]),
        [float(v) for v in mean],
        [float(v) for v in scale],
        (len(pos_scores), len(neg_scores)),
        round(threshold, 4),
    )
