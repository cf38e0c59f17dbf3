"""Explain one (text, clip) pair: the clip's best window for the text, its alignment, and the figure.

Shared by ``GET /explain.png`` (through the server's engine) and ``python -m backend explain``. Works on a
:class:`backend.index.search.Searcher` that carries the model (``searcher.model``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from backend.errors import IndexError_

if TYPE_CHECKING:
    from backend.index.search import Hit, Searcher

__all__ = ["best_clip_window", "explain_clip"]


def best_clip_window(searcher: Searcher, text_encoding: Any, clip_id: str) -> Hit:
    """The best-scoring index window of one clip for an encoded query.

    Args:
        searcher: a searcher over the index.
        text_encoding: ``TextEncoding`` of the query (batch of 1).
        clip_id: the clip.

    Returns:
        A :class:`~backend.index.search.Hit` for that window (score = exact MaxSim, as in search).

    Raises:
        NotFoundError: unknown clip id.
        IndexError_: the clip has no windows (corrupt index).
    """
    from backend.index.search import Hit

    index = searcher.index
    pos = index.position(clip_id)
    rows = index.clip_windows(pos)
    if not len(rows):
        raise IndexError_(f"clip {clip_id!r} has no windows in index {index.path}")
    scores = searcher.score_rows(text_encoding.emb[0].float(), text_encoding.mask[0].bool(), rows)
    i = int(np.argmax(scores))
    row = int(rows[i])
    emb, mask = searcher.window_patches(np.array([row]))
    rec = index.clips[pos]
    start_f, length = int(index.window_start[row]), int(index.window_length[row])
    fps = float(index.header.fps)
    return Hit(clip_id, float(scores[i]), start_f / fps, min(start_f + length, rec.num_frames) / fps, rec, row,
               start_f, length, emb[0].float(), mask[0], searcher.n_windows)  # fmt: skip


def explain_clip(searcher: Searcher, text: str, clip_id: str, *, width: int = 1400) -> bytes:
    """Render the explanation figure of ``text`` against clip ``clip_id`` (its best window).

    Args:
        searcher: a searcher with a model.
        text: the query.
        clip_id: the clip.
        width: image width in pixels.

    Returns:
        PNG bytes (see :func:`backend.render.explain.render_explain`).

    Raises:
        NotFoundError: unknown clip id.
        InvalidInputError: empty text.
    """
    from backend.render.explain import render_explain

    enc = searcher.encode_query(text)
    hit = best_clip_window(searcher, enc, clip_id)
    alignment = searcher.align(enc, hit)
    joints = searcher.index.joints(clip_id)
    model = searcher.model
    feats = model.featurize(joints)
    return render_explain(
        joints,
        feats,
        alignment,
        text,
        band_channels=model.config.band_channels,
        fps=float(searcher.index.header.fps),
        clip_id=clip_id,
        score=hit.score,
        width=width,
    )
