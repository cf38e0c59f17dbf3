# SPDX-License-Identifier: GPL-3.0-or-later
"""Alignment strengths -> colours, keyframe types and per-frame values (pure: numpy only, no bpy).

Colours: a heat scale from cold (weak, dark blue) through cyan, green and yellow to hot (strong, red).

Keyframe types as a heat scale in the Dope Sheet (Blender's default theme colours of each type):

==========  ===============  =========================
strength    keyframe type    Dope Sheet look
==========  ===============  =========================
< 0.2       ``MOVING_HOLD``  dark grey, small  (cold)
0.2 - 0.4   ``BREAKDOWN``    cyan, small
0.4 - 0.6   ``JITTER``       green, small
0.6 - 0.8   ``KEYFRAME``     white, full size
>= 0.8      ``EXTREME``      red / pink, full size (hot)
==========  ===============  =========================

Removing the colouring sets every key back to ``KEYFRAME``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .payloads import Alignment

__all__ = [
    "HEAT_STOPS",
    "KEYFRAME_LEVELS",
    "WordMatch",
    "heat_colour",
    "heat_colours",
    "keyframe_type",
    "matched_words",
    "part_label",
    "strength_per_frame",
    "window_frame_spans",
]

#: (strength, RGB) stops of the colour scale, linearly interpolated.
HEAT_STOPS: tuple[tuple[float, tuple[float, float, float]], ...] = (
    (0.0, (0.10, 0.12, 0.45)),
    (0.25, (0.00, 0.60, 0.85)),
    (0.50, (0.15, 0.80, 0.25)),
    (0.75, (1.00, 0.85, 0.05)),
    (1.0, (0.95, 0.10, 0.05)),
)
#: keyframe types from cold to hot (equal-width strength bins).
KEYFRAME_LEVELS: tuple[str, ...] = ("MOVING_HOLD", "BREAKDOWN", "JITTER", "KEYFRAME", "EXTREME")


def heat_colours(strength: np.ndarray) -> np.ndarray:
    """Colours of many strengths.

    Args:
        strength: ``(N,)`` values, clipped to ``[0, 1]`` (NaN counts as 0).

    Returns:
        ``(N, 3)`` float64 RGB in ``[0, 1]``.
    """
    s = np.clip(np.nan_to_num(np.asarray(strength, dtype=np.float64), nan=0.0), 0.0, 1.0)
    xs = np.array([x for x, _ in HEAT_STOPS])
    rgb = np.array([c for _, c in HEAT_STOPS])
    return np.stack([np.interp(s, xs, rgb[:, i]) for i in range(3)], axis=-1)


def heat_colour(strength: float) -> tuple[float, float, float]:
    """Colour of one strength in ``[0, 1]``.

    >>> heat_colour(0.0), heat_colour(1.0)
    ((0.1, 0.12, 0.45), (0.95, 0.1, 0.05))
    """
    r, g, b = heat_colours(np.array([strength]))[0]
    return float(r), float(g), float(b)


def keyframe_type(strength: float) -> str:
    """Keyframe type of a strength (see the module table).

    >>> [keyframe_type(s) for s in (0.0, 0.3, 0.5, 0.7, 1.0)]
    ['MOVING_HOLD', 'BREAKDOWN', 'JITTER', 'KEYFRAME', 'EXTREME']
    """
    s = 0.0 if math.isnan(strength) else min(max(float(strength), 0.0), 1.0)
    return KEYFRAME_LEVELS[min(int(s * len(KEYFRAME_LEVELS)), len(KEYFRAME_LEVELS) - 1)]


def window_frame_spans(
    windows: Sequence[tuple[float, float]], fps: float, frame_start: float
) -> list[tuple[float, float]]:
    """Window spans in seconds -> frame spans in a scene.

    Args:
        windows: ``(start_s, end_s)`` per window, seconds from the clip start.
        fps: scene frame rate.
        frame_start: scene frame of the clip's first sample.

    Returns:
        ``(first_frame, last_frame)`` per window (fractional frames).

    >>> window_frame_spans([(0.0, 0.8), (0.4, 1.2)], 25.0, 1)
    [(1.0, 21.0), (11.0, 31.0)]
    """
    return [(frame_start + a * fps, frame_start + b * fps) for a, b in windows]


def strength_per_frame(
    strengths: Sequence[float | None], spans: Sequence[tuple[float, float]], frames: np.ndarray
) -> np.ndarray:
    """Strength of a joint at each frame: the maximum over the windows that cover the frame.

    Args:
        strengths: ``(W,)`` per-window strength (``None`` = padding window, ignored).
        spans: ``(W,)`` frame spans from :func:`window_frame_spans`.
        frames: ``(F,)`` frame numbers.

    Returns:
        ``(F,)`` strengths; 0 where no window covers the frame.

    >>> strength_per_frame([0.2, 0.9], [(1, 10), (8, 20)], np.array([1, 9, 15, 30])).tolist()
    [0.2, 0.9, 0.9, 0.0]
    """
    f = np.asarray(frames, dtype=np.float64)
    out = np.zeros(f.shape)
    for s, (a, b) in zip(strengths, spans):
        if s is None:
            continue
        inside = (f >= a - 1e-6) & (f <= b + 1e-6)
        out[inside] = np.maximum(out[inside], float(s))
    return out


def part_label(part: str) -> str:
    """A readable body-part label: ``left_elbow`` -> ``left elbow``."""
    return part.replace("_", " ")


@dataclass(frozen=True)
class WordMatch:
    """One query word and where it matched best.

    Attributes:
        token: the word.
        score: its MaxSim contribution (cosine).
        part: body-part band name of its best patch.
        start: window start, seconds from the clip start.
        end: window end, seconds.
    """

    token: str
    score: float
    part: str
    start: float
    end: float


def matched_words(alignment: Alignment) -> list[WordMatch]:
    """The query words with their strongest body part and time, strongest first.

    Args:
        alignment: an alignment from a search hit or a caption.

    Returns:
        One :class:`WordMatch` per word, sorted by score (descending).
    """
    out = [
        WordMatch(tok, float(score), best.part, float(best.start), float(best.end))
        for tok, score, best in zip(alignment.tokens, alignment.token_scores, alignment.token_best)
    ]
    return sorted(out, key=lambda w: -w.score)
