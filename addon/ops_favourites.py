# SPDX-License-Identifier: GPL-3.0-or-later
"""Operators for favourites: star / unstar a result, remove a favourite, import from the favourites.

Favourites live in the add-on's preferences (``MotionSearchPreferences.favourites``), so they stay across
sessions and files. Each keeps the clip id, what the list shows, the matched segment, the query that found
it (to colour an import by it) and the backend it came from. Importing uses the current import options.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import bpy

from .errors import AddonError
from .ops_import import ImportItem, start_import
from .preferences import addon_prefs, snapshot
from .results import show_error
from .rna import preferences
from .state import set_status, state

if TYPE_CHECKING:
    from bpy.stub_internal.rna_enums import OperatorReturnItems

__all__ = [
    "MOTIONSEARCH_OT_favourite_import",
    "MOTIONSEARCH_OT_favourite_remove",
    "MOTIONSEARCH_OT_favourite_toggle",
    "classes",
    "toggle_favourite",
]


def _prefs(context: bpy.types.Context):
    p = addon_prefs(context)
    if p is None:
        raise AddonError("favourites need the add-on enabled in Preferences > Add-ons (they are kept there)")
    return p


def toggle_favourite(context: bpy.types.Context, index: int) -> bool:
    """Star result ``index`` (or unstar it when it is a favourite already).

    Returns:
        Whether the hit is a favourite now.
    """
    st = state(context)
    if not (0 <= index < len(st.hits)):
        raise AddonError(f"there is no result {index + 1} to star (the list has {len(st.hits)})")
    p = _prefs(context)
    hit = st.hits[index]
    found = next((i for i, f in enumerate(p.favourites) if f.motion_id == hit.motion_id), -1)
    if found >= 0:
        p.favourites.remove(found)
        p.favourite_index = min(p.favourite_index, max(len(p.favourites) - 1, 0))
    else:
        fav = p.favourites.add()
        fav.name = fav.motion_id = hit.motion_id
        fav.caption, fav.dataset, fav.duration = hit.caption, hit.dataset, hit.duration
        fav.licence, fav.commercial_use = hit.licence, hit.commercial_use
        fav.segment_start, fav.segment_end = hit.segment_start, hit.segment_end
        fav.text, fav.backend_url = st.searched_text or st.query, snapshot(context).url
    for row in st.hits:
        if row.motion_id == hit.motion_id:
            row.favourite = found < 0
    _save_preferences()
    return found < 0


def _save_preferences() -> None:
    """Write the preferences when Blender auto-saves them anyway (keeps favourites after a crash)."""
    try:
        # ignore: the stubs model operators as classes, so poll() looks unbound
        if preferences().use_preferences_save and bpy.ops.wm.save_userpref.poll():  # type: ignore[call-arg]
            bpy.ops.wm.save_userpref()
    except (RuntimeError, AttributeError, AddonError):
        pass


class MOTIONSEARCH_OT_favourite_toggle(bpy.types.Operator):
    """Star this result as a favourite (or unstar it)"""

    bl_idname = "motion_search.favourite_toggle"
    bl_label = "Favourite"
    bl_options = {"REGISTER"}  # noqa: RUF012 - Blender reads a set

    index: bpy.props.IntProperty(name="Result", default=-1, description="Result row (-1 = the selected one)")  # type: ignore[valid-type]

    def execute(self, context: bpy.types.Context) -> set[OperatorReturnItems]:
        st = state(context)
        index = st.hit_index if self.index < 0 else self.index
        try:
            starred = toggle_favourite(context, index)
        except AddonError as exc:
            show_error(exc)
            return {"CANCELLED"}
        clip = st.hits[index].motion_id
        set_status(f"{clip} {'added to' if starred else 'removed from'} the favourites")
        return {"FINISHED"}


class MOTIONSEARCH_OT_favourite_remove(bpy.types.Operator):
    """Remove the selected favourite"""

    bl_idname = "motion_search.favourite_remove"
    bl_label = "Remove Favourite"
    bl_options = {"REGISTER"}  # noqa: RUF012 - Blender reads a set

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        p = addon_prefs(context)
        return p is not None and 0 <= p.favourite_index < len(p.favourites)

    def execute(self, context: bpy.types.Context) -> set[OperatorReturnItems]:
        p = addon_prefs(context)
        if p is None:
            return {"CANCELLED"}
        clip = p.favourites[p.favourite_index].motion_id
        p.favourites.remove(p.favourite_index)
        p.favourite_index = min(p.favourite_index, max(len(p.favourites) - 1, 0))
        for row in state(context).hits:
            if row.motion_id == clip:
                row.favourite = False
        _save_preferences()
        set_status(f"{clip} removed from the favourites")
        return {"FINISHED"}


class MOTIONSEARCH_OT_favourite_import(bpy.types.Operator):
    """Import the selected favourite with the current import options"""

    bl_idname = "motion_search.favourite_import"
    bl_label = "Import Favourite"
    bl_options = {"REGISTER"}  # noqa: RUF012 - Blender reads a set

    colour: bpy.props.BoolProperty(  # type: ignore[valid-type]
        name="Colour", default=True, description="Colour by the query that found it"
    )

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        p = addon_prefs(context)
        return p is not None and 0 <= p.favourite_index < len(p.favourites)

    def execute(self, context: bpy.types.Context) -> set[OperatorReturnItems]:
        p = addon_prefs(context)
        if p is None:
            return {"CANCELLED"}
        fav = p.favourites[p.favourite_index]
        item = ImportItem(fav.motion_id, fav.text, (fav.segment_start, fav.segment_end), "", fav.backend_url)
        return start_import(context, [item], colour=self.colour, sequence=False)


classes = (
    MOTIONSEARCH_OT_favourite_toggle,
    MOTIONSEARCH_OT_favourite_remove,
    MOTIONSEARCH_OT_favourite_import,
)
