"""Contract of ``addon/clipedit.py`` (segment frames, root anchor, mirror) on a real clip.

* ``segment_frames`` covers the matched segment widened by the margin, never leaves the clip, and is the
  whole clip without a segment; bad margins and segments past the end are errors naming the value.
* ``mirror_joints`` negates X and swaps every left/right twin: the mirrored left wrist follows the real right
  wrist mirrored, bone lengths per side swap, mirroring twice is the identity; a clip without a twin is an
  error naming the joint.
* ``mirror_alignment`` swaps the left/right keys of the strengths and the parts, words stay.
* ``anchor_root`` puts the root's first ground position on the origin and keeps its height.
"""

from __future__ import annotations

import doctest

import numpy as np
import pytest

from addon import clipedit
from addon.errors import MotionDataError
from addon.skeleton import SMPL_JOINT_NAMES, SMPL_PARENTS, bone_lengths

NAMES = list(SMPL_JOINT_NAMES)


def test_doctests() -> None:
    assert doctest.testmod(clipedit).failed == 0


def test_segment_frames_cover_the_segment_and_stay_in_the_clip() -> None:
    first, last = clipedit.segment_frames(120, 20.0, (2.0, 3.2), 0.5)
    assert (first, last) == (30, 74)
    assert first / 20.0 <= 2.0 - 0.5 and last / 20.0 >= 3.2 + 0.5 - 0.05
    assert clipedit.segment_frames(120, 20.0, (0.1, 5.9), 2.0) == (0, 119)
    assert clipedit.segment_frames(120, 20.0, None, 3.0) == (0, 119)
    assert clipedit.segment_frames(120, 20.0, (1.0, 1.0), 0.0) == (20, 20)
    with pytest.raises(MotionDataError, match="margin"):
        clipedit.segment_frames(120, 20.0, (1.0, 2.0), -1.0)
    with pytest.raises(MotionDataError, match="after the clip's end"):
        clipedit.segment_frames(120, 20.0, (9.0, 10.0), 0.0)
    with pytest.raises(MotionDataError, match="not a time span"):
        clipedit.segment_frames(120, 20.0, (3.0, 1.0), 0.0)


def test_mirror_swaps_sides_on_a_real_clip(wave_zup: np.ndarray) -> None:
    mirrored = clipedit.mirror_joints(wave_zup, NAMES)
    lw, rw = NAMES.index("left_wrist"), NAMES.index("right_wrist")
    want = wave_zup[:, rw] * np.array([-1.0, 1.0, 1.0])
    np.testing.assert_allclose(mirrored[:, lw], want)
    np.testing.assert_allclose(mirrored[:, 0, 1:], wave_zup[:, 0, 1:])  # the pelvis only flips across X
    np.testing.assert_allclose(clipedit.mirror_joints(mirrored, NAMES), wave_zup)
    lengths, mlengths = bone_lengths(wave_zup, SMPL_PARENTS), bone_lengths(mirrored, SMPL_PARENTS)
    le, re = NAMES.index("left_elbow"), NAMES.index("right_elbow")
    assert mlengths[le] == pytest.approx(lengths[re]) and mlengths[re] == pytest.approx(lengths[le])
    # the waving hand changes side: which wrist travels more swaps
    travel = lambda j, i: float(np.linalg.norm(np.diff(j[:, i], axis=0), axis=-1).sum())
    assert (travel(wave_zup, lw) > travel(wave_zup, rw)) == (travel(mirrored, rw) > travel(mirrored, lw))
    with pytest.raises(MotionDataError, match="right_wrist"):
        clipedit.mirror_joints(wave_zup[:, :21], NAMES[:21])


def test_mirror_alignment_swaps_keys_not_words() -> None:
    a = {
        "tokens": ["left", "hand"],
        "parts": ["root_position", "left_elbow", "right_elbow"],
        "joint_strength": {"left_wrist": 0.9, "right_wrist": 0.1, "head": 0.5},
        "part_strength": {"left_elbow": 1.0, "right_elbow": 0.2},
        "joint_window_strength": {"left_wrist": [1.0, 0.5], "right_wrist": [0.0, 0.1]},
        "token_best": [{"part": "left_elbow", "window": 0, "start": 0.0, "end": 0.8}],
    }
    m = clipedit.mirror_alignment(a)
    assert m["tokens"] == ["left", "hand"]
    assert m["joint_strength"] == {"right_wrist": 0.9, "left_wrist": 0.1, "head": 0.5}
    assert m["joint_window_strength"]["right_wrist"] == [1.0, 0.5]
    assert m["parts"] == ["root_position", "right_elbow", "left_elbow"]
    assert m["token_best"][0]["part"] == "right_elbow" and a["token_best"][0]["part"] == "left_elbow"


def test_anchor_root_moves_the_start_to_the_origin(wave_zup: np.ndarray) -> None:
    seg = wave_zup[40:] + np.array([1.5, -2.0, 0.0])
    out = clipedit.anchor_root(seg)
    np.testing.assert_allclose(out[0, 0, :2], 0.0, atol=1e-12)
    np.testing.assert_allclose(out[..., 2], seg[..., 2])
    np.testing.assert_allclose(out - out[:, :1], seg - seg[:, :1])  # the pose itself is unchanged
