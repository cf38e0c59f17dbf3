# SPDX-License-Identifier: GPL-3.0-or-later
"""Property groups: the panel's state on the WindowManager and per-armature state on Objects.

* ``WindowManager.motion_search`` (:class:`MotionSearchState`): query, search filters (duration range,
  dataset and tag menus filled from ``GET /library``, commercial-safe), results (with the multi-selection
  for sequences and the paging state), selection, matched words, describe captions and the status line.
  Session-only, like any WindowManager property (favourites live in the preferences).
* ``Object.motion_search`` (:class:`MotionSearchObject`): what was imported / described on that armature
  (clip id, text, alignment as JSON, where the clip starts), its editable bone map and the colouring
  toggle. Saved with the .blend file.
"""

from __future__ import annotations

import json
from typing import Any

import bpy

from .skeleton import SMPL_JOINT_NAMES

__all__ = [
    "MotionSearchBoneMapItem",
    "MotionSearchCaption",
    "MotionSearchFilterItem",
    "MotionSearchHit",
    "MotionSearchObject",
    "MotionSearchState",
    "MotionSearchWord",
    "alignment_dict",
    "bone_map_dict",
    "classes",
    "object_state",
    "redraw",
    "register_properties",
    "search_filters",
    "set_bone_map",
    "set_status",
    "state",
    "unregister_properties",
]


def _on_hit_selected(self: MotionSearchState, context: bpy.types.Context) -> None:
    from . import ops_search  # local: ops_search imports this module

    ops_search.on_hit_selected(context)


def _on_caption_selected(self: MotionSearchState, context: bpy.types.Context) -> None:
    from . import ops_search

    ops_search.on_caption_selected(context)


def _on_colouring_toggled(self: MotionSearchObject, context: bpy.types.Context) -> None:
    from .anim import colouring

    colouring.on_toggle(self.id_data)


class MotionSearchHit(bpy.types.PropertyGroup):
    """One search result (or similar motion)."""

    motion_id: bpy.props.StringProperty(name="Motion ID")  # type: ignore[valid-type]
    caption: bpy.props.StringProperty(name="Caption")  # type: ignore[valid-type]
    score: bpy.props.FloatProperty(name="Score", precision=3)  # type: ignore[valid-type]
    duration: bpy.props.FloatProperty(name="Duration", unit="TIME_ABSOLUTE")  # type: ignore[valid-type]
    dataset: bpy.props.StringProperty(name="Dataset")  # type: ignore[valid-type]
    source: bpy.props.StringProperty(name="Source")  # type: ignore[valid-type]
    segment_start: bpy.props.FloatProperty(name="Segment Start")  # type: ignore[valid-type]
    segment_end: bpy.props.FloatProperty(name="Segment End")  # type: ignore[valid-type]
    alignment_json: bpy.props.StringProperty(name="Alignment")  # type: ignore[valid-type]
    licence: bpy.props.StringProperty(name="Licence")  # type: ignore[valid-type]
    commercial_use: bpy.props.BoolProperty(name="Commercial Use")  # type: ignore[valid-type]
    tags: bpy.props.StringProperty(name="Tags", description="Comma-separated tags of the clip")  # type: ignore[valid-type]
    picked: bpy.props.BoolProperty(  # type: ignore[valid-type]
        name="Pick", description="Pick this result for 'Import Picked in Sequence'", default=False
    )
    favourite: bpy.props.BoolProperty(name="Favourite")  # type: ignore[valid-type]


class MotionSearchFilterItem(bpy.types.PropertyGroup):
    """One entry of the dataset or tag filter menu (from ``GET /library``)."""

    clips: bpy.props.IntProperty(name="Clips")  # type: ignore[valid-type]
    commercial_use: bpy.props.BoolProperty(name="Commercial Use")  # type: ignore[valid-type]
    use: bpy.props.BoolProperty(name="Use", description="Search only clips of this entry", default=False)  # type: ignore[valid-type]


class MotionSearchWord(bpy.types.PropertyGroup):
    """A matched query word with its strongest body part and time."""

    token: bpy.props.StringProperty(name="Word")  # type: ignore[valid-type]
    score: bpy.props.FloatProperty(name="Score", precision=3)  # type: ignore[valid-type]
    part: bpy.props.StringProperty(name="Body Part")  # type: ignore[valid-type]
    start: bpy.props.FloatProperty(name="Start")  # type: ignore[valid-type]
    end: bpy.props.FloatProperty(name="End")  # type: ignore[valid-type]


class MotionSearchCaption(bpy.types.PropertyGroup):
    """A caption proposed by "Find description"."""

    text: bpy.props.StringProperty(name="Caption")  # type: ignore[valid-type]
    score: bpy.props.FloatProperty(name="Score", precision=3)  # type: ignore[valid-type]
    alignment_json: bpy.props.StringProperty(name="Alignment")  # type: ignore[valid-type]


class MotionSearchBoneMapItem(bpy.types.PropertyGroup):
    """One row of a bone map: SMPL joint -> bone name (empty = not mapped)."""

    joint: bpy.props.StringProperty(name="Joint")  # type: ignore[valid-type]
    bone: bpy.props.StringProperty(name="Bone")  # type: ignore[valid-type]


class MotionSearchState(bpy.types.PropertyGroup):
    """Panel state (``WindowManager.motion_search``)."""

    query: bpy.props.StringProperty(  # type: ignore[valid-type]
        name="Query", description="Describe the motion, e.g. 'a person waves with the left hand'",
        default="a person waves with the left hand",
    )  # fmt: skip
    hits: bpy.props.CollectionProperty(type=MotionSearchHit)  # type: ignore[valid-type]
    hit_index: bpy.props.IntProperty(name="Result", default=0, update=_on_hit_selected)  # type: ignore[valid-type]
    searched_text: bpy.props.StringProperty(name="Searched Text")  # type: ignore[valid-type]
    words: bpy.props.CollectionProperty(type=MotionSearchWord)  # type: ignore[valid-type]
    captions: bpy.props.CollectionProperty(type=MotionSearchCaption)  # type: ignore[valid-type]
    caption_index: bpy.props.IntProperty(name="Caption", default=0, update=_on_caption_selected)  # type: ignore[valid-type]
    similar: bpy.props.CollectionProperty(type=MotionSearchHit)  # type: ignore[valid-type]
    describe_count: bpy.props.IntProperty(name="Captions", default=5, min=1, max=100)  # type: ignore[valid-type]
    status: bpy.props.StringProperty(name="Status", default="")  # type: ignore[valid-type]
    status_is_error: bpy.props.BoolProperty(name="Error", default=False)  # type: ignore[valid-type]
    explain_key: bpy.props.StringProperty(name="Explain Image")  # type: ignore[valid-type]
    show_words: bpy.props.BoolProperty(name="Matched Words", default=True)  # type: ignore[valid-type]
    min_duration: bpy.props.FloatProperty(  # type: ignore[valid-type]
        name="Min Duration", description="Only clips at least this long (0 = no minimum)", default=0.0,
        min=0.0, max=600.0, unit="TIME_ABSOLUTE",
    )  # fmt: skip
    max_duration: bpy.props.FloatProperty(  # type: ignore[valid-type]
        name="Max Duration", description="Only clips at most this long (0 = no maximum)", default=0.0,
        min=0.0, max=600.0, unit="TIME_ABSOLUTE",
    )  # fmt: skip
    commercial_safe: bpy.props.BoolProperty(  # type: ignore[valid-type]
        name="Commercial Use Only",
        description="Only clips whose licence allows commercial use",
        default=False,
    )
    datasets: bpy.props.CollectionProperty(type=MotionSearchFilterItem)  # type: ignore[valid-type]
    dataset_index: bpy.props.IntProperty(name="Dataset", default=0)  # type: ignore[valid-type]
    tags: bpy.props.CollectionProperty(type=MotionSearchFilterItem)  # type: ignore[valid-type]
    tag_index: bpy.props.IntProperty(name="Tag", default=0)  # type: ignore[valid-type]
    library_size: bpy.props.IntProperty(name="Library Size", default=-1)  # type: ignore[valid-type]
    searched_filters: bpy.props.StringProperty(
        name="Searched Filters", description="Filters of the listed search (JSON)"
    )  # type: ignore[valid-type]
    more_available: bpy.props.BoolProperty(name="More Results", default=False)  # type: ignore[valid-type]


class MotionSearchObject(bpy.types.PropertyGroup):
    """Per-armature state (``Object.motion_search``)."""

    clip_id: bpy.props.StringProperty(name="Clip")  # type: ignore[valid-type]
    text: bpy.props.StringProperty(name="Text", description="Query or caption the colouring explains")  # type: ignore[valid-type]
    alignment_json: bpy.props.StringProperty(name="Alignment")  # type: ignore[valid-type]
    frame_start: bpy.props.FloatProperty(name="Clip Start Frame", default=1.0)  # type: ignore[valid-type]
    colouring: bpy.props.BoolProperty(  # type: ignore[valid-type]
        name="Alignment Colouring",
        description="Colour bones and keyframes by how strongly they match the text (off removes all colouring)",
        default=False, update=_on_colouring_toggled,
    )  # fmt: skip
    bone_map: bpy.props.CollectionProperty(type=MotionSearchBoneMapItem)  # type: ignore[valid-type]
    bone_map_index: bpy.props.IntProperty(name="Bone Map Row", default=0)  # type: ignore[valid-type]
    saved_json: bpy.props.StringProperty(  # type: ignore[valid-type]
        name="Saved Colours",
        description="Bone colours and key types from before the colouring (restored on removal)",
    )


def state(context: bpy.types.Context | None = None) -> MotionSearchState:
    """The panel state of the current window manager."""
    return (context or bpy.context).window_manager.motion_search


def object_state(obj: bpy.types.Object) -> MotionSearchObject:
    """The add-on's state stored on ``obj``."""
    return obj.motion_search


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
    return {row.joint: row.bone for row in obj.motion_search.bone_map if row.bone}


def set_bone_map(obj: bpy.types.Object, mapping: dict[str, str]) -> None:
    """Replace the object's bone map with 22 rows (one per SMPL joint, empty when unmapped)."""
    rows = obj.motion_search.bone_map
    rows.clear()
    for joint in SMPL_JOINT_NAMES:
        row = rows.add()
        row.joint = joint
        row.bone = mapping.get(joint, "")


def search_filters(st: MotionSearchState) -> dict[str, Any]:
    """The panel's search filters as ``POST /search`` keywords (see ``bodies.search_request``).

    Raises:
        MotionDataError: a minimum duration above the maximum.
    """
    lo, hi = st.min_duration, st.max_duration
    if lo > 0 and hi > 0 and lo > hi:
        from .errors import MotionDataError

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


classes = (
    MotionSearchHit,
    MotionSearchFilterItem,
    MotionSearchWord,
    MotionSearchCaption,
    MotionSearchBoneMapItem,
    MotionSearchState,
    MotionSearchObject,
)


def register_properties() -> None:
    """Attach the pointer properties (after the classes are registered)."""
    bpy.types.WindowManager.motion_search = bpy.props.PointerProperty(type=MotionSearchState)
    bpy.types.Object.motion_search = bpy.props.PointerProperty(type=MotionSearchObject)


def unregister_properties() -> None:
    """Remove the pointer properties (before the classes are unregistered)."""
    del bpy.types.Object.motion_search
    del bpy.types.WindowManager.motion_search
