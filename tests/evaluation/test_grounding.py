"""Contract of the grounding metric and pointing game (``backend.evaluation.grounding``) on real clips and the
shipped model's real text encodings.

* Every (query, one-sided clip) pair of the gallery is measured once, and every side / limb word of it.
* The metric reads MaxSim's own argmax: a clip whose named-limb patches carry the query's side / limb word
  embeddings scores grounding 1; the same embeddings on the opposite limb score 0 (and opposite side 1).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from backend.evaluation.grounding import grounding_metrics, part_words
from backend.evaluation.query_sets import QuerySet, load_query_set


@pytest.fixture(scope="module")
def test_gallery(sided_library: Path, shipped_model):
    from backend.evaluation.data import load_split
    from backend.evaluation.encoding import encode_motions

    records = load_split("library", sided_library, "test")
    motion = encode_motions(shipped_model, [shipped_model.featurize(r.joints) for r in records])
    return records, motion


def test_every_pair_and_part_word_is_counted(shipped_model, test_gallery) -> None:
    records, motion = test_gallery
    labels = [r.labels for r in records]
    qs = load_query_set()
    out = grounding_metrics(shipped_model, motion, labels, qs)
    limbed = {
        "wave-left-hand": 4,
        "wave-right-hand": 4,
        "raise-left-hand": 4,
    }  # clips per concept in the gallery
    texts = {n: [q.text for q in qs.queries if q.concept == n] for n in limbed}
    words = {n: shipped_model.encode_text(t).words for n, t in texts.items()}
    assert out["n_pairs"] == sum(len(texts[n]) * k for n, k in limbed.items())
    assert out["n_words"] == sum(sum(len(part_words(w)) for w in words[n]) * k for n, k in limbed.items())
    assert out["n_clips"] == 12
    for key in ("grounding", "pointing_game", "opposite_side", "sink_top1", "sink_top3"):
        assert 0.0 <= out[key] <= 1.0
    assert abs(sum(out["band_share"].values()) - 1.0) < 1e-3
    assert {r["concept"] for r in out["per_concept"]} == set(limbed)


def _plant(shipped_model, motion, clip: int, text: str, bands: list[int]):
    """A copy of ``motion`` whose clip ``clip`` carries ``text``'s side / limb word embeddings in ``bands``."""
    import torch

    enc = shipped_model.encode_text([text])
    tokens = [int(t) for w in part_words(enc.words[0]) for t in (enc.word_index[0] == w).nonzero().flatten()]
    emb = motion.emb.clone()
    n = motion.n_windows
    slots = [b * n + w for w in range(n) for b in bands]
    assert len(tokens) <= len(slots)
    with torch.no_grad():
        for slot, tok in zip(slots, tokens, strict=False):
            emb[clip, slot] = enc.emb[0, tok].float()
    return type(motion)(emb, motion.mask, motion.pooled, n, motion.valid)


@pytest.mark.parametrize(("where", "grounding", "opposite"), [("named", 1.0, 0.0), ("mirror", 0.0, 1.0)])
def test_metric_follows_the_argmax(
    shipped_model, test_gallery, where: str, grounding: float, opposite: float
) -> None:
    from backend.model.lexicon import limb_bands

    records, motion = test_gallery
    labels = [r.labels for r in records]
    qs = load_query_set()
    clip = next(i for i, lab in enumerate(labels) if lab["action"] == "wave-left-hand")
    text = "the man lifts his left arm and waves it from side to side"
    query = next(q for q in qs.queries if q.text == text)
    side = "left" if where == "named" else "right"
    planted = _plant(shipped_model, motion, clip, text, sorted(limb_bands(side, "arm")))
    one = QuerySet({"wave-left-hand": qs.concepts["wave-left-hand"]}, (query,))
    only = np.zeros(len(labels), bool)
    only[clip] = True
    gallery_labels = [lab if only[i] else {"action": "none"} for i, lab in enumerate(labels)]
    out = grounding_metrics(shipped_model, planted, gallery_labels, one)
    assert out["n_pairs"] == 1 and out["n_words"] == 2  # "left", "arm"
    assert out["grounding"] == grounding
    assert out["opposite_side"] == opposite
