""" "No close match": a confidence in [0, 1] for a query's best hit, fitted on validation data, and its AUROC.

Features of a query's score row against a gallery (:func:`score_features`): the best score, its margin over
the mean of the next ten, and its z-score against the whole gallery. A logistic regression
(``sklearn.linear_model.LogisticRegression``, balanced class weights) maps them to the probability that the
gallery holds the queried action (:class:`Calibration`, JSON round-trip so a server can apply it later).

Honest protocol (:func:`calibration_report`):

* **fit** on the *validation* gallery: positives = library held-out phrasings of the val clips (never used
  in training), negatives = the ``fit`` pool of absent actions of the query set;
* **evaluate** on the *test* gallery: positives = held-out query-set queries whose action the test gallery
  holds; negatives = (a) the ``eval`` pool of absent actions (no source holds them; never seen by the fit)
  and (b) query-set actions the model was trained on but the test gallery lacks (bow, dance, ...).

AUROC (``sklearn.metrics.roc_auc_score``) is reported for the fitted confidence and for the raw best score.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from backend.atomic import atomic_write_text
from backend.errors import InvalidInputError

__all__ = ["FEATURES", "Calibration", "auroc", "fit_calibration", "score_features"]

#: feature names, in column order
FEATURES: tuple[str, ...] = ("top1", "margin10", "zscore")


def score_features(scores: np.ndarray) -> np.ndarray:
    """Features of each query's score row.

    Args:
        scores: ``(Nq, Nc)`` scores against one gallery (``Nc >= 2``).

    Returns:
        ``(Nq, 3)`` float64: best score, best minus the mean of ranks 2-11, best's z-score over the row.

    >>> score_features(np.array([[1.0, 0.0, 0.0, 0.0]])).round(3).tolist()
    [[1.0, 1.0, 1.732]]
    """
    s = np.asarray(scores, dtype=np.float64)
    if s.ndim != 2 or s.shape[1] < 2:
        raise InvalidInputError(f"scores must be (queries, >= 2 clips), got shape {s.shape}")
    if not np.isfinite(s).all():
        s = np.where(np.isfinite(s), s, np.nan)
        fill = np.nanmin(s, axis=1, keepdims=True)
        s = np.where(np.isnan(s), fill, s)
    srt = -np.sort(-s, axis=1)
    top1 = srt[:, 0]
    margin = top1 - srt[:, 1:11].mean(axis=1)
    z = (top1 - s.mean(axis=1)) / np.maximum(s.std(axis=1), 1e-9)
    return np.stack([top1, margin, z], axis=1)


def auroc(labels: Sequence[bool], values: Sequence[float]) -> float | None:
    """Area under the ROC curve (None when one class is missing).

    >>> auroc([True, False, True, False], [0.9, 0.1, 0.8, 0.3])
    1.0
    """
    from sklearn.metrics import roc_auc_score

    y = np.asarray(labels, dtype=bool)
    if y.all() or not y.any():
        return None
    return float(roc_auc_score(y, np.asarray(values, dtype=np.float64)))


@dataclass
class Calibration:
    """A fitted logistic map from :data:`FEATURES` to a confidence.

    Attributes:
        coef: ``len(FEATURES)`` weights (on standardised features).
        intercept: bias.
        mean: feature means of the fit data (standardisation).
        scale: feature standard deviations of the fit data.
        n_fit: ``(positives, negatives)`` fitted on.
    """

    coef: list[float]
    intercept: float
    mean: list[float]
    scale: list[float]
    n_fit: tuple[int, int]

    def confidence(self, scores: np.ndarray) -> np.ndarray:
        """``(Nq,)`` confidences in [0, 1] for ``(Nq, Nc)`` score rows."""
        x = (score_features(scores) - np.asarray(self.mean)) / np.asarray(self.scale)
        return 1.0 / (1.0 + np.exp(-(x @ np.asarray(self.coef) + self.intercept)))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (with the feature names)."""
        return {"features": list(FEATURES), "coef": self.coef, "intercept": self.intercept,
                "mean": self.mean, "scale": self.scale, "n_fit": list(self.n_fit)}  # fmt: skip

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write JSON atomically (:func:`backend.atomic.atomic_write_text`)."""
        path = Path(path)
        atomic_write_text(path, json.dumps(self.to_dict(), indent=1))
        return path


def fit_calibration(pos_scores: np.ndarray, neg_scores: np.ndarray) -> Calibration:
    """Fit the confidence on score rows of queries whose action the gallery holds (pos) or lacks (neg).

    Raises:
        InvalidInputError: either set empty.
    """
    from sklearn.linear_model import LogisticRegression

    if len(pos_scores) == 0 or len(neg_scores) == 0:
        raise InvalidInputError(
            f"calibration needs positive and negative queries, got {len(pos_scores)} and {len(neg_scores)}"
        )
    x = np.concatenate([score_features(pos_scores), score_features(neg_scores)])
    y = np.r_[np.ones(len(pos_scores)), np.zeros(len(neg_scores))]
    mean, scale = x.mean(axis=0), np.maximum(x.std(axis=0), 1e-9)
    clf = LogisticRegression(class_weight="balanced", C=1.0).fit((x - mean) / scale, y)
    return Calibration(
        [float(v) for v in clf.coef_[0]],
        float(clf.intercept_[0]),
        [float(v) for v in mean],
        [float(v) for v in scale],
        (len(pos_scores), len(neg_scores)),
    )
