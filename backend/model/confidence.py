"""A hit's calibrated ``confidence`` in [0, 1]: how likely the library really holds what the query asks for.

MaxSim scores of one model sit in a narrow range whether or not the library holds the queried motion, so a
raw score tells the user little. A small logistic map, fitted per model on validation data
(:func:`backend.evaluation.calibration.fit_calibration`: held-out phrasings of validation clips = present,
queries for actions no source holds = absent), turns two numbers a search has at hand into a probability:

* ``score``: the hit's own MaxSim score (for the best hit, the query's best score);
* ``margin``: that score minus ``reference``, the mean exact score of the clips ranked 2-11 for the query
  (how far the hit stands out of the crowd; a search re-ranks at least 11 clips exactly, whatever ``k``);
* ``coverage``: the query's text-to-text MaxSim with the caption-bank caption it reads most like
  (:mod:`backend.model.expansion`): low when no caption of the library is worded like the query. Unknown
  (NaN: an index without a caption bank, or expansion off) counts as the fit's mean, i.e. adds nothing.

All are gallery-light: they need no statistic over the whole library, so the same map serves a library of
100 clips and of 100k. The map travels with the checkpoint as ``confidence.json`` (:data:`CONFIDENCE_FILE`);
a checkpoint without one yields ``confidence: null`` in the API; a map written with the first two features
only (before ``coverage``) loads with a zero ``coverage`` weight. Torch-free (numpy only).

>>> m = ConfidenceMap(coef=[1.0, 0.0, 0.0], intercept=0.0, mean=[0.5, 0.0, 0.0], scale=[0.1, 1.0, 1.0], n_fit=(1, 1))
>>> [round(v, 3) for v in m.confidence(np.array([0.5, 0.6]), 0.4).tolist()]
[0.5, 0.731]
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from backend.atomic import atomic_write_text
from backend.errors import ConfigError

__all__ = [
    "CONFIDENCE_FEATURES",
    "CONFIDENCE_FILE",
    "REFERENCE_RANKS",
    "ConfidenceMap",
    "confidence_features",
    "reference_score",
]

#: file name of the fitted map inside a checkpoint folder
CONFIDENCE_FILE = "confidence.json"
#: feature names, in column order
CONFIDENCE_FEATURES: tuple[str, ...] = ("score", "margin", "coverage")
#: ranks (1-based, inclusive) whose mean exact score is the ``reference`` of the margin
REFERENCE_RANKS = (2, 11)


def reference_score(sorted_scores: np.ndarray) -> float:
    """Mean of ranks 2-11 of a query's clip scores sorted best first (the best score if only one clip).

    >>> reference_score(np.array([0.9, 0.5, 0.3]))
    0.4
    """
    s = np.asarray(sorted_scores, dtype=np.float64).ravel()
    if s.size == 0:
        raise ValueError("no scores")
    lo, hi = REFERENCE_RANKS
    rest = s[lo - 1 : hi]
    return float(rest.mean()) if rest.size else float(s[0])


def confidence_features(
    scores: np.ndarray, reference: np.ndarray | float, coverage: np.ndarray | float | None = None
) -> np.ndarray:
    """``(N, 3)`` float64 features of hits with MaxSim ``scores`` ``(N,)``, their queries' ``reference`` and
    ``coverage`` (None = unknown: NaN)."""
    s = np.asarray(scores, dtype=np.float64).ravel()
    ref = np.broadcast_to(np.asarray(reference, dtype=np.float64), s.shape)
    cov = np.broadcast_to(np.asarray(np.nan if coverage is None else coverage, dtype=np.float64), s.shape)
    return np.stack([s, s - ref, cov], axis=1)


@dataclass
class ConfidenceMap:
    """A fitted logistic map from :data:`CONFIDENCE_FEATURES` to a confidence.

    Attributes:
        coef: one weight per feature (on standardised features).
        intercept: bias.
        mean: feature means of the fit data (standardisation).
        scale: feature standard deviations of the fit data.
        n_fit: ``(present, absent)`` queries fitted on.
        threshold: confidence below which a client says "no close match" (the fit's balanced operating point).
    """

    coef: list[float]
    intercept: float
    mean: list[float]
    scale: list[float]
    n_fit: tuple[int, int]
    threshold: float = 0.5

    def confidence(
        self, scores: np.ndarray, reference: np.ndarray | float, coverage: np.ndarray | float | None = None
    ) -> np.ndarray:
        """``(N,)`` confidences in [0, 1] for hits with ``scores`` against their queries' ``reference`` and
        ``coverage`` (None / NaN = unknown: that feature adds nothing)."""
        x = (confidence_features(scores, reference, coverage) - np.asarray(self.mean)) / np.asarray(
            self.scale
        )
        x = np.nan_to_num(x, nan=0.0)
        return 1.0 / (1.0 + np.exp(-(x @ np.asarray(self.coef) + self.intercept)))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (with the feature names)."""
        return {"features": list(CONFIDENCE_FEATURES), "coef": self.coef, "intercept": self.intercept,
                "mean": self.mean, "scale": self.scale, "n_fit": list(self.n_fit),
                "threshold": self.threshold}  # fmt: skip

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ConfidenceMap:
        """Inverse of :meth:`to_dict`; a wrong feature list or shape is a ``ConfigError``."""
        names = d.get("features") if isinstance(d, dict) else None
        if names == list(CONFIDENCE_FEATURES[:2]):  # written before "coverage": it gets no weight
            d = {**d, "coef": [*d.get("coef", []), 0.0], "mean": [*d.get("mean", []), 0.0],
                 "scale": [*d.get("scale", []), 1.0]}  # fmt: skip
        elif names != list(CONFIDENCE_FEATURES):
            raise ConfigError(f"confidence map: features must be {list(CONFIDENCE_FEATURES)}")
        try:
            out = cls(
                [float(v) for v in d["coef"]],
                float(d["intercept"]),
                [float(v) for v in d["mean"]],
                [float(v) for v in d["scale"]],
                (int(d["n_fit"][0]), int(d["n_fit"][1])),
                float(d.get("threshold", 0.5)),
            )
        except (KeyError, TypeError, ValueError, IndexError) as e:
            raise ConfigError(f"confidence map: malformed ({e})") from e
        n = len(CONFIDENCE_FEATURES)
        if not (len(out.coef) == len(out.mean) == len(out.scale) == n) or min(out.scale) <= 0:
            raise ConfigError(f"confidence map: coef/mean/scale need {n} entries and positive scales")
        if not 0.0 <= out.threshold <= 1.0:
            raise ConfigError(f"confidence map: threshold {out.threshold} outside [0, 1]")
        return out

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write JSON atomically (temp file + rename)."""
        atomic_write_text(path, json.dumps(self.to_dict(), indent=1) + "\n")
        return Path(path)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> ConfidenceMap:
        """Read a map written by :meth:`save` (``ConfigError`` when unreadable or malformed)."""
        try:
            d = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:
            raise ConfigError(f"confidence map {path}: {e}") from e
        return cls.from_dict(d)

    @classmethod
    def for_checkpoint(cls, checkpoint_dir: str | os.PathLike[str]) -> ConfidenceMap | None:
        """The map shipped in ``checkpoint_dir`` (``None`` when the checkpoint has none)."""
        p = Path(checkpoint_dir) / CONFIDENCE_FILE
        return cls.load(p) if p.is_file() else None
