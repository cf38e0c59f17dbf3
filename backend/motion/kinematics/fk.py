"""Forward kinematics of a parsed BVH skeleton.

Conventions (those of the BVH format as Blender, MotionBuilder and the CMU conversions use it):

* Each joint's local transform is ``T(t) @ R``: the translation ``t`` is the joint's ``OFFSET``, except that
  every position channel present on the joint (``Xposition`` ...) replaces the matching component; ``R`` is
  the product of its rotation channels in the order they are listed, ``R = R_c1 @ R_c2 @ R_c3`` for column
  vectors (intrinsic rotations, scipy's upper-case sequence; angles in degrees).
* World transform of joint ``j`` = world transform of its parent @ local transform of ``j``.
* An ``End Site`` is a point at its offset in the frame of its joint.

Positions are returned in file units; unit detection and the canonical frame live in
:mod:`backend.motion.kinematics.canonical`.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial.transform import Rotation

from backend.motion.io.bvh import POSITION_CHANNELS, ROTATION_CHANNELS, BvhData

__all__ = ["END_SITE_SUFFIX", "forward_kinematics", "local_rotations", "point_names"]

#: suffix that names the End Site of a joint in :func:`point_names` (e.g. ``"forearm.L/end"``)
END_SITE_SUFFIX = "/end"


def local_rotations(data: BvhData, joint: int) -> np.ndarray | None:
    """Local rotation matrices of one joint over all frames.

    Args:
        data: parsed BVH.
        joint: joint index.

    Returns:
        ``(F, 3, 3)`` float64 matrices, or ``None`` when the joint has no rotation channel (identity).
    """
    start = data.channel_starts()[joint]
    chans = data.channels[joint]
    cols = [start + k for k, c in enumerate(chans) if c in ROTATION_CHANNELS]
    if not cols:
        return None
    order = data.rotation_order(joint)
    angles = data.motion[:, cols]
    return Rotation.from_euler(order, angles, degrees=True).as_matrix()


def _local_translations(data: BvhData, joint: int) -> np.ndarray:
    """``(F, 3)`` local translation (offset with position channels substituted)."""
    trans = np.broadcast_to(data.offsets[joint], (data.num_frames, 3)).copy()
    start = data.channel_starts()[joint]
    for k, c in enumerate(data.channels[joint]):
        axis = POSITION_CHANNELS.get(c)
        if axis is not None:
            trans[:, axis] = data.motion[:, start + k]
    return trans


def forward_kinematics(data: BvhData, *, with_end_sites: bool = False) -> np.ndarray:
    """World positions of every joint (and optionally every End Site) over all frames.

    Args:
        data: parsed BVH (parents precede children, as :func:`~backend.motion.io.bvh.read_bvh` guarantees).
        with_end_sites: also return the End Site points, after the joints, in increasing order of their
            joint index (names from :func:`point_names`).

    Returns:
        ``(F, J, 3)`` float64 positions in file units, or ``(F, J + E, 3)`` with ``with_end_sites``.

    >>> import numpy as np
    >>> from backend.motion.io.bvh import BvhData
    >>> d = BvhData(["a", "b"], [-1, 0], np.array([[0., 0, 0], [1, 0, 0]]),
    ...             [("Xposition", "Yposition", "Zposition", "Zrotation"), ()], 0.05,
    ...             np.array([[0., 2, 0, 90]]))
    >>> forward_kinematics(d).round(6).tolist()
    [[[0.0, 2.0, 0.0], [0.0, 3.0, 0.0]]]
    """
    n_frames, n_joints = data.num_frames, data.num_joints
    pos = np.zeros((n_frames, n_joints, 3))
    rot = np.zeros((n_frames, n_joints, 3, 3))
    eye = np.broadcast_to(np.eye(3), (n_frames, 3, 3))
    for j in range(n_joints):
        local_r = local_rotations(data, j)
        local_t = _local_translations(data, j)
        p = data.parents[j]
        if p < 0:
            pos[:, j] = local_t
            rot[:, j] = eye if local_r is None else local_r
        else:
            pos[:, j] = pos[:, p] + np.einsum("fij,fj->fi", rot[:, p], local_t)
            rot[:, j] = rot[:, p] if local_r is None else rot[:, p] @ local_r
    if not with_end_sites or not data.end_sites:
        return pos
    ends = []
    for j in sorted(data.end_sites):
        ends.append(pos[:, j] + rot[:, j] @ data.end_sites[j])
    return np.concatenate([pos, np.stack(ends, axis=1)], axis=1)


def point_names(data: BvhData, *, with_end_sites: bool = True) -> list[str]:
    """Names matching the points of :func:`forward_kinematics`.

    Args:
        data: parsed BVH.
        with_end_sites: append ``"<joint>/end"`` for each End Site (in increasing joint order).

    Returns:
        ``J`` or ``J + E`` names.
    """
    names = list(data.names)
    if with_end_sites:
        names += [data.names[j] + END_SITE_SUFFIX for j in sorted(data.end_sites)]
    return names
