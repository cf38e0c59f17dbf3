# SPDX-License-Identifier: GPL-3.0-or-later
"""Operators: apply / remove alignment colouring, and detect / save / load an armature's bone map."""

from __future__ import annotations

from typing import TYPE_CHECKING

import bpy
from bpy_extras.io_utils import ExportHelper, ImportHelper

from .errors import AddonError
from .rigmap import load_preset, missing_joints, save_preset
from .rna import active_object, armature
from .state import armature_mapping, detect_armature_mapping, object_state, set_bone_map, set_status

if TYPE_CHECKING:
    from bpy.stub_internal.rna_enums import OperatorReturnItems

__all__ = [
    "MOTIONSEARCH_OT_add_body",
    "MOTIONSEARCH_OT_colour_apply",
    "MOTIONSEARCH_OT_colour_remove",
    "MOTIONSEARCH_OT_map_detect",
    "MOTIONSEARCH_OT_map_load",
    "MOTIONSEARCH_OT_map_save",
    "classes",
]


def _armature_poll(context: bpy.types.Context) -> bool:
    obj = context.active_object
    return obj is not None and obj.type == "ARMATURE"


def _has_alignment(context: bpy.types.Context) -> bool:
    obj = context.active_object
    return obj is not None and bool(object_state(obj).alignment_json)


class MOTIONSEARCH_OT_colour_apply(bpy.types.Operator):
    """Colour the active armature by the alignment stored on it (from its import or description)"""

    bl_idname = "motion_search.colour_apply"
    bl_label = "Apply Colouring"
    bl_options = {"REGISTER", "UNDO"}  # noqa: RUF012 - Blender reads a set

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        return _armature_poll(context) and _has_alignment(context)

    def execute(self, context: bpy.types.Context) -> set[OperatorReturnItems]:
        from .anim.colouring import apply_from_state

        obj = active_object(context)
        armature_mapping(obj)
        n = apply_from_state(obj)
        set_status(f"coloured {n} bones of {obj.name}")
        return {"FINISHED"}


class MOTIONSEARCH_OT_colour_remove(bpy.types.Operator):
    """Remove all alignment colouring (bone colours, colour NLA track, keyframe types)"""

    bl_idname = "motion_search.colour_remove"
    bl_label = "Remove Colouring"
    bl_options = {"REGISTER", "UNDO"}  # noqa: RUF012 - Blender reads a set

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        return _armature_poll(context)

    def execute(self, context: bpy.types.Context) -> set[OperatorReturnItems]:
        from .anim.colouring import remove_colouring

        obj = active_object(context)
        remove_colouring(obj)
        set_status(f"colouring removed from {obj.name}")
        return {"FINISHED"}


class MOTIONSEARCH_OT_map_detect(bpy.types.Operator):
    """Guess the bone map of the active armature from its bone names (our rig, Mixamo, Unreal, Rigify ...)"""

    bl_idname = "motion_search.map_detect"
    bl_label = "Detect Bone Map"
    bl_options = {"REGISTER", "UNDO"}  # noqa: RUF012 - Blender reads a set

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        return _armature_poll(context)

    def execute(self, context: bpy.types.Context) -> set[OperatorReturnItems]:
        obj = active_object(context)
        mapping = detect_armature_mapping(obj)
        set_bone_map(obj, mapping)
        missing = missing_joints(mapping)
        set_status(
            f"mapped {22 - len(missing)} of 22 joints"
            + (f"; missing {', '.join(missing)}" if missing else "")
        )
        return {"FINISHED"}


# ignore[misc] below: the bpy_extras stubs type ExportHelper/ImportHelper.check and .invoke as returning None
class MOTIONSEARCH_OT_map_save(bpy.types.Operator, ExportHelper):  # type: ignore[misc]
    """Save the active armature's bone map as a JSON preset"""

    if TYPE_CHECKING:
        filepath: str  # ExportHelper's file path property (missing from the stubs)

    bl_idname = "motion_search.map_save"
    bl_label = "Save Bone Map"
    filename_ext = ".json"
    filter_glob: bpy.props.StringProperty(default="*.json", options={"HIDDEN"})  # type: ignore[valid-type]

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        return _armature_poll(context)

    def execute(self, context: bpy.types.Context) -> set[OperatorReturnItems]:
        obj = active_object(context)
        try:
            save_preset(self.filepath, armature_mapping(obj), name=obj.name)
        except OSError as exc:
            set_status(f"cannot save bone map to {self.filepath}: {exc}", error=True)
            return {"CANCELLED"}
        set_status(f"bone map saved to {self.filepath}")
        return {"FINISHED"}


class MOTIONSEARCH_OT_map_load(bpy.types.Operator, ImportHelper):  # type: ignore[misc]  # see map_save
    """Load a bone map preset (JSON) onto the active armature"""

    if TYPE_CHECKING:
        filepath: str  # ImportHelper's file path property (missing from the stubs)

    bl_idname = "motion_search.map_load"
    bl_label = "Load Bone Map"
    filename_ext = ".json"
    filter_glob: bpy.props.StringProperty(default="*.json", options={"HIDDEN"})  # type: ignore[valid-type]

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        return _armature_poll(context)

    def execute(self, context: bpy.types.Context) -> set[OperatorReturnItems]:
        obj = active_object(context)
        try:
            mapping = load_preset(self.filepath)
        except AddonError as exc:
            set_status(str(exc), error=True)
            return {"CANCELLED"}
        bones = {b.name for b in armature(obj).bones}
        unknown = sorted(b for b in mapping.values() if b not in bones)
        set_bone_map(obj, {j: b for j, b in mapping.items() if b in bones})
        object_state(obj).bone_map_index = 0
        msg = f"bone map loaded from {self.filepath}"
        set_status(
            msg + (f"; bones not in this armature: {', '.join(unknown)}" if unknown else ""),
            error=bool(unknown),
        )
        return {"FINISHED"}


class MOTIONSEARCH_OT_add_body(bpy.types.Operator):
    """Add a simple mesh body coloured like the bones, so renders show the colouring"""

    bl_idname = "motion_search.add_body"
    bl_label = "Add Coloured Body"
    bl_options = {"REGISTER", "UNDO"}  # noqa: RUF012 - Blender reads a set

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        return _armature_poll(context)

    def execute(self, context: bpy.types.Context) -> set[OperatorReturnItems]:
        from .anim.proxy import add_proxy

        obj = active_object(context)
        mapped = [b for b in armature_mapping(obj).values() if b in armature(obj).bones]
        body = add_proxy(context, obj, mapped or None)
        set_status(f"added {body.name} ({len(body.material_slots)} coloured pieces)")
        return {"FINISHED"}


classes = (
    MOTIONSEARCH_OT_add_body,
    MOTIONSEARCH_OT_colour_apply,
    MOTIONSEARCH_OT_colour_remove,
    MOTIONSEARCH_OT_map_detect,
    MOTIONSEARCH_OT_map_save,
    MOTIONSEARCH_OT_map_load,
)
