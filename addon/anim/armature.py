# SPDX-License-Identifier: GPL-3.0-or-later
"""Build an armature from joint positions, and describe any armature for the pose solver."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import bpy
import numpy as np

from ..posing import RigSpec
from ..rna import armature, collection, pose, view_layer
from ..skeleton import LEAF_LENGTH, aim_children

__all__ = ["bone_parents", "build_armature", "ensure_object_mode", "rig_spec"]


def ensure_object_mode(context: bpy.types.Context) -> None:
    """Leave edit / pose mode of the active object (needed before switching objects)."""
    obj = view_layer(context).objects.active
    if obj is not None and obj.mode != "OBJECT":
        bpy.ops.object.mode_set(mode="OBJECT")


def build_armature(
    context: bpy.types.Context,
    name: str,
    joint_names: Sequence[str],
    parents: Sequence[int],
    rest_heads: np.ndarray,
) -> bpy.types.Object:
    """Create an armature object with one bone per joint, in the scene's active collection.

    Every bone starts at its joint and points at its aim child (the central child for the pelvis and
    ``spine3``, otherwise the only child); leaves (head, wrists, feet) continue their parent's direction
    for ``LEAF_LENGTH``. Bones are not connected, so per-frame locations are possible. Bone colours are
    enabled in the display so the alignment colouring shows.

    Args:
        context: the current context (its view layer gets the new object, made active and selected).
        name: object and armature name.
        joint_names: ``(J,)`` bone names.
        parents: ``(J,)`` parent joint indices (parents first).
        rest_heads: ``(J, 3)`` rest head positions (Blender space, metres).

    Returns:
        The new armature object, in object mode.
    """
    ensure_object_mode(context)
    arm = bpy.data.armatures.new(name)
    arm.display_type = "OCTAHEDRAL"
    if hasattr(arm, "show_bone_colors"):
        arm.show_bone_colors = True
    obj = bpy.data.objects.new(name, arm)
    obj.show_in_front = True
    collection(context).objects.link(obj)
    layer = view_layer(context)
    for other in layer.objects:
        other.select_set(False)
    layer.objects.active = obj
    obj.select_set(True)
    aims = aim_children(joint_names, parents)
    bpy.ops.object.mode_set(mode="EDIT")
    try:
        bones = []
        for i, joint in enumerate(joint_names):
            eb = arm.edit_bones.new(joint)
            head = np.asarray(rest_heads[i], dtype=np.float64)
            if aims[i] >= 0 and np.linalg.norm(rest_heads[aims[i]] - head) > 1e-4:
                tail = np.asarray(rest_heads[aims[i]], dtype=np.float64)
            else:
                p = parents[i]
                d = head - rest_heads[p] if p >= 0 else np.array([0.0, 0.0, 1.0])
                tail = head + LEAF_LENGTH * d / max(float(np.linalg.norm(d)), 1e-9)
            eb.head = tuple(head)
            eb.tail = tuple(tail)
            eb.roll = 0.0
            eb.use_connect = False
            bones.append(eb)
        for i, p in enumerate(parents):
            if p >= 0:
                bones[i].parent = bones[p]
    finally:
        bpy.ops.object.mode_set(mode="OBJECT")
    for pb in pose(obj).bones:
        pb.rotation_mode = "QUATERNION"
    return obj


def bone_parents(obj: bpy.types.Object) -> tuple[list[str], list[int]]:
    """Bone names and parent indices (-1 for roots) of an armature object."""
    bones = armature(obj).bones
    names = [b.name for b in bones]
    index = {n: i for i, n in enumerate(names)}
    return names, [index[b.parent.name] if b.parent else -1 for b in bones]


def rig_spec(obj: bpy.types.Object, mapping: Mapping[str, str], joint_names: Sequence[str]) -> RigSpec:
    """Describe an armature for :func:`~..posing.solve_pose`.

    Args:
        obj: armature object.
        mapping: ``{joint_name: bone_name}``.
        joint_names: the joint order the solver's joint array uses.

    Returns:
        The :class:`RigSpec` (rest ``matrix_local`` of every bone, hierarchy, bone -> joint index).
    """
    names, parents = bone_parents(obj)
    rest = np.array([np.array(b.matrix_local) for b in armature(obj).bones], dtype=np.float64).reshape(
        -1, 4, 4
    )
    joint_of_bone = {
        bone: joint_names.index(joint) for joint, bone in mapping.items() if joint in joint_names and bone
    }
    return RigSpec(names, parents, rest, [joint_of_bone.get(n, -1) for n in names])
