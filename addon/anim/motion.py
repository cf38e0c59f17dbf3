# SPDX-License-Identifier: GPL-3.0-or-later
"""Import a served clip as an Action: onto a new 22-bone armature or onto a mapped user armature.

Joint convention: the server sends SMPL-22 positions in metres, Y up, at 20 fps. They are converted to
Blender's Z up (``(x, y, z) -> (x, -z, y)``), resampled linearly to the scene's frame rate, optionally
made in-place, and solved into bone rotations (see ``posing.py``) that are keyed at every scene frame.

New armature (exact): a T-pose rest built from the clip's own bone lengths; every bone is rotated to aim
at its child joint and the pelvis carries the root motion. Served bone lengths are only nearly constant
(canonical joints interpolated between source bones drift by a few mm; measured on the shared data: 0.2 mm
for a Bandai-Namco-2 clip, 1.5 mm for a Bandai-Namco-1 clip, 30 mm for a CMU clip), so the importer
measures the head error that rotations alone would leave (``posing.location_residual``). When it is at
most :data:`LOCATION_TOLERANCE` (0.5 mm) only the pelvis gets location keys; otherwise every bone gets
location keys as well (bones are unconnected), which puts every evaluated head on its joint to float
precision (measured < 0.001 mm), so the 1 mm contract always holds.

Selected armature (retarget): mapped bones get rotation keys (quaternions; their rotation mode is switched
to quaternion), the bone mapped to the pelvis gets location keys scaled by the ratio of the rig's leg
length to the clip's; unmapped bones are reset to their rest pose.

Import options (:class:`ImportOptions`, see ``clipedit.py`` for the maths): only the served frames of the
matched segment ± a margin (the pelvis then starts over the origin, as a whole clip does); mirrored (left
<-> right joints swapped and X negated before the solve, so every mapped bone follows its mirrored joint);
the first key at any frame (scene start or playhead); and the keys in the armature's active action or in a
new NLA strip (on a new track, or on a given one for sequences; the active action is left alone).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import bpy
import numpy as np
from mathutils import Matrix

from ..clipedit import anchor_root, mirror_joints
from ..payloads import MotionData
from ..posing import location_residual, matrices_to_quaternions, solve_pose
from ..rna import armature, pose, window_manager
from ..rna import scene as scene_of
from ..skeleton import bone_lengths, remove_root_motion, resample, tpose_rest, yup_to_zup
from ..state import object_state
from .action import Channel, add_strip, assign_action, new_action, write_channels
from .armature import build_armature, rig_spec

__all__ = ["LOCATION_TOLERANCE", "ImportOptions", "ImportResult", "import_motion", "scene_fps"]

#: Largest head error (metres) accepted without per-bone location keys on the new armature.
LOCATION_TOLERANCE = 0.0005


@dataclass(frozen=True)
class ImportOptions:
    """How one clip is imported (the defaults are the plain import).

    Attributes:
        frames: ``(first, last)`` served frames to import, inclusive (None = the whole clip).
        mirror: swap left and right.
        frame_start: scene frame of the first key (None = the scene's start frame).
        as_strip: put the action into a new NLA strip instead of making it the active action.
        track_name: NLA track for the strip ("" = a new track named after the clip); an existing track of
            that name on the armature is reused (sequences put every clip on one track).
    """

    frames: tuple[int, int] | None = None
    mirror: bool = False
    frame_start: int | None = None
    as_strip: bool = False
    track_name: str = ""


@dataclass
class ImportResult:
    """What :func:`import_motion` made.

    Attributes:
        obj: the animated armature object.
        action: the new action (assigned to ``obj``).
        frame_start: scene frame of the clip's first sample.
        frame_end: scene frame of its last sample.
        fps: scene frame rate used.
        joints: ``(T, J, 3)`` the target joints per scene frame, armature space (Blender, Z up).
        location_keys: whether child bones got location keys.
        residual: head error (armature units) without child location keys (new armature only; else 0).
        clip_origin: scene frame of the served clip's time 0 (before ``frame_start`` for a segment).
        strip: the NLA strip holding the action (None when it is the active action).
    """

    obj: bpy.types.Object
    action: bpy.types.Action
    frame_start: int
    frame_end: int
    fps: float
    joints: np.ndarray
    location_keys: bool
    residual: float
    clip_origin: float = 0.0
    strip: bpy.types.NlaStrip | None = None


def scene_fps(scene: bpy.types.Scene) -> float:
    """The scene's frame rate (``fps / fps_base``)."""
    return float(scene.render.fps) / float(scene.render.fps_base)


def _leg_length(points: np.ndarray, names: list[str]) -> float:
    """Mean hip->knee->ankle length of both legs; points ``(J, 3)`` in ``names`` order (0 if unknown)."""
    total = []
    for side in ("left", "right"):
        try:
            h, k, a = (names.index(f"{side}_{j}") for j in ("hip", "knee", "ankle"))
        except ValueError:
            continue
        total.append(np.linalg.norm(points[k] - points[h]) + np.linalg.norm(points[a] - points[k]))
    return float(np.mean(total)) if total else 0.0


def _path(bone: str, prop: str) -> str:
    return f'pose.bones["{bpy.utils.escape_identifier(bone)}"].{prop}'


def import_motion(
    context: bpy.types.Context,
    motion: MotionData,
    *,
    target: bpy.types.Object | None = None,
    mapping: Mapping[str, str] | None = None,
    root_motion: bool = True,
    name: str | None = None,
    progress: Callable[[float], None] | None = None,
    options: ImportOptions | None = None,
) -> ImportResult:
    """Key a served clip onto a new or an existing armature.

    Args:
        context: current context (scene frame rate and start frame, collection for new objects).
        motion: the clip from ``GET /motions/{id}``.
        target: existing armature to retarget onto; None creates a new armature.
        mapping: ``{joint_name: bone_name}`` for ``target`` (ignored for a new armature).
        root_motion: keep the travel (False: the pelvis stays above its first position).
        name: name of the new armature / action (default: the clip id).
        progress: called with a fraction in ``[0, 1]`` while keys are written.
        options: segment, mirror, start frame and NLA placement (:class:`ImportOptions`).

    Returns:
        :class:`ImportResult`.
    """
    opts = options or ImportOptions()
    scene = scene_of(context)
    fps = scene_fps(scene)
    names = list(motion.joint_names)
    first, last = opts.frames if opts.frames is not None else (0, motion.joints.shape[0] - 1)
    zup = yup_to_zup(motion.joints[first : last + 1])
    if opts.mirror:
        zup = mirror_joints(zup, names)
    if first > 0:
        zup = anchor_root(zup, root=0)
    joints = resample(zup, motion.fps, fps)
    if not root_motion:
        joints = remove_root_motion(joints, root=0)
    label = name or motion.id
    if target is None:
        rest = tpose_rest(zup, names, motion.parents)
        obj = build_armature(context, label, names, motion.parents, rest)
        bone_map = {n: n for n in names}
        exact, scale = True, 1.0
    else:
        obj = target
        bone_map = {j: b for j, b in (mapping or {}).items() if b in armature(obj).bones}
        to_local = np.linalg.inv(np.array(obj.matrix_world))
        joints = joints @ to_local[:3, :3].T + to_local[:3, 3]
        exact = False
        spec0 = rig_spec(obj, bone_map, names)
        rig_points = np.zeros((len(names), 3))
        for b, jj in enumerate(spec0.bone_joint):
            if jj >= 0:
                rig_points[jj] = spec0.rest[b, :3, 3]
        clip_leg = _leg_length(_straight_pose(joints, motion.parents), names)
        rig_leg = _leg_length(rig_points, names)
        scale = rig_leg / clip_leg if clip_leg > 1e-6 and rig_leg > 1e-6 else 1.0
    spec = rig_spec(obj, bone_map, names)
    basis, _ = solve_pose(spec, joints, names, motion.parents, exact_heads=exact, root_scale=scale)
    residual = location_residual(spec, basis, joints) if exact else 0.0
    child_locations = exact and residual > LOCATION_TOLERANCE
    frame_start = int(scene.frame_start if opts.frame_start is None else opts.frame_start)
    frames = frame_start + np.arange(joints.shape[0], dtype=np.float64)
    channels: list[Channel] = []
    for b, bone in enumerate(spec.bone_names):
        jj = spec.bone_joint[b]
        if jj < 0:
            continue
        quat = matrices_to_quaternions(basis[:, b, :3, :3])
        channels += [
            Channel(_path(bone, "rotation_quaternion"), i, bone, frames, quat[:, i]) for i in range(4)
        ]
        if jj == 0 or child_locations:
            loc = basis[:, b, :3, 3]
            channels += [Channel(_path(bone, "location"), i, bone, frames, loc[:, i]) for i in range(3)]
    action = new_action(f"{label} motion" + (" (mirrored)" if opts.mirror else ""))
    wm = window_manager(context)
    wm.progress_begin(0, max(len(channels), 1))
    try:

        def step(i: int) -> None:
            wm.progress_update(i + 1)
            if progress is not None:
                progress((i + 1) / max(len(channels), 1))

        write_channels(obj, action, channels, progress=step)
    finally:
        wm.progress_end()
    for pb in pose(obj).bones:
        if spec.bone_joint[spec.bone_names.index(pb.name)] >= 0:
            pb.rotation_mode = "QUATERNION"
        pb.matrix_basis = Matrix.Identity(4)
    strip = None
    if opts.as_strip:
        strip = add_strip(obj, action, frame_start, opts.track_name or f"Motion Search {label}")
    else:
        assign_action(obj, action)
    frame_end = int(frames[-1])
    scene.frame_end = max(scene.frame_end, frame_end)
    origin = frame_start - first * fps / motion.fps
    st = object_state(obj)
    st.clip_id = motion.id
    st.frame_start = float(origin)
    return ImportResult(
        obj, action, frame_start, frame_end, fps, joints, child_locations, residual, origin, strip
    )


def _straight_pose(joints: np.ndarray, parents: list[int]) -> np.ndarray:
    """A ``(J, 3)`` pose with the clip's median bone lengths, every bone hanging straight down.

    Only distances along parent chains matter to :func:`_leg_length`, so this gives the clip's leg length
    without being fooled by bent knees in any one frame.
    """
    lengths = bone_lengths(joints, parents)
    pts = np.zeros((len(parents), 3))
    for i, p in enumerate(parents):
        if p >= 0:
            pts[i] = pts[p] + np.array([0.0, 0.0, -lengths[i]])
    return pts
