"""Attribution of a query's MaxSim score to the (body part, time window) cells of the motion image.

The strengths of an ``Alignment`` (``docs/api.md``, "Strength normalisation") come from this module when
a model is available: for every cell (band ``p``, 16-frame window ``w``) of the z-scored motion features,

    ``r[p, w] = max(0, sum_{frames f in w, channels c in p} x[f, c] * d score / d x[f, c])``

(gradient x input), where ``score`` is :func:`backend.model.scoring.maxsim` of the query's token
embeddings (held fixed) and the window's patch embeddings. Since the z-scored input 0 is the mean pose,
``r`` is a first-order estimate of how much that cell's motion raised the score compared with the mean
pose; only the positive part (evidence for the match) is kept. Unlike cosines of single patches, it
follows the information the motion encoder mixes across patches back to where it came from.

Faithfulness, measured against occlusion (the score drop when a band is replaced by the mean pose) on 8
one-handed raise / wave test clips of the real library: Spearman rank correlation of the 14 band strengths 0.73
for gradient x input, 0.75 for integrated gradients (2 or 4 steps); on single clips the two can disagree
(the README's demo clip: occlusion and 4-step integrated gradients put the root trajectory and the waving
shoulder first, gradient x input the left knee). A searcher's ``attribution_steps`` (server setting
``MOTION_SEARCH_ATTRIBUTION_STEPS``) picks integrated gradients at that many times the cost; the default is 1.

All windows of a batch are attributed with one forward and one backward pass; the gradient is taken
with respect to the inputs only (no parameter ``.grad`` is touched), and the functions work inside
``torch.no_grad()`` / ``torch.inference_mode()`` callers.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from backend.errors import InvalidInputError
from backend.model.config import PATCH_FRAMES
from backend.model.outputs import TextEncoding
from backend.model.scoring import maxsim
from backend.motion.kinematics.skeleton import NUM_BANDS, band_slices
from backend.search.alignment import compute_alignment
from backend.search.hits import Hit

if TYPE_CHECKING:
    from backend.model.retrieval import MotionTextRetrieval
    from backend.search.searcher import Searcher

__all__ = ["align", "align_many", "cell_attribution", "hits_relevance"]


def _query_tokens(
    model: MotionTextRetrieval, query: TextEncoding | str, row: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(emb (1, L, D) float32, mask (1, L) bool)`` of one query, detached, outside inference mode."""
    if isinstance(query, str):
        with torch.no_grad():
            query = model.encode_text([query])
        row = 0
    if not 0 <= row < len(query):
        raise InvalidInputError(f"row {row} out of range for a text batch of {len(query)}")
    emb = query.emb[row : row + 1].detach().clone().float().to(model.device)
    mask = query.mask[row : row + 1].detach().clone().bool().to(model.device)
    return emb, mask


def cell_attribution(
    model: MotionTextRetrieval,
    query: TextEncoding | str,
    features: torch.Tensor | np.ndarray,
    frame_mask: torch.Tensor | np.ndarray,
    *,
    row: int = 0,
    steps: int = 1,
) -> np.ndarray:
    """Gradient x input relevance of each (band, window) cell for the query's MaxSim score.

    Args:
        model: the retrieval model (put in eval mode for the pass, restored afterwards).
        query: an encoded query batch (``row`` picks the text) or the query text.
        features: ``(B, W, C)`` float32 z-scored window inputs (``model.prepare_motion_batch``).
        frame_mask: ``(B, W)`` bool real frames.
        row: which text of an encoded ``query``.
        steps: 1 = plain gradient x input (one forward + backward, what the alignments use); ``n > 1``
            = integrated gradients from the mean pose with ``n`` midpoint steps (``n`` times the cost).

    Returns:
        ``(B, 14, W // PATCH_FRAMES)`` float32, >= 0; 0 for windows without a real frame.

    Raises:
        InvalidInputError: shapes disagree with each other or with the model config (names them).
    """
    if not isinstance(steps, int) or steps < 1:
        raise InvalidInputError(f"steps must be a positive integer, got {steps!r}")
    n_frames, n_ch = int(model.config.window_frames), int(model.config.feature_dim)
    slices = band_slices(model.config.band_channels)
    with torch.inference_mode(False), torch.enable_grad():
        x = torch.as_tensor(features).detach().clone().float().to(model.device)
        fm = torch.as_tensor(frame_mask).detach().clone().bool().to(model.device)
        if x.dim() != 3 or x.shape[1:] != (n_frames, n_ch) or fm.shape != x.shape[:2]:
            raise InvalidInputError(
                f"features must be (B, {n_frames}, {n_ch}) and frame_mask (B, {n_frames}), got "
                f"{tuple(x.shape)} and {tuple(fm.shape)}"
            )
        q_emb, q_mask = _query_tokens(model, query, row)
        if steps == 1:
            xs = x.clone()
        else:  # integrated gradients: path from the mean pose (0) to x, midpoint rule
            alphas = (torch.arange(steps, dtype=x.dtype, device=x.device) + 0.5) / steps
            xs = (alphas[:, None, None, None] * x[None]).reshape(-1, *x.shape[1:])
        xs.requires_grad_(True)
        was_training = model.training
        model.eval()
        try:
            motion = model.encode_motion(xs, fm.repeat(steps, 1))
            score = maxsim(q_emb, q_mask, motion.emb.float(), motion.mask.bool())  # (1, steps * B)
            (grad,) = torch.autograd.grad(score.sum(), xs)
        finally:
            model.train(was_training)
        grad = grad.reshape(steps, *x.shape).mean(dim=0)
        gi = (grad * x).detach().float()  # (B, W, C)
    n_win = model.config.n_windows
    bands = torch.stack([gi[:, :, s].sum(dim=-1) for s in slices], dim=1)  # (B, 14, W)
    cells = bands[:, :, : n_win * PATCH_FRAMES].reshape(len(x), NUM_BANDS, n_win, PATCH_FRAMES).sum(-1)
    real = fm[:, : n_win * PATCH_FRAMES].reshape(len(x), n_win, PATCH_FRAMES).any(dim=-1)  # (B, n_win)
    cells = cells.clamp(min=0.0) * real[:, None, :].to(cells.dtype)
    return cells.cpu().numpy().astype(np.float32)


def hits_relevance(
    searcher: Searcher, query: TextEncoding | str, hits: Sequence[Hit], *, row: int = 0
) -> np.ndarray:
    """:func:`cell_attribution` of search hits (one batched forward + backward).

    Each hit's window is cut from its whole clip's features (``model.featurize`` of the index joints, kept in
    the searcher's ``features`` cache, then ``[window_start_frame : window_start_frame + window_length]``),
    exactly as the index encoded it.

    Args:
        searcher: a ``Searcher`` with a model.
        query: encoded query batch or text.
        hits: the hits (``record``, ``window_start_frame``, ``window_length``).
        row: which text of an encoded ``query``.

    Returns:
        ``(len(hits), 14, n_windows)`` float32.
    """
    model = searcher.require_model()
    n_win = model.config.n_windows
    if not hits:
        return np.zeros((0, NUM_BANDS, n_win), dtype=np.float32)
    feats = []
    for h in hits:
        full = searcher.features.get(h.record.id)
        a = int(h.window_start_frame)
        feats.append(full[a : a + int(h.window_length)])
    x, fm = model.prepare_motion_batch(feats)
    return cell_attribution(model, query, x, fm, row=row, steps=searcher.attribution_steps)


def align_many(
    searcher: Searcher, enc: TextEncoding, hits: Sequence[Hit], *, row: int = 0
) -> list[dict[str, Any]]:
    """``Alignment`` dicts (docs/api.md) of one encoded query and several hits, attributed in one pass.

    Strengths come from the score's own cosine attention unless the searcher's ``strengths`` is
    ``gradient`` (then one batched gradient x input pass); the attention is also the fallback when the
    searcher has no model or the hits' window layout differs from the model's.
    """
    rel: np.ndarray | None = None
    model = searcher.model
    if (
        searcher.strengths == "gradient"
        and hits
        and model is not None
        and all(int(h.n_windows) == model.config.n_windows for h in hits)
    ):
        rel = hits_relevance(searcher, enc, hits, row=row)
    return [
        compute_alignment(
            enc,
            h.patches,
            h.patch_mask,
            h.n_windows,
            h.start,
            row=row,
            valid_frames=h.window_length,
            cell_relevance=None if rel is None else rel[i],
        )
        for i, h in enumerate(hits)
    ]


def align(searcher: Searcher, enc: TextEncoding, hit: Hit, *, row: int = 0) -> dict[str, Any]:
    """The ``Alignment`` dict (docs/api.md) of an encoded query and one hit (:func:`align_many` of one)."""
    return align_many(searcher, enc, [hit], row=row)[0]
