"""ISB-style joint angles from canonical joint positions: 29 channels in the 14 bands of ``BANDS``.

Positions carry no axial twist, so every segment frame is built from the segment's long axis plus one
neighbouring point. All frames follow the ISB axis convention (Wu et al. 2002/2005): **X anterior,
Y superior (along the segment, distal -> proximal), Z to the right**, for both sides of the body. In the
canonical world (Y up, facing +Z, left = +X) the ISB reference frame of a body facing +Z has
X = world +Z, Y = world +Y, Z = world -X.

Segment frames (``P`` pelvis, ``Th`` thorax, ``Fe`` femur/thigh, ``Sh`` shank):

* pelvis: Z = right hip - left hip (primary), Y = towards spine1 from the hip midpoint, X = Y x Z.
* thorax: Y = neck - spine3 (primary), Z = right collar - left collar, X = Y x Z.
* knee hinge (lateral) axis: ``3 * (shank x thigh) + foot x shank`` (unit vectors, shank/thigh
  pointing up, foot = ankle -> foot): the normal of the knee's flexion plane plus the normal of the
  foot's sagittal plane, each weighted by the sine of its angle, so it is defined whether the knee is
  straight (the foot decides) or the foot points along the shank at toe-off (the bent knee decides).
  The knee plane is fixed in the femur, so it dominates from about 20 deg of flexion; the foot adds
  tibial rotation and tracking noise (measured on CMU/Bandai clips: fewer hip-rotation jumps).
* shank: Y = knee - ankle, Z = the hinge axis made perpendicular to Y, X = Y x Z.
* thigh: Y = hip - knee, Z = the hinge axis made perpendicular to Y, X = Y x Z. The thigh's axial twist
  thus follows the knee's flexion plane (and, with a straight knee, the foot's direction).

Channels (radians, in ``BANDS`` order):

==========  ==========================================================================================
band        channels and sign (positive =)
==========  ==========================================================================================
root        x, y, z of the pelvis (metres): horizontal displacement since frame 0 in frame 0's heading
            frame (+z forward, +x to the body's left), y = height above the floor
pelvis      tilt (anterior), obliquity (right side drops), rotation (heading, turning left);
            Cardan Y-X-Z of P relative to the world (heading first, so tilt/obliquity do not mix with
            heading; singular only when lying on the side)
hips        flexion, abduction, internal rotation: Cardan Z-X-Y (ISB) of Fe relative to P
knees       flexion = angle between thigh and shank (0 straight, unsigned)
ankles      dorsiflexion = 90 deg - angle(shank axis, ankle -> foot); the SMPL foot joint is the ball of
            the foot, so a standing pose with the ball below the ankle reads some plantar flexion
lumbar      flexion (forward), lateral bend (right), axial rotation (left): Cardan Z-X-Y of Th rel. P
neck        flexion (forward), lateral bend (right) of the neck -> head direction in Th (Z-X)
shoulders   flexion (horizontal, forward), abduction (elevation; 0 arm at the side, 90 deg T-pose),
            internal rotation; see below
elbows      flexion = angle between upper arm and forearm (0 straight, unsigned)
==========  ==========================================================================================

Shoulders: ISB's Y-X-Y is singular with the arm at the side, and flexion/abduction Cardan sequences are
singular with the arm straight out sideways or forwards. Instead the humerus direction (in Th) is written
as the *swing* (exponential map) from its T-pose direction: the swing axis is perpendicular to the
lateral axis, its component about thorax X gives abduction (``90 deg - swing``), its component about
thorax Y gives horizontal flexion. Pure frontal-plane and pure transverse-plane motions read exact
angles; the chart's only singularity is the arm pointing straight medially through the chest. Like any
map of a sphere it distorts elsewhere, smoothly: swinging the hanging arm forwards by ``a`` reads
flexion ``90 deg * sin(a)`` and abduction ``90 deg * (1 - cos(a))`` (about pi/2 times ``a`` near the
side). Axial
rotation is the twist about the humerus of the elbow hinge axis (upper arm x forearm) relative to the
swung T-pose hinge. A straight elbow leaves the twist unobservable, so below 60 deg of elbow flexion
the hinge is blended with the swung T-pose hinge and the twist fades smoothly towards 0 (exact from
60 deg on; a narrower ramp gave more frame-to-frame jumps on real clips).

Mirror consistency: mirroring (x -> -x, left <-> right joints) swaps the left/right channels unchanged;
only the antisymmetric channels (root x, pelvis obliquity and rotation, lumbar lateral bend and axial
rotation, neck lateral bend) change sign -- see :data:`ANGLE_MIRROR_SIGNS` and :func:`mirror_angles`.
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy.spatial.transform import Rotation

from backend.errors import MotionDataError
from backend.motion.kinematics.skeleton import JOINT_INDEX, NUM_ANGLE_CHANNELS, NUM_JOINTS

__all__ = [
    "ANGLE_CHANNEL_NAMES",
    "ANGLE_MIRROR_PERMUTATION",
    "ANGLE_MIRROR_SIGNS",
    "check_joints",
    "facing_angle",
    "joint_angles",
    "mirror_angles",
    "root_trajectory",
    "segment_frames",
]

_EPS = 1e-9
#: below this sine between a frame's hint and its primary axis the fallback hint takes over (smoothly)
_HINT_MIN_SINE = float(np.sin(np.deg2rad(10.0)))
#: weight of the knee's flexion plane against the foot's sagittal plane in the knee hinge axis
_KNEE_WEIGHT = 3.0
#: sine of the elbow flexion below which the shoulder twist leans towards 0 (unobservable when straight;
#: a wide ramp keeps the channel smooth -- chosen on CMU/Bandai clips)
_TWIST_SINE = float(np.sin(np.deg2rad(60.0)))

ANGLE_CHANNEL_NAMES: tuple[str, ...] = (
    "root_x", "root_y", "root_z",
    "pelvis_tilt", "pelvis_obliquity", "pelvis_rotation",
    "left_hip_flexion", "left_hip_abduction", "left_hip_rotation",
    "right_hip_flexion", "right_hip_abduction", "right_hip_rotation",
    "left_knee_flexion", "right_knee_flexion",
    "left_ankle_dorsiflexion", "right_ankle_dorsiflexion",
    "lumbar_flexion", "lumbar_lateral_bend", "lumbar_rotation",
    "neck_flexion", "neck_lateral_bend",
    "left_shoulder_flexion", "left_shoulder_abduction", "left_shoulder_rotation",
    "right_shoulder_flexion", "right_shoulder_abduction", "right_shoulder_rotation",
    "left_elbow_flexion", "right_elbow_flexion",
)  # fmt: skip


def _mirror_tables() -> tuple[tuple[int, ...], tuple[float, ...]]:
    """Channel permutation (left <-> right) and signs (antisymmetric channels) of a mirrored motion."""
    index = {n: i for i, n in enumerate(ANGLE_CHANNEL_NAMES)}
    perm = tuple(
        index[n.replace("left_", "@").replace("right_", "left_").replace("@", "right_")]
        for n in ANGLE_CHANNEL_NAMES
    )
    antisymmetric = {"root_x", "pelvis_obliquity", "pelvis_rotation", "lumbar_lateral_bend",
                     "lumbar_rotation", "neck_lateral_bend"}  # fmt: skip
    signs = tuple(-1.0 if n in antisymmetric else 1.0 for n in ANGLE_CHANNEL_NAMES)
    return perm, signs


#: ``mirrored[:, c] = ANGLE_MIRROR_SIGNS[c] * original[:, ANGLE_MIRROR_PERMUTATION[c]]``
ANGLE_MIRROR_PERMUTATION, ANGLE_MIRROR_SIGNS = _mirror_tables()

_J = JOINT_INDEX
# ISB axes of a body facing +Z, as columns in world coordinates (X anterior, Y up, Z right = world -X)
_WORLD_ISB = np.array([[0.0, 0.0, -1.0], [0.0, 1.0, 0.0], [1.0, 0.0, 0.0]])


def _unit(v: np.ndarray) -> np.ndarray:
    """Normalise ``(..., 3)`` vectors (zero vectors stay ~zero)."""
    return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), _EPS)


def _dot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise dot product of ``(..., 3)`` arrays -> ``(...,)``."""
    return np.einsum("...i,...i->...", a, b)


def _angle_between(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Unsigned angle in ``[0, pi]`` between ``(..., 3)`` vectors (atan2 form, accurate near 0)."""
    return np.arctan2(np.linalg.norm(np.cross(a, b), axis=-1), _dot(a, b))


def _perp_unit(v: np.ndarray, axis: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Unit part of ``v`` perpendicular to unit ``axis`` and the sine of their angle (both ``(T, ...)``)."""
    p = v - _dot(v, axis)[..., None] * axis
    norm = np.linalg.norm(p, axis=-1)
    sine = norm / np.maximum(np.linalg.norm(v, axis=-1), _EPS)
    return p / np.maximum(norm, _EPS)[..., None], sine


def _basis(primary: np.ndarray, hint: np.ndarray, fallback: np.ndarray, order: str) -> np.ndarray:
    """Right-handed orthonormal frames from a primary axis and a hint for a second axis.

    Where the hint is (nearly) parallel to the primary axis, ``fallback`` takes over smoothly; where both
    fail, any perpendicular direction is used, and a zero-length primary axis becomes the world's ISB
    axis, so the result is always a rotation matrix.

    Args:
        primary: ``(T, 3)`` direction of the first axis.
        hint: ``(T, 3)`` approximate direction of the second axis.
        fallback: ``(T, 3)`` second-axis hint used where ``hint`` is degenerate.
        order: ``"yz"`` or ``"zy"``: which axes ``primary`` and ``hint`` stand for (X = Y x Z).

    Returns:
        ``(T, 3, 3)`` matrices whose columns are the X, Y, Z axes in world coordinates.
    """
    p = _unit(primary)
    zero = np.linalg.norm(p, axis=-1) < 0.5  # coincident joints: use the ISB world axis instead
    if np.any(zero):
        p[zero] = _WORLD_ISB[:, "xyz".index(order[0])]
    h, s = _perp_unit(hint, p)
    f, _ = _perp_unit(fallback, p)
    w = np.clip(1.0 - s / _HINT_MIN_SINE, 0.0, 1.0)[:, None]
    h, norm = _perp_unit((1.0 - w) * h + w * f, p)
    bad = norm < 1e-6
    if np.any(bad):  # last resort: the world axis least aligned with the primary axis
        pick = np.eye(3)[np.argmin(np.abs(p[bad]), axis=-1)]
        h[bad] = _perp_unit(pick, p[bad])[0]
    y, z = (p, h) if order == "yz" else (h, p)
    return np.stack([np.cross(y, z), y, z], axis=-1)


def _cardan(parent: np.ndarray, child: np.ndarray, seq: str) -> np.ndarray:
    """Intrinsic Cardan angles of ``child`` relative to ``parent`` (``(T, 3, 3)`` each) -> ``(T, 3)``."""
    rel = np.einsum("tji,tjk->tik", parent, child)  # parent^T @ child
    with warnings.catch_warnings():  # gimbal lock is reported by scipy as a warning; values stay finite
        warnings.simplefilter("ignore", UserWarning)
        return Rotation.from_matrix(rel).as_euler(seq)


def facing_angle(joints: np.ndarray) -> np.ndarray:
    """Heading of each frame: angle about +Y from +Z to the facing direction (HumanML3D's definition).

    facing = up x right, right = (right hip - left hip) + (right shoulder - left shoulder), on XZ.

    Args:
        joints: ``(T, 22, 3)`` canonical joints.

    Returns:
        ``(T,)`` radians; positive = turned towards +X (the body's left at frame 0 of a canonical clip).

    >>> j = np.zeros((1, 22, 3)); j[0, 2, 0] = j[0, 17, 0] = -1.0   # right hip/shoulder at -X
    >>> float(facing_angle(j)[0])
    0.0
    """
    right = (joints[:, _J["right_hip"]] - joints[:, _J["left_hip"]]) + (
        joints[:, _J["right_shoulder"]] - joints[:, _J["left_shoulder"]]
    )
    # up x right with up = +Y: (right_z, 0, -right_x)
    return np.arctan2(right[:, 2], -right[:, 0])


def root_trajectory(joints: np.ndarray) -> np.ndarray:
    """The root channels: pelvis position in frame 0's heading frame.

    Args:
        joints: ``(T, 22, 3)`` canonical joints.

    Returns:
        ``(T, 3)``: x (towards the body's left at frame 0), y (height, absolute), z (forward at frame 0);
        x and z are the displacement since frame 0, so a canonical clip's values equal its world ones.
    """
    pelvis = joints[:, _J["pelvis"]]
    theta = facing_angle(joints[:1])[0]
    dx, dz = pelvis[:, 0] - pelvis[0, 0], pelvis[:, 2] - pelvis[0, 2]
    c, s = np.cos(theta), np.sin(theta)
    return np.stack([dx * c - dz * s, pelvis[:, 1], dx * s + dz * c], axis=-1)


def segment_frames(j: np.ndarray) -> dict[str, np.ndarray]:
    """ISB segment frames built from positions (see the module docstring).

    Args:
        j: ``(T, 22, 3)`` float64 joints (see :func:`check_joints`).

    Returns:
        ``{"pelvis", "thorax", "left_thigh", "left_shank", "right_thigh", "right_shank"}`` ->
        ``(T, 3, 3)`` rotation matrices whose columns are the X (anterior), Y (superior), Z (right) axes
        in world coordinates.
    """
    up = np.broadcast_to(np.array([0.0, 1.0, 0.0]), j[:, 0].shape)
    mid_hip = 0.5 * (j[:, _J["left_hip"]] + j[:, _J["right_hip"]])
    pelvis = _basis(j[:, _J["right_hip"]] - j[:, _J["left_hip"]], j[:, _J["spine1"]] - mid_hip, up, "zy")
    frames = {"pelvis": pelvis}
    frames["thorax"] = _basis(
        j[:, _J["neck"]] - j[:, _J["spine3"]],
        j[:, _J["right_collar"]] - j[:, _J["left_collar"]],
        j[:, _J["right_shoulder"]] - j[:, _J["left_shoulder"]],
        "yz",
    )
    for side in ("left", "right"):
        hip, knee = j[:, _J[f"{side}_hip"]], j[:, _J[f"{side}_knee"]]
        ankle, foot = j[:, _J[f"{side}_ankle"]], j[:, _J[f"{side}_foot"]]
        shank_up, thigh_up = _unit(knee - ankle), _unit(hip - knee)
        # lateral (knee hinge) axis hint, each term weighted by how well it is defined (a sine): the
        # knee's flexion plane (vanishes when straight; trusted 3x, it is fixed in the femur) + the foot's
        # sagittal plane (vanishes on pointe)
        hinge = _KNEE_WEIGHT * np.cross(shank_up, thigh_up) + np.cross(_unit(foot - ankle), shank_up)
        frames[f"{side}_shank"] = _basis(shank_up, hinge, pelvis[..., 2], "yz")
        frames[f"{side}_thigh"] = _basis(thigh_up, hinge, pelvis[..., 2], "yz")
    return frames


def _hip_channels(pelvis: np.ndarray, thigh: np.ndarray, side: str) -> np.ndarray:
    """Hip flexion, abduction, internal rotation ``(T, 3)`` (ISB Z-X-Y, abduction positive both sides)."""
    z, x, y = _cardan(pelvis, thigh, "ZXY").T
    if side == "right":
        return np.stack([z, -x, y], axis=-1)
    return np.stack([z, x, -y], axis=-1)


def _neck_channels(thorax: np.ndarray, neck: np.ndarray, head: np.ndarray) -> np.ndarray:
    """Neck flexion and lateral bend ``(T, 2)`` of the neck -> head direction in the thorax frame."""
    v = _unit(np.einsum("tji,tj->ti", thorax, head - neck))
    return np.stack([np.arctan2(v[:, 0], v[:, 1]), np.arctan2(v[:, 2], np.hypot(v[:, 0], v[:, 1]))], -1)


def _shoulder_channels(
    thorax: np.ndarray, shoulder: np.ndarray, elbow: np.ndarray, wrist: np.ndarray, side: str
) -> np.ndarray:
    """Shoulder horizontal flexion, abduction, internal rotation ``(T, 3)`` (swing-twist from T-pose).

    Args:
        thorax: ``(T, 3, 3)`` thorax frames.
        shoulder, elbow, wrist: ``(T, 3)`` world positions.
        side: ``"left"`` or ``"right"``.
    """
    upper = _unit(np.einsum("tji,tj->ti", thorax, elbow - shoulder))  # thorax coordinates
    fore = _unit(np.einsum("tji,tj->ti", thorax, wrist - elbow))
    sgn = 1.0 if side == "right" else -1.0
    ref = np.array([0.0, 0.0, sgn])  # T-pose humerus direction: lateral
    ref_hinge = np.array([0.0, sgn, 0.0])  # T-pose elbow hinge (forearm bending forwards)
    axis = np.cross(ref, upper)
    sine = np.linalg.norm(axis, axis=-1)
    theta = np.arctan2(sine, upper @ ref)
    scale = np.where(sine > 1e-9, theta / np.maximum(sine, 1e-12), 1.0)
    swing = axis * scale[:, None]  # rotation vector taking ``ref`` onto ``upper``
    hinge_ref = Rotation.from_rotvec(swing).apply(ref_hinge)
    hinge = np.cross(upper, fore)  # |hinge| = sin(elbow flexion)
    # where the elbow is nearly straight the hinge (and so the twist) is unobservable: lean on the swung
    # T-pose hinge (twist 0) with a weight that fades out at _TWIST_SINE
    bent = np.where(_dot(upper, fore) > 0.0, np.linalg.norm(hinge, axis=-1), 1.0)  # sine up to 90 deg
    weight = np.maximum(_TWIST_SINE - bent, 0.0)
    hinge = hinge + weight[:, None] * hinge_ref
    twist = np.arctan2(_dot(np.cross(hinge_ref, hinge), upper), _dot(hinge_ref, hinge))
    return np.stack([sgn * swing[:, 1], np.pi / 2 - sgn * swing[:, 0], -sgn * twist], axis=-1)


def check_joints(joints: np.ndarray) -> np.ndarray:
    """Check a joints array's shape and values.

    Args:
        joints: ``(T, 22, 3)`` positions, any float dtype.

    Returns:
        ``(T, 22, 3)`` float64 copy.

    Raises:
        MotionDataError: wrong shape, no frames, or NaN/inf values (names the frame and joint).
    """
    arr = np.asarray(joints)
    if arr.ndim != 3 or arr.shape[1:] != (NUM_JOINTS, 3) or arr.shape[0] < 1:
        raise MotionDataError(f"joints: expected shape (T>=1, {NUM_JOINTS}, 3), got {arr.shape}")
    arr = arr.astype(np.float64)
    if not np.all(np.isfinite(arr)):
        bad = np.argwhere(~np.isfinite(arr))[0]
        raise MotionDataError(f"joints: non-finite value at frame {bad[0]}, joint {bad[1]}")
    return arr


def joint_angles(joints: np.ndarray) -> np.ndarray:
    """The 29 joint-angle channels of a motion, in ``BANDS`` order (see the module docstring).

    Args:
        joints: ``(T, 22, 3)`` canonical SMPL-22 positions (HumanML3D order, Y up, metres).

    Returns:
        ``(T, 29)`` float32: root position in metres, every other channel in radians, unwrapped over
        time (no 2*pi jumps between frames).

    Raises:
        MotionDataError: wrong shape, no frames, or NaN/inf values.

    >>> still = np.zeros((2, 22, 3))
    >>> joint_angles(still).shape, joint_angles(still).dtype
    ((2, 29), dtype('float32'))
    """
    j = check_joints(joints)
    f = segment_frames(j)
    world = np.broadcast_to(_WORLD_ISB, f["pelvis"].shape)
    yaw, obliquity, tilt = _cardan(world, f["pelvis"], "YXZ").T
    parts = [root_trajectory(j), np.stack([-tilt, obliquity, yaw], axis=-1)]
    parts += [_hip_channels(f["pelvis"], f[f"{s}_thigh"], s) for s in ("left", "right")]
    for s in ("left", "right"):
        parts.append(_angle_between(j[:, _J[f"{s}_knee"]] - j[:, _J[f"{s}_hip"]],
                                    j[:, _J[f"{s}_ankle"]] - j[:, _J[f"{s}_knee"]])[:, None])  # fmt: skip
    for s in ("left", "right"):
        ankle = j[:, _J[f"{s}_ankle"]]
        shank_up, foot = j[:, _J[f"{s}_knee"]] - ankle, j[:, _J[f"{s}_foot"]] - ankle
        parts.append((np.pi / 2 - _angle_between(shank_up, foot))[:, None])
    flex, bend, rot = _cardan(f["pelvis"], f["thorax"], "ZXY").T
    parts.append(np.stack([-flex, bend, rot], axis=-1))
    parts.append(_neck_channels(f["thorax"], j[:, _J["neck"]], j[:, _J["head"]]))
    for s in ("left", "right"):
        parts.append(_shoulder_channels(f["thorax"], j[:, _J[f"{s}_shoulder"]], j[:, _J[f"{s}_elbow"]],
                                        j[:, _J[f"{s}_wrist"]], s))  # fmt: skip
    for s in ("left", "right"):
        parts.append(_angle_between(j[:, _J[f"{s}_elbow"]] - j[:, _J[f"{s}_shoulder"]],
                                    j[:, _J[f"{s}_wrist"]] - j[:, _J[f"{s}_elbow"]])[:, None])  # fmt: skip
    out = np.concatenate(parts, axis=-1)
    out[:, 3:] = np.unwrap(out[:, 3:], axis=0)
    return out.astype(np.float32)


def mirror_angles(angles: np.ndarray) -> np.ndarray:
    """The channels of the left/right mirrored motion, from the channels of the original.

    Args:
        angles: ``(..., 29)`` output of :func:`joint_angles`.

    Returns:
        ``(..., 29)``: left and right channels swapped, antisymmetric channels negated.

    >>> a = np.arange(29, dtype=np.float32)[None]
    >>> m = mirror_angles(a)
    >>> int(m[0, 12]), int(m[0, 13]), float(m[0, 0])   # knees swap, root x flips
    (13, 12, -0.0)
    """
    arr = np.asarray(angles)
    if arr.shape[-1] != NUM_ANGLE_CHANNELS:
        raise MotionDataError(f"angles: expected {NUM_ANGLE_CHANNELS} channels, got shape {arr.shape}")
    return arr[..., list(ANGLE_MIRROR_PERMUTATION)] * np.asarray(ANGLE_MIRROR_SIGNS, dtype=arr.dtype)
