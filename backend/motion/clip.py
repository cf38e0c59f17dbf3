"""The canonical clip: what every motion becomes before any network sees it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["CANONICAL_FPS", "Clip", "ClipMeta"]

#: The one canonical frame rate: every clip is resampled to it before any network sees it.
CANONICAL_FPS = 20.0


@dataclass
class ClipMeta:
    """Metadata travelling with a canonical clip.

    Attributes:
        id: unique, filesystem-safe clip id (e.g. ``bandai2_walk_active_001``).
        source: path of the source file relative to its dataset root.
        dataset: dataset key (``bandai-namco-1``, ``bandai-namco-2``, ``cmu-iclone``, ``cmu-bvh-samples``,
            ``reactidle``, ``humanml3d``, ``kitml``, ``user``).
        licence: licence name of the data (e.g. ``CC BY-NC 4.0``).
        fps_orig: frame rate of the source file.
        duration: duration in seconds (canonical frames / 20).
        labels: free-form labels (e.g. ``{"action": "walk", "style": "elderly"}``).
        captions: natural-language descriptions.
        performer: performer/take group used for held-out splits (may be empty).
        split: ``train`` / ``val`` / ``test`` (may be empty before splitting).
    """

    id: str
    source: str = ""
    dataset: str = ""
    licence: str = ""
    fps_orig: float = 0.0
    duration: float = 0.0
    labels: dict[str, str] = field(default_factory=dict)
    captions: list[str] = field(default_factory=list)
    performer: str = ""
    split: str = ""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {
            "id": self.id,
            "source": self.source,
            "dataset": self.dataset,
            "licence": self.licence,
            "fps_orig": float(self.fps_orig),
            "duration": float(self.duration),
            "labels": dict(self.labels),
            "captions": list(self.captions),
            "performer": self.performer,
            "split": self.split,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ClipMeta:
        """Inverse of :meth:`to_dict` (unknown keys ignored)."""
        known = {k: d[k] for k in cls.__dataclass_fields__ if k in d}
        return cls(**known)


@dataclass
class Clip:
    """A canonical clip.

    Attributes:
        joints: ``(T, 22, 3)`` float32 SMPL-22 positions (HumanML3D order), 20 fps, metres, Y up,
            floor at y=0, root at the XZ origin and facing +Z at frame 0.
        meta: :class:`ClipMeta`.
    """

    joints: np.ndarray
    meta: ClipMeta

    @property
    def fps(self) -> float:
        return CANONICAL_FPS

    @property
    def num_frames(self) -> int:
        return int(self.joints.shape[0])
