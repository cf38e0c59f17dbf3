# SPDX-License-Identifier: GPL-3.0-or-later
"""Typed access to the Blender data the add-on relies on being there.

The bpy stubs (``fake-bpy-module``) type every context member and ID pointer as optional
(``Context.scene: Scene | None``) and ``Object.data`` as the union of every object data type. Where the add-on
needs the value, these accessors return it with its precise type, or raise :class:`.errors.AddonError` with a
message when Blender really has none (an operator run without an active object, an armature without a pose).

Functions that are only ever called on data that must exist take the value and check it here instead of at
every call site.
"""

from __future__ import annotations

from typing import Any

import bpy

from .errors import AddonError

__all__ = [
    "active_object",
    "armature",
    "bone_colour",
    "collection",
    "panel_layout",
    "pose",
    "preferences",
    "scene",
    "slotted",
    "view_layer",
    "window_manager",
]


def window_manager(context: bpy.types.Context | None = None) -> bpy.types.WindowManager:
    """The window manager (Blender always has one, in background mode too)."""
    wm = (context or bpy.context).window_manager
    if wm is None:
        raise AddonError("Blender has no window manager in this context")
    return wm


def scene(context: bpy.types.Context | None = None) -> bpy.types.Scene:
    """The current scene."""
    sc = (context or bpy.context).scene
    if sc is None:
        raise AddonError("no scene in this context")
    return sc


def view_layer(context: bpy.types.Context | None = None) -> bpy.types.ViewLayer:
    """The current view layer."""
    layer = (context or bpy.context).view_layer
    if layer is None:
        raise AddonError("no view layer in this context")
    return layer


def collection(context: bpy.types.Context | None = None) -> bpy.types.Collection:
    """The active collection (where new objects go)."""
    coll = (context or bpy.context).collection
    if coll is None:
        raise AddonError("no active collection in this context")
    return coll


def preferences(context: bpy.types.Context | None = None) -> bpy.types.Preferences:
    """Blender's user preferences."""
    prefs = (context or bpy.context).preferences
    if prefs is None:
        raise AddonError("no preferences in this context")
    return prefs


def active_object(context: bpy.types.Context | None = None) -> bpy.types.Object:
    """The active object (operators check for one in ``poll``)."""
    obj = (context or bpy.context).active_object
    if obj is None:
        raise AddonError("no active object")
    return obj


def armature(obj: bpy.types.Object) -> bpy.types.Armature:
    """The armature data of an armature object."""
    data = obj.data
    if not isinstance(data, bpy.types.Armature):
        raise AddonError(f"{obj.name} is not an armature")
    return data


def bone_colour(bone: bpy.types.Bone | bpy.types.PoseBone) -> bpy.types.BoneColor:
    """``bone.color`` (always there since Blender 4.0)."""
    colour = bone.color
    if colour is None:
        raise AddonError(f"bone {bone.name!r} has no colour settings")
    return colour


def panel_layout(panel: bpy.types.Panel) -> bpy.types.UILayout:
    """The layout a panel draws into (Blender sets it for ``draw`` and ``draw_header``)."""
    layout = panel.layout
    if layout is None:
        raise AddonError(f"{type(panel).__name__} has no layout outside drawing")
    return layout


def pose(obj: bpy.types.Object) -> bpy.types.Pose:
    """The pose of an armature object."""
    p = obj.pose
    if p is None:
        raise AddonError(f"{obj.name} has no pose (not an armature)")
    return p


def slotted(value: bpy.types.bpy_struct) -> Any:
    """``value`` for the Blender 4.4+ API of slotted actions (``Action.slots`` / ``layers``,
    ``AnimData.action_slot``), which the 4.2 stubs the add-on is type-checked against do not have.

    Call it only on a path that checked the API exists (:func:`.anim.action.is_slotted`).
    """
    return value
