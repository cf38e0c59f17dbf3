# SPDX-License-Identifier: GPL-3.0-or-later
"""Alignment colouring: which bones, when, and how strongly match the text.

Three layers, all removable with :func:`remove_colouring` (the panel's toggle):

1. **Static summary** on the armature's bones (``Bone.color``, palette ``CUSTOM``): each mapped bone gets
   the heat colour of its joint's ``joint_strength``. It shows in Edit Mode, and in Object/Pose Mode
   whenever the animated layer is off.
2. **Animated colours** per time window on the pose bones (``PoseBone.color.custom.normal/select/active``).
   Blender cannot key these through ``keyframe_insert`` (no RNA path is built for theme colour sets), but
   F-Curves with the paths ``pose.bones["<bone>"].color.custom.normal`` etc. evaluate fine, in 4.2 and 5.0.
   They live in their own action ("<text> colours"), played from an NLA track named
   :data:`TRACK_NAME` below the active action, so the motion action itself only holds the motion. Keys
   are CONSTANT steps: each frame shows the strongest window covering it (``joint_window_strength``).
3. **Keyframe types** of the motion action (the Dope Sheet's heat map over joints x time): every key of
   a mapped bone gets the type of its joint's strength at that frame (see ``heat.py``: MOVING_HOLD <
   BREAKDOWN < JITTER < KEYFRAME < EXTREME).

The previous bone colours and key types are saved on the object (``motion_search.saved_json``) and put
back on removal, so colouring a user's own rig does not lose its colours or breakdowns.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

import bpy
import numpy as np
from mathutils import Color

from ..errors import AddonError
from ..heat import heat_colour, heat_colours, keyframe_type, strength_per_frame, window_frame_spans
from ..payloads import Alignment
from ..rna import armature, bone_colour, pose, scene
from ..state import bone_map_dict, object_state
from .action import Channel, action_fcurves, ensure_slot, key_type_value, new_action, write_channels

__all__ = [
    "TRACK_NAME",
    "apply_colouring",
    "apply_from_state",
    "colour_action",
    "on_toggle",
    "remove_colouring",
]

TRACK_NAME = "Motion Search colours"
_BONE_PATH = 'pose.bones["'
_guard: set[str] = set()


def _lighter(rgb: tuple[float, float, float], amount: float) -> tuple[float, float, float]:
    return tuple(min(1.0, c + (1.0 - c) * amount) for c in rgb)  # type: ignore[return-value]


def _set_custom(colour: bpy.types.BoneColor, rgb: tuple[float, float, float]) -> None:
    colour.palette = "CUSTOM"
    colour.custom.normal = rgb
    colour.custom.select = _lighter(rgb, 0.45)
    colour.custom.active = _lighter(rgb, 0.7)


def _rgb(colour: Color | None) -> list[float]:
    """``[r, g, b]`` of a colour of a bone colour set (the stubs type ``active`` optional)."""
    if colour is None:
        raise AddonError("bone colour set without a colour")
    return [colour.r, colour.g, colour.b]


def _save_colour(colour: bpy.types.BoneColor) -> dict:
    saved: dict = {"palette": colour.palette}
    if colour.palette == "CUSTOM":
        saved.update(
            normal=_rgb(colour.custom.normal),
            select=_rgb(colour.custom.select),
            active=_rgb(colour.custom.active),
        )
    return saved


def _restore_colour(colour: bpy.types.BoneColor, saved: dict | None) -> None:
    if not saved:
        colour.palette = "DEFAULT"
        return
    if saved.get("palette") == "CUSTOM" and "normal" in saved:
        colour.palette = "CUSTOM"
        colour.custom.normal, colour.custom.select, colour.custom.active = (
            saved["normal"],
            saved["select"],
            saved["active"],
        )
    else:
        colour.palette = saved.get("palette", "DEFAULT")


def _bone_of_path(path: str) -> str | None:
    if not path.startswith(_BONE_PATH):
        return None
    return path[len(_BONE_PATH) :].split('"]', 1)[0].replace('\\"', '"').replace("\\\\", "\\")


def colour_action(obj: bpy.types.Object) -> bpy.types.Action | None:
    """The action on the colour NLA track of ``obj`` (None when not coloured)."""
    ad = obj.animation_data
    track = ad.nla_tracks.get(TRACK_NAME) if ad is not None else None
    return track.strips[0].action if track is not None and len(track.strips) else None


def apply_colouring(
    obj: bpy.types.Object,
    alignment: Alignment,
    mapping: Mapping[str, str],
    frame_start: float,
    fps: float,
    *,
    text: str = "",
) -> int:
    """Colour ``obj`` by ``alignment`` (replacing earlier colouring).

    Args:
        obj: armature object.
        alignment: from a search hit or a describe caption; its windows are seconds from the clip start.
        mapping: ``{smpl_joint: bone_name}``.
        frame_start: scene frame of the clip start.
        fps: scene frame rate.
        text: the query / caption (names the colour action).

    Returns:
        Number of coloured bones.
    """
    remove_colouring(obj)
    ad = obj.animation_data or obj.animation_data_create()
    motion = ad.action
    spans = window_frame_spans([(w.start, w.end) for w in alignment.windows], fps, frame_start)
    last = max([b for _, b in spans] + [frame_start])
    frames = np.arange(int(np.floor(frame_start)), int(np.ceil(last)) + 1, dtype=np.float64)
    arm_bones, pose_bones = armature(obj).bones, pose(obj).bones
    bones = {j: b for j, b in mapping.items() if b and b in arm_bones}
    saved: dict = {"bones": {}, "pose": {}, "keys": {}}
    channels: list[Channel] = []
    for joint, bone in bones.items():
        saved["bones"][bone] = _save_colour(bone_colour(arm_bones[bone]))
        saved["pose"][bone] = _save_colour(bone_colour(pose_bones[bone]))
        _set_custom(bone_colour(arm_bones[bone]), heat_colour(alignment.joint_strength.get(joint, 0.0)))
        strengths = strength_per_frame(alignment.joint_window_strength.get(joint, []), spans, frames)
        change = np.r_[True, np.diff(strengths) != 0]
        rgb = heat_colours(strengths[change])
        esc = bpy.utils.escape_identifier(bone)
        for colour_set, amount in (("normal", 0.0), ("select", 0.45), ("active", 0.7)):
            values = rgb + (1.0 - rgb) * amount
            channels += [
                Channel(
                    f'pose.bones["{esc}"].color.custom.{colour_set}', i, bone, frames[change], values[:, i]
                )
                for i in range(3)
            ]
        bone_colour(pose_bones[bone]).palette = "CUSTOM"
    if motion is not None:
        by_bone = {b: j for j, b in bones.items()}
        for fc in action_fcurves(motion):
            path_bone = _bone_of_path(fc.data_path)
            if path_bone is None or path_bone not in by_bone:
                continue
            n = len(fc.keyframe_points)
            co = np.zeros(2 * n, dtype=np.float32)
            fc.keyframe_points.foreach_get("co", co)
            types = np.zeros(n, dtype=np.int32)
            fc.keyframe_points.foreach_get("type", types)
            saved["keys"][f"{fc.data_path}|{fc.array_index}"] = types.tolist()
            s = strength_per_frame(
                alignment.joint_window_strength.get(by_bone[path_bone], []), spans, co[0::2]
            )
            fc.keyframe_points.foreach_set(
                "type", np.array([key_type_value(keyframe_type(v)) for v in s], np.int32)
            )
            fc.update()
    label = (text or object_state(obj).text or obj.name)[:40]
    action = new_action(f"{label} colours")
    action.use_fake_user = False
    write_channels(obj, action, channels, interpolation="CONSTANT")
    track = ad.nla_tracks.new()
    track.name = TRACK_NAME
    slot = ensure_slot(action, obj)
    strip = track.strips.new(action.name, int(np.floor(action.frame_range[0])), action)
    if (
        slot is not None
        and hasattr(strip, "action_slot")
        and (strip.action_slot is None or strip.action_slot.handle != slot.handle)
    ):
        strip.action_slot = slot
    strip.extrapolation = "HOLD"
    st = object_state(obj)
    st.saved_json = json.dumps(saved)
    _set_flag(obj, True)
    return len(bones)


def remove_colouring(obj: bpy.types.Object) -> None:
    """Remove every trace of colouring from ``obj``: bone colours, the NLA track and its action, key types."""
    st = object_state(obj)
    saved = json.loads(st.saved_json) if st.saved_json else {"bones": {}, "pose": {}, "keys": {}}
    arm_bones, pose_bones = armature(obj).bones, pose(obj).bones
    for bone, colour in saved.get("bones", {}).items():
        if bone in arm_bones:
            _restore_colour(bone_colour(arm_bones[bone]), colour)
    for bone, colour in saved.get("pose", {}).items():
        if bone in pose_bones:
            _restore_colour(bone_colour(pose_bones[bone]), colour)
    ad = obj.animation_data
    if ad is not None:
        track = ad.nla_tracks.get(TRACK_NAME)
        if track is not None:
            actions = [s.action for s in track.strips if s.action is not None]
            ad.nla_tracks.remove(track)
            for action in actions:
                if action.users == 0:
                    bpy.data.actions.remove(action)
        if ad.action is not None:
            keys = saved.get("keys", {})
            for fc in action_fcurves(ad.action):
                old = keys.get(f"{fc.data_path}|{fc.array_index}")
                if old is None:
                    continue
                n = len(fc.keyframe_points)
                values = np.array(old if len(old) == n else [key_type_value("KEYFRAME")] * n, dtype=np.int32)
                fc.keyframe_points.foreach_set("type", values)
                fc.update()
    st.saved_json = ""
    _set_flag(obj, False)


def _set_flag(obj: bpy.types.Object, value: bool) -> None:
    """Set the colouring toggle without re-running its update callback."""
    st = object_state(obj)
    if st.colouring == value:
        return
    _guard.add(obj.name)
    try:
        st.colouring = value
    finally:
        _guard.discard(obj.name)


def on_toggle(obj: bpy.types.Object) -> None:
    """Update callback of the ``colouring`` toggle: on colours from the stored alignment, off removes all."""
    if obj.name in _guard:
        return
    if object_state(obj).colouring:
        if apply_from_state(obj) == 0:
            _set_flag(obj, False)
    else:
        remove_colouring(obj)


def apply_from_state(obj: bpy.types.Object) -> int:
    """Colour ``obj`` from the alignment stored on it; 0 when nothing is stored."""
    st = object_state(obj)
    if not st.alignment_json:
        return 0
    from .motion import scene_fps

    alignment = Alignment.from_json(json.loads(st.alignment_json))
    mapping = bone_map_dict(obj) or {b.name: b.name for b in armature(obj).bones}
    return apply_colouring(obj, alignment, mapping, st.frame_start, scene_fps(scene()), text=st.text)
