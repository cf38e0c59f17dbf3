"""Canonical form contract (backend.motion.kinematics.canonical).

* validate_positions rejects wrong shapes, zero frames, NaN/inf and absurd frame rates (MotionDataError).
* resample interpolates linearly at t / 20 s and keeps the clip's time span.
* detect_unit_scale tells metres, centimetres, millimetres and CMU units apart on every real rig.
* canonicalise: float32, 20 fps, floor at y=0, pelvis at the XZ origin and facing +Z at frame 0 (left hip
  at +X); the result does not depend on where the performer stood or faced, nor on the unit or up axis.
* leading_rest_frames finds exactly the prepended rest poses the dataset READMEs list (T-pose frames, or a
  teleport, and the blend after them).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from backend.errors import MotionDataError
from backend.motion.io.bvh import read_bvh
from backend.motion.kinematics.canonical import (
    UNIT_SCALES,
    canonicalise,
    detect_unit_scale,
    facing_direction,
    leading_rest_frames,
    resample,
    validate_positions,
)
from backend.motion.kinematics.fk import forward_kinematics, point_names
from backend.motion.kinematics.retarget import apply_mapping, map_joints
from backend.motion.kinematics.skeleton import JOINT_INDEX

J = JOINT_INDEX
CMU_WALK = "TMoCo/InverseKinematics/bvh/02_01.bvh"


def _smpl(path) -> tuple[np.ndarray, float]:
    data = read_bvh(path)
    pts = forward_kinematics(data, with_end_sites=True)
    return apply_mapping(pts, map_joints(point_names(data))), data.fps


@pytest.fixture(scope="module")
def cmu_walk(cmu_samples) -> tuple[np.ndarray, float]:
    return _smpl(cmu_samples / CMU_WALK)


@pytest.mark.parametrize(
    "positions, fps, pattern",
    [
        (np.zeros((0, 22, 3)), 30.0, "zero frames"),
        (np.zeros((5, 21, 3)), 30.0, r"shape \(T, 22, 3\), got \(5, 21, 3\)"),
        (np.zeros((5, 22)), 30.0, r"got \(5, 22\)"),
        (np.zeros((5, 22, 3)), 0.0, "absurd frame rate"),
        (np.zeros((5, 22, 3)), 5000.0, "absurd frame rate"),
        (np.zeros((5, 22, 3)), float("nan"), "finite"),
    ],
)
def test_validate_rejects_bad_input(positions, fps, pattern) -> None:
    with pytest.raises(MotionDataError, match=pattern):
        validate_positions(positions, fps, what="clip.npy")


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_validate_rejects_non_finite(bad) -> None:
    pos = np.zeros((4, 22, 3))
    pos[2, 7, 1] = bad
    with pytest.raises(MotionDataError, match="clip.npy: non-finite value at frame 2, joint 7"):
        canonicalise(pos, 30.0, what="clip.npy")


def test_bad_unit_scale_and_up_axis(cmu_walk) -> None:
    pos, fps = cmu_walk
    with pytest.raises(MotionDataError, match="unit_scale"):
        canonicalise(pos, fps, -1.0)
    with pytest.raises(MotionDataError, match="unknown up_axis 'w'"):
        canonicalise(pos, fps, up_axis="w")


def test_resample_is_linear_in_time() -> None:
    t = np.arange(31) / 30.0  # one second at 30 fps
    x = np.stack([t, 2 * t + 1, -t], axis=-1)[:, None, :].repeat(22, axis=1)
    out = resample(x, 30.0, 20.0)
    assert out.shape == (21, 22, 3)
    tt = np.arange(21) / 20.0
    np.testing.assert_allclose(out[:, 5], np.stack([tt, 2 * tt + 1, -tt], axis=-1), atol=1e-12)
    assert resample(x, 20.0, 20.0).shape == x.shape
    assert resample(x[:1], 30.0, 20.0).shape == (1, 22, 3)
    assert resample(np.zeros((121, 2)), 120.0, 20.0).shape == (21, 2)
    assert resample(np.zeros((25, 2)), 24.0, 20.0).shape == (21, 2)


@pytest.mark.parametrize(
    "fixture, rel, unit",
    [
        ("bandai1", "dataset/Bandai-Namco-Research-Motiondataset-1/data/dataset-1_walk_normal_001.bvh", "cm"),
        ("cmu_samples", CMU_WALK, "cmu"),
        ("cmu_samples", "yuki-koyama/bvh11/resources/131_01.bvh", "cmu"),
        ("cmu_iclone", "All_BVH/subjects/005/005_01.bvh", "cm"),
        ("reactidle", "genuine/003_genuine.bvh", "m"),
    ],
)
def test_unit_detection_on_real_rigs(request, fixture, rel, unit) -> None:
    pos, _ = _smpl(request.getfixturevalue(fixture) / rel)
    assert detect_unit_scale(pos) == UNIT_SCALES[unit]
    metres = pos * UNIT_SCALES[unit]
    for name, scale in UNIT_SCALES.items():  # the same body written in any unit is recognised
        assert detect_unit_scale(metres / scale) == pytest.approx(scale), name


def _rot_y(deg: float) -> np.ndarray:
    c, s = math.cos(math.radians(deg)), math.sin(math.radians(deg))
    return np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])


def test_canonical_frame_on_real_walk(cmu_walk) -> None:
    pos, fps = cmu_walk
    out = canonicalise(pos, fps)
    assert out.dtype == np.float32 and out.shape[1:] == (22, 3)
    assert out.shape[0] == math.floor((pos.shape[0] - 1) * 20.0 / fps + 1e-6) + 1
    feet = out[:, [J["left_ankle"], J["right_ankle"], J["left_foot"], J["right_foot"]], 1]
    assert feet.min() == pytest.approx(0.0, abs=1e-6)
    np.testing.assert_allclose(out[0, J["pelvis"], [0, 2]], [0.0, 0.0], atol=1e-6)
    np.testing.assert_allclose(facing_direction(out[0]), [0.0, 0.0, 1.0], atol=1e-6)
    assert out[0, J["left_hip"], 0] > 0 > out[0, J["right_hip"], 0]  # left is +X when facing +Z
    assert out[0, J["left_shoulder"], 0] > 0 > out[0, J["right_shoulder"], 0]
    travel = out[-1, J["pelvis"]] - out[0, J["pelvis"]]
    assert travel[2] > 2.0 and abs(travel[0]) < 0.5 * travel[2]  # a walk moves forward along +Z
    assert 1.2 < out[:, J["head"], 1].max() < 2.0


def test_canonical_form_is_invariant_to_placement_unit_and_up_axis(cmu_walk) -> None:
    pos, fps = cmu_walk
    ref = canonicalise(pos, fps)
    moved = pos @ _rot_y(137.0).T + np.array([40.0, 3.0, -25.0])  # turn + shift (+ lift) the performer
    np.testing.assert_allclose(canonicalise(moved, fps), ref, atol=1e-4)
    in_mm = pos * UNIT_SCALES["cmu"] * 1000.0
    np.testing.assert_allclose(canonicalise(in_mm, fps), ref, atol=1e-4)
    z_up = np.stack([pos[..., 0], -pos[..., 2], pos[..., 1]], axis=-1)  # Y-up -> Z-up (right-handed)
    np.testing.assert_allclose(canonicalise(z_up, fps, up_axis="z"), ref, atol=1e-4)
    np.testing.assert_allclose(canonicalise(z_up, fps, up_axis="auto"), ref, atol=1e-4)
    np.testing.assert_allclose(canonicalise(pos, fps, UNIT_SCALES["cmu"]), ref, atol=1e-6)


@pytest.mark.parametrize(
    "fixture, rel, expected",
    [
        ("cmu_samples", "facebookresearch/fairmotion/tests/data/01_01.bvh", 1),
        ("cmu_samples", "VictorS-67/pybvh/bvh_data/cmu_12_01_walk.bvh", 1),
        ("cmu_samples", CMU_WALK, 0),
        ("cmu_iclone", "All_BVH/subjects/007/007_05.bvh", 1),
        ("cmu_iclone", "All_BVH/subjects/007/007_01.bvh", 0),
        ("cmu_iclone", "All_BVH/subjects/002/002_01.bvh", 0),
        ("bandai1", "dataset/Bandai-Namco-Research-Motiondataset-1/data/dataset-1_walk_normal_001.bvh", 0),
        ("cmu_cgspeed", "data/02/02_01.bvh", 1),  # cgspeed: a T-pose frame 0 ...
        ("cmu_cgspeed", "data/07/07_12.bvh", 2),  # ... held for two frames
        ("cmu_cgspeed", "data/09/09_10.bvh", 5),  # ... or five
        ("cmu_daz", "data/10/10_04.bvh", 4),  # Daz: a T-pose blended into the motion over four frames
        ("cmu_daz", "data/16/16_01.bvh", 0),
    ],
)
def test_leading_rest_frame_detection(request, fixture, rel, expected) -> None:
    pos, fps = _smpl(request.getfixturevalue(fixture) / rel)
    assert leading_rest_frames(pos, fps) == expected
    kept = canonicalise(pos, fps, drop_rest_frame=True)
    full = canonicalise(pos, fps)
    if expected:
        # with the rest frame the clip starts with a jump far above its usual frame-to-frame motion
        def steps(x: np.ndarray) -> np.ndarray:
            return np.linalg.norm(np.diff(x, axis=0), axis=-1).max(axis=1)

        assert steps(full)[0] > 2.5 * np.percentile(steps(full), 95)
        assert steps(kept)[0] < 2 * np.percentile(steps(kept), 95)
        assert np.abs(kept[0] - full[0]).max() > 0.1  # the rest pose is gone from frame 0
    else:
        np.testing.assert_array_equal(kept, full)
