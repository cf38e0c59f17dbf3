"""Contract of ``render_filmstrip``: an exact-size PNG of ``n_poses`` side-view stick figures of a real clip,
left limbs blue and right limbs red, thread-safe, and typed errors for unusable input."""

from __future__ import annotations

import io
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from backend.errors import MotionDataError
from backend.render.preview import LEFT_COLOUR, RIGHT_COLOUR, pose_frames, render_filmstrip

WAVE = "dataset-1_byebye_normal_001"


def _rgb(png: bytes) -> np.ndarray:
    from PIL import Image

    img = Image.open(io.BytesIO(png))
    assert img.format == "PNG"
    return np.asarray(img.convert("RGB")).astype(int)


def _near(img: np.ndarray, hex_colour: str, tol: int = 40) -> np.ndarray:
    rgb = np.array([int(hex_colour[i : i + 2], 16) for i in (1, 3, 5)])
    return np.abs(img - rgb).sum(axis=-1) < tol


@pytest.mark.parametrize("size", [(720, 180), (300, 120), (1200, 260)])
def test_exact_size_and_not_blank(clips, size) -> None:
    img = _rgb(render_filmstrip(clips[WAVE], size=size))
    assert img.shape == (size[1], size[0], 3)
    assert (img.sum(axis=-1) < 600).mean() > 0.005  # some ink on the white background


def test_left_and_right_limbs_in_their_colours(clips) -> None:
    img = _rgb(render_filmstrip(clips[WAVE]))
    assert _near(img, LEFT_COLOUR).sum() > 200
    assert _near(img, RIGHT_COLOUR).sum() > 200


@pytest.mark.parametrize("n", [1, 3, 6])
def test_one_figure_per_panel(clips, n) -> None:
    width = 120 * n
    img = _rgb(render_filmstrip(clips["dataset-1_walk-left_normal_001"], n_poses=n, size=(width, 180)))
    limbs = _near(img, LEFT_COLOUR) | _near(img, RIGHT_COLOUR)
    per_panel = [limbs[:, i * 120 + 3 : (i + 1) * 120 - 3].sum() for i in range(n)]
    assert all(p > 50 for p in per_panel), per_panel


def test_poses_follow_the_motion(clips) -> None:
    """Different frames of a walk give different panels; the same clip renders identically."""
    joints = clips["dataset-1_walk-left_normal_001"]
    a = _rgb(render_filmstrip(joints, n_poses=2, size=(240, 180)))
    assert not np.array_equal(a[:, :120], a[:, 120:])
    assert render_filmstrip(joints) == render_filmstrip(joints)


def test_pose_frames_cover_first_and_last() -> None:
    assert pose_frames(100, 6)[[0, -1]].tolist() == [0, 99]
    assert pose_frames(3, 6).tolist() == [0, 1, 2]
    assert pose_frames(1, 6).tolist() == [0]


def test_single_frame_clip(clips) -> None:
    img = _rgb(render_filmstrip(clips[WAVE][:1], n_poses=6, size=(300, 150)))
    assert img.shape == (150, 300, 3) and _near(img, RIGHT_COLOUR).sum() > 20


def test_thread_safe(clips) -> None:
    """The server renders in worker threads: concurrent renders equal sequential ones."""
    items = [clips[k] for k in clips] * 2
    sequential = [render_filmstrip(j) for j in items]
    with ThreadPoolExecutor(4) as pool:
        parallel = list(pool.map(render_filmstrip, items))
    assert parallel == sequential


def test_bad_input(clips) -> None:
    j = clips[WAVE]
    with pytest.raises(MotionDataError, match="shape"):
        render_filmstrip(j[:, :21])
    with pytest.raises(MotionDataError, match="no frames"):
        render_filmstrip(j[:0])
    bad = j.copy()
    bad[3, 4, 1] = np.nan
    with pytest.raises(MotionDataError, match="NaN"):
        render_filmstrip(bad)
    with pytest.raises(MotionDataError, match="n_poses"):
        render_filmstrip(j, n_poses=0)
    with pytest.raises(MotionDataError, match="16x16"):
        render_filmstrip(j, size=(10, 100))
