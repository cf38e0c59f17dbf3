# SPDX-License-Identifier: GPL-3.0-or-later
"""The preference snapshot handed to worker threads (pure: no bpy; ``preferences.snapshot()`` builds it)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Prefs"]


@dataclass(frozen=True)
class Prefs:
    """A snapshot of the add-on preferences handed to worker threads (no bpy objects cross threads).

    Attributes:
        url: backend base URL.
        k: number of search results.
        timeout: seconds per HTTP request.
        token: optional API token (``Authorization: Bearer``).
        root_motion: keep the root's travel on import (False = in place).
        target: ``"NEW"`` (new armature) or ``"SELECTED"`` (the selected armature).
        clip_range: ``"WHOLE"`` clip or only the matched ``"SEGMENT"`` (± ``margin`` seconds).
        margin: seconds kept before and after the matched segment.
        start: ``"SCENE"`` (the scene's start frame) or ``"PLAYHEAD"`` (the current frame).
        place: ``"ACTION"`` (the target's active action) or ``"NLA"`` (a new NLA strip on a new track).
        mirror: import mirrored (left <-> right).
        gap: empty frames between clips imported in sequence.
    """

    url: str = "http://127.0.0.1:8765"
    k: int = 10
    timeout: float = 10.0
    token: str = ""
    root_motion: bool = True
    target: str = "NEW"
    clip_range: str = "WHOLE"
    margin: float = 0.5
    start: str = "SCENE"
    place: str = "ACTION"
    mirror: bool = False
    gap: int = 10
