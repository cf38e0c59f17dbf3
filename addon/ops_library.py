# SPDX-License-Identifier: GPL-3.0-or-later
"""Add to the library from Blender: selected armatures' actions, every action of the file; named libraries.

Sampling touches Blender data, so it runs on the main thread (the sampler of Describe, ``anim/sample.py``,
through each armature's bone map); the uploads (``POST /library`` with the joints) run on a worker
(:mod:`.jobs`), one clip after the other, each one's answer reported as it arrives. What was added and what
was skipped, and why, lands in the panel's report (``WindowManager.motion_search_library``) and in the
operator's info report. Folders go through :mod:`.ops_folder`.
"""

from __future__ import annotations

import itertools
from functools import partial
from typing import TYPE_CHECKING, Any

import bpy

from . import jobs
from .client import BackendClient
from .errors import AddonError
from .folder import Outcome, report_summary
from .library import (
    ClipInfo,
    add_under_free_id,
    caption_from_name,
    clip_id_from_name,
    library_label,
    parse_tags,
)
from .preferences import addon_prefs, snapshot
from .results import make_client
from .rna import panel_layout, window_manager
from .state import armature_mapping, object_state, set_bone_map, set_status

if TYPE_CHECKING:
    from bpy.stub_internal.rna_enums import OperatorReturnItems

    from .anim.sample import SampledMotion

__all__ = [
    "MOTIONSEARCH_OT_library_add_actions",
    "MOTIONSEARCH_OT_library_add_selected",
    "MOTIONSEARCH_OT_library_new",
    "MOTIONSEARCH_OT_library_remove",
    "MotionSearchLibraryReport",
    "MotionSearchLibraryState",
    "VIEW3D_PT_motion_search_library",
    "classes",
    "clip_info",
    "library_state",
    "register_properties",
    "show_report",
    "unregister_properties",
    "upload_clips",
]


_ADDS = itertools.count(1)


class MotionSearchLibraryReport(bpy.types.PropertyGroup):
    """One line of the last add's report."""

    text: bpy.props.StringProperty(name="Report")  # type: ignore[valid-type]
    ok: bpy.props.BoolProperty(name="Added")  # type: ignore[valid-type]


class MotionSearchLibraryState(bpy.types.PropertyGroup):
    """What "Add to Library" stores with clips, the last report and the folder progress."""

    caption: bpy.props.StringProperty(  # type: ignore[valid-type]
        name="Caption", description="A description stored with the clip when one clip is added (empty, or "
        "several clips: each is captioned from its name)",
    )  # fmt: skip
    tags: bpy.props.StringProperty(name="Tags", description="Comma-separated tags, e.g. 'studio, walk'")  # type: ignore[valid-type]
    licence: bpy.props.StringProperty(name="Licence", description="The clips' licence (e.g. 'own work')")  # type: ignore[valid-type]
    commercial_use: bpy.props.BoolProperty(  # type: ignore[valid-type]
        name="Commercial Use", description="The licence allows commercial use (searches with 'commercial "
        "safe' find only such clips)", default=False,
    )  # fmt: skip
    reports: bpy.props.CollectionProperty(type=MotionSearchLibraryReport)  # type: ignore[valid-type]
    summary: bpy.props.StringProperty(name="Summary")  # type: ignore[valid-type]
    busy: bpy.props.BoolProperty(name="Adding a Folder", default=False)  # type: ignore[valid-type]
    progress: bpy.props.StringProperty(name="Progress")  # type: ignore[valid-type]
    cancel_requested: bpy.props.BoolProperty(name="Cancel", default=False)  # type: ignore[valid-type]


def library_state(context: bpy.types.Context | None = None) -> MotionSearchLibraryState:
    """``WindowManager.motion_search_library``."""
    wm: Any = window_manager(context)  # Any: motion_search_library is registered at run time
    return wm.motion_search_library


def clip_info(st: MotionSearchLibraryState, name: str, single: bool) -> ClipInfo:
    """What to store with the clip named ``name`` (the typed caption for a single clip, else from the name)."""
    caption = st.caption.strip() if single and st.caption.strip() else caption_from_name(name)
    return ClipInfo(clip_id_from_name(name), caption, tuple(parse_tags(st.tags)), st.licence,
                    st.commercial_use).checked()  # fmt: skip


def show_report(outcomes: list[Outcome], cancelled: bool = False, unit: str = "file") -> str:
    """Put the per-file / per-action report in the panel; returns the summary line."""
    st = library_state()
    st.reports.clear()
    for o in outcomes:
        row = st.reports.add()
        row.text, row.ok = o.line(), o.ok
        print(f"Motion Search: {row.text}")
    st.summary = report_summary(outcomes, cancelled, unit)
    set_status(st.summary, error=not any(o.ok for o in outcomes) and bool(outcomes))
    return st.summary


def upload_clips(
    client: BackendClient, clips: list[tuple[str, ClipInfo, SampledMotion]], outcomes: list[Outcome]
) -> None:
    """Send sampled clips one by one on a worker; each answer fills its :class:`Outcome` and the report.

    Args:
        client: the backend.
        clips: ``(outcome name, info, SampledMotion)`` per clip.
        outcomes: the report rows (those of ``clips`` included), shown again after each answer.
    """
    by_name = {o.name: o for o in outcomes}

    def work(emit):
        for name, info, sampled in clips:
            try:
                send = partial(client.add_joints, sampled.joints, sampled.fps)
                emit((name, add_under_free_id(send, info).id, ""))
            except AddonError as exc:
                emit((name, "", str(exc)))
        return len(clips)

    def on_item(item: tuple[str, str, str]) -> None:
        name, clip_id, error = item
        if clip_id:
            by_name[name].added.append(clip_id)
        else:
            by_name[name].reason = error
        show_report(outcomes, unit="action")

    def on_done(n: int) -> None:
        show_report(outcomes, unit="action")

    def on_error(exc: BaseException) -> None:
        for o in outcomes:
            if not o.added and not o.reason:
                o.reason = f"not sent: {exc}"
        show_report(outcomes, unit="action")

    # a kind of its own per add: a second add while this one uploads must not make its answers stale
    kind = f"library-add-{next(_ADDS)}"
    jobs.get_queue().submit(kind, work, on_done=on_done, on_error=on_error, on_item=on_item)


def _sample_all(
    context: bpy.types.Context, pairs: list[tuple[bpy.types.Object, bpy.types.Action]]
) -> tuple[list[tuple[str, ClipInfo, SampledMotion]], list[Outcome]]:
    """Sample ``(armature, action)`` pairs on the main thread; failures become report rows."""
    from .anim.batch import sample_action

    st = library_state(context)
    clips, outcomes = [], []
    for obj, action in pairs:
        name = action.name
        outcome = Outcome(f"{action.name} on {obj.name}")
        outcomes.append(outcome)
        try:
            mapping = armature_mapping(obj, store=False)
            if not len(object_state(obj).bone_map):
                set_bone_map(obj, mapping)  # shown in the Bone Map panel, as Describe does
            sampled = sample_action(context, obj, action, mapping)
            clips.append((outcome.name, clip_info(st, name, len(pairs) == 1), sampled))
        except AddonError as exc:
            outcome.reason = str(exc)
    return clips, outcomes


def _send(
    op: bpy.types.Operator,
    context: bpy.types.Context,
    pairs: list[tuple[bpy.types.Object, bpy.types.Action]],
    skipped: list[Outcome],
) -> set[OperatorReturnItems]:
    try:
        client = make_client(snapshot(context))
        clips, outcomes = _sample_all(context, pairs)
    except AddonError as exc:
        op.report({"WARNING"}, str(exc))
        set_status(str(exc), error=True)
        return {"CANCELLED"}
    outcomes += skipped
    if not clips:
        op.report({"WARNING"}, show_report(outcomes, unit="action") if outcomes else "nothing to add")
        return {"CANCELLED"}
    set_status(f"adding {len(clips)} clip{'s' if len(clips) != 1 else ''} to {client.url} ...")
    upload_clips(client, clips, outcomes)
    op.report({"INFO"}, f"sending {len(clips)} clip(s) to the library; skipped {len(outcomes) - len(clips)}")
    return {"FINISHED"}


class MOTIONSEARCH_OT_library_add_selected(bpy.types.Operator):
    """Send the active action of every selected armature to the library (sampled through its bone map)"""

    bl_idname = "motion_search.library_add_selected"
    bl_label = "Add Selected to Library"
    bl_options = {"REGISTER"}  # noqa: RUF012 - Blender reads a set

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        return any(o.type == "ARMATURE" for o in _selected(context))

    def execute(self, context: bpy.types.Context) -> set[OperatorReturnItems]:
        pairs, skipped = [], []
        for obj in _selected(context):
            if obj.type != "ARMATURE":
                continue
            ad = obj.animation_data
            if ad is None or ad.action is None:
                skipped.append(Outcome(obj.name, reason="has no active action"))
            else:
                pairs.append((obj, ad.action))
        return _send(self, context, pairs, skipped)


class MOTIONSEARCH_OT_library_add_actions(bpy.types.Operator):
    """Send every action of this file that moves armature bones to the library: each on the armature that
    plays it, the others on the active armature"""

    bl_idname = "motion_search.library_add_actions"
    bl_label = "Add Every Action in This File"
    bl_options = {"REGISTER"}  # noqa: RUF012 - Blender reads a set

    armature: bpy.props.StringProperty(  # type: ignore[valid-type]
        name="Armature", description="Plays the actions no armature plays (default: the active armature)"
    )

    def execute(self, context: bpy.types.Context) -> set[OperatorReturnItems]:
        from .anim.batch import file_actions

        chosen = bpy.data.objects.get(self.armature) if self.armature else context.active_object
        if self.armature and (chosen is None or chosen.type != "ARMATURE"):
            self.report({"WARNING"}, f"no armature named {self.armature!r}")
            return {"CANCELLED"}
        pairs, skipped = file_actions(chosen if chosen is not None and chosen.type == "ARMATURE" else None)
        if not pairs and not skipped:
            self.report({"WARNING"}, "this file has no action that moves armature bones")
            set_status("this file has no action that moves armature bones", error=True)
            return {"CANCELLED"}
        return _send(self, context, pairs, [Outcome(name, reason=why) for name, why in skipped])


def _selected(context: bpy.types.Context) -> list[bpy.types.Object]:
    objs = list(getattr(context, "selected_objects", None) or [])
    active = context.active_object
    if active is not None and active not in objs:
        objs.append(active)
    return objs


class MOTIONSEARCH_OT_library_new(bpy.types.Operator):
    """Name another library: a backend serving your own index (python -m backend serve --index DIR --port N)"""

    bl_idname = "motion_search.library_new"
    bl_label = "Add Library"
    bl_options = {"REGISTER", "INTERNAL"}  # noqa: RUF012 - Blender reads a set

    name: bpy.props.StringProperty(name="Name", default="My Library")  # type: ignore[valid-type]
    url: bpy.props.StringProperty(name="URL", default="")  # type: ignore[valid-type]

    def execute(self, context: bpy.types.Context) -> set[OperatorReturnItems]:
        prefs = addon_prefs(context)
        if prefs is None:
            self.report({"WARNING"}, "the Motion Search preferences are not available")
            return {"CANCELLED"}
        name = self.name.strip()
        if not name:
            self.report({"WARNING"}, "give the library a name")
            return {"CANCELLED"}
        if any(item.name == name for item in prefs.libraries):
            self.report({"WARNING"}, f"a library named {name!r} exists already: pick another name")
            set_status(f"a library named {name!r} exists already: pick another name", error=True)
            return {"CANCELLED"}
        item = prefs.libraries.add()
        item.name, item.url = name, self.url.strip() or prefs.backend_url
        prefs.library_index = len(prefs.libraries) - 1
        return {"FINISHED"}


class MOTIONSEARCH_OT_library_remove(bpy.types.Operator):
    """Forget the selected library (its backend and index stay as they are)"""

    bl_idname = "motion_search.library_remove"
    bl_label = "Remove Library"
    bl_options = {"REGISTER", "INTERNAL"}  # noqa: RUF012 - Blender reads a set

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        prefs = addon_prefs(context)
        return prefs is not None and 0 <= prefs.library_index < len(prefs.libraries)

    def execute(self, context: bpy.types.Context) -> set[OperatorReturnItems]:
        prefs = addon_prefs(context)
        if prefs is None:
            return {"CANCELLED"}
        prefs.libraries.remove(prefs.library_index)
        prefs.library_index = min(prefs.library_index, len(prefs.libraries) - 1)
        return {"FINISHED"}


def _searched(prefs) -> str:
    """``"<library name> (<url>)"`` of the backend the add-on talks to (the URL alone when unnamed)."""
    return library_label(prefs.backend_url, [(item.name, item.url) for item in prefs.libraries])


class VIEW3D_PT_motion_search_library(bpy.types.Panel):
    """Which library the panel searches; add actions, files and folders to it."""

    bl_space_type = "VIEW_3D"
    bl_region_type = "UI"
    bl_category = "Motion Search"
    bl_label = "Library"
    bl_parent_id = "VIEW3D_PT_motion_search"
    bl_options = {"DEFAULT_CLOSED"}  # noqa: RUF012 - Blender reads a set

    def draw_header(self, context: bpy.types.Context) -> None:
        """The library searched, in the header: visible while the panel is closed."""
        prefs = addon_prefs(context)
        if prefs is not None:
            panel_layout(self).label(text=_searched(prefs).split(" (")[0])

    def draw(self, context: bpy.types.Context) -> None:
        layout = panel_layout(self)
        prefs = addon_prefs(context)
        st = library_state(context)
        if prefs is not None:
            layout.label(text=f"Searching: {_searched(prefs)}", icon="ASSET_MANAGER")
            if len(prefs.libraries):  # picking one switches the backend (see preferences)
                layout.template_list("UI_UL_list", "motion_search_libraries_panel", prefs, "libraries", prefs,
                                     "library_index", rows=2)  # fmt: skip
        col = layout.column(align=True)
        col.prop(st, "caption")
        col.prop(st, "tags")
        row = col.row(align=True)
        row.prop(st, "licence")
        row.prop(st, "commercial_use", text="Commercial")
        col = layout.column(align=True)
        col.operator("motion_search.library_add_selected", icon="ADD")
        col.operator("motion_search.library_add_actions", icon="ACTION")
        col.operator("motion_search.library_add_folder", icon="FILE_FOLDER")
        if st.busy:
            row = layout.row()
            row.label(text=st.progress or "adding ...", icon="SORTTIME")
            row.operator("motion_search.library_cancel", text="", icon="CANCEL")
        if st.summary:
            layout.label(text=st.summary, icon="INFO")
        for r in list(st.reports)[-12:]:
            layout.label(text=r.text, icon="CHECKMARK" if r.ok else "ERROR")


classes = (
    MotionSearchLibraryReport,
    MotionSearchLibraryState,
    MOTIONSEARCH_OT_library_add_selected,
    MOTIONSEARCH_OT_library_add_actions,
    MOTIONSEARCH_OT_library_new,
    MOTIONSEARCH_OT_library_remove,
    VIEW3D_PT_motion_search_library,
)


def register_properties() -> None:
    """Attach ``WindowManager.motion_search_library`` (after the classes are registered)."""
    # ignores: a property added at run time, and the stubs type PointerProperty() as returning None
    bpy.types.WindowManager.motion_search_library = bpy.props.PointerProperty(  # type: ignore[attr-defined,func-returns-value]
        type=MotionSearchLibraryState
    )


def unregister_properties() -> None:
    """Remove ``WindowManager.motion_search_library`` (before the classes are unregistered)."""
    del bpy.types.WindowManager.motion_search_library  # type: ignore[attr-defined]  # added at run time
