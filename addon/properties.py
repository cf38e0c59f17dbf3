# SPDX-License-Identifier: GPL-3.0-or-later
"""Property groups: the panel's state on the WindowManager and per-armature state on Objects.

* ``WindowManager.motion_search`` (:class:`MotionSearchState`): query, search filters (duration range,
  dataset and tag menus filled from ``GET /library``, commercial-safe), results (with the multi-selection
  for sequences and the paging state), selection, matched words, describe captions and the status line.
  Session-only, like any WindowManager property (favourites live in the preferences).
* ``Object.motion_search`` (:class:`MotionSearchObject`): what was imported / described on that armature
  (clip id, text, alignment as JSON, where the clip starts), its editable bone map and the colouring
  toggle. Saved with the .blend file.

The update callbacks (selecting a result or caption, the colouring toggle) live in :mod:`.updates`, and the
accessors (``state()``, ``set_status()``, bone maps ...) in :mod:`.state`: both sit below this module, so
nothing imports back up into it.
"""

from __future__ import annotations

import bpy

from .updates import on_caption_index, on_colouring_toggled, on_hit_index

__all__ = [
    "MotionSearchBoneMapItem",
    "MotionSearchCaption",
    "MotionSearchFilterItem",
    "MotionSearchHit",
    "MotionSearchObject",
    "MotionSearchState",
    "MotionSearchWord",
    "classes",
    "register_properties",
    "unregister_properties",
]


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
    confidence: bpy.props.FloatProperty(  # type: ignore[valid-type]
        name="Confidence", default=-1.0, description="Calibrated confidence of this hit (-1: unknown)"
    )


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
    hit_index: bpy.props.IntProperty(name="Result", default=0, update=on_hit_index)  # type: ignore[valid-type]
    searched_text: bpy.props.StringProperty(name="Searched Text")  # type: ignore[valid-type]
    words: bpy.props.CollectionProperty(type=MotionSearchWord)  # type: ignore[valid-type]
    captions: bpy.props.CollectionProperty(type=MotionSearchCaption)  # type: ignore[valid-type]
    caption_index: bpy.props.IntProperty(name="Caption", default=0, update=on_caption_index)  # type: ignore[valid-type]
    similar: bpy.props.CollectionProperty(type=MotionSearchHit)  # type: ignore[valid-type]
    describe_count: bpy.props.IntProperty(name="Captions", default=5, min=1, max=100)  # type: ignore[valid-type]
    status: bpy.props.StringProperty(name="Status", default="")  # type: ignore[valid-type]
    status_is_error: bpy.props.BoolProperty(name="Error", default=False)  # type: ignore[valid-type]
    no_close_match: bpy.props.BoolProperty(  # type: ignore[valid-type]
        name="No Close Match",
        default=False,
        description="Even the best hit of the last search is below the model's confidence threshold",
    )
    searched_as: bpy.props.StringProperty(  # type: ignore[valid-type]
        name="Searched With",
        default="",
        description="The library caption the last query was searched together with (its closest wording)",
    )
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
    searched_filters: bpy.props.StringProperty(  # type: ignore[valid-type]
        name="Searched Filters", description="Filters of the listed search (JSON)"
    )
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
        default=False, update=on_colouring_toggled,
    )  # fmt: skip
    bone_map: bpy.props.CollectionProperty(type=MotionSearchBoneMapItem)  # type: ignore[valid-type]
    bone_map_index: bpy.props.IntProperty(name="Bone Map Row", default=0)  # type: ignore[valid-type]
    saved_json: bpy.props.StringProperty(  # type: ignore[valid-type]
        name="Saved Colours",
        description="Bone colours and key types from before the colouring (restored on removal)",
    )


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
    # ignores: properties added at run time, and the stubs type PointerProperty() as returning None
    bpy.types.WindowManager.motion_search = bpy.props.PointerProperty(type=MotionSearchState)  # type: ignore[attr-defined,func-returns-value]
    bpy.types.Object.motion_search = bpy.props.PointerProperty(type=MotionSearchObject)  # type: ignore[attr-defined,func-returns-value]


def unregister_properties() -> None:
    """Remove the pointer properties (before the classes are unregistered)."""
    del bpy.types.Object.motion_search  # type: ignore[attr-defined]  # added at run time
    del bpy.types.WindowManager.motion_search  # type: ignore[attr-defined]  # added at run time
