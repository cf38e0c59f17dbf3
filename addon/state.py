# SPDX-License-Identifier: GPL-3.0-or-later
"""Access to the add-on's stored state: the panel state, per-armature state, the status line, bone maps.

The property groups themselves are declared in :mod:`.properties`; this module only reads and writes them
(``WindowManager.motion_search``, ``Object.motion_search``), so it sits below the property declarations,
their update callbacks (:mod:`.updates`) and every operator, and imports none of them.
"""

from __future__ import annotations

import json
from typing import Any

import bpy

from .errors import MotionDataError
from .rigmap import detect_mapping
from .rna import armature, window_manager
from .skeleton import SMPL_JOINT_NAMES

__all__ = [
    "alignment_dict",
    "armature_mapping",
    "bone_hierarchy",
    "bone_map_dict",
    "detect_armature_mapping",
    "object_state",
    "redraw",
    "search_filters",
    "set_bone_map",
    "set_status",
    "state",
]


def state(context: bpy.types.Context | None = None) -> Any:
    """The panel state (``properties.MotionSearchState``) of the current window manager."""
    wm: Any = window_manager(context)  # Any: motion_search is registered at run time (register_properties)
    return wm.motion_search


def object_state(obj: bpy.types.Object) -> Any:
    """The add-on's state (``properties.MotionSearchObject``) stored on ``obj``."""
    holder: Any = obj  # Any: motion_search is registered at run time (register_properties)
    return holder.motion_search


def redraw() -> None:
    """Ask every 3D Viewport to redraw (results arrive from timers, outside any draw call)."""
    wm = bpy.context.window_manager
    for window in getattr(wm, "windows", []):
        for area in window.screen.areas:
            if area.type in {"VIEW_3D", "DOPESHEET_EDITOR", "GRAPH_EDITOR"}:
                area.tag_redraw()


def set_status(text: str, error: bool = False, context: bpy.types.Context | None = None) -> None:
    """Set the panel's status line (and print errors to the console)."""
    st = state(context)
    st.status = text
    st.status_is_error = error
    if error:
        print(f"Motion Search: {text}")
    redraw()


def bone_map_dict(obj: bpy.types.Object) -> dict[str, str]:
    """The object's bone map as ``{smpl_joint: bone}`` (unmapped rows left out)."""
    return {row.joint: row.bone for row in object_state(obj).bone_map if row.bone}


def set_bone_map(obj: bpy.types.Object, mapping: dict[str, str]) -> None:
    """Replace the object's bone map with 22 rows (one per SMPL joint, empty when unmapped)."""
    rows = object_state(obj).bone_map
    rows.clear()
    for joint in SMPL_JOINT_NAMES:
        row = rows.add()
        row.joint = joint
        row.bone = mapping.get(joint, "")


def bone_hierarchy(obj: bpy.types.Object) -> tuple[list[str], list[int]]:
    """The armature's bone names and the parent index of each (-1 for roots)."""
    bones = armature(obj).bones
    names = [b.name for b in bones]
    index = {n: i for i, n in enumerate(names)}
    return names, [index[b.parent.name] if b.parent else -1 for b in bones]


def detect_armature_mapping(obj: bpy.types.Object) -> dict[str, str]:
    """A bone map detected from the armature's bone names and hierarchy (:func:`.rigmap.detect_mapping`)."""
    return detect_mapping(*bone_hierarchy(obj))


def armature_mapping(obj: bpy.types.Object, *, store: bool = True) -> dict[str, str]:
    """The object's bone map; detected from its bones when it has none yet (stored unless ``store=False``)."""
    mapping = bone_map_dict(obj)
    if not mapping:
        mapping = detect_armature_mapping(obj)
        if store:
            set_bone_map(obj, mapping)
    return mapping


def search_filters(st: Any) -> dict[str, Any]:
    """The panel's search filters as ``POST /search`` keywords (see ``bodies.search_request``).

    Raises:
        MotionDataError: a minimum duration above the maximum.
    """
    lo, hi = st.min_duration, st.max_duration
    if lo > 0 and hi > 0 and lo > hi:
        raise MotionDataError(f"Min Duration ({lo:g} s) is longer than Max Duration ({hi:g} s)")
    return {
        "min_duration": lo if lo > 0 else None,
        "max_duration": hi if hi > 0 else None,
        "datasets": [d.name for d in st.datasets if d.use],
        "tags": [t.name for t in st.tags if t.use],
        "commercial_safe": bool(st.commercial_safe),
    }


def alignment_dict(text: str) -> dict[str, Any] | None:
    """Parse a stored alignment JSON string (None when empty)."""
    return json.loads(text) if text else None
