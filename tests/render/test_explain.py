"""Contract of ``render_explain``: the paper-style figure of a real (text, clip) alignment decodes to a PNG of
the requested width whose height grows with the number of words; ``alignment_arrays`` reads the documented
``Alignment``; unusable input raises typed errors."""

from __future__ import annotations

import io

import numpy as np
import pytest

from backend.errors import InvalidInputError, MotionDataError
from backend.render.explain import alignment_arrays, render_explain

WAVE = "dataset-1_byebye_normal_001"


def _rgb(png: bytes) -> np.ndarray:
    from PIL import Image

    img = Image.open(io.BytesIO(png))
    assert img.format == "PNG"
    return np.asarray(img.convert("RGB"))


def test_alignment_arrays_match_the_schema(clips, align) -> None:
    a, _ = align("a person waves goodbye with the left hand", clips[WAVE], 16)
    arr = alignment_arrays(a)
    n_tok, n_win = len(a["tokens"]), len(a["windows"])
    assert arr["grid"].shape == (n_tok, 14, n_win)
    assert arr["edges"][0] == pytest.approx(0.8) and np.all(np.diff(arr["edges"]) > 0)
    none_cells = sum(v is None for t in a["grid"] for p in t for v in p)
    assert np.isnan(arr["grid"]).sum() == none_cells
    assert arr["joint_strength"].shape == (22,) and arr["joint_strength"].max() == pytest.approx(1.0)
    assert all(b is not None for b in arr["token_best"])


def test_figure_decodes_and_grows_with_words(clips, align) -> None:
    joints = clips[WAVE]
    short_a, feats = align("a person waves", joints)
    long_a, _ = align("a person waves goodbye with the left hand and then bows slowly", joints)
    short = _rgb(render_explain(joints, feats, short_a, "a person waves", clip_id=WAVE, score=0.5))
    long = _rgb(
        render_explain(joints, feats, long_a, "a person waves goodbye with the left hand and then bows")
    )
    assert short.shape[1] == long.shape[1] == 1400
    assert long.shape[0] > short.shape[0] > 800
    assert short.std() > 10 and len(np.unique(short.reshape(-1, 3), axis=0)) > 200


def test_custom_width_and_short_clip_with_padding(clips, align) -> None:
    """A clip shorter than the model window: padding columns are null in the grid and the figure renders."""
    joints = clips[WAVE][:40]
    a, feats = align("a person waves", joints)
    assert any(v is None for t in a["grid"] for p in t for v in p)
    img = _rgb(render_explain(joints, feats, a, "a person waves", width=1000))
    assert img.shape[1] == 1000


def test_bad_input(clips, align) -> None:
    joints = clips[WAVE]
    a, feats = align("a person waves", joints)
    with pytest.raises(MotionDataError, match="motion_image"):
        render_explain(joints, feats[:-1], a, "x")
    with pytest.raises(MotionDataError, match="band_channels"):
        render_explain(joints, feats, a, "x", band_channels=(1,) * 14)
    with pytest.raises(MotionDataError, match="band_channels"):
        render_explain(joints, feats[:, :20], a, "x")
    broken = dict(a)
    del broken["grid"]
    with pytest.raises(InvalidInputError, match="grid"):
        render_explain(joints, feats, broken, "x")
    with pytest.raises(InvalidInputError, match="mapping"):
        render_explain(joints, feats, [1, 2], "x")
    nan = feats.copy()
    nan[0, 0] = np.nan
    with pytest.raises(MotionDataError, match="NaN"):
        render_explain(joints, nan, a, "x")
