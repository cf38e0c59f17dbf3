# SPDX-License-Identifier: GPL-3.0-or-later
"""Joints -> armature pose maths (pure: numpy only, no bpy).

Given an armature's rest matrices and a map bone -> joint, :func:`solve_pose` turns per-frame joint
positions into per-frame pose-bone ``matrix_basis`` values (location + rotation) that Blender evaluates
back into those joints. All matrices are in *armature space* (the object's local space).

How a bone is posed (parents first):

1. *Carried*: the bone follows its parent with an identity basis:
   ``C = P_parent @ inv(R_parent) @ R_bone`` (``R`` = rest ``matrix_local``, ``P`` = pose matrix).
2. *Aimed*: a bone mapped to joint ``j`` with an aim child ``c`` (the child its bone points at) is
   rotated by the smallest rotation (swing) that turns its carried rest vector ``head_c - head_j`` onto the
   target vector ``joints[c] - joints[j]``; the twist is inherited from the parent, which keeps curves
   smooth. Joints with a left/right pair of children (pelvis with its hips, ``spine3`` with its collars)
   get a full frame (aim + lateral axis) instead, so turns of the hips and chest are kept.
3. *Head*: the bone mapped to the root joint is moved to ``root_scale * joints[root]``; with
   ``exact_heads`` every mapped bone's head is placed on its joint (a per-frame location key in its
   parent's space), otherwise heads are carried.

For our own 22-bone armature, whose rest pose is built from the clip (see ``skeleton.tpose_rest``), the
aim makes the child's head land on its joint up to the bone-length variation of the data; exact heads
absorb that residual, so evaluated heads equal the served joints to float precision.
:func:`location_residual` measures how far heads would drift without those location keys.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .errors import MotionDataError
from .skeleton import aim_children, check_joints, frames_from_vectors, lateral_pairs

__all__ = [
    "RigSpec",
    "forward_pose",
    "location_residual",
    "matrices_to_quaternions",
    "quaternions_to_matrices",
    "solve_pose",
    "swing_matrices",
]


@dataclass
class RigSpec:
    """What the solver needs to know about an armature.

    Attributes:
        bone_names: ``(B,)`` bone names.
        parents: ``(B,)`` parent bone index, -1 for roots.
        rest: ``(B, 4, 4)`` rest ``matrix_local`` of every bone (armature space; translation = head).
        bone_joint: ``(B,)`` joint index driven by each bone, -1 when the bone is not mapped.
    """

    bone_names: list[str]
    parents: list[int]
    rest: np.ndarray
    bone_joint: list[int]

    def order(self) -> list[int]:
        """Bone indices with every parent before its children."""
        depth: dict[int, int] = {}

        def _depth(b: int) -> int:
            if b not in depth:
                p = self.parents[b]
                depth[b] = 0 if p < 0 else _depth(p) + 1
            return depth[b]

        return sorted(range(len(self.parents)), key=lambda b: (_depth(b), b))


def swing_matrices(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Smallest rotations turning direction ``a`` onto direction ``b``.

    Args:
        a: ``(N, 3)`` vectors (any length > 0).
        b: ``(N, 3)`` vectors.

    Returns:
        ``(N, 3, 3)`` rotation matrices ``R`` with ``R @ a / |a| == b / |b|`` (identity for zero vectors;
        a half turn about an axis perpendicular to ``a`` when they are opposite).
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    na = np.linalg.norm(a, axis=-1, keepdims=True)
    nb = np.linalg.norm(b, axis=-1, keepdims=True)
    valid = (na[:, 0] > 1e-12) & (nb[:, 0] > 1e-12)
    a = a / np.maximum(na, 1e-12)
    b = b / np.maximum(nb, 1e-12)
    v = np.cross(a, b)
    c = np.sum(a * b, axis=-1)
    n = a.shape[0]
    k = np.zeros((n, 3, 3))
    k[:, 0, 1], k[:, 0, 2], k[:, 1, 2] = -v[:, 2], v[:, 1], -v[:, 0]
    k[:, 1, 0], k[:, 2, 0], k[:, 2, 1] = v[:, 2], -v[:, 1], v[:, 0]
    out = np.broadcast_to(np.eye(3), (n, 3, 3)).copy()
    regular = valid & (c > -1.0 + 1e-9)
    f = 1.0 / (1.0 + c[regular])
    out[regular] += k[regular] + (k[regular] @ k[regular]) * f[:, None, None]
    opposite = valid & ~regular
    if opposite.any():
        ao = a[opposite]
        helper = np.where(np.abs(ao[:, :1]) < 0.9, [[1.0, 0.0, 0.0]], [[0.0, 1.0, 0.0]])
        axis = np.cross(ao, helper)
        axis /= np.linalg.norm(axis, axis=-1, keepdims=True)
        out[opposite] = 2.0 * axis[:, :, None] * axis[:, None, :] - np.eye(3)
    return out


def matrices_to_quaternions(m: np.ndarray) -> np.ndarray:
    """Rotation matrices -> unit quaternions ``(w, x, y, z)``, sign-continuous along the first axis.

    Args:
        m: ``(T, 3, 3)`` rotation matrices (one bone over time).

    Returns:
        ``(T, 4)`` quaternions; consecutive ones have a non-negative dot product, so Blender's
        component-wise interpolation never takes the long way round.
    """
    m = np.asarray(m, dtype=np.float64)
    t = m.shape[0]
    q = np.empty((t, 4))
    tr = m[:, 0, 0] + m[:, 1, 1] + m[:, 2, 2]
    cand = np.stack([tr, m[:, 0, 0], m[:, 1, 1], m[:, 2, 2]], axis=-1)
    pick = np.argmax(cand, axis=-1)
    for case in range(4):
        s = pick == case
        if not s.any():
            continue
        mm = m[s]
        if case == 0:
            r = np.sqrt(np.maximum(1.0 + tr[s], 1e-12)) * 2.0
            q[s] = np.stack(
                [
                    0.25 * r,
                    (mm[:, 2, 1] - mm[:, 1, 2]) / r,
                    (mm[:, 0, 2] - mm[:, 2, 0]) / r,
                    (mm[:, 1, 0] - mm[:, 0, 1]) / r,
                ],
                axis=-1,
            )
        else:
            i = case - 1
            j, k = (i + 1) % 3, (i + 2) % 3
            r = np.sqrt(np.maximum(1.0 + mm[:, i, i] - mm[:, j, j] - mm[:, k, k], 1e-12)) * 2.0
            comp = np.empty((mm.shape[0], 4))
            comp[:, 0] = (mm[:, k, j] - mm[:, j, k]) / r
            comp[:, 1 + i] = 0.25 * r
            comp[:, 1 + j] = (mm[:, j, i] + mm[:, i, j]) / r
            comp[:, 1 + k] = (mm[:, k, i] + mm[:, i, k]) / r
            q[s] = comp
    q /= np.linalg.norm(q, axis=-1, keepdims=True)
    if q[0, 0] < 0:
        q[0] = -q[0]
    for i in range(1, t):
        if np.dot(q[i], q[i - 1]) < 0:
            q[i] = -q[i]
    return q


def quaternions_to_matrices(q: np.ndarray) -> np.ndarray:
    """Unit quaternions ``(..., 4)`` ``(w, x, y, z)`` -> rotation matrices ``(..., 3, 3)``."""
    q = np.asarray(q, dtype=np.float64)
    q = q / np.linalg.norm(q, axis=-1, keepdims=True)
    w, x, y, z = q[..., 0], q[..., 1], q[..., 2], q[..., 3]
    return np.stack([
        np.stack([1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)], axis=-1),
        np.stack([2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)], axis=-1),
        np.stack([2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)], axis=-1),
    ], axis=-2)  # fmt: skip


def _parent_rest_offset(spec: RigSpec, b: int) -> np.ndarray:
    """``inv(R_parent) @ R_bone`` (or ``R_bone`` for a root): the bone's rest matrix in its parent's space."""
    p = spec.parents[b]
    return spec.rest[b] if p < 0 else np.linalg.inv(spec.rest[p]) @ spec.rest[b]


def solve_pose(
    spec: RigSpec,
    joints: np.ndarray,
    joint_names: Sequence[str],
    joint_parents: Sequence[int],
    *,
    exact_heads: bool = True,
    root_scale: float = 1.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Per-frame pose of every bone so that mapped bones follow ``joints``.

    Args:
        spec: the armature (rest matrices, hierarchy, bone -> joint map).
        joints: ``(T, J, 3)`` target joint positions in armature space.
        joint_names: ``(J,)`` joint names (``aim`` children and lateral pairs are derived from them).
        joint_parents: ``(J,)`` joint parents; joint 0 must be the root.
        exact_heads: put the head of every mapped bone on its joint (location keys on child bones);
            otherwise only the root-joint bone gets a location.
        root_scale: factor applied to the root joint's position (retargeting onto a bigger / smaller rig).

    Returns:
        ``(basis, pose)``: ``(T, B, 4, 4)`` pose-bone ``matrix_basis`` and ``(T, B, 4, 4)`` armature-space
        pose matrices (``pose[..., :3, 3]`` are the evaluated heads).

    Raises:
        MotionDataError: ``joints`` has the wrong shape or the rest matrices do not match the bones.
    """
    j = check_joints(joints, len(joint_names))
    nb = len(spec.bone_names)
    if spec.rest.shape != (nb, 4, 4) or len(spec.parents) != nb or len(spec.bone_joint) != nb:
        raise MotionDataError(f"rig spec is inconsistent: {nb} bones, rest {spec.rest.shape}")
    t = j.shape[0]
    bone_of = {jj: b for b, jj in enumerate(spec.bone_joint) if jj >= 0}
    aims = aim_children(joint_names, joint_parents)
    pairs = lateral_pairs(joint_names, joint_parents)
    rest_head = spec.rest[:, :3, 3]
    pose = np.zeros((t, nb, 4, 4))
    basis = np.zeros((t, nb, 4, 4))
    for b in spec.order():
        p = spec.parents[b]
        local_rest = _parent_rest_offset(spec, b)
        carried = local_rest[None] if p < 0 else pose[:, p] @ local_rest  # (T or 1, 4, 4)
        carried = np.broadcast_to(carried, (t, 4, 4))
        rot = carried[:, :3, :3].copy()
        head = carried[:, :3, 3].copy()
        jj = spec.bone_joint[b]
        if jj >= 0:
            aim = aims[jj]
            aim_b = bone_of.get(aim, -1) if aim >= 0 else -1
            pair = pairs.get(jj)
            pair_b = (bone_of.get(pair[0], -1), bone_of.get(pair[1], -1)) if pair else (-1, -1)
            if pair is not None and aim_b >= 0 and min(pair_b) >= 0:  # full frame: aim + lateral axis
                f_rest = frames_from_vectors(
                    rest_head[aim_b] - rest_head[b], rest_head[pair_b[0]] - rest_head[pair_b[1]]
                )
                f_now = frames_from_vectors(j[:, aim] - j[:, jj], j[:, pair[0]] - j[:, pair[1]])
                rot = f_now @ f_rest.T @ spec.rest[b, :3, :3]
            elif aim_b >= 0:  # swing from the carried direction onto the target direction
                delta = rot @ spec.rest[b, :3, :3].T
                carried_aim = delta @ (rest_head[aim_b] - rest_head[b])
                rot = swing_matrices(carried_aim, j[:, aim] - j[:, jj]) @ rot
            if jj == 0:
                head = root_scale * j[:, jj]
            elif exact_heads:
                head = j[:, jj]
        pose[:, b, :3, :3] = rot
        pose[:, b, :3, 3] = head
        pose[:, b, 3, 3] = 1.0
        in_parent = pose[:, b] if p < 0 else np.linalg.inv(pose[:, p]) @ pose[:, b]
        basis[:, b] = np.linalg.inv(local_rest)[None] @ in_parent
    return basis, pose


def forward_pose(spec: RigSpec, basis: np.ndarray) -> np.ndarray:
    """Armature-space pose matrices from ``matrix_basis`` values (Blender's pose evaluation, no constraints).

    Args:
        spec: the armature.
        basis: ``(T, B, 4, 4)`` pose-bone ``matrix_basis``.

    Returns:
        ``(T, B, 4, 4)`` pose matrices.
    """
    pose = np.zeros_like(basis)
    for b in spec.order():
        p = spec.parents[b]
        local_rest = _parent_rest_offset(spec, b)
        pose[:, b] = (local_rest[None] if p < 0 else pose[:, p] @ local_rest[None]) @ basis[:, b]
    return pose


def location_residual(spec: RigSpec, basis: np.ndarray, targets: np.ndarray) -> float:
    """Largest head error (armature units) if every bone except the root-joint bone dropped its location.

    Args:
        spec: the armature.
        basis: ``(T, B, 4, 4)`` from :func:`solve_pose` with ``exact_heads=True``.
        targets: ``(T, J, 3)`` the joints the mapped heads should sit on.

    Returns:
        max over frames and mapped bones of ``|head - target|``.
    """
    stripped = basis.copy()
    for b, jj in enumerate(spec.bone_joint):
        if jj != 0:
            stripped[:, b, :3, 3] = 0.0
    heads = forward_pose(spec, stripped)[:, :, :3, 3]
    err = 0.0
    for b, jj in enumerate(spec.bone_joint):
        if jj >= 0:
            err = max(err, float(np.linalg.norm(heads[:, b] - targets[:, jj], axis=-1).max()))
    return err
