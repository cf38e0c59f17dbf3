# SPDX-License-Identifier: GPL-3.0-or-later
"""Add-on preferences (backend URL, result count, timeout, import options) and their snapshot."""

from __future__ import annotations

import bpy

from .client import is_loopback
from .payloads import Prefs

__all__ = ["ADDON_ID", "MotionSearchPreferences", "addon_prefs", "classes", "online_access", "snapshot"]

#: The add-on's module name (``bl_ext.<repo>.motion_search`` when installed as an extension).
ADDON_ID = __package__


class MotionSearchPreferences(bpy.types.AddonPreferences):
    """Preferences > Add-ons > Motion Search."""

    bl_idname = ADDON_ID

    backend_url: bpy.props.StringProperty(  # type: ignore[valid-type]
        name="Backend URL",
        description="Address of the Motion Search backend (start it with `bash scripts/run.sh`)",
        default="http://127.0.0.1:8765",
    )
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

    def draw(self, context: bpy.types.Context) -> None:
        layout = self.layout
        layout.prop(self, "backend_url")
        if not is_loopback(self.backend_url) and not bpy.app.online_access:
            layout.label(
                text="Online access is off: Preferences > System > Network > Allow Online Access",
                icon="ERROR",
            )
        layout.prop(self, "api_token")
        row = layout.row()
        row.prop(self, "result_count")
        row.prop(self, "timeout")
        row = layout.row()
        row.prop(self, "root_motion")
        row.prop(self, "import_target")


def addon_prefs(context: bpy.types.Context | None = None) -> MotionSearchPreferences | None:
    """The preferences, or None when the add-on is not enabled through Blender's add-on system."""
    ctx = context or bpy.context
    entry = ctx.preferences.addons.get(ADDON_ID)
    return entry.preferences if entry is not None else None


def snapshot(context: bpy.types.Context | None = None) -> Prefs:
    """Plain-value copy of the preferences for worker threads (defaults when they are unavailable)."""
    p = addon_prefs(context)
    if p is None:
        return Prefs()
    return Prefs(
        url=p.backend_url, k=p.result_count, timeout=p.timeout, token=p.api_token,
        root_motion=p.root_motion, target=p.import_target,
    )  # fmt: skip


def online_access() -> bool:
    """``bpy.app.online_access`` (always True on Blender versions without the setting)."""
    return bool(getattr(bpy.app, "online_access", True))


classes = (MotionSearchPreferences,)
