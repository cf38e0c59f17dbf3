"""Contract of evaluation with caption-bank query expansion (``evaluate --expansion``) on real Bandai-Namco-2
clips with the shipped model: text -> motion rows score each text joined with its closest bank caption (as
the server searches), motion -> text rows score the captions alone (as ``describe`` ranks them), and the
expanded scores are the model's MaxSim of the joined tokens."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from backend.evaluation.data import load_split
from backend.evaluation.encoding import encode_motions, score_texts_expanded
from backend.evaluation.run import EvalClip, evaluate_clips
from backend.model.expansion import CaptionExpander
from backend.model.scoring import maxsim


@pytest.fixture(scope="module")
def setup(sided_library: Path, shipped_model):
    val, test = (load_split("library", sided_library, s) for s in ("val", "test"))
    bank = CaptionExpander.from_texts(shipped_model, [c for r in val for c in r.captions])
    clips = [EvalClip(r.clip_id, shipped_model.featurize(r.joints), r.captions, r.labels, source=r.source)
             for r in test]  # fmt: skip
    return bank, clips


def test_bank_is_deduplicated_val_captions(setup, sided_library: Path) -> None:
    bank, _ = setup
    captions = [c for r in load_split("library", sided_library, "val") for c in r.captions]
    assert 0 < len(bank) <= len({c.casefold() for c in captions}) and len(set(bank.texts)) == len(bank)


def test_t2m_expanded_m2t_alone(setup, shipped_model) -> None:
    bank, clips = setup
    plain = evaluate_clips(shipped_model, clips, ("all",))
    expanded = evaluate_clips(shipped_model, clips, ("all",), expander=bank)
    by_dir = lambda t, d: [r for r in t["rows"] if r["direction"] == d]
    assert by_dir(expanded, "m2t") == by_dir(plain, "m2t")
    assert by_dir(expanded, "t2m") != by_dir(plain, "t2m")
    assert len(expanded["rows"]) == len(plain["rows"])


def test_expanded_scores_are_maxsim_of_joined_tokens(setup, shipped_model) -> None:
    bank, clips = setup
    motion = encode_motions(shipped_model, [c.features for c in clips])
    texts = ["someone waves with the left hand", "walking"]
    scores, coverage = score_texts_expanded(shipped_model, texts, motion, bank)
    assert scores.shape == (2, len(clips)) and ((coverage > 0) & (coverage <= 1.0 + 1e-6)).all()
    with torch.inference_mode():
        enc = shipped_model.encode_text(texts)
    for i in range(2):
        ex = bank.expand(enc.emb[i][enc.mask[i]].float())
        assert ex.coverage == pytest.approx(float(coverage[i]), abs=1e-6)
        want = maxsim(
            ex.tokens[None], torch.ones(1, len(ex.tokens), dtype=torch.bool), motion.emb, motion.valid
        )
        np.testing.assert_allclose(scores[i], want[0].numpy(), atol=1e-5)
