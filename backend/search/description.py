"""Motion -> text ("describe") and motion -> motion ("similar clips").

Pipeline: joints ``(T, 22, 3)`` at any fps -> ``motion.convert.joints_to_clip`` (canonical fps) -> index
windows -> ``model.encode_motion`` (see :func:`backend.search.ingest.encode_joints`).

* **Captions** are ranked by the same MaxSim as search, captions as queries and the motion's patches as
  documents: ``maxsim(caption tokens, motion window patches)`` (mean over the caption's valid tokens of
  the max cosine over the window's patches); a long motion's score is its best window's.
* **Similar clips**: the ``similar_candidates`` library windows with the best pooled cosine (max over the
  query's windows) are re-ranked by MaxSim with the query's patches as queries over each library
  window's patches (best query window / library window pair); one hit per clip.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from backend.errors import InvalidInputError
from backend.model.scoring import maxsim, pooled_scores
from backend.motion.clip import CANONICAL_FPS, Clip
from backend.motion.limits import MAX_CLIP_SECONDS
from backend.search.alignment import compute_alignment
from backend.search.attribution import cell_attribution
from backend.search.hits import Hit, best_per_clip
from backend.search.ingest import WindowEncoding, encode_joints

if TYPE_CHECKING:
    from backend.search.searcher import Searcher

__all__ = ["MAX_DESCRIBE_SECONDS", "CaptionHit", "Description", "caption_alignment", "describe"]

#: longest motion accepted by describe (10 minutes; defined in :mod:`backend.motion.limits`)
MAX_DESCRIBE_SECONDS = MAX_CLIP_SECONDS


@dataclass
class CaptionHit:
    """A caption of the bank matched to the query motion.

    Attributes:
        text: the caption.
        score: MaxSim of the caption and the best query window.
        window: index of that query window (into :attr:`Description.windows`).
        start: the window's start in seconds (canonical query clip).
        end: the window's end in seconds.
    """

    text: str
    score: float
    window: int
    start: float
    end: float


@dataclass
class Description:
    """Result of :func:`describe`.

    Attributes:
        captions: best captions, best first.
        similar: nearest library clips, best first.
        clip: the canonical query clip.
        windows: the query's index windows and their embeddings.
    """

    captions: list[CaptionHit]
    similar: list[Hit]
    clip: Clip
    windows: WindowEncoding


def describe(
    searcher: Searcher,
    joints: np.ndarray,
    fps: float,
    k: int = 5,
    *,
    k_similar: int | None = None,
    similar_candidates: int = 64,
) -> Description:
    """Describe a motion with the caption bank and find similar library clips.

    Args:
        searcher: a :class:`Searcher` with a model.
        joints: ``(T, 22, 3)`` SMPL-22 joints (HumanML3D order), metres, Y up.
        fps: frame rate of ``joints``.
        k: captions to return (1..100).
        k_similar: similar clips to return (default ``k``).
        similar_candidates: library windows re-ranked by MaxSim for similar clips.

    Raises:
        InvalidInputError: bad ``k``/shape/too long; ``MotionDataError`` from ``joints_to_clip`` for
            NaN/empty/absurd fps.
    """
    from backend.motion.convert import joints_to_clip

    model = searcher.require_model()
    k_similar = k if k_similar is None else k_similar
    for name, v in (("k", k), ("k_similar", k_similar)):
        if not isinstance(v, int | np.integer) or not 1 <= v <= 100:
            raise InvalidInputError(f"{name} must be an integer in 1..100, got {v!r}")
    joints = np.asarray(joints, dtype=np.float64)
    if joints.ndim != 3 or joints.shape[1:] != (22, 3) or joints.shape[0] < 1:
        raise InvalidInputError(f"joints must have shape (T, 22, 3) with T >= 1, got {joints.shape}")
    if not (isinstance(fps, int | float) and np.isfinite(fps) and fps > 0):
        raise InvalidInputError(f"fps must be a positive number, got {fps!r}")
    if joints.shape[0] / fps > MAX_DESCRIBE_SECONDS:
        raise InvalidInputError(
            f"motion is {joints.shape[0] / fps:.1f} s long ({joints.shape[0]} frames at {fps} fps); "
            f"the limit is {MAX_DESCRIBE_SECONDS:.0f} s"
        )
    clip = joints_to_clip(joints, fps)
    enc = encode_joints(model, clip.joints, stride=searcher.index.header.stride)
    q_emb, q_mask = torch.from_numpy(enc.emb), torch.from_numpy(enc.mask)

    captions: list[CaptionHit] = []
    texts, bank_emb, bank_mask = searcher.caption_bank()
    if texts:
        s = maxsim(bank_emb, bank_mask, q_emb, q_mask, chunk_size=searcher.chunk_size)  # (Nc, Nq)
        best, win = s.max(dim=1)
        top = torch.topk(best, min(k, len(texts))).indices.tolist()
        for i in top:
            sp = enc.spans[int(win[i])]
            start, end = sp.start / CANONICAL_FPS, sp.end / CANONICAL_FPS
            captions.append(CaptionHit(texts[i], float(best[i]), int(win[i]), start, end))

    similar: list[Hit] = []
    if searcher.index.num_windows:
        coarse = pooled_scores(torch.from_numpy(enc.pooled), searcher.pooled).amax(dim=0).numpy()
        n = min(similar_candidates, len(coarse))
        rows = np.argpartition(-coarse, n - 1)[:n]
        d, dm = searcher.window_patches(rows)
        scores = maxsim(q_emb, q_mask, d, dm, chunk_size=searcher.chunk_size).amax(dim=0).numpy()
        best_rows = best_per_clip(scores, searcher.window_clip[rows], k_similar)
        similar = searcher.hits(rows[best_rows], scores[best_rows])
    return Description(captions, similar, clip, enc)


def caption_alignment(searcher: Searcher, description: Description, caption: CaptionHit) -> dict[str, Any]:
    """The ``Alignment`` (docs/api.md) of a described caption and the query window it matched.

    Strengths are the gradient x input attribution of the caption's MaxSim score to the query motion's
    (part, window) cells (:func:`backend.search.attribution.cell_attribution`).
    """
    model = searcher.require_model()
    enc = searcher.encode_query(caption.text)
    w = description.windows
    span = w.spans[caption.window]
    full = np.asarray(model.featurize(description.clip.joints), dtype=np.float32)
    x, fm = model.prepare_motion_batch([full[span.start : span.start + span.length]])
    rel = cell_attribution(model, enc, x, fm)[0]  # (14, n_windows): same model encoded the windows
    return compute_alignment(
        enc,
        torch.from_numpy(w.emb[caption.window]),
        torch.from_numpy(w.mask[caption.window]),
        w.n_windows,
        span.start / CANONICAL_FPS,
        valid_frames=span.length,
        cell_relevance=rel,
    )
