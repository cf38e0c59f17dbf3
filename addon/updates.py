# SPDX-License-Identifier: GPL-3.0-or-later
"""Update callbacks of the add-on's properties (Blender calls them when a property changes).

:mod:`.properties` passes these as ``update=`` when it declares the property groups. They sit below the
declarations and reach down only (:mod:`.results` for the result / caption lists, :mod:`.anim.colouring`
for the colouring toggle), so no module imports back up into :mod:`.properties`.
"""

from __future__ import annotations

from typing import Any

import bpy

from .anim import colouring
from .results import on_caption_selected, on_hit_selected

__all__ = ["on_caption_index", "on_colouring_toggled", "on_hit_index"]


def on_hit_index(self: Any, context: bpy.types.Context) -> None:
    """``MotionSearchState.hit_index`` changed: show the selected result's words and picture."""
    on_hit_selected(context)


def on_caption_index(self: Any, context: bpy.types.Context) -> None:
    """``MotionSearchState.caption_index`` changed: show the caption's words and colour by it."""
    on_caption_selected(context)


def on_colouring_toggled(self: Any, context: bpy.types.Context) -> None:
    """``MotionSearchObject.colouring`` changed: colour from the stored alignment, or remove the colouring."""
    colouring.on_toggle(self.id_data)
