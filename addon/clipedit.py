# SPDX-License-Identifier: GPL-3.0-or-later
"""Clip edits made before keying, and where imported clips land on the timeline (pure: numpy only).

* :func:`segment_frames`: the served frames of a hit's matched segment ± a margin (or the whole clip).
* :func:`anchor_root`: a segment starts with the pelvis over the origin, as a whole clip does.
* :func:`mirror_joints` / :func:`mirror_alignment`: left <-> right. Left is +X in both the backend's Y-up
  space and Blender's Z-up space, so a mirror negates X and swaps every ``left_*`` joint with its
  ``right_*`` twin; the retarget then drives each mapped bone from its mirrored joint, so a user's rig is
  mirrored through its bone map. The alignment that colours a mirrored clip is mirrored the same way.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .errors import MotionDataError

__all__ = [
    "anchor_root",
    "mirror_alignment",
    "mirror_joints",
    "mirror_name",
    "mirror_permutation",
    "segment_frames",
]

_SIDES = (("left_", "right_"), ("right_", "left_"))


def mirror_name(name: str) -> str:
    """The name of a joint's (or body part's) mirror twin.

    >>> mirror_name("left_wrist"), mirror_name("right_hip"), mirror_name("spine2")
    ('right_wrist', 'left_hip', 'spine2')
    """
    for a, b in _SIDES:
        if name.startswith(a):
            return b + name[len(a) :]
    return name


def mirror_permutation(names: Sequence[str]) -> list[int]:
    """Index of each joint's twin in ``names`` (itself for central joints).

    Raises:
        MotionDataError: a ``left_*`` joint whose ``right_*`` twin is missing (or the other way round).

    >>> mirror_permutation(["pelvis", "left_hip", "right_hip"])
    [0, 2, 1]
    """
    index = {n: i for i, n in enumerate(names)}
    out = []
    for n in names:
        twin = mirror_name(n)
        if twin not in index:
            raise MotionDataError(f"cannot mirror joint {n!r}: its twin {twin!r} is not in the clip")
        out.append(index[twin])
    return out


def mirror_joints(joints: np.ndarray, names: Sequence[str]) -> np.ndarray:
    """Mirror a clip left <-> right: X negated, left and right joints swapped.

    Args:
        joints: ``(T, J, 3)`` positions (Y up or Z up: X is the left axis in both).
        names: ``(J,)`` joint names.

    Returns:
        ``(T, J, 3)`` float64 mirrored positions (mirroring twice gives the input back).

    >>> j = np.array([[[0.0, 1, 0], [0.1, 0.9, 0], [-0.1, 0.9, 0.2]]])
    >>> mirror_joints(j, ["pelvis", "left_hip", "right_hip"])[0].tolist()
    [[-0.0, 1.0, 0.0], [0.1, 0.9, 0.2], [-0.1, 0.9, 0.0]]
    """
    j = np.asarray(joints, dtype=np.float64)
    if j.ndim != 3 or j.shape[1] != len(names) or j.shape[2] != 3:
        raise MotionDataError(f"joints must have shape (T, {len(names)}, 3) to mirror; got {j.shape}")
    out = j[:, mirror_permutation(names)].copy()
    out[..., 0] = -out[..., 0]
    return out


def mirror_alignment(alignment: Mapping[str, Any]) -> dict[str, Any]:
    """An alignment JSON dict for the mirrored clip: every left/right joint and part key swapped.

    Token words stay as they are (the words matched the unmirrored clip); ``parts`` and the best parts of
    ``token_best`` are renamed to their twins, so "left hand" colours the (mirrored) right hand.
    """
    out = dict(alignment)
    for key in ("joint_strength", "part_strength", "joint_window_strength"):
        if isinstance(alignment.get(key), dict):
            out[key] = {mirror_name(k): v for k, v in alignment[key].items()}
    if isinstance(alignment.get("parts"), list):
        out["parts"] = [mirror_name(p) for p in alignment["parts"]]
    if isinstance(alignment.get("token_best"), list):
        out["token_best"] = [
            {**b, "part": mirror_name(b["part"])} if isinstance(b, dict) and "part" in b else b
            for b in alignment["token_best"]
        ]
    return out


def segment_frames(
    num_frames: int, fps: float, segment: tuple[float, float] | None, margin: float = 0.0
) -> tuple[int, int]:
    """Served frames to import: the matched segment widened by ``margin`` seconds, clamped to the clip.

    Args:
        num_frames: frames of the served clip.
        fps: its frame rate (20).
        segment: ``(start, end)`` seconds within the clip; None = the whole clip.
        margin: seconds added before and after the segment (>= 0).

    Returns:
        ``(first, last)`` served frame indices, inclusive (``last >= first``).

    Raises:
        MotionDataError: a negative or non-finite margin, an empty clip, or a segment past the clip's end.

    >>> segment_frames(100, 20.0, (1.0, 2.0), 0.5), segment_frames(100, 20.0, None)
    ((10, 50), (0, 99))
    >>> segment_frames(100, 20.0, (0.2, 4.9), 1.0)
    (0, 99)
    """
    if num_frames <= 0:
        raise MotionDataError("the clip has no frames")
    if segment is None:
        return 0, num_frames - 1
    if not (math.isfinite(margin) and margin >= 0):
        raise MotionDataError(f"the segment margin must be a number of seconds >= 0; got {margin}")
    start, end = float(segment[0]), float(segment[1])
    if not (math.isfinite(start) and math.isfinite(end)) or end < start:
        raise MotionDataError(f"the matched segment {start:g}-{end:g} s is not a time span")
    first = max(0, math.floor((start - margin) * fps + 1e-6))
    last = min(num_frames - 1, math.ceil((end + margin) * fps - 1e-6))
    if first > num_frames - 1:
        raise MotionDataError(
            f"the matched segment starts at {start:g} s, after the clip's end ({(num_frames - 1) / fps:g} s)"
        )
    return first, max(first, last)


def anchor_root(joints_zup: np.ndarray, root: int = 0) -> np.ndarray:
    """Shift a Z-up clip so the root starts over the origin (its height is kept).

    Args:
        joints_zup: ``(T, J, 3)`` Blender-space positions.
        root: index of the root joint.

    Returns:
        ``(T, J, 3)`` float64 positions, ground-plane shifted by the root's first position.
    """
    j = np.asarray(joints_zup, dtype=np.float64).copy()
    j[..., :2] -= j[0, root, :2]
    return j
