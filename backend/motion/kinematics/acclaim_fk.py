"""Forward kinematics of an Acclaim ASF skeleton driven by AMC values.

Conventions (the Acclaim format's, as the CMU database documents them):

* A bone's ``axis`` gives its local frame: ``C = R(axis)``, local -> world at rest. Euler angles here, in
  ``axis`` and in ``dof`` order, are rotations about the *fixed* axes in the listed order (the first listed is
  applied first), i.e. ``R = R_last @ ... @ R_first`` for column vectors (scipy's lower-case sequence).
* A frame's rotation values ``M`` act in the bone's local frame, so in world axes the bone turns by
  ``C @ M @ C^T``; the world rotation of a bone is its parent's times that: ``G = G_parent @ C M C^T``.
* Each bone starts where its parent ends (root children: at the root position, ``position`` + the AMC
  translation) and ends at ``start + G @ (direction * length)``; ``tx ty tz`` dofs of a bone shift it in its
  local frame. The ``l`` (length) dof is read but not applied (no rig here uses it).

Point names follow the BVH convention the rest of the pipeline uses: a point named after a bone is where the
bone *starts* (its joint), the root is ``"root"``, and the far end of a bone without children is
``"<bone>/end"`` (:data:`~backend.motion.kinematics.fk.END_SITE_SUFFIX`).
"""

from __future__ import annotations

import numpy as np
from scipy.spatial.transform import Rotation

from backend.errors import AsfAmcError
from backend.motion.io.acclaim import AmcMotion, AsfSkeleton
from backend.motion.kinematics.fk import END_SITE_SUFFIX

__all__ = ["acclaim_forward_kinematics", "acclaim_point_names"]

_AXES = {"x": 0, "y": 1, "z": 2}


def _euler(order: str, angles: np.ndarray, degrees: bool) -> np.ndarray:
    """``(..., 3, 3)`` rotation matrices for extrinsic Euler ``angles`` (``(..., len(order))``)."""
    if not order:
        return np.broadcast_to(np.eye(3), (*angles.shape[:-1], 3, 3)).copy()
    flat = angles.reshape(-1, len(order))
    mats = Rotation.from_euler(order.lower(), flat, degrees=degrees).as_matrix()
    return mats.reshape(*angles.shape[:-1], 3, 3)


def _rotation_part(dof: tuple[str, ...], values: np.ndarray) -> tuple[str, np.ndarray]:
    cols = [k for k, d in enumerate(dof) if d in ("rx", "ry", "rz")]
    return "".join(dof[k][1] for k in cols), values[:, cols]


def _translation_part(dof: tuple[str, ...], values: np.ndarray) -> np.ndarray:
    out = np.zeros((values.shape[0], 3))
    for k, d in enumerate(dof):
        if d in ("tx", "ty", "tz"):
            out[:, _AXES[d[1]]] = values[:, k]
    return out


def acclaim_point_names(skeleton: AsfSkeleton) -> list[str]:
    """Names of the points :func:`acclaim_forward_kinematics` returns, in its order."""
    order = skeleton.order()
    leaves = [b for b in order if not skeleton.children.get(b)]
    return ["root", *order, *(b + END_SITE_SUFFIX for b in leaves)]


def acclaim_forward_kinematics(skeleton: AsfSkeleton, motion: AmcMotion) -> np.ndarray:
    """World positions of the root, every bone's start and every leaf bone's end.

    Args:
        skeleton: the ASF skeleton.
        motion: AMC values read against it.

    Returns:
        ``(F, 1 + B + L, 3)`` float64 positions in file units, named by :func:`acclaim_point_names`.

    Raises:
        AsfAmcError: the motion has no frames.

    >>> import numpy as np
    >>> from pathlib import Path
    >>> from backend.motion.io.acclaim import AmcMotion, AsfBone, AsfSkeleton
    >>> bone = AsfBone("arm", np.array([1.0, 0, 0]), 2.0, np.array([0.0, 0, 90]), "XYZ", ("rx",))
    >>> skel = AsfSkeleton(Path("t.asf"), bones={"arm": bone}, children={"root": ["arm"]})
    >>> amc = AmcMotion(Path("t.amc"), {"root": np.zeros((1, 6)), "arm": np.array([[90.0]])}, True)
    >>> acclaim_forward_kinematics(skel, amc).round(6).tolist()  # rx in a frame whose x is world y
    [[[0.0, 0.0, 0.0], [0.0, 0.0, 0.0], [0.0, 0.0, -2.0]]]
    """
    n = motion.num_frames
    if n == 0:
        raise AsfAmcError(f"{motion.path}: no frames")
    deg_asf, deg_amc = skeleton.degrees, motion.degrees
    root_vals = motion.values.get("root", np.zeros((n, len(skeleton.root_order))))
    c_root = _euler(skeleton.root_axis_order, skeleton.root_orientation, deg_asf)
    order, angles = _rotation_part(skeleton.root_order, root_vals)
    m_root = _euler(order, angles, deg_amc)
    world = {"root": c_root @ m_root @ c_root.T}
    root_pos = skeleton.root_position + _translation_part(skeleton.root_order, root_vals)
    starts = {"root": root_pos}
    ends = {"root": root_pos}
    parents = skeleton.parent_of()
    bones = skeleton.order()
    for name in bones:
        bone = skeleton.bones[name]
        parent = parents[name]
        c = _euler(bone.axis_order, bone.axis, deg_asf)
        values = motion.values.get(name, np.zeros((n, len(bone.dof))))
        order, angles = _rotation_part(bone.dof, values)
        local = c @ _euler(order, angles, deg_amc) @ c.T
        g = world[parent] @ local
        world[name] = g
        start = ends[parent]
        shift = _translation_part(bone.dof, values)
        if np.any(shift):
            start = start + np.einsum("fij,fj->fi", world[parent] @ c, shift)
        starts[name] = start
        ends[name] = start + np.einsum("fij,j->fi", g, bone.direction * bone.length)
    leaves = [b for b in bones if not skeleton.children.get(b)]
    points = [starts["root"], *(starts[b] for b in bones), *(ends[b] for b in leaves)]
    return np.stack(points, axis=1)
