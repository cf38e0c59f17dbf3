"""Which window rows a query looks at: the rows the filters allow, and the pooled first stage.

Both work on the :class:`~backend.search.searcher.Searcher`'s arrays (``durations (N,)`` per clip,
``window_clip (W,)`` per window, ``pooled (W, D)``) and return window rows (int64, ascending).
"""

from __future__ import annotations

import numpy as np
import torch

from backend.errors import InvalidInputError
from backend.model.scoring import pooled_scores

__all__ = ["allowed_rows", "pooled_candidates"]


def allowed_rows(
    durations: np.ndarray,
    window_clip: np.ndarray,
    min_duration: float | None,
    max_duration: float | None,
    clip_mask: np.ndarray | None = None,
) -> np.ndarray | None:
    """Window rows passing the duration filter and ``clip_mask`` (per clip, index order); None = all rows.

    Raises:
        InvalidInputError: a negative / non-finite duration bound, ``min_duration > max_duration`` or a
            ``clip_mask`` of the wrong length.
    """
    if clip_mask is not None:
        clip_mask = np.asarray(clip_mask, dtype=bool)
        if clip_mask.shape != durations.shape:
            raise InvalidInputError(f"clip_mask must have one entry per clip ({len(durations)})")
    if min_duration is None and max_duration is None:
        return None if clip_mask is None else np.nonzero(clip_mask[window_clip])[0]
    for name, v in (("min_duration", min_duration), ("max_duration", max_duration)):
        if v is not None and (not np.isfinite(v) or v < 0):
            raise InvalidInputError(f"{name} must be a finite number >= 0, got {v}")
    if min_duration is not None and max_duration is not None and min_duration > max_duration:
        raise InvalidInputError(f"min_duration {min_duration} is greater than max_duration {max_duration}")
    ok = np.ones(len(durations), dtype=bool)
    if min_duration is not None:
        ok &= durations >= min_duration
    if max_duration is not None:
        ok &= durations <= max_duration
    if clip_mask is not None:
        ok &= clip_mask
    return np.nonzero(ok[window_clip])[0]


def pooled_candidates(
    q: torch.Tensor,
    q_mask: torch.Tensor,
    q_pooled: torch.Tensor | None,
    pooled: torch.Tensor,
    allowed: np.ndarray | None,
    chosen: np.ndarray,
    n: int,
) -> np.ndarray:
    """``chosen`` topped up to ``n`` rows with the allowed windows of the best pooled cosine.

    Args:
        q: ``(L, D)`` query tokens; q_mask: ``(L,)`` valid tokens.
        q_pooled: ``(D,)`` pooled query (default: normalised mean of the valid tokens).
        pooled: ``(W, D)`` pooled windows.
        allowed: rows passing the filters (None = all).
        chosen: rows already chosen (by the centroid stage), kept.
        n: rows wanted (``len(chosen) < n``).

    Returns:
        ``(<= n,)`` sorted rows.
    """
    if q_pooled is None:
        valid = q_mask.bool()
        q_pooled = torch.nn.functional.normalize(q[valid].float().mean(dim=0), dim=0)
    coarse = pooled_scores(q_pooled.float()[None], pooled)[0].numpy()
    if allowed is not None:
        keep = np.full(coarse.shape, -np.inf, dtype=np.float32)
        keep[allowed] = coarse[allowed]
        coarse = keep
    coarse[chosen] = -np.inf
    m = n - len(chosen)
    more = np.argpartition(-coarse, m - 1)[:m]
    return np.sort(np.concatenate([chosen, more[np.isfinite(coarse[more])]]))
