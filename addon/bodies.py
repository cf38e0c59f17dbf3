# SPDX-License-Identifier: GPL-3.0-or-later
"""Request bodies of the backend's endpoints (pure: numpy only), checked before they are sent.

``payloads.py`` re-exports these builders beside the answer dataclasses.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from .errors import MotionDataError

__all__ = ["ALIGNMENT_MODES", "MAX_RANK", "alignment_request", "describe_request", "search_request"]

#: values of ``POST /search`` ``alignment``: which hits the server explains in the answer
ALIGNMENT_MODES = ("none", "top", "all")

#: ``POST /search`` pages: ``offset + k`` may not pass this rank (docs/api.md)
MAX_RANK = 1000


def search_request(
    text: str,
    k: int,
    min_duration: float | None = None,
    max_duration: float | None = None,
    alignment: str = "none",
    *,
    datasets: Sequence[str] = (),
    tags: Sequence[str] = (),
    commercial_safe: bool = False,
    offset: int = 0,
) -> dict:
    """Body of ``POST /search`` (``alignment``: one of :data:`ALIGNMENT_MODES`).

    Filters are sent only when set: ``datasets`` (only clips of these), ``tags`` (clips having all of them),
    ``commercial_safe`` (only clips whose licence allows commercial use); ``offset`` asks for the hits
    ``offset .. offset + k - 1`` of the ranking ("more results").

    Raises:
        ValueError: an unknown alignment mode, a negative offset, or ``offset + k`` past :data:`MAX_RANK`.

    >>> search_request("a person waves", 5)
    {'text': 'a person waves', 'k': 5, 'alignment': 'none'}
    >>> search_request("a person waves", 5, datasets=["user"], commercial_safe=True, offset=10)["offset"]
    10
    """
    if alignment not in ALIGNMENT_MODES:
        raise ValueError(f"alignment must be one of {', '.join(ALIGNMENT_MODES)}; got {alignment!r}")
    if offset < 0 or offset + int(k) > MAX_RANK:
        raise ValueError(f"offset + k must lie within the first {MAX_RANK} hits; got {offset} + {k}")
    body: dict[str, Any] = {"text": text, "k": int(k), "alignment": alignment}
    if min_duration is not None:
        body["min_duration"] = float(min_duration)
    if max_duration is not None:
        body["max_duration"] = float(max_duration)
    if datasets:
        body["datasets"] = [str(x) for x in datasets]
    if tags:
        body["tags"] = [str(x) for x in tags]
    if commercial_safe:
        body["commercial_safe"] = True
    if offset:
        body["offset"] = int(offset)
    return body


def alignment_request(text: str, motion_id: str) -> dict:
    """Body of ``POST /alignment``.

    >>> alignment_request("a person waves", "clip_1")
    {'text': 'a person waves', 'id': 'clip_1'}
    """
    return {"text": text, "id": motion_id}


def describe_request(joints_yup: np.ndarray, fps: float, k: int) -> dict:
    """Body of ``POST /describe``.

    Args:
        joints_yup: ``(T, 22, 3)`` SMPL-22 positions, metres, **Y up**.
        fps: their frame rate.
        k: captions / similar motions wanted.

    Raises:
        MotionDataError: wrong shape, no frames, non-finite values or a bad fps.
    """
    j = np.asarray(joints_yup, dtype=np.float64)
    if j.ndim != 3 or j.shape[1:] != (22, 3) or j.shape[0] == 0:
        raise MotionDataError(f"describe joints must have shape (T>0, 22, 3); got {j.shape}")
    if not np.isfinite(j).all():
        raise MotionDataError("describe joints contain non-finite values")
    if not (math.isfinite(fps) and fps > 0):
        raise MotionDataError(f"describe fps must be a positive number; got {fps}")
    return {"joints": np.round(j, 5).tolist(), "fps": float(fps), "k": int(k)}
