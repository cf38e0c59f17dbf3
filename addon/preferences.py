# SPDX-License-Identifier: GPL-3.0-or-later
"""Add-on preferences (backend URL, result count, timeout, import options, favourites) and their snapshot.

The import options are chosen in the Import panel at each import and remembered here; the favourites are
hits the user starred (:class:`MotionSearchFavourite`), kept with Blender's preferences across sessions.
"""

from __future__ import annotations

import bpy

from .prefs import Prefs
from .urls import is_loopback

__all__ = [
    "ADDON_ID",
    "MotionSearchFavourite",
    "MotionSearchLibrary",
    "MotionSearchPreferences",
    "addon_prefs",
    "classes",
    "favourite_ids",
    "online_access",
    "snapshot",
]

#: The add-on's module name (``bl_ext.<repo>.motion_search`` when installed as an extension).
ADDON_ID = __package__


class MotionSearchFavourite(bpy.types.PropertyGroup):
    """A starred hit: enough to list it and import it again (from the backend it came from)."""

    motion_id: bpy.props.StringProperty(name="Motion ID")  # type: ignore[valid-type]
    caption: bpy.props.StringProperty(name="Caption")  # type: ignore[valid-type]
    dataset: bpy.props.StringProperty(name="Dataset")  # type: ignore[valid-type]
    duration: bpy.props.FloatProperty(name="Duration", unit="TIME_ABSOLUTE")  # type: ignore[valid-type]
    licence: bpy.props.StringProperty(name="Licence")  # type: ignore[valid-type]
    commercial_use: bpy.props.BoolProperty(name="Commercial Use")  # type: ignore[valid-type]
    segment_start: bpy.props.FloatProperty(name="Segment Start")  # type: ignore[valid-type]
    segment_end: bpy.props.FloatProperty(name="Segment End")  # type: ignore[valid-type]
    text: bpy.props.StringProperty(name="Query", description="The search that found it (colours the import)")  # type: ignore[valid-type]
    backend_url: bpy.props.StringProperty(name="Backend", description="The backend serving this clip")  # type: ignore[valid-type]


def _on_library_url(self: MotionSearchLibrary, context: bpy.types.Context) -> None:
    """Editing the URL of the selected library moves the add-on to it."""
    prefs = addon_prefs(context)
    if prefs is None or not (0 <= prefs.library_index < len(prefs.libraries)) or not self.url:
        return
    if prefs.libraries[prefs.library_index].as_pointer() == self.as_pointer():
        prefs.backend_url = self.url


class MotionSearchLibrary(bpy.types.PropertyGroup):
    """A named library: one backend (``python -m backend serve --index DIR --port N``) and its URL."""

    url: bpy.props.StringProperty(  # type: ignore[valid-type]
        name="URL", description="Address of the backend serving this library", default="http://127.0.0.1:8765",
        update=_on_library_url,
    )  # fmt: skip


def _on_library_selected(self: MotionSearchPreferences, context: bpy.types.Context) -> None:
    """Picking a library in the list makes its backend the one the add-on talks to."""
    if 0 <= self.library_index < len(self.libraries):
        url = self.libraries[self.library_index].url
        if url and self.backend_url != url:
            self.backend_url = url


class MotionSearchPreferences(bpy.types.AddonPreferences):
    """Preferences > Add-ons > Motion Search."""

    bl_idname = ADDON_ID

    backend_url: bpy.props.StringProperty(  # type: ignore[valid-type]
        name="Backend URL",
        description="Address of the Motion Search backend (start it with `bash scripts/run.sh`)",
        default="http://127.0.0.1:8765",
    )
    libraries: bpy.props.CollectionProperty(type=MotionSearchLibrary)  # type: ignore[valid-type]
    library_index: bpy.props.IntProperty(  # type: ignore[valid-type]
        name="Library", description="The library to search (its backend becomes the Backend URL)", default=-1,
        update=_on_library_selected,
    )  # fmt: skip
    api_token: bpy.props.StringProperty(  # type: ignore[valid-type]
        name="API Token",
        description="Only for a remote backend started with --api-token",
        default="",
        subtype="PASSWORD",
    )
    result_count: bpy.props.IntProperty(  # type: ignore[valid-type]
        name="Results", description="How many results a search returns", default=10, min=1, max=100
    )
    timeout: bpy.props.FloatProperty(  # type: ignore[valid-type]
        name="Timeout", description="Seconds to wait for each answer of the backend", default=15.0,
        min=0.5, max=600.0, unit="TIME_ABSOLUTE",
    )  # fmt: skip
    root_motion: bpy.props.BoolProperty(  # type: ignore[valid-type]
        name="Root Motion",
        description="Keep the travel of the character (off: animate in place)",
        default=True,
    )
    import_target: bpy.props.EnumProperty(  # type: ignore[valid-type]
        name="Import Onto",
        items=(
            ("NEW", "New Armature", "Create a 22-bone armature for the motion"),
            ("SELECTED", "Selected Armature", "Retarget onto the active armature through its bone map"),
        ),
        default="NEW",
    )
    clip_range: bpy.props.EnumProperty(  # type: ignore[valid-type]
        name="Range",
        items=(
            ("WHOLE", "Whole Clip", "Import every frame of the clip"),
            ("SEGMENT", "Matched Segment", "Import only the part that matched the text (± the margin)"),
        ),
        default="WHOLE",
    )
    segment_margin: bpy.props.FloatProperty(  # type: ignore[valid-type]
        name="Margin", description="Seconds kept before and after the matched segment", default=0.5,
        min=0.0, max=60.0, unit="TIME_ABSOLUTE",
    )  # fmt: skip
    import_start: bpy.props.EnumProperty(  # type: ignore[valid-type]
        name="Start",
        items=(
            ("SCENE", "Scene Start", "The clip starts at the scene's start frame"),
            ("PLAYHEAD", "Playhead", "The clip starts at the current frame"),
        ),
        default="SCENE",
    )
    import_place: bpy.props.EnumProperty(  # type: ignore[valid-type]
        name="As",
        items=(
            ("ACTION", "Active Action", "The clip becomes the armature's active action"),
            (
                "NLA",
                "NLA Strip",
                "The clip goes into a new NLA strip on a new track (the active action stays)",
            ),
        ),
        default="ACTION",
    )
    mirror: bpy.props.BoolProperty(  # type: ignore[valid-type]
        name="Mirror",
        description="Import mirrored: left and right swapped, through the bone map",
        default=False,
    )
    sequence_gap: bpy.props.IntProperty(  # type: ignore[valid-type]
        name="Gap",
        description="Empty frames between clips imported in sequence",
        default=10,
        min=0,
        max=10000,
    )
    favourites: bpy.props.CollectionProperty(type=MotionSearchFavourite)  # type: ignore[valid-type]
    favourite_index: bpy.props.IntProperty(name="Favourite", default=0)  # type: ignore[valid-type]

    def draw(self, context: bpy.types.Context) -> None:
        layout = self.layout
        layout.prop(self, "backend_url")
        if not is_loopback(self.backend_url) and not bpy.app.online_access:
            layout.label(
                text="Online access is off: Preferences > System > Network > Allow Online Access",
                icon="ERROR",
            )
        _draw_libraries(layout, self)
        layout.prop(self, "api_token")
        row = layout.row()
        row.prop(self, "result_count")
        row.prop(self, "timeout")
        row = layout.row()
        row.prop(self, "root_motion")
        row.prop(self, "import_target")
        row = layout.row()
        row.prop(self, "clip_range")
        row.prop(self, "segment_margin")
        row = layout.row()
        row.prop(self, "import_start")
        row.prop(self, "import_place")
        row = layout.row()
        row.prop(self, "mirror")
        row.prop(self, "sequence_gap")
        layout.label(text=f"{len(self.favourites)} favourites (listed in the sidebar's Favourites panel)")


def _draw_libraries(layout: bpy.types.UILayout, prefs: MotionSearchPreferences) -> None:
    """The named libraries (one backend each) with add / remove buttons."""
    box = layout.box()
    box.label(text="Libraries (each one a backend: python -m backend serve --index DIR --port N)")
    row = box.row()
    row.template_list(
        "UI_UL_list", "motion_search_libraries", prefs, "libraries", prefs, "library_index", rows=3
    )
    col = row.column(align=True)
    col.operator("motion_search.library_new", text="", icon="ADD")
    col.operator("motion_search.library_remove", text="", icon="REMOVE")
    if 0 <= prefs.library_index < len(prefs.libraries):
        item = prefs.libraries[prefs.library_index]
        box.prop(item, "name")
        box.prop(item, "url")


def addon_prefs(context: bpy.types.Context | None = None) -> MotionSearchPreferences | None:
    """The preferences, or None when the add-on is not enabled through Blender's add-on system."""
    prefs = (context or bpy.context).preferences
    entry = prefs.addons.get(ADDON_ID) if prefs is not None else None
    return entry.preferences if entry is not None else None


def favourite_ids(context: bpy.types.Context | None = None) -> set[str]:
    """Clip ids of the favourites (empty when the preferences are unavailable)."""
    p = addon_prefs(context)
    return {f.motion_id for f in p.favourites} if p is not None else set()


def snapshot(context: bpy.types.Context | None = None) -> Prefs:
    """Plain-value copy of the preferences for worker threads (defaults when they are unavailable)."""
    p = addon_prefs(context)
    if p is None:
        return Prefs()
    return Prefs(
        url=p.backend_url, k=p.result_count, timeout=p.timeout, token=p.api_token,
        root_motion=p.root_motion, target=p.import_target, clip_range=p.clip_range, margin=p.segment_margin,
        start=p.import_start, place=p.import_place, mirror=p.mirror, gap=p.sequence_gap,
    )  # fmt: skip


def online_access() -> bool:
    """``bpy.app.online_access`` (always True on Blender versions without the setting)."""
    return bool(getattr(bpy.app, "online_access", True))


classes = (MotionSearchFavourite, MotionSearchLibrary, MotionSearchPreferences)
