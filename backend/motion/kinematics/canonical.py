"""Canonical form of SMPL-22 joint positions (HumanML3D's convention).

:func:`canonicalise` turns positions from any source into ``(T, 22, 3)`` float32 with

1. **metres**: the unit is detected from the body's size (:func:`detect_unit_scale`) unless given;
2. **20 fps**: linear interpolation of joint positions between neighbouring source frames
   (:func:`resample`; no low-pass filter, which is adequate for mocap at 24-120 fps, and bone lengths shrink
   by well under a millimetre at walking speeds);
3. **Y up** (the source is assumed Y up unless ``up_axis`` says otherwise), **floor at y = 0** (lowest
   ankle or toe-base point over the whole clip);
4. **pelvis at the XZ origin at frame 0** and **facing +Z at frame 0**: facing = cross(up, right) with
   right = (r_hip - l_hip) + (r_shoulder - l_shoulder) projected on XZ, so the left side is +X.

Optionally a leading rest pose (a T-pose prepended to the motion, as in CMU 01_01/12_01, the iClone CMU
007_03..12 files and the cgspeed / Daz conversions) is dropped: :func:`leading_rest_frames` only reports frames
before the body "teleports" early in the clip (see there), which no real motion does.
"""

from __future__ import annotations

import math

import numpy as np

from backend.errors import MotionDataError
from backend.motion.clip import CANONICAL_FPS
from backend.motion.kinematics.skeleton import JOINT_INDEX, NUM_JOINTS
from backend.motion.limits import MAX_FPS, MIN_FPS

__all__ = [
    "MAX_FPS",
    "MIN_FPS",
    "UNIT_SCALES",
    "body_height",
    "canonicalise",
    "detect_unit_scale",
    "facing_direction",
    "leading_rest_frames",
    "resample",
    "validate_positions",
]

#: unit name -> metres per unit (CMU: 1 unit = 1/0.45 inch)
UNIT_SCALES: dict[str, float] = {"m": 1.0, "cm": 0.01, "mm": 0.001, "cmu": 0.0254 / 0.45}
#: typical adult head-joint height reconstructed from bone lengths (see :func:`body_height`), metres
_REFERENCE_HEIGHT = 1.4

_J = JOINT_INDEX
_FOOT_JOINTS = [_J["left_ankle"], _J["right_ankle"], _J["left_foot"], _J["right_foot"]]
_LEG_BONES = [("left_hip", "left_knee"), ("left_knee", "left_ankle"),
              ("right_hip", "right_knee"), ("right_knee", "right_ankle")]  # fmt: skip
_TRUNK_BONES = [("pelvis", "spine1"), ("spine1", "spine2"), ("spine2", "spine3"), ("spine3", "neck"),
                ("neck", "head")]  # fmt: skip


def validate_positions(
    positions: np.ndarray, fps: float, *, num_joints: int | None = NUM_JOINTS, what: str = "positions"
) -> np.ndarray:
    """Check joint positions and their frame rate.

    Args:
        positions: ``(F, J, 3)`` array-like.
        fps: frames per second.
        num_joints: required ``J`` (``None``: any).
        what: name used in error messages (e.g. a file name).

    Returns:
        ``positions`` as a float64 array.

    Raises:
        MotionDataError: wrong shape, zero frames, NaN/inf, or an fps outside ``[1, 1000]``.
    """
    arr = np.asarray(positions, dtype=np.float64)
    if arr.ndim != 3 or arr.shape[2] != 3 or (num_joints is not None and arr.shape[1] != num_joints):
        want = f"(T, {num_joints}, 3)" if num_joints is not None else "(T, J, 3)"
        raise MotionDataError(f"{what}: expected joint positions of shape {want}, got {tuple(arr.shape)}")
    if arr.shape[0] == 0:
        raise MotionDataError(f"{what}: zero frames")
    bad = ~np.isfinite(arr)
    if bad.any():
        f, j, _ = np.argwhere(bad)[0]
        raise MotionDataError(f"{what}: non-finite value at frame {f}, joint {j}")
    if not isinstance(fps, (int, float, np.floating, np.integer)) or not math.isfinite(float(fps)):
        raise MotionDataError(f"{what}: fps must be a finite number, got {fps!r}")
    if not MIN_FPS <= float(fps) <= MAX_FPS:
        raise MotionDataError(f"{what}: absurd frame rate {fps} fps (accepted {MIN_FPS:g}..{MAX_FPS:g})")
    return arr


def _bone_lengths(positions: np.ndarray, bones: list[tuple[str, str]]) -> np.ndarray:
    a = positions[:, [_J[p] for p, _ in bones]]
    b = positions[:, [_J[c] for _, c in bones]]
    return np.median(np.linalg.norm(a - b, axis=-1), axis=0)


def body_height(positions: np.ndarray) -> float:
    """Pose-independent body size: mean leg length (hip-knee-ankle) + pelvis-to-head path, in input units.

    For an adult this is roughly the standing height of the head joint (about 1.2-1.6 m).

    Args:
        positions: ``(F, 22, 3)`` SMPL-22 positions.

    Returns:
        The size estimate (median bone lengths over frames).
    """
    legs = _bone_lengths(positions, _LEG_BONES)
    trunk = _bone_lengths(positions, _TRUNK_BONES)
    return float((legs[0] + legs[1] + legs[2] + legs[3]) / 2.0 + trunk.sum())


def detect_unit_scale(positions: np.ndarray) -> float:
    """Metres per input unit, chosen among :data:`UNIT_SCALES` from the body size.

    The unit whose conversion puts :func:`body_height` closest (in log scale) to 1.4 m wins, so metres,
    centimetres, millimetres and CMU units are told apart for any plausible human (0.6-3 m).

    Args:
        positions: ``(F, 22, 3)`` SMPL-22 positions in unknown units.

    Returns:
        The scale (e.g. ``0.01`` for centimetres).

    Raises:
        MotionDataError: the skeleton has (almost) zero size.
    """
    size = body_height(positions)
    if not size > 1e-9:
        raise MotionDataError(f"cannot detect units: the skeleton has zero size ({size:g})")
    return min(UNIT_SCALES.values(), key=lambda s: abs(math.log(size * s / _REFERENCE_HEIGHT)))


def resample(positions: np.ndarray, fps_in: float, fps_out: float = CANONICAL_FPS) -> np.ndarray:
    """Resample a clip by linear interpolation between neighbouring frames.

    Output frame ``t`` is at time ``t / fps_out``; frames cover ``[0, (F - 1) / fps_in]``.

    Args:
        positions: ``(F, ...)`` array.
        fps_in: input frame rate.
        fps_out: output frame rate.

    Returns:
        ``(T, ...)`` with ``T = floor((F - 1) * fps_out / fps_in) + 1``, same dtype.

    >>> resample(np.arange(5.0), 40.0, 20.0).tolist()
    [0.0, 2.0, 4.0]
    """
    n = positions.shape[0]
    if n == 1 or abs(fps_in - fps_out) <= 1e-6 * fps_out:
        return positions.copy()
    n_out = math.floor((n - 1) * fps_out / fps_in + 1e-6) + 1
    src = np.arange(n_out) * (fps_in / fps_out)
    i0 = np.minimum(np.floor(src).astype(np.int64), n - 1)
    i1 = np.minimum(i0 + 1, n - 1)
    frac = (src - i0).reshape((-1,) + (1,) * (positions.ndim - 1))
    out = positions[i0] * (1.0 - frac) + positions[i1] * frac
    return out.astype(positions.dtype, copy=False)


def _t_pose(frame: np.ndarray) -> bool:
    """Whether a ``(22, 3)`` Y-up pose holds both arms out straight and level (a T-pose)."""
    for side in ("left", "right"):
        sh, el, wr = (frame[_J[f"{side}_{j}"]] for j in ("shoulder", "elbow", "wrist"))
        reach = wr - sh
        length = np.linalg.norm(el - sh) + np.linalg.norm(wr - el)
        dist = np.linalg.norm(reach)
        if length <= 0 or dist < 0.95 * length or abs(reach[1]) > 0.15 * dist:
            return False
    return True


def leading_rest_frames(positions: np.ndarray, fps: float | None = None) -> int:
    """Number of leading frames that are a prepended rest pose (usually 0 or 1; a few for some conversions).

    Two signs mark a prepended rest pose, looked for within the first quarter second (the first step when
    ``fps`` is not given): frames in a T-pose (both arms straight and level) at the very start, or a
    *teleport*, a step in which some joint moves by more than 10 % of the body size and by more than 10 times
    the largest per-frame joint displacement seen in the rest of the clip (95th percentile), which no real
    motion does. Everything up to the last T-pose frame or the first teleport is dropped (cgspeed conversions
    hold the T-pose for up to five frames), and so are the frames right after it while each still moves more
    than 3 times the usual displacement (cgspeed's Daz files blend the T-pose into the motion).

    Args:
        positions: ``(F, 22, 3)`` Y-up positions, any unit.
        fps: frame rate (sets the quarter-second window).

    Returns:
        How many leading frames to drop (``0`` when the clip starts with its motion).
    """
    if positions.shape[0] < 4:
        return 0
    step = np.linalg.norm(np.diff(positions, axis=0), axis=-1).max(axis=1)  # (F-1,) max joint displacement
    window = 1 if fps is None else max(1, round(0.25 * float(fps)))
    window = min(window, max(1, len(step) // 4))
    typical = float(np.percentile(step[window:], 95))
    drop = 0
    while drop < window and _t_pose(positions[drop]):
        drop += 1
    if drop == 0:
        size = body_height(positions[window + 1 :])
        teleports = np.flatnonzero((step[:window] > 0.1 * size) & (step[:window] > 10.0 * typical))
        if teleports.size == 0:
            return 0
        drop = int(teleports[0]) + 1
    while drop < min(2 * window, len(step)) and step[drop] > 3.0 * typical:
        drop += 1
    return drop


def facing_direction(frame: np.ndarray) -> np.ndarray:
    """Horizontal facing direction of one Y-up pose.

    Args:
        frame: ``(22, 3)`` positions.

    Returns:
        ``(3,)`` unit vector on the XZ plane (zeros when hips and shoulders give no direction).
    """
    right = (frame[_J["right_hip"]] - frame[_J["left_hip"]]) + (
        frame[_J["right_shoulder"]] - frame[_J["left_shoulder"]]
    )
    facing = np.cross(np.array([0.0, 1.0, 0.0]), right)
    facing[1] = 0.0
    norm = np.linalg.norm(facing)
    return facing / norm if norm > 1e-9 else np.zeros(3)


def _to_y_up(positions: np.ndarray, up_axis: str, what: str) -> np.ndarray:
    if up_axis == "auto":
        span = np.median(positions[:, _J["head"]] - positions[:, _FOOT_JOINTS].mean(axis=1), axis=0)
        axis = int(np.argmax(np.abs(span)))
        up_axis = ("-" if span[axis] < 0 else "") + "xyz"[axis]
    conversions = {  # right-handed rotations taking the named axis to +Y
        "y": lambda p: p,
        "z": lambda p: np.stack([p[..., 0], p[..., 2], -p[..., 1]], axis=-1),
        "x": lambda p: np.stack([-p[..., 1], p[..., 0], p[..., 2]], axis=-1),
        "-y": lambda p: np.stack([p[..., 0], -p[..., 1], -p[..., 2]], axis=-1),
        "-z": lambda p: np.stack([p[..., 0], -p[..., 2], p[..., 1]], axis=-1),
        "-x": lambda p: np.stack([p[..., 1], -p[..., 0], p[..., 2]], axis=-1),
    }
    if up_axis not in conversions:
        raise MotionDataError(
            f"{what}: unknown up_axis {up_axis!r}; use one of {', '.join(conversions)}, auto"
        )
    return conversions[up_axis](positions)


def canonicalise(
    positions: np.ndarray,
    fps: float,
    unit_scale: float | None = None,
    *,
    up_axis: str = "y",
    drop_rest_frame: bool = False,
    what: str = "positions",
) -> np.ndarray:
    """Bring SMPL-22 positions into the canonical form (see the module docstring).

    Args:
        positions: ``(F, 22, 3)`` positions in source units.
        fps: source frame rate.
        unit_scale: metres per source unit; ``None`` detects it with :func:`detect_unit_scale`.
        up_axis: the source's up axis (``"y"``, ``"z"``, ``"-z"`` ... or ``"auto"`` from head-above-feet).
        drop_rest_frame: drop a leading rest frame found by :func:`leading_rest_frames`.
        what: name used in error messages.

    Returns:
        ``(T, 22, 3)`` float32: 20 fps, metres, Y up, floor at 0, pelvis at the XZ origin and facing +Z at
        frame 0.

    Raises:
        MotionDataError: invalid input (shape, NaN/inf, zero frames, fps, unit scale).
    """
    pos = validate_positions(positions, fps, what=what)
    if unit_scale is not None and not (math.isfinite(unit_scale) and unit_scale > 0):
        raise MotionDataError(f"{what}: unit_scale must be a positive number, got {unit_scale!r}")
    pos = _to_y_up(pos, up_axis, what)
    if drop_rest_frame:
        pos = pos[leading_rest_frames(pos, fps) :]
    scale = detect_unit_scale(pos) if unit_scale is None else float(unit_scale)
    pos = resample(pos * scale, float(fps), CANONICAL_FPS)
    pos[..., 1] -= pos[:, _FOOT_JOINTS, 1].min()
    pos[..., [0, 2]] -= pos[0, _J["pelvis"], [0, 2]]
    fwd = facing_direction(pos[0])
    theta = math.atan2(-fwd[0], fwd[2]) if fwd.any() else 0.0
    c, s = math.cos(theta), math.sin(theta)
    rot_y = np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])
    pos = pos @ rot_y.T
    return pos.astype(np.float32)
