# SPDX-License-Identifier: GPL-3.0-or-later
"""A ``bpy.utils.previews`` cache for the server's PNGs (result thumbnails and the explain picture).

PNG bytes are downloaded on a worker thread (``client.py``); :func:`store` (main thread) writes them to
a private temporary folder and loads them into one preview collection, keyed by a string such as
``preview:<motion id>`` or ``explain:<motion id>:<text hash>``. The panel draws them with ``icon_value``.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile

import bpy
import bpy.utils.previews

__all__ = ["clear", "close", "has", "icon_id", "key_for_explain", "key_for_preview", "store"]

#: ``"pcoll"``: the preview collection (created on first use)
_PCOLL: dict[str, bpy.utils.previews.ImagePreviewCollection] = {}
#: ``"dir"``: the temporary folder of its PNG files
_DIR: dict[str, str] = {}


def _collection() -> bpy.utils.previews.ImagePreviewCollection:
    if "pcoll" not in _PCOLL:
        _PCOLL["pcoll"] = bpy.utils.previews.new()
        _DIR["dir"] = tempfile.mkdtemp(prefix="motion_search_previews_")
    return _PCOLL["pcoll"]


def key_for_preview(motion_id: str) -> str:
    """Cache key of a clip's filmstrip thumbnail."""
    return f"preview:{motion_id}"


def key_for_explain(motion_id: str, text: str) -> str:
    """Cache key of an explain picture (text hashed: keys must stay short)."""
    return f"explain:{motion_id}:{hashlib.sha1(text.encode('utf-8')).hexdigest()[:12]}"


def store(key: str, png: bytes) -> int:
    """Load PNG bytes under ``key`` (replacing an older image); returns the icon id for ``icon_value``."""
    pcoll = _collection()
    path = os.path.join(_DIR["dir"], hashlib.sha1(key.encode("utf-8")).hexdigest() + ".png")
    with open(path, "wb") as fh:
        fh.write(png)
    if key in pcoll:
        del pcoll[key]
    preview = pcoll.load(key, path, "IMAGE")
    return int(preview.icon_id)


def has(key: str) -> bool:
    """Whether an image is cached under ``key``."""
    return "pcoll" in _PCOLL and key in _PCOLL["pcoll"]


def icon_id(key: str) -> int:
    """The icon id of ``key`` (0 when not loaded: the panel then draws a placeholder icon)."""
    if not has(key):
        return 0
    return int(_PCOLL["pcoll"][key].icon_id)


def clear() -> None:
    """Drop every cached image (keeps the collection)."""
    if "pcoll" in _PCOLL:
        _PCOLL["pcoll"].clear()


def close() -> None:
    """Free the collection and delete its temporary folder (called from ``unregister``)."""
    pcoll = _PCOLL.pop("pcoll", None)
    if pcoll is not None:
        bpy.utils.previews.remove(pcoll)
    folder = _DIR.pop("dir", None)
    if folder:
        shutil.rmtree(str(folder), ignore_errors=True)
