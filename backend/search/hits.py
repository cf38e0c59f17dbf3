"""A search hit (a clip and its best window), hits of window rows, and the per-clip de-duplication of scores."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from backend.index.metadata import ClipRecord
from backend.index.store import MotionIndex

__all__ = ["Hit", "best_per_clip", "window_hits"]


@dataclass
class Hit:
    """One search result (a clip and its best window).

    Attributes:
        clip_id: the clip's id.
        score: MaxSim of the query and the best window.
        start: segment start in seconds (the best window's first frame / the index's fps).
        end: segment end in seconds (exclusive, clamped to the clip).
        record: the clip's metadata.
        window_row: row of the window in the index's window arrays.
        window_start_frame: first frame of the window in the clip.
        window_length: real frames of the window.
        patches: ``(P, D)`` float32 patch embeddings of the window (for alignment).
        patch_mask: ``(P,)`` bool patches used by scoring.
        n_windows: time columns per window.
        reference: the query's mean exact score of the clips ranked 2-11 (the margin reference of
            :mod:`backend.model.confidence`; NaN when the hit did not come from a ranked search).
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
    reference: float = float("nan")


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


def window_hits(
    index: MotionIndex, rows: np.ndarray, scores: np.ndarray, patches: torch.Tensor, masks: torch.Tensor
) -> list[Hit]:
    """One :class:`Hit` per window row of ``index`` (in the given order).

    Args:
        index: the index the rows belong to.
        rows: ``(n,)`` window rows.
        scores: ``(n,)`` their scores.
        patches: ``(n, P, D)`` their patch embeddings (any float dtype; stored as float32).
        masks: ``(n, P)`` their scoring masks.
    """
    fps = float(index.header.fps)
    out = []
    for i, (r, s) in enumerate(zip(rows, scores)):
        rec = index.clips[int(index.window_clip[r])]
        start_f, length = int(index.window_start[r]), int(index.window_length[r])
        out.append(Hit(rec.id, float(s), start_f / fps, min(start_f + length, rec.num_frames) / fps, rec, int(r),
                       start_f, length, patches[i].float(), masks[i], int(index.header.n_time)))  # fmt: skip
    return out
