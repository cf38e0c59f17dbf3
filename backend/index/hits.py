"""A search hit (a clip and its best window) and the per-clip de-duplication of window scores."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from backend.index.metadata import ClipRecord

__all__ = ["Hit", "best_per_clip"]


@dataclass
class Hit:
    """One search result (a clip and its best window).

    Attributes:
        clip_id: the clip's id.
        score: MaxSim of the query and the best window.
        start: segment start in seconds (the best window's first frame / 20).
        end: segment end in seconds (exclusive, clamped to the clip).
        record: the clip's metadata.
        window_row: row of the window in the index's window arrays.
        window_start_frame: first frame of the window in the clip.
        window_length: real frames of the window.
        patches: ``(P, D)`` float32 patch embeddings of the window (for alignment).
        patch_mask: ``(P,)`` bool patches used by scoring.
        n_windows: time columns per window.
    """

    clip_id: str
    score: float
    start: float
    end: float
    record: ClipRecord
    window_row: int
    window_start_frame: int
    window_length: int
    patches: torch.Tensor
    patch_mask: torch.Tensor
    n_windows: int


def best_per_clip(scores: np.ndarray, clips: np.ndarray, k: int) -> np.ndarray:
    """Positions of the best-scoring entry of each clip, best first, at most ``k``.

    Args:
        scores: ``(n,)`` scores (``-inf`` = excluded).
        clips: ``(n,)`` clip of each entry.
        k: how many clips.

    Returns:
        ``(<= k,)`` positions into ``scores``.

    >>> best_per_clip(np.array([0.1, 0.9, 0.5, 0.8]), np.array([0, 0, 1, 1]), 5).tolist()
    [1, 3]
    """
    order = np.argsort(-scores, kind="stable")
    order = order[np.isfinite(scores[order])]
    _, first = np.unique(clips[order], return_index=True)
    return order[np.sort(first)][:k]
