"""Explain one (text, clip) pair: the clip's best window for the text, its alignment, and the figure.

Shared by ``GET /explain.png`` (through the server's engine) and ``python -m backend explain``. Works on a
:class:`backend.search.searcher.Searcher` that carries the model (``searcher.model``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from backend.errors import IndexError_

if TYPE_CHECKING:
    from backend.model.outputs import TextEncoding
    from backend.search.hits import Hit
    from backend.search.searcher import Searcher

__all__ = ["best_clip_window", "explain_clip"]


def best_clip_window(searcher: Searcher, text_encoding: TextEncoding, clip_id: str) -> Hit:
    """The best-scoring index window of one clip for an encoded query.

    Args:
        searcher: a searcher over the index.
        text_encoding: ``TextEncoding`` of the query (batch of 1).
        clip_id: the clip.

    Returns:
        A :class:`~backend.search.hits.Hit` for that window (score = exact MaxSim, as in search).

    Raises:
        NotFoundError: unknown clip id.
        IndexError_: the clip has no windows (corrupt index).
    """
    index = searcher.index
    pos = index.position(clip_id)
    rows = index.clip_windows(pos)
    if not len(rows):
        raise IndexError_(f"clip {clip_id!r} has no windows in index {index.path}")
    scores = searcher.score_rows(text_encoding.emb[0].float(), text_encoding.mask[0].bool(), rows)
    i = int(np.argmax(scores))
    return searcher.hits(rows[i : i + 1], scores[i : i + 1])[0]


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
    from backend.search.attribution import align

    model = searcher.require_model()
    enc = searcher.encode_query(text)
    hit = best_clip_window(searcher, searcher.expand(enc)[0], clip_id)  # the window a search reports
    alignment = align(searcher, enc, hit)  # the query's own words
    joints = searcher.index.joints(clip_id)
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
