# SPDX-License-Identifier: GPL-3.0-or-later
"""Write and read keyframes behind one function, for both action APIs.

* Blender 4.2-4.3: an action holds its F-Curves directly (``action.fcurves``, ``action.groups``).
* Blender 4.4+ / 5.0 (slotted actions): an action has *slots* (one per animated ID), *layers* with
  *strips*, and each keyframe strip keeps one *channelbag* of F-Curves per slot. 5.0 removed
  ``Action.fcurves``; the data lives in ``action.layers[0].strips[0].channelbag(slot).fcurves``.

:func:`write_channels` is the only place keys are written; :func:`action_fcurves` the only place they are
read. Both pick the API with ``hasattr(action, "layers")``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import bpy
import numpy as np

from ..rna import slotted

__all__ = [
    "Channel",
    "action_fcurves",
    "add_strip",
    "assign_action",
    "channel_container",
    "ensure_slot",
    "is_slotted",
    "key_type_value",
    "new_action",
    "set_key_types",
    "write_channels",
]


@dataclass
class Channel:
    """One F-Curve worth of samples.

    Attributes:
        data_path: RNA path from the animated ID, e.g. ``pose.bones["pelvis"].location``.
        index: array index (0..2 for location, 0..3 for a quaternion).
        group: channel group name (the bone name, so the Dope Sheet groups channels per bone).
        frames: ``(N,)`` frame numbers.
        values: ``(N,)`` values.
    """

    data_path: str
    index: int
    group: str
    frames: np.ndarray
    values: np.ndarray


def is_slotted(action: bpy.types.Action) -> bool:
    """Whether ``action`` uses the layered/slotted API (Blender 4.4+)."""
    return hasattr(action, "layers")


def new_action(name: str) -> bpy.types.Action:
    """A new, empty action (kept with a fake user so it survives unassignment)."""
    action = bpy.data.actions.new(name)
    action.use_fake_user = True
    return action


def ensure_slot(action: bpy.types.Action, obj: bpy.types.ID) -> Any:
    """The action's slot (a ``bpy.types.ActionSlot``) for ``obj``, created on first use; None on Blender < 4.4."""
    if not is_slotted(action):
        return None
    slots = slotted(action).slots
    want = "OB" + obj.name
    for slot in slots:
        if slot.identifier == want:
            return slot
    for slot in slots:
        if getattr(slot, "target_id_type", "OBJECT") == "OBJECT":
            return slot
    return slots.new(id_type="OBJECT", name=obj.name)


def assign_action(obj: bpy.types.Object, action: bpy.types.Action) -> Any:
    """Make ``action`` the active action of ``obj`` (and pick its slot on 4.4+); returns the slot or None."""
    ad = obj.animation_data or obj.animation_data_create()
    slot = ensure_slot(action, obj)
    if ad.action != action:
        ad.action = action
    if slot is not None:
        current = slotted(ad).action_slot
        # Re-assigning the slot that is already assigned crashes bpy 5.0 headless; only set when different.
        if current is None or current.handle != slot.handle:
            slotted(ad).action_slot = slot
    return slot


def add_strip(
    obj: bpy.types.Object, action: bpy.types.Action, frame_start: int, track_name: str
) -> bpy.types.NlaStrip:
    """Put ``action`` into a new NLA strip starting at ``frame_start`` on the track ``track_name``.

    The track is created (on top of the others) unless ``obj`` already has one of that name; on 4.4+ the
    strip plays the action's slot for ``obj``. The active action is left as it is.

    Raises:
        RuntimeError: the strip would overlap a strip already on the track (Blender's own message).
    """
    ad = obj.animation_data or obj.animation_data_create()
    track = ad.nla_tracks.get(track_name)
    if track is None:
        track = ad.nla_tracks.new()
        track.name = track_name
    slot = ensure_slot(action, obj)
    strip = track.strips.new(action.name, int(frame_start), action)
    if (
        slot is not None
        and hasattr(strip, "action_slot")
        and (strip.action_slot is None or strip.action_slot.handle != slot.handle)
    ):
        strip.action_slot = slot
    return strip


def channel_container(action: bpy.types.Action, obj: bpy.types.ID, create: bool = True) -> Any:
    """Where F-Curves of ``obj`` live: the action (4.2-4.3) or the slot's channelbag (4.4+).

    The returned object has ``fcurves`` (with ``new``/``find``/``remove``) and ``groups``.

    Returns:
        The container, or None when ``create`` is False and there is no channelbag yet.
    """
    if not is_slotted(action):
        return action
    slot = ensure_slot(action, obj)
    layers = slotted(action).layers
    if not layers:
        if not create:
            return None
        layers.new("Layer")
    layer = layers[0]
    if not layer.strips:
        if not create:
            return None
        layer.strips.new(type="KEYFRAME")
    return layer.strips[0].channelbag(slot, ensure=create)


def action_fcurves(action: bpy.types.Action) -> list[bpy.types.FCurve]:
    """Every F-Curve of ``action`` (all slots, layers and strips on 4.4+)."""
    if not is_slotted(action):
        return list(action.fcurves)
    out: list[bpy.types.FCurve] = []
    for layer in slotted(action).layers:
        for strip in layer.strips:
            for bag in getattr(strip, "channelbags", []):
                out.extend(bag.fcurves)
    return out


def _new_fcurve(container: Any, data_path: str, index: int, group: str) -> bpy.types.FCurve:
    """Create an F-Curve in ``container`` inside ``group`` (API differences handled here)."""
    if isinstance(container, bpy.types.Action):  # 4.2-4.3
        return container.fcurves.new(data_path, index=index, action_group=group)
    try:  # 5.0: channelbag.fcurves.new(..., group_name=...)
        return container.fcurves.new(data_path, index=index, group_name=group)
    except TypeError:  # 4.4-4.5: no group_name; assign the group afterwards
        fc = container.fcurves.new(data_path, index=index)
        grp = container.groups.get(group) if hasattr(container.groups, "get") else None
        fc.group = grp or container.groups.new(group)
        return fc


def _keyframe_enum_value(prop: str, name: str) -> int:
    """Integer value of the item ``name`` of the enum property ``prop`` of keyframes (for ``foreach_set``)."""
    rna_prop = bpy.types.Keyframe.bl_rna.properties[prop]
    if not isinstance(rna_prop, bpy.types.EnumProperty):
        raise TypeError(f"Keyframe.{prop} is not an enum property")
    return rna_prop.enum_items[name].value


def key_type_value(name: str) -> int:
    """Integer value of a keyframe type name (for ``foreach_set``)."""
    return _keyframe_enum_value("type", name)


def write_channels(
    obj: bpy.types.Object,
    action: bpy.types.Action,
    channels: Iterable[Channel],
    *,
    interpolation: str = "LINEAR",
    progress: Callable[[int], object] | None = None,
) -> list[bpy.types.FCurve]:
    """Write sampled channels as keyframes (replacing existing keys of those F-Curves).

    Args:
        obj: the animated object (its slot is used on 4.4+; it does not need the action assigned).
        action: target action.
        channels: samples to write.
        interpolation: interpolation of every key.
        progress: optional callable ``progress(i)`` called after each F-Curve.

    Returns:
        The written F-Curves, in channel order.
    """
    container = channel_container(action, obj, create=True)
    interp = _keyframe_enum_value("interpolation", interpolation)
    out = []
    for i, ch in enumerate(channels):
        fc = container.fcurves.find(ch.data_path, index=ch.index)
        if fc is None:
            fc = _new_fcurve(container, ch.data_path, ch.index, ch.group)
        else:
            fc.keyframe_points.clear()
        n = len(ch.frames)
        co = np.empty(2 * n, dtype=np.float32)
        co[0::2] = ch.frames
        co[1::2] = ch.values
        fc.keyframe_points.add(n)
        fc.keyframe_points.foreach_set("co", co)
        fc.keyframe_points.foreach_set("interpolation", np.full(n, interp, dtype=np.int32))
        fc.update()
        out.append(fc)
        if progress is not None:
            progress(i)
    return out


def set_key_types(fcurve: bpy.types.FCurve, types: Sequence[str]) -> None:
    """Set the keyframe type of every key of ``fcurve`` (``len(types)`` must equal the key count)."""
    values = np.array([key_type_value(t) for t in types], dtype=np.int32)
    fcurve.keyframe_points.foreach_set("type", values)
