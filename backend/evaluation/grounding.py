"""Does MaxSim's own alignment name the limb the words name? Grounding metric and pointing game.

Both are measured on clips of one-sided actions (a query set concept with a ``limb``: a left-hand wave, a
right-hand grab, a left-leg kick) with that concept's held-out queries, from the score's own token x patch
cosines (``model.scoring.token_patch_similarity`` over the clip's valid patches; no gradient, no occlusion):

* **grounding**: over every word of a query that names a side or a limb (``left``, ``right``, ``hand``,
  ``arm``, ``leg``, ``foot``, ... -- :mod:`backend.model.lexicon`), the fraction whose best patch (argmax over
  patches, the ``token_best`` of MaxSim; for a word of several word pieces, the piece with the highest max)
  lies in a band of the named limb (:data:`~backend.model.lexicon.LIMB_BANDS`, e.g. the left shoulder and
  left elbow for the left arm);
* **pointing game**: over every (query, clip) pair, the fraction whose most supporting patch lies in those
  bands; a patch's support is the sum of the cosines of the scored tokens that pick it as their best (its
  share of the MaxSim score, so the patch the score rests on wins);
* **sink**: the share of all scored tokens whose best patch is in the most chosen band (and in the three most
  chosen), the collapse statistic of issue 11, and the share of part words on the *opposite* side's limb.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from backend.evaluation.query_sets import Query, QuerySet, concept_positives
from backend.model.lexicon import LIMB_WORDS, SIDE_WORDS, limb_bands

if TYPE_CHECKING:
    from backend.model.outputs import MotionEncoding
    from backend.model.retrieval import MotionTextRetrieval

__all__ = ["GROUNDING_KEYS", "grounding_metrics", "part_words"]

#: keys of the dict :func:`grounding_metrics` returns
GROUNDING_KEYS = ("grounding", "pointing_game", "opposite_side", "sink_top1", "sink_top3")


def part_words(words: Sequence[str]) -> list[int]:
    """Indices of the words that name a side or a limb.

    >>> part_words(["a", "man", "waves", "his", "Left", "hand"])
    [4, 5]
    """
    out = []
    for i, w in enumerate(words):
        low = w.lower().strip(".,;:!?")
        if low in SIDE_WORDS or low in LIMB_WORDS:
            out.append(i)
    return out


def _pair_stats(sim: Any, text_mask: Any, word_index: Any, words: Sequence[str], n_windows: int) -> dict:
    """Best bands of one (query, clip) pair: sim ``(L, P)`` with invalid patches at -inf."""
    import torch

    best_val, best_patch = sim.max(dim=1)  # (L,)
    best_band = best_patch // n_windows
    scored = text_mask.nonzero().flatten()
    support = torch.zeros(sim.shape[1], dtype=sim.dtype)
    support.index_add_(0, best_patch[scored], best_val[scored])
    part = {}
    for w in part_words(words):
        toks = (word_index == w).nonzero().flatten()
        if toks.numel():
            t = toks[best_val[toks].argmax()]
            part[w] = int(best_band[t])
    return {
        "token_bands": best_band[scored].tolist(),
        "point_band": int(support.argmax()) // n_windows,
        "part_bands": list(part.values()),
    }


def grounding_metrics(
    model: MotionTextRetrieval,
    motion: MotionEncoding,
    clip_labels: Sequence[dict[str, str]],
    query_set: QuerySet,
    queries: Sequence[Query] | None = None,
    batch_size: int = 64,
) -> dict[str, Any]:
    """Grounding, pointing game and sink statistics on the gallery's one-sided clips.

    Args:
        model: the retrieval model.
        motion: :class:`~backend.model.outputs.MotionEncoding` of the gallery (``encode_motions``).
        clip_labels: the gallery's label dicts.
        query_set: concepts (their ``limb``) and queries.
        queries: queries to use (default: every query of a concept with a ``limb``).
        batch_size: texts per encoding pass.

    Returns:
        ``{"grounding", "pointing_game", "opposite_side", "sink_top1", "sink_top3"}`` as fractions in [0, 1]
        (None when nothing was measured), the counts ``n_words`` / ``n_pairs`` / ``n_clips`` / ``n_queries``,
        ``band_share`` (band name -> share of scored tokens) and ``per_concept`` rows.
    """
    import torch

    from backend.model.scoring import token_patch_similarity
    from backend.motion.kinematics.skeleton import BAND_NAMES

    limbed = {n: (c, c.limb) for n, c in query_set.concepts.items() if c.limb is not None}
    qs = [q for q in (queries if queries is not None else query_set.queries) if q.concept in limbed]
    n_windows = int(motion.n_windows)
    valid = motion.mask.cpu()
    emb = motion.emb.float().cpu()
    totals = {"words": 0, "words_hit": 0, "words_opposite": 0, "pairs": 0, "pairs_hit": 0}
    band_counts = np.zeros(len(BAND_NAMES), dtype=np.int64)
    per_concept, clips_used = [], set()
    for name, (concept, (side, part)) in limbed.items():
        clips = np.flatnonzero(concept_positives(concept, clip_labels))
        texts = [q.text for q in qs if q.concept == name]
        if clips.size == 0 or not texts:
            continue
        target = limb_bands(side, part)
        opposite = limb_bands("right" if side == "left" else "left", part)
        with torch.inference_mode():
            enc = [model.encode_text(texts[i : i + batch_size]) for i in range(0, len(texts), batch_size)]
        c_words = c_hit = c_pairs = c_point = 0
        for e in enc:
            t_emb, t_mask, w_idx = e.emb.float().cpu(), e.mask.cpu(), e.word_index.cpu()
            for b in range(len(e)):
                for c in clips:
                    sim = token_patch_similarity(t_emb[b], emb[c]).masked_fill(
                        ~valid[c][None, :], float("-inf")
                    )
                    st = _pair_stats(sim, t_mask[b], w_idx[b], e.words[b], n_windows)
                    np.add.at(band_counts, st["token_bands"], 1)
                    hits = [bd in target for bd in st["part_bands"]]
                    c_words += len(hits)
                    c_hit += sum(hits)
                    totals["words_opposite"] += sum(bd in opposite for bd in st["part_bands"])
                    c_pairs += 1
                    c_point += st["point_band"] in target
                    clips_used.add(int(c))
        totals["words"] += c_words
        totals["words_hit"] += c_hit
        totals["pairs"] += c_pairs
        totals["pairs_hit"] += c_point
        per_concept.append(
            {
                "concept": name,
                "limb": f"{side} {part}",
                "n_clips": int(clips.size),
                "n_queries": len(texts),
                "grounding": c_hit / c_words if c_words else None,
                "pointing_game": c_point / c_pairs if c_pairs else None,
            }
        )
    n_tok = int(band_counts.sum())
    share = band_counts / n_tok if n_tok else band_counts.astype(float)
    order = np.argsort(-share)
    w, p = totals["words"], totals["pairs"]
    return {
        "grounding": totals["words_hit"] / w if w else None,
        "pointing_game": totals["pairs_hit"] / p if p else None,
        "opposite_side": totals["words_opposite"] / w if w else None,
        "sink_top1": float(share[order[0]]) if n_tok else None,
        "sink_top3": float(share[order[:3]].sum()) if n_tok else None,
        "n_words": w,
        "n_pairs": p,
        "n_clips": len(clips_used),
        "n_queries": len({q.text for q in qs}),
        "band_share": {BAND_NAMES[i]: round(float(share[i]), 4) for i in order if share[i] > 0},
        "per_concept": per_concept,
    }
