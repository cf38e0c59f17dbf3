# SPDX-License-Identifier: GPL-3.0-or-later
"""Sample an armature's animation into SMPL-22 joints for ``/describe``.

The scene is stepped through every frame of the armature's action (at the scene's frame rate, whatever it
is: the server resamples to 20 fps); at each frame the evaluated pose-bone heads of the mapped bones are
read in world space, joints the rig lacks but that can be interpolated (e.g. ``spine2`` of a rig with two
spine bones) are derived, and Blender's Z up is turned into the backend's Y up:
``(x, y, z)_blender -> (x, z, -y)_yup``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import bpy
import numpy as np

from ..errors import MotionDataError
from ..rigmap import check_mapping, derivable_joints
from ..rna import armature, pose, window_manager
from ..rna import scene as scene_of
from ..skeleton import SMPL_JOINT_NAMES, zup_to_yup
from .motion import scene_fps

__all__ = ["SampledMotion", "action_frame_range", "sample_joints"]


@dataclass
class SampledMotion:
    """Joints sampled from an armature.

    Attributes:
        joints: ``(T, 22, 3)`` SMPL-22 world positions, metres, **Y up** (ready for ``/describe``).
        fps: frame rate of the samples (the scene's).
        frame_start: first sampled scene frame.
        frame_end: last sampled scene frame.
    """

    joints: np.ndarray
    fps: float
    frame_start: int
    frame_end: int


def action_frame_range(obj: bpy.types.Object, scene: bpy.types.Scene) -> tuple[int, int]:
    """Frames covered by the object's active action (the scene range when it has none)."""
    ad = obj.animation_data
    if ad is not None and ad.action is not None:
        frames = ad.action.frame_range
        return int(np.floor(frames[0])), int(np.ceil(frames[1]))
    return int(scene.frame_start), int(scene.frame_end)


def sample_joints(
    context: bpy.types.Context,
    obj: bpy.types.Object,
    mapping: Mapping[str, str],
    frame_range: tuple[int, int] | None = None,
    max_frames: int = 12000,
) -> SampledMotion:
    """Evaluate ``obj`` at every frame and collect the 22 joints.

    Args:
        context: current context (its scene is stepped; the current frame is restored afterwards).
        obj: an armature object.
        mapping: ``{smpl_joint: bone_name}``; missing joints must be derivable (see ``rigmap``).
        frame_range: ``(first, last)`` scene frames; default: the active action's range.
        max_frames: refuse longer ranges (the backend accepts at most 10 minutes).

    Returns:
        :class:`SampledMotion`.

    Raises:
        RigMapError: joints that are neither mapped nor derivable (all listed).
        MotionDataError: an empty or too long frame range.
    """
    bones = armature(obj).bones
    check_mapping(mapping, [b.name for b in bones], need_all=True)
    scene = scene_of(context)
    first, last = frame_range or action_frame_range(obj, scene)
    count = last - first + 1
    if count < 1 or count > max_frames:
        raise MotionDataError(
            f"frame range {first}..{last} has {count} frames (1..{max_frames} can be described)"
        )
    index = {b.name: i for i, b in enumerate(bones)}
    mapped = {j: index[b] for j, b in mapping.items() if b}
    derived = derivable_joints(mapping)
    heads = np.zeros(len(bones) * 3, dtype=np.float32)
    out = np.zeros((count, len(SMPL_JOINT_NAMES), 3))
    keep = scene.frame_current
    wm = window_manager(context)
    wm.progress_begin(0, count)
    try:
        for t, frame in enumerate(range(first, last + 1)):
            if t % 50 == 0:
                wm.progress_update(t)
            scene.frame_set(frame)
            pose(obj).bones.foreach_get("head", heads)
            mw = np.array(obj.matrix_world)
            world = heads.reshape(-1, 3).astype(np.float64) @ mw[:3, :3].T + mw[:3, 3]
            for j, name in enumerate(SMPL_JOINT_NAMES):
                if name in mapped:
                    out[t, j] = world[mapped[name]]
    finally:
        wm.progress_end()
        scene.frame_set(keep)
    pos = {n: j for j, n in enumerate(SMPL_JOINT_NAMES)}
    for name, recipe in derived.items():
        out[:, pos[name]] = sum(w * out[:, pos[src]] for src, w in recipe)
    return SampledMotion(zup_to_yup(out), scene_fps(scene), first, last)
