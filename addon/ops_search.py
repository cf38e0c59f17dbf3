# SPDX-License-Identifier: GPL-3.0-or-later
"""Operators that submit search / describe / health jobs.

Operators never do HTTP themselves: they snapshot the preferences, build a :class:`BackendClient` and hand
a closure to :mod:`.jobs`; the callbacks that show the answers are in :mod:`.results`.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import bpy

from . import jobs
from .errors import AddonError
from .preferences import snapshot
from .results import make_client, show_description, show_error, show_page
from .rna import active_object
from .state import armature_mapping, search_filters, set_status, state

if TYPE_CHECKING:
    from bpy.stub_internal.rna_enums import OperatorReturnItems

__all__ = [
    "MOTIONSEARCH_OT_check_backend",
    "MOTIONSEARCH_OT_describe",
    "MOTIONSEARCH_OT_search",
    "classes",
]


class MOTIONSEARCH_OT_search(bpy.types.Operator):
    """Search the motion library for the text in the query field"""

    bl_idname = "motion_search.search"
    bl_label = "Search"
    bl_options = {"REGISTER"}  # noqa: RUF012 - Blender reads a set

    def execute(self, context: bpy.types.Context) -> set[OperatorReturnItems]:
        st = state(context)
        text = st.query.strip()
        if not text:
            set_status("type a description first, e.g. 'a person waves with the left hand'", error=True)
            return {"CANCELLED"}
        prefs = snapshot(context)
        try:
            client = make_client(prefs)
            filters = search_filters(st)
        except AddonError as exc:
            show_error(exc)
            return {"CANCELLED"}
        st.searched_filters = json.dumps(filters)
        set_status(f'searching "{text}" ...')
        jobs.get_queue().submit(
            "search", lambda emit: client.search_page(text, prefs.k, **filters),
            on_done=lambda page: show_page(text, page, prefs), on_error=show_error,
        )  # fmt: skip
        if st.library_size < 0 and not jobs.get_queue().busy("library"):
            from .ops_find import fetch_library

            fetch_library(client, quiet=True)  # fill the dataset / tag menus once
        return {"FINISHED"}


class MOTIONSEARCH_OT_describe(bpy.types.Operator):
    """Sample the active armature's animation and ask the backend which captions describe it best"""

    bl_idname = "motion_search.describe"
    bl_label = "Find Description for This Animation"
    bl_options = {"REGISTER"}  # noqa: RUF012 - Blender reads a set

    colour: bpy.props.BoolProperty(name="Colour", default=True, description="Colour by the best caption")  # type: ignore[valid-type]

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        obj = context.active_object
        return obj is not None and obj.type == "ARMATURE"

    def execute(self, context: bpy.types.Context) -> set[OperatorReturnItems]:
        from .anim.sample import sample_joints

        obj = active_object(context)
        mapping = armature_mapping(obj)
        prefs = snapshot(context)
        try:
            client = make_client(prefs)
            sampled = sample_joints(context, obj, mapping)
        except AddonError as exc:
            show_error(exc)
            return {"CANCELLED"}
        k = state(context).describe_count
        name, start, colour = obj.name, sampled.frame_start, self.colour
        set_status(f"describing {sampled.joints.shape[0]} frames of {name} ...")
        jobs.get_queue().submit(
            "describe", lambda emit: client.describe(sampled.joints, sampled.fps, k),
            on_done=lambda res: show_description(name, start, res, colour), on_error=show_error,
        )  # fmt: skip
        return {"FINISHED"}


class MOTIONSEARCH_OT_check_backend(bpy.types.Operator):
    """Ask the backend whether it is up (GET /health)"""

    bl_idname = "motion_search.check_backend"
    bl_label = "Check Backend"
    bl_options = {"REGISTER"}  # noqa: RUF012 - Blender reads a set

    def execute(self, context: bpy.types.Context) -> set[OperatorReturnItems]:
        prefs = snapshot(context)
        try:
            client = make_client(prefs)
        except AddonError as exc:
            show_error(exc)
            return {"CANCELLED"}
        set_status(f"contacting {client.url} ...")
        jobs.get_queue().submit(
            "health", lambda emit: client.health(),
            on_done=lambda h: set_status(f"backend OK at {client.url}: {h.library_size} clips, model {h.model}"),
            on_error=show_error,
        )  # fmt: skip
        return {"FINISHED"}


classes = (MOTIONSEARCH_OT_search, MOTIONSEARCH_OT_describe, MOTIONSEARCH_OT_check_backend)
