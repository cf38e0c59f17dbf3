# SPDX-License-Identifier: GPL-3.0-or-later
"""The "Motion Search" tab of the 3D Viewport sidebar: draw code only (no HTTP, no data changes)."""

from __future__ import annotations

import textwrap
from typing import TYPE_CHECKING

import bpy

from . import jobs, previews
from .heat import part_label
from .preferences import addon_prefs
from .rna import active_object, panel_layout
from .state import object_state, state

if TYPE_CHECKING:
    from bpy.stub_internal.rna_enums import IconItems, RegionTypeItems, SpaceTypeItems

__all__ = [
    "NO_CLOSE_MATCH",
    "MOTIONSEARCH_UL_bone_map",
    "MOTIONSEARCH_UL_captions",
    "MOTIONSEARCH_UL_favourites",
    "MOTIONSEARCH_UL_filter_items",
    "MOTIONSEARCH_UL_hits",
    "VIEW3D_PT_motion_search",
    "VIEW3D_PT_motion_search_bone_map",
    "VIEW3D_PT_motion_search_colouring",
    "VIEW3D_PT_motion_search_describe",
    "VIEW3D_PT_motion_search_favourites",
    "VIEW3D_PT_motion_search_filters",
    "VIEW3D_PT_motion_search_import",
    "classes",
]

#: shown above the hit list when even the best hit is below the model's confidence threshold
NO_CLOSE_MATCH = "No close match in your library - the nearest hits:"
#: before the library caption a query was searched together with
SEARCHED_WITH = "Searched together with:"


def _wrapped(
    layout: bpy.types.UILayout, context: bpy.types.Context, text: str, icon: IconItems = "NONE"
) -> None:
    """Labels for ``text`` wrapped to the sidebar's width."""
    width = max(20, int((context.region.width if context.region else 300) / 7))
    for i, line in enumerate(textwrap.wrap(text, width) or [""]):
        layout.label(text=line, icon=icon if i == 0 else "BLANK1" if icon != "NONE" else "NONE")


class MOTIONSEARCH_UL_hits(bpy.types.UIList):
    """Search results: pick box (sequences), thumbnail, caption, score, duration, dataset, favourite star.

    Blender calls ``draw_item`` only for the rows on screen, so a long list (100 hits, "more results")
    costs what the visible rows cost (``scripts/bench_addon_hits.py``).
    """

    def draw_item(self, context, layout, data, item, icon, active_data, active_property, index=0, flt_flag=0):
        icon_id = previews.icon_id(previews.key_for_preview(item.motion_id))
        row = layout.row(align=True)
        row.prop(item, "picked", text="")
        if icon_id:
            row.template_icon(icon_value=icon_id, scale=1.6)
        else:
            row.label(text="", icon="ARMATURE_DATA")
        col = row.column(align=True)
        col.label(text=item.caption or item.motion_id)
        sure = f"{item.confidence:.0%} | " if item.confidence >= 0 else ""
        col.label(text=f"{sure}{item.score:.3f} | {item.duration:.1f} s | {item.dataset}")
        star = row.operator(
            "motion_search.favourite_toggle",
            text="",
            icon="SOLO_ON" if item.favourite else "SOLO_OFF",
            emboss=False,
        )
        star.index = index


class MOTIONSEARCH_UL_filter_items(bpy.types.UIList):
    """A dataset or tag of the served library, ticked to filter by it."""

    def draw_item(self, context, layout, data, item, icon, active_data, active_property, index=0, flt_flag=0):
        row = layout.row(align=True)
        row.prop(item, "use", text="")
        row.label(text=item.name)
        row.label(text=f"{item.clips}" + (" · commercial" if item.commercial_use else ""))


class MOTIONSEARCH_UL_favourites(bpy.types.UIList):
    """Starred clips (kept in the preferences)."""

    def draw_item(self, context, layout, data, item, icon, active_data, active_property, index=0, flt_flag=0):
        col = layout.column(align=True)
        col.label(text=item.caption or item.motion_id, icon="SOLO_ON")
        col.label(text=f"{item.motion_id} | {item.duration:.1f} s | {item.dataset}")


class MOTIONSEARCH_UL_captions(bpy.types.UIList):
    """Captions proposed by "Find Description"."""

    def draw_item(self, context, layout, data, item, icon, active_data, active_property, index=0, flt_flag=0):
        row = layout.row()
        row.label(text=item.text, icon="TEXT")
        row.label(text=f"{item.score:.3f}")


class MOTIONSEARCH_UL_bone_map(bpy.types.UIList):
    """One row per SMPL joint with a searchable bone field."""

    def draw_item(self, context, layout, data, item, icon, active_data, active_property, index=0, flt_flag=0):
        obj = data.id_data
        row = layout.split(factor=0.4)
        row.label(text=item.joint, icon="BONE_DATA" if item.bone else "ERROR")
        if obj is not None and obj.type == "ARMATURE":
            row.prop_search(item, "bone", obj.data, "bones", text="")
        else:
            row.prop(item, "bone", text="")


class _Base:
    if TYPE_CHECKING:  # the stubs' enum types of these Panel attributes
        bl_space_type: SpaceTypeItems
        bl_region_type: RegionTypeItems
    bl_space_type = "VIEW_3D"
    bl_region_type = "UI"
    bl_category = "Motion Search"


class VIEW3D_PT_motion_search(_Base, bpy.types.Panel):
    """Query, results, the selected hit's explain picture and matched words."""

    bl_label = "Motion Search"

    def draw(self, context: bpy.types.Context) -> None:
        st = state(context)
        layout = panel_layout(self)
        row = layout.row(align=True)
        row.prop(st, "query", text="")
        row.operator("motion_search.search", text="", icon="VIEWZOOM")
        status = layout.row()
        busy = jobs.get_queue().busy()
        status.alert = st.status_is_error
        _wrapped(
            status.column(),
            context,
            st.status or "type a description and press Search",
            icon="ERROR" if st.status_is_error else ("SORTTIME" if busy else "INFO"),
        )
        if not len(st.hits):
            layout.operator("motion_search.check_backend", icon="URL")
            return
        if st.no_close_match:
            warn = layout.row()
            warn.alert = True
            warn.label(text=NO_CLOSE_MATCH, icon="QUESTION")
        if st.searched_as:
            _wrapped(layout.column(), context, f'{SEARCHED_WITH} "{st.searched_as}"', icon="VIEWZOOM")
        layout.template_list("MOTIONSEARCH_UL_hits", "", st, "hits", st, "hit_index", rows=4)
        if st.more_available:
            layout.operator("motion_search.more_results", icon="DOWNARROW_HLT")
        if not (0 <= st.hit_index < len(st.hits)):
            return
        hit = st.hits[st.hit_index]
        box = layout.box()
        _wrapped(box, context, hit.caption, icon="TEXT")
        box.label(text=f"{hit.motion_id} ({hit.dataset})")
        if hit.licence or hit.tags:
            use = "commercial use allowed" if hit.commercial_use else "no commercial use"
            box.label(
                text=f"{hit.licence or 'licence unknown'}: {use}" + (f" | {hit.tags}" if hit.tags else "")
            )
        box.label(
            text=f"score {hit.score:.3f} | {hit.duration:.1f} s | best {hit.segment_start:.1f}-{hit.segment_end:.1f} s"
        )
        explain = previews.icon_id(st.explain_key) if st.explain_key else 0
        if explain:
            box.template_icon(icon_value=explain, scale=12.0)
        if not hit.alignment_json and jobs.get_queue().busy("alignment"):
            layout.label(text="explaining this hit ...", icon="SORTTIME")
        if len(st.words):
            col = layout.column(align=True)
            col.prop(st, "show_words", icon="TRIA_DOWN" if st.show_words else "TRIA_RIGHT", emboss=False)
            if st.show_words:
                for w in st.words:
                    col.label(
                        text=f"{w.token}: {part_label(w.part)}, {w.start:.1f}-{w.end:.1f} s ({w.score:.2f})"
                    )


class VIEW3D_PT_motion_search_import(_Base, bpy.types.Panel):
    """Import the selected result."""

    bl_label = "Import"
    bl_parent_id = "VIEW3D_PT_motion_search"

    def draw(self, context: bpy.types.Context) -> None:
        layout = panel_layout(self)
        prefs = addon_prefs(context)
        if prefs is not None:
            layout.prop(prefs, "import_target", expand=True)
            layout.prop(prefs, "clip_range", expand=True)
            if prefs.clip_range == "SEGMENT":
                layout.prop(prefs, "segment_margin")
            layout.prop(prefs, "import_start", expand=True)
            layout.prop(prefs, "import_place", expand=True)
            row = layout.row()
            row.prop(prefs, "root_motion")
            row.prop(prefs, "mirror")
        layout.operator("motion_search.import_selected", icon="IMPORT")
        picked = sum(1 for h in state(context).hits if h.picked)
        row = layout.row(align=True)
        row.operator("motion_search.import_sequence", text=f"Import {picked} Picked in Sequence", icon="NLA")
        if prefs is not None:
            row.prop(prefs, "sequence_gap")


class VIEW3D_PT_motion_search_filters(_Base, bpy.types.Panel):
    """Search filters: duration range, datasets, tags, commercial use (sent with the next search)."""

    bl_label = "Filters"
    bl_parent_id = "VIEW3D_PT_motion_search"
    bl_options = {"DEFAULT_CLOSED"}  # noqa: RUF012 - Blender reads a set

    def draw(self, context: bpy.types.Context) -> None:
        st = state(context)
        layout = panel_layout(self)
        row = layout.row(align=True)
        row.prop(st, "min_duration", text="Min")
        row.prop(st, "max_duration", text="Max")
        layout.prop(st, "commercial_safe")
        row = layout.row()
        row.label(text=f"Library: {st.library_size} clips" if st.library_size >= 0 else "Library: not loaded")
        row.operator("motion_search.library_refresh", text="", icon="FILE_REFRESH")
        if len(st.datasets):
            layout.label(text="Datasets (none ticked = all):")
            layout.template_list(
                "MOTIONSEARCH_UL_filter_items", "datasets", st, "datasets", st, "dataset_index", rows=3
            )
        if len(st.tags):
            layout.label(text="Tags (clips with every ticked tag):")
            layout.template_list("MOTIONSEARCH_UL_filter_items", "tags", st, "tags", st, "tag_index", rows=3)


class VIEW3D_PT_motion_search_favourites(_Base, bpy.types.Panel):
    """Starred clips, kept in the preferences; import one with the current import options."""

    bl_label = "Favourites"
    bl_parent_id = "VIEW3D_PT_motion_search"
    bl_options = {"DEFAULT_CLOSED"}  # noqa: RUF012 - Blender reads a set

    def draw(self, context: bpy.types.Context) -> None:
        layout = panel_layout(self)
        prefs = addon_prefs(context)
        if prefs is None:
            layout.label(text="Enable the add-on in Preferences to keep favourites", icon="ERROR")
            return
        if not len(prefs.favourites):
            layout.label(text="Star a result to keep it here", icon="SOLO_OFF")
            return
        layout.template_list(
            "MOTIONSEARCH_UL_favourites", "", prefs, "favourites", prefs, "favourite_index", rows=3
        )
        row = layout.row(align=True)
        row.operator("motion_search.favourite_import", icon="IMPORT")
        row.operator("motion_search.favourite_remove", text="", icon="X")


class VIEW3D_PT_motion_search_describe(_Base, bpy.types.Panel):
    """Describe the active armature's animation."""

    bl_label = "Describe Animation"
    bl_parent_id = "VIEW3D_PT_motion_search"

    def draw(self, context: bpy.types.Context) -> None:
        st = state(context)
        layout = panel_layout(self)
        row = layout.row(align=True)
        row.operator("motion_search.describe", icon="OUTLINER_OB_FONT")
        row.prop(st, "describe_count", text="")
        if len(st.captions):
            layout.template_list("MOTIONSEARCH_UL_captions", "", st, "captions", st, "caption_index", rows=3)
        if len(st.similar):
            col = layout.column(align=True)
            col.label(text="Similar library clips:")
            for h in st.similar:
                col.label(text=f"{h.score:.3f}  {h.caption or h.motion_id}", icon="ARMATURE_DATA")


class VIEW3D_PT_motion_search_colouring(_Base, bpy.types.Panel):
    """Alignment colouring of the active armature."""

    bl_label = "Alignment Colouring"
    bl_parent_id = "VIEW3D_PT_motion_search"

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        obj = context.active_object
        return obj is not None and obj.type == "ARMATURE"

    def draw(self, context: bpy.types.Context) -> None:
        ost = object_state(active_object(context))
        layout = panel_layout(self)
        if ost.text:
            _wrapped(layout, context, f'"{ost.text}"', icon="TEXT")
        layout.prop(ost, "colouring", toggle=True, icon="COLOR")
        row = layout.row(align=True)
        row.operator("motion_search.colour_apply", icon="BRUSH_DATA")
        row.operator("motion_search.colour_remove", icon="X")
        layout.operator("motion_search.add_body", icon="MESH_CAPSULE")


class VIEW3D_PT_motion_search_bone_map(_Base, bpy.types.Panel):
    """The active armature's bone -> joint map."""

    bl_label = "Bone Map"
    bl_parent_id = "VIEW3D_PT_motion_search"
    bl_options = {"DEFAULT_CLOSED"}  # noqa: RUF012 - Blender reads a set

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        obj = context.active_object
        return obj is not None and obj.type == "ARMATURE"

    def draw(self, context: bpy.types.Context) -> None:
        ost = object_state(active_object(context))
        layout = panel_layout(self)
        row = layout.row(align=True)
        row.operator("motion_search.map_detect", icon="VIEWZOOM")
        row.operator("motion_search.map_load", text="", icon="FILEBROWSER")
        row.operator("motion_search.map_save", text="", icon="FILE_TICK")
        if len(ost.bone_map):
            layout.template_list(
                "MOTIONSEARCH_UL_bone_map", "", ost, "bone_map", ost, "bone_map_index", rows=6
            )


classes = (
    MOTIONSEARCH_UL_hits,
    MOTIONSEARCH_UL_captions,
    MOTIONSEARCH_UL_bone_map,
    MOTIONSEARCH_UL_filter_items,
    MOTIONSEARCH_UL_favourites,
    VIEW3D_PT_motion_search,
    VIEW3D_PT_motion_search_filters,
    VIEW3D_PT_motion_search_import,
    VIEW3D_PT_motion_search_favourites,
    VIEW3D_PT_motion_search_describe,
    VIEW3D_PT_motion_search_colouring,
    VIEW3D_PT_motion_search_bone_map,
)
