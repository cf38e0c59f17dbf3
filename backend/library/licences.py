"""Which clip licences allow commercial use (the ``commercial_safe`` question), decided in one place.

A clip may be used commercially when its ``licence`` is one of the pinned sources' licences that allow it
(CMU's terms, MIT) or when whoever added it declared so (label ``commercial_use = "yes"``, set by
``index create --commercial-use``). Everything else - the non-commercial sets (Bandai-Namco CC BY-NC 4.0,
HDM05's research terms) and clips of unknown licence - is not commercial-safe.
"""

from __future__ import annotations

from collections.abc import Mapping

from backend.library.sources import SOURCES

__all__ = ["COMMERCIAL_LICENCES", "commercial_use_allowed"]

#: pinned sources whose data may be used in commercial projects (see shared/datasets/README.md)
_COMMERCIAL_SOURCES = ("cmu-iclone", "cmu-bvh-samples", "cmu-cgspeed-s01-09", "cmu-daz-s02-16", "reactidle")

#: licence names (as stored with library clips) that allow commercial use
COMMERCIAL_LICENCES: frozenset[str] = frozenset(s.licence for s in SOURCES if s.name in _COMMERCIAL_SOURCES)


def commercial_use_allowed(licence: str, labels: Mapping[str, str] | None = None) -> bool:
    """Whether a clip with this licence (and labels) may be used commercially.

    >>> commercial_use_allowed("MIT License"), commercial_use_allowed("CC BY-NC 4.0")
    (True, False)
    >>> commercial_use_allowed("studio-owned", {"commercial_use": "yes"}), commercial_use_allowed("")
    (True, False)
    """
    if labels and str(labels.get("commercial_use", "")).lower() == "yes":
        return True
    return licence in COMMERCIAL_LICENCES
