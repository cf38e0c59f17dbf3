# SPDX-License-Identifier: GPL-3.0-or-later
"""Motion Search for Blender: find motions by text, import them as animation, see why they matched.

This file only imports the modules and registers / unregisters their classes (mirror order). The manifest
(``blender_manifest.toml``) carries the metadata; the backend is reached over HTTP only.
"""

from __future__ import annotations

from . import (
    jobs,
    ops_colour,
    ops_favourites,
    ops_find,
    ops_folder,
    ops_import,
    ops_library,
    ops_search,
    panels,
    preferences,
    previews,
    properties,
)

__all__ = ["register", "unregister"]

_MODULES = (preferences, properties, ops_search, ops_find, ops_import, ops_favourites, ops_colour, panels,
            ops_library, ops_folder)  # fmt: skip


def register() -> None:
    """Register every class, attach the properties and start the result timer."""
    import bpy

    for module in _MODULES:
        for cls in module.classes:
            bpy.utils.register_class(cls)
        if hasattr(module, "register_properties"):  # properties, ops_library: after their classes
            module.register_properties()
    jobs.start_timer()


def unregister() -> None:
    """Undo :func:`register` in reverse order and free the preview images."""
    import bpy

    jobs.stop_timer()
    previews.close()
    for module in reversed(_MODULES):
        if hasattr(module, "unregister_properties"):
            module.unregister_properties()
        for cls in reversed(module.classes):
            bpy.utils.unregister_class(cls)
