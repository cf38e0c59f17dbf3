"""Contract of backend.index.alignment (the Alignment schema of docs/api.md) on real clips: words merged
from word pieces, a token x 14 part x window grid of raw cosines (None on padding), strengths in [0, 1]
with maximum 1 normalised exactly as documented, all 22 SMPL joints present, window times in seconds
relative to the clip. The behaviour test (left hand vs right hand) needs the trained default model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from backend.index.alignment import compute_alignment
from backend.index.search import Searcher
from backend.index.store import MotionIndex
from backend.model.scoring import token_patch_similarity
from backend.motion.kinematics.skeleton import BAND_NAMES, BANDS, SMPL_JOINT_NAMES

REPO = Path(__file__).resolve().parents[2]
DEFAULT_MODEL = REPO / "backend" / "assets" / "default_model"


@pytest.fixture(scope="module")
def searcher(built_index: Path, model) -> Searcher:
    return Searcher(MotionIndex.open(built_index), model)


def _check_schema(a: dict, n_windows: int, offset: float) -> None:
    n = len(a["tokens"])
    assert a["parts"] == list(BAND_NAMES)
    assert [(w["start"], w["end"]) for w in a["windows"]] == [
        pytest.approx((offset + 0.8 * w, offset + 0.8 * (w + 1))) for w in range(n_windows)
    ]
    assert len(a["grid"]) == n and all(
        len(g) == 14 and all(len(r) == n_windows for r in g) for g in a["grid"]
    )
    assert len(a["token_scores"]) == n == len(a["token_best"])
    assert set(a["part_strength"]) == set(BAND_NAMES)
    assert list(a["joint_strength"]) == list(SMPL_JOINT_NAMES)
    assert list(a["joint_window_strength"]) == list(SMPL_JOINT_NAMES)
    assert len(a["window_strength"]) == n_windows
    maps = [
        list(a["part_strength"].values()),
        list(a["joint_strength"].values()),
        a["window_strength"],
        [v for vs in a["joint_window_strength"].values() for v in vs],
    ]
    for values in maps:
        assert all(0.0 <= v <= 1.0 for v in values)
        assert max(values) == pytest.approx(1.0)


def test_alignment_schema_and_normalisation(searcher: Searcher) -> None:
    text = "a person waves energetically with the left hand"
    enc = searcher.encode_query(text)
    hits = searcher.search_encoded(enc, 8)
    nw = searcher.index.header.n_time
    for hit in hits:
        a = searcher.align(enc, hit)
        _check_schema(a, nw, hit.start)
        # words, not word pieces: the tokenizer's words of the text
        assert a["tokens"] == ["a", "person", "waves", "energetically", "with", "the", "left", "hand"]
        # the grid holds word-mean cosines; padding columns of a short last window are None
        valid = hit.patch_mask.view(14, nw).clone()
        valid &= (torch.arange(nw) * 16 < hit.window_length)[None, :]
        sim = token_patch_similarity(enc.emb[0][enc.mask[0]], hit.patches).view(-1, 14, nw)
        widx = enc.word_index[0][enc.mask[0]]
        for t in range(len(a["tokens"])):
            word_rows = sim[widx == t].mean(dim=0)
            for b in range(14):
                for w in range(nw):
                    cell = a["grid"][t][b][w]
                    if valid[b, w]:
                        assert cell == pytest.approx(float(word_rows[b, w]), abs=1e-5)
                    else:
                        assert cell is None
            cells = [c for row in a["grid"][t] for c in row if c is not None]
            assert a["token_scores"][t] == pytest.approx(max(cells))
            best = a["token_best"][t]
            assert a["grid"][t][BAND_NAMES.index(best["part"])][best["window"]] == pytest.approx(max(cells))
        # relevance-based strengths, recomputed from the grid as docs/api.md defines them
        g = np.array([[[np.nan if c is None else c for c in r] for r in tg] for tg in a["grid"]])
        logits = np.where(np.isnan(g), -np.inf, g / 0.1).reshape(len(g), -1)
        soft = np.exp(logits - logits.max(axis=1, keepdims=True))
        soft /= soft.sum(axis=1, keepdims=True)
        r = soft.sum(axis=0).reshape(14, nw)
        part = r.max(axis=1) / r.max()
        np.testing.assert_allclose(list(a["part_strength"].values()), part, atol=1e-5)
        win = r.max(axis=0)
        np.testing.assert_allclose(a["window_strength"], win / win.max(), atol=1e-5)
        for j, name in enumerate(SMPL_JOINT_NAMES):
            bands = [i for i, band in enumerate(BANDS) if name in band.joints]
            assert bands, name
            assert a["joint_strength"][name] == pytest.approx(max(part[b] for b in bands), abs=1e-5)


def test_padding_windows_are_null_and_zero(searcher: Searcher) -> None:
    # the 13-frame dash clip fills only the first 16-frame column of its single window
    enc = searcher.encode_query("a person dashes forward")
    hit = next(h for h in searcher.search_encoded(enc, 8) if h.clip_id == "dataset-1_dash_normal_001")
    assert hit.window_length == 13 and (hit.start, hit.end) == (0.0, 0.65)
    a = searcher.align(enc, hit)
    assert all(g[b][1] is None and g[b][0] is not None for g in a["grid"] for b in range(14))
    assert a["window_strength"] == [1.0, 0.0]
    assert all(v[1] == 0.0 for v in a["joint_window_strength"].values())


def test_window_times_are_relative_to_the_clip(searcher: Searcher) -> None:
    enc = searcher.encode_query("a person kicks")
    index = searcher.index
    rows = index.clip_windows(index.position("dataset-1_kick_normal_001"))
    row = rows[3]
    emb, mask = index.window_patches(np.array([row]))
    start = index.window_start[row] / 20.0
    assert start > 0
    a = compute_alignment(enc, emb[0], mask[0], index.header.n_time, start)
    _check_schema(a, index.header.n_time, start)
    assert a["token_best"][0]["start"] >= start


def test_empty_text_gives_zero_strengths(searcher: Searcher) -> None:
    enc = searcher.encode_query("walk")
    enc.mask[:] = False  # a query whose every token is masked out
    emb, mask = searcher.index.window_patches(np.array([0]))
    a = compute_alignment(enc, emb[0], mask[0], searcher.index.header.n_time)
    assert a["tokens"] == [] and a["grid"] == []
    assert set(a["joint_strength"].values()) == {0.0}


@pytest.mark.skipif(
    not (DEFAULT_MODEL / "config.json").is_file(),
    reason=f"needs the trained default model at {DEFAULT_MODEL} (not shipped yet)",
)
def test_left_hand_lights_up_more_than_right(library_clips: list) -> None:
    """With the trained model, 'raises the left hand' lights the left arm more than the right (and vice versa)."""
    from backend.index.build import load_model
    from backend.index.ingest import encode_joints

    model = load_model(DEFAULT_MODEL)
    arm = ("shoulder", "elbow", "wrist")
    margins = {"left": 0.0, "right": 0.0}
    for clip in library_clips:  # summed over every real clip and window of the test library
        enc_m = encode_joints(model, clip.joints)
        for side, other in (("left", "right"), ("right", "left")):
            enc = model.encode_text([f"a person raises the {side} hand"])
            for w, span in enumerate(enc_m.spans):
                a = compute_alignment(enc, enc_m.emb[w], enc_m.mask[w], enc_m.n_windows, span.start / 20.0)
                js = a["joint_strength"]
                margins[side] += sum(js[f"{side}_{j}"] - js[f"{other}_{j}"] for j in arm)
    assert margins["left"] > 0 and margins["right"] > 0, margins
