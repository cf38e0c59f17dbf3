"""Z-score statistics of motion features.

The statistics must be fit on the **train split only** (never on val/test clips or on the library being
searched), saved beside the model (``feature_stats.json``) and applied unchanged everywhere else.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from backend.atomic import atomic_write_text
from backend.errors import CheckpointError, ConfigError, MotionDataError
from backend.motion.kinematics.features import check_representation

__all__ = ["DEFAULT_MIN_STD", "STATS_FORMAT", "FeatureStats", "fit_stats"]

#: std floor: keeps (near-)constant channels from being blown up (metres / radians)
DEFAULT_MIN_STD = 1e-3
STATS_FORMAT = "motion-search-feature-stats"
_VERSION = 1


@dataclass
class FeatureStats:
    """Per-channel mean and standard deviation of a feature representation.

    Fit with :func:`fit_stats` on the train split only.

    Attributes:
        mean: ``(C,)`` float64 channel means.
        std: ``(C,)`` float64 channel standard deviations (already floored, all > 0).
        representation: feature representation the statistics belong to (``"angles"``/``"positions"``).
        num_frames: number of frames the statistics were fit on (0 if unknown).
    """

    mean: np.ndarray
    std: np.ndarray
    representation: str = "angles"
    num_frames: int = 0

    def __post_init__(self) -> None:
        self.mean = np.asarray(self.mean, dtype=np.float64)
        self.std = np.asarray(self.std, dtype=np.float64)
        check_representation(self.representation)
        if self.mean.ndim != 1 or self.mean.shape != self.std.shape:
            raise ConfigError(f"FeatureStats: mean {self.mean.shape} and std {self.std.shape} must be (C,)")
        if not (np.all(np.isfinite(self.mean)) and np.all(np.isfinite(self.std)) and np.all(self.std > 0)):
            raise ConfigError("FeatureStats: mean/std must be finite and std > 0")

    @property
    def num_channels(self) -> int:
        """``C``."""
        return int(self.mean.shape[0])

    def _check(self, x: np.ndarray) -> np.ndarray:
        arr = np.asarray(x)
        if arr.ndim < 1 or arr.shape[-1] != self.num_channels:
            raise MotionDataError(
                f"features: last dimension must be {self.num_channels} ({self.representation}), "
                f"got shape {arr.shape}"
            )
        return arr

    def apply(self, x: np.ndarray) -> np.ndarray:
        """Standardise features.

        Args:
            x: ``(..., C)`` features.

        Returns:
            ``(..., C)`` float32 ``(x - mean) / std``.

        >>> s = FeatureStats(np.array([1.0, 0.0]), np.array([2.0, 1.0]))
        >>> s.apply(np.array([[3.0, -1.0]])).tolist()
        [[1.0, -1.0]]
        """
        arr = self._check(x)
        return ((arr - self.mean) / self.std).astype(np.float32)

    def invert(self, z: np.ndarray) -> np.ndarray:
        """Undo :meth:`apply`: ``(..., C)`` standardised -> ``(..., C)`` float32 features."""
        arr = self._check(z)
        return (arr * self.std + self.mean).astype(np.float32)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (inverse: :meth:`from_dict`)."""
        return {
            "format": STATS_FORMAT,
            "version": _VERSION,
            "representation": self.representation,
            "num_channels": self.num_channels,
            "num_frames": int(self.num_frames),
            "mean": [float(v) for v in self.mean],
            "std": [float(v) for v in self.std],
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> FeatureStats:
        """Build from :meth:`to_dict` output.

        Raises:
            ConfigError: wrong format/version, missing field or inconsistent lengths (names the field).
        """
        if not isinstance(d, dict):
            raise ConfigError(f"feature stats: expected a JSON object, got {type(d).__name__}")
        if d.get("format", STATS_FORMAT) != STATS_FORMAT:
            raise ConfigError(f"feature stats: format {d.get('format')!r} is not {STATS_FORMAT!r}")
        if int(d.get("version", _VERSION)) > _VERSION:
            raise ConfigError(f"feature stats: version {d.get('version')} is newer than {_VERSION}")
        for key in ("mean", "std", "representation"):
            if key not in d:
                raise ConfigError(f"feature stats: missing field {key!r}")
        try:
            mean, std = np.asarray(d["mean"], dtype=np.float64), np.asarray(d["std"], dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise ConfigError(
                f"feature stats: fields 'mean'/'std' must be lists of numbers ({exc})"
            ) from None
        if "num_channels" in d and int(d["num_channels"]) != mean.shape[0]:
            raise ConfigError(f"feature stats: num_channels {d['num_channels']} but {mean.shape[0]} means")
        return cls(mean, std, str(d["representation"]), int(d.get("num_frames", 0)))

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write JSON atomically (:func:`backend.atomic.atomic_write_text`).

        Returns:
            The written path.
        """
        target = Path(path)
        atomic_write_text(target, json.dumps(self.to_dict(), indent=1))
        return target

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> FeatureStats:
        """Read a file written by :meth:`save`.

        Raises:
            CheckpointError: missing, unreadable or invalid file (names the path and the problem).
        """
        p = Path(path)
        try:
            data = json.loads(p.read_text(encoding="utf-8"))
            return cls.from_dict(data)
        except FileNotFoundError:
            raise CheckpointError(f"{p}: feature statistics file not found") from None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError, ConfigError) as exc:
            raise CheckpointError(f"{p}: invalid feature statistics: {exc}") from None


def fit_stats(
    arrays: Iterable[np.ndarray], representation: str = "angles", min_std: float = DEFAULT_MIN_STD
) -> FeatureStats:
    """Streaming per-channel mean/std over all frames of all arrays (train split only!).

    Uses Chan et al.'s pairwise update in float64, so memory stays ``O(C)`` however many clips.

    Args:
        arrays: iterable of ``(T_i, C)`` feature arrays (all with the same ``C``; ``T_i`` may be 0).
        representation: representation the features were computed with.
        min_std: floor applied to each standard deviation (population std over frames).

    Returns:
        :class:`FeatureStats`.

    Raises:
        MotionDataError: no frames at all, inconsistent ``C``, non-2-D arrays or NaN/inf values.

    >>> st = fit_stats([np.array([[0.0], [2.0]]), np.array([[4.0]])])
    >>> float(st.mean[0]), round(float(st.std[0]), 4), st.num_frames
    (2.0, 1.633, 3)
    """
    check_representation(representation)
    count, mean, m2 = 0, None, None
    for i, x in enumerate(arrays):
        arr = np.asarray(x, dtype=np.float64)
        if arr.ndim != 2 or (mean is not None and arr.shape[1] != mean.shape[0]):
            expected = "(T, C)" if mean is None else f"(T, {mean.shape[0]})"
            raise MotionDataError(f"fit_stats: array {i} has shape {arr.shape}, expected {expected}")
        if arr.shape[0] == 0:
            continue
        if not np.all(np.isfinite(arr)):
            raise MotionDataError(f"fit_stats: array {i} contains NaN/inf")
        n_b, mean_b = arr.shape[0], arr.mean(axis=0)
        m2_b = ((arr - mean_b) ** 2).sum(axis=0)
        if mean is None:
            count, mean, m2 = n_b, mean_b, m2_b
            continue
        total = count + n_b
        delta = mean_b - mean
        mean = mean + delta * (n_b / total)
        m2 = m2 + m2_b + delta**2 * (count * n_b / total)
        count = total
    if mean is None or m2 is None or count == 0:
        raise MotionDataError("fit_stats: no frames to fit feature statistics on")
    std = np.maximum(np.sqrt(m2 / count), min_std)
    return FeatureStats(mean, std, representation, count)
