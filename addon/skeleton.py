# SPDX-License-Identifier: GPL-3.0-or-later
"""Skeleton facts and joint-array maths for the add-on (pure: numpy only, no bpy).

* The SMPL-22 names and parents, used only as the *default* layout: the server sends the authoritative
  ``joint_names`` / ``parents`` with every ``/motions/{id}`` answer and the add-on uses those.
* Axis conversion between the backend (metres, **Y up**, facing +Z) and Blender (**Z up**, facing -Y):
  ``(x, y, z)_yup -> (x, -z, y)_blender`` and back ``(x, y, z)_blender -> (x, z, -y)_yup``. Both are proper
  rotations (90 degrees about X), so left stays left (+X).
* Linear resampling between frame rates, root-motion removal and a T-pose rest layout built from the
  clip's own bone lengths.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .errors import MotionDataError

__all__ = [
    "LEAF_LENGTH",
    "SERVED_FPS",
    "SMPL_JOINT_NAMES",
    "SMPL_PARENTS",
    "aim_children",
    "bone_lengths",
    "check_joints",
    "children_of",
    "frame_times",
    "frames_from_vectors",
    "lateral_pairs",
    "remove_root_motion",
    "resample",
    "tpose_rest",
    "yup_to_zup",
    "zup_to_yup",
]

#: Frame rate of every served clip (``/motions/{id}``).
SERVED_FPS = 20.0

SMPL_JOINT_NAMES: tuple[str, ...] = (
    "pelvis", "left_hip", "right_hip", "spine1", "left_knee", "right_knee", "spine2",
    "left_ankle", "right_ankle", "spine3", "left_foot", "right_foot", "neck", "left_collar",
    "right_collar", "head", "left_shoulder", "right_shoulder", "left_elbow", "right_elbow",
    "left_wrist", "right_wrist",
)  # fmt: skip
SMPL_PARENTS: tuple[int, ...] = (-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19)

#: Length (metres) of the tail of a joint with no child (head, wrists, feet).
LEAF_LENGTH = 0.08


def check_joints(joints: np.ndarray, num_joints: int | None = None, name: str = "joints") -> np.ndarray:
    """Validate a joint array and return it as float64.

    Args:
        joints: ``(T, J, 3)`` positions.
        num_joints: expected ``J`` (any when None).
        name: name used in error messages.

    Returns:
        ``(T, J, 3)`` float64 copy.

    Raises:
        MotionDataError: wrong shape, no frames, or non-finite values.
    """
    arr = np.asarray(joints, dtype=np.float64)
    if arr.ndim != 3 or arr.shape[-1] != 3 or (num_joints is not None and arr.shape[1] != num_joints):
        want = f"(T, {num_joints}, 3)" if num_joints is not None else "(T, J, 3)"
        raise MotionDataError(f"{name} must have shape {want}; got {arr.shape}")
    if arr.shape[0] == 0:
        raise MotionDataError(f"{name} has no frames")
    if not np.isfinite(arr).all():
        frame = int(np.argwhere(~np.isfinite(arr))[0][0])
        raise MotionDataError(f"{name} has non-finite values (first at frame {frame})")
    return arr


def yup_to_zup(joints: np.ndarray) -> np.ndarray:
    """Backend (Y up) -> Blender (Z up): ``(x, y, z) -> (x, -z, y)``.

    Args:
        joints: ``(..., 3)`` positions.

    Returns:
        ``(..., 3)`` float64 positions.

    >>> yup_to_zup(np.array([1.0, 2.0, 3.0])).tolist()
    [1.0, -3.0, 2.0]
    """
    j = np.asarray(joints, dtype=np.float64)
    return np.stack([j[..., 0], -j[..., 2], j[..., 1]], axis=-1)


def zup_to_yup(joints: np.ndarray) -> np.ndarray:
    """Blender (Z up) -> backend (Y up): ``(x, y, z) -> (x, z, -y)``; inverse of :func:`yup_to_zup`.

    Args:
        joints: ``(..., 3)`` positions.

    Returns:
        ``(..., 3)`` float64 positions.

    >>> zup_to_yup(yup_to_zup(np.array([1.0, 2.0, 3.0]))).tolist()
    [1.0, 2.0, 3.0]
    """
    j = np.asarray(joints, dtype=np.float64)
    return np.stack([j[..., 0], j[..., 2], -j[..., 1]], axis=-1)


def frame_times(num_frames: int, fps_in: float, fps_out: float) -> np.ndarray:
    """Times (in source frames) at which a clip of ``num_frames`` at ``fps_in`` is sampled at ``fps_out``.

    The output covers ``[0, (num_frames - 1) / fps_in]`` seconds: ``floor((T - 1) * fps_out / fps_in) + 1``
    samples at ``k / fps_out`` seconds.

    Args:
        num_frames: source frame count ``T`` (>= 1).
        fps_in: source frame rate.
        fps_out: target frame rate.

    Returns:
        ``(T_out,)`` float64 fractional source-frame positions.

    >>> frame_times(5, 20.0, 40.0).tolist()
    [0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0]
    """
    if fps_in <= 0 or fps_out <= 0 or not np.isfinite(fps_in) or not np.isfinite(fps_out):
        raise MotionDataError(f"frame rates must be positive: fps_in={fps_in}, fps_out={fps_out}")
    if num_frames < 1:
        raise MotionDataError(f"num_frames must be >= 1; got {num_frames}")
    ratio = fps_in / fps_out
    n_out = int(np.floor((num_frames - 1) / ratio + 1e-9)) + 1
    return np.minimum(np.arange(n_out, dtype=np.float64) * ratio, num_frames - 1)


def resample(joints: np.ndarray, fps_in: float, fps_out: float) -> np.ndarray:
    """Linearly resample ``(T, J, 3)`` joints from ``fps_in`` to ``fps_out``.

    Args:
        joints: ``(T, J, 3)`` positions.
        fps_in: frame rate of ``joints``.
        fps_out: wanted frame rate.

    Returns:
        ``(T_out, J, 3)`` float64; frame ``k`` is the pose at ``k / fps_out`` seconds.

    >>> resample(np.arange(3.0).reshape(3, 1, 1).repeat(3, -1), 20, 40)[:, 0, 0].tolist()
    [0.0, 0.5, 1.0, 1.5, 2.0]
    """
    j = check_joints(joints)
    t = frame_times(j.shape[0], fps_in, fps_out)
    lo = np.floor(t).astype(np.int64)
    hi = np.minimum(lo + 1, j.shape[0] - 1)
    w = (t - lo)[:, None, None]
    return j[lo] * (1.0 - w) + j[hi] * w


def remove_root_motion(joints_zup: np.ndarray, root: int = 0) -> np.ndarray:
    """In-place version of a Z-up clip: the root's ground-plane (X, Y) track is removed, height kept.

    Every frame is shifted so that the root stays at its frame-0 X/Y position.

    Args:
        joints_zup: ``(T, J, 3)`` Blender-space positions.
        root: index of the root joint.

    Returns:
        ``(T, J, 3)`` float64.
    """
    j = check_joints(joints_zup).copy()
    shift = j[:, root, :2] - j[0, root, :2]
    j[:, :, :2] -= shift[:, None, :]
    return j


def children_of(parents: Sequence[int]) -> list[list[int]]:
    """Children of every joint, in joint order."""
    out: list[list[int]] = [[] for _ in parents]
    for i, p in enumerate(parents):
        if p >= 0:
            out[p].append(i)
    return out


def aim_children(names: Sequence[str], parents: Sequence[int]) -> list[int]:
    """The child each joint's bone points at (``-1`` for leaves).

    With several children the central one wins (a name without ``left``/``right``), e.g. the pelvis aims
    at ``spine1`` and ``spine3`` at ``neck``; otherwise the first child.

    >>> aim_children(SMPL_JOINT_NAMES, SMPL_PARENTS)[:4]
    [3, 4, 5, 6]
    """
    out = []
    for kids in children_of(parents):
        central = [k for k in kids if not any(s in names[k].lower() for s in ("left", "right"))]
        out.append((central or kids or [-1])[0])
    return out


def lateral_pairs(names: Sequence[str], parents: Sequence[int]) -> dict[int, tuple[int, int]]:
    """Joints whose children include a left/right twin pair: joint -> (left child, right child).

    These joints (the pelvis with its hips, ``spine3`` with its collars) get a full orientation frame
    (aim + lateral axis) rather than a swing, so twists of the hips and chest are kept.

    >>> lateral_pairs(SMPL_JOINT_NAMES, SMPL_PARENTS)
    {0: (1, 2), 9: (13, 14)}
    """
    out: dict[int, tuple[int, int]] = {}
    for j, kids in enumerate(children_of(parents)):
        lower = {names[k].lower(): k for k in kids}
        for name, k in lower.items():
            if "left" in name and name.replace("left", "right") in lower:
                out[j] = (k, lower[name.replace("left", "right")])
                break
    return out


def frames_from_vectors(up: np.ndarray, lateral: np.ndarray) -> np.ndarray:
    """Orthonormal frames from an up and a lateral (left) vector; columns ``[x=lateral, y=up, z=x*y]``.

    ``y`` is ``up`` normalised, ``x`` the part of ``lateral`` orthogonal to it (Gram-Schmidt).

    Args:
        up: ``(..., 3)`` vectors.
        lateral: ``(..., 3)`` vectors, not parallel to ``up``.

    Returns:
        ``(..., 3, 3)`` rotation matrices.
    """
    y = up / np.maximum(np.linalg.norm(up, axis=-1, keepdims=True), 1e-12)
    x = lateral - np.sum(lateral * y, axis=-1, keepdims=True) * y
    x = x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)
    z = np.cross(x, y)
    return np.stack([x, y, z], axis=-1)


def bone_lengths(joints: np.ndarray, parents: Sequence[int]) -> np.ndarray:
    """Median distance of every joint to its parent over the clip (0 for the root).

    Args:
        joints: ``(T, J, 3)`` positions.
        parents: ``(J,)`` parent indices (-1 for the root).

    Returns:
        ``(J,)`` float64 lengths.
    """
    j = check_joints(joints, len(parents))
    out = np.zeros(len(parents))
    for i, p in enumerate(parents):
        if p >= 0:
            out[i] = float(np.median(np.linalg.norm(j[:, i] - j[:, p], axis=-1)))
    return out


def _template_direction(name: str) -> np.ndarray:
    """Direction (Blender Z up, facing -Y, left = +X) from a joint's parent to the joint in a T-pose."""
    n = name.lower()
    side = 1.0 if "left" in n else (-1.0 if "right" in n else 0.0)
    if "hip" in n:
        v = (side, 0.0, -0.35)
    elif "knee" in n or "ankle" in n:
        v = (0.0, 0.0, -1.0)
    elif "foot" in n or "toe" in n:
        v = (0.0, -1.0, -0.45)
    elif "collar" in n:
        v = (side, 0.0, 0.3)
    elif side != 0.0:  # shoulder, elbow, wrist, hand
        v = (side, 0.0, 0.0)
    else:  # spine, neck, head
        v = (0.0, 0.0, 1.0)
    d = np.asarray(v, dtype=np.float64)
    return d / np.linalg.norm(d)


#: Rest frame of a joint with a lateral pair in the T-pose: lateral = +X (left), up = +Z, z = X x Z = -Y.
_REST_FRAME = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]])


def tpose_rest(joints: np.ndarray, names: Sequence[str], parents: Sequence[int]) -> np.ndarray:
    """A T-pose rest layout (Blender space) built from the clip's own proportions.

    Legs hang straight down, the spine and head point up (+Z), arms stretch sideways (left = +X) and the
    feet point forward (-Y), with the clip's median bone lengths. The children of the joints with a
    lateral pair (hips around the pelvis, neck and collars around ``spine3``) keep the clip's mean offset
    measured in that joint's own frame (see :func:`frames_from_vectors`), so those rigid triangles match the
    data and pose solving leaves (almost) no residual there. The lowest joint touches the ground (z = 0).

    Args:
        joints: ``(T, J, 3)`` clip positions in any orientation (only distances and local frames are used).
        names: ``(J,)`` joint names (side and body part are read from them).
        parents: ``(J,)`` parent indices, parents before children.

    Returns:
        ``(J, 3)`` float64 rest head positions.
    """
    j = check_joints(joints, len(parents))
    lengths = bone_lengths(j, parents)
    aims = aim_children(names, parents)
    pairs = lateral_pairs(names, parents)
    local: dict[int, np.ndarray] = {}
    for p, (left, right) in pairs.items():
        if aims[p] < 0:
            continue
        frames = frames_from_vectors(j[:, aims[p]] - j[:, p], j[:, left] - j[:, right])  # (T, 3, 3)
        for c, q in enumerate(parents):
            if q == p:
                local[c] = np.einsum("tji,tj->ti", frames, j[:, c] - j[:, p]).mean(axis=0)
    rest = np.zeros((len(parents), 3))
    for i, p in enumerate(parents):
        if p < 0:
            continue
        if p > i:
            raise MotionDataError(f"parents must list parents before children; joint {i} has parent {p}")
        offset = _REST_FRAME @ local[i] if i in local else lengths[i] * _template_direction(names[i])
        rest[i] = rest[p] + offset
    rest[:, 2] -= rest[:, 2].min()
    return rest
