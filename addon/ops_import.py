# SPDX-License-Identifier: GPL-3.0-or-later
"""Operator: import the selected search result onto a new armature or the selected (mapped) armature.

The clip is downloaded on a worker thread (``GET /motions/{id}``); building the armature and writing the
keys happens on the main thread in :func:`finish_import`, with a progress bar for long clips.
"""

from __future__ import annotations

import json

import bpy

from . import jobs
from .errors import AddonError
from .ops_search import alignment_to_json, make_client, show_error, show_words
from .payloads import Alignment, MotionData
from .preferences import snapshot
from .properties import bone_map_dict, object_state, set_bone_map, set_status, state
from .rigmap import check_mapping, detect_mapping

__all__ = ["MOTIONSEARCH_OT_import", "armature_mapping", "classes", "finish_import"]


def armature_mapping(obj: bpy.types.Object) -> dict[str, str]:
    """The object's bone map; detected from its bone names (and stored) when it has none yet."""
    mapping = bone_map_dict(obj)
    if not mapping:
        names = [b.name for b in obj.data.bones]
        parents = [names.index(b.parent.name) if b.parent else -1 for b in obj.data.bones]
        mapping = detect_mapping(names, parents)
        set_bone_map(obj, mapping)
    return mapping


def _undo_push(message: str) -> None:
    """Record an undo step for changes made from a timer callback (no-op without a window, e.g. headless)."""
    try:
        if bpy.ops.ed.undo_push.poll():
            bpy.ops.ed.undo_push(message=message)
    except RuntimeError:
        pass


def finish_import(
    context: bpy.types.Context,
    motion: MotionData,
    *,
    alignment_json: str = "",
    text: str = "",
    target_name: str = "",
    root_motion: bool = True,
    colour: bool = True,
) -> bpy.types.Object:
    """Main-thread part of the import: key the clip and (optionally) colour it by the hit's alignment.

    Args:
        context: current context.
        motion: the downloaded clip.
        alignment_json: the search hit's alignment (JSON, may be empty).
        text: the query that found the clip.
        target_name: name of an armature object to retarget onto ("" = new armature).
        root_motion: keep the travel.
        colour: apply alignment colouring after the import.

    Returns:
        The animated armature object (made active).
    """
    from .anim.colouring import apply_colouring
    from .anim.motion import import_motion

    target = bpy.data.objects.get(target_name) if target_name else None
    if target_name and (target is None or target.type != "ARMATURE"):
        raise AddonError(f"the armature {target_name!r} to import onto no longer exists")
    mapping = armature_mapping(target) if target is not None else None
    if target is not None:
        check_mapping(mapping, [b.name for b in target.data.bones], need_all=False)
    result = import_motion(context, motion, target=target, mapping=mapping, root_motion=root_motion)
    obj = result.obj
    if target is None:
        set_bone_map(obj, {n: n for n in motion.joint_names})
    ost = object_state(obj)
    ost.text, ost.alignment_json = text, alignment_json
    if colour and alignment_json:
        alignment = Alignment.from_json(json.loads(alignment_json))
        apply_colouring(obj, alignment, bone_map_dict(obj), result.frame_start, result.fps, text=text)
        show_words(alignment)
    _undo_push(f"Import motion {motion.id}")
    keys = "rotation + location keys" if result.location_keys else "rotation keys (+ root location)"
    set_status(
        f"imported {motion.id} onto {obj.name}: frames {result.frame_start}-{result.frame_end} at "
        f"{result.fps:g} fps, {keys}"
    )
    return obj


class MOTIONSEARCH_OT_import(bpy.types.Operator):
    """Import the selected result as an animation (new armature, or the selected armature)"""

    bl_idname = "motion_search.import_selected"
    bl_label = "Import Motion"
    bl_options = {"REGISTER"}  # noqa: RUF012 - Blender reads a set (undo is pushed when the keys are written)

    colour: bpy.props.BoolProperty(name="Colour", default=True, description="Colour by the alignment")  # type: ignore[valid-type]

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        st = state(context)
        return 0 <= st.hit_index < len(st.hits)

    def execute(self, context: bpy.types.Context) -> set[str]:
        st = state(context)
        hit = st.hits[st.hit_index]
        prefs = snapshot(context)
        target_name = ""
        if prefs.target == "SELECTED":
            obj = context.active_object
            if obj is None or obj.type != "ARMATURE":
                set_status("select an armature to import onto (or choose 'New Armature')", error=True)
                return {"CANCELLED"}
            target_name = obj.name
            try:
                check_mapping(armature_mapping(obj), [b.name for b in obj.data.bones], need_all=False)
            except AddonError as exc:
                show_error(exc)
                return {"CANCELLED"}
        try:
            client = make_client(prefs)
        except AddonError as exc:
            show_error(exc)
            return {"CANCELLED"}
        motion_id, alignment_json = hit.motion_id, hit.alignment_json
        text, colour, root_motion = st.searched_text or st.query, self.colour, prefs.root_motion
        set_status(f"downloading {motion_id} ...")

        def work(emit) -> tuple[MotionData, str]:  # the hit's alignment too, if its fetch has not landed yet
            aligned = alignment_json
            if colour and not aligned:
                aligned = alignment_to_json(client.alignment(text, motion_id).alignment)
            return client.motion(motion_id), aligned

        def done(result: tuple[MotionData, str]) -> None:
            try:
                finish_import(
                    bpy.context, result[0], alignment_json=result[1], text=text, target_name=target_name,
                    root_motion=root_motion, colour=colour,
                )  # fmt: skip
            except AddonError as exc:
                show_error(exc)

        jobs.get_queue().submit("import", work, on_done=done, on_error=show_error)
        return {"FINISHED"}


classes = (MOTIONSEARCH_OT_import,)
