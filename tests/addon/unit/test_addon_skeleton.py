"""Contract of ``addon/skeleton.py``: axis conversion, resampling, root-motion removal, T-pose rest.

* ``yup_to_zup`` / ``zup_to_yup`` are inverse proper rotations: distances and handedness are kept, Y-up's
  up becomes +Z, the canonical facing (+Z) becomes Blender's front (-Y) and left stays +X.
* ``resample`` reproduces the source exactly at shared instants and moves linearly in between.
* ``remove_root_motion`` pins the root's ground position and keeps every height and the pose.
* ``tpose_rest`` keeps the clip's bone lengths, stands on the floor, and is a T-pose (legs down, arms out).
"""

from __future__ import annotations

import doctest

import numpy as np
import pytest

from addon import skeleton as sk


def test_axis_conversion_is_an_inverse_pair_of_rotations(wave_zup: np.ndarray) -> None:
    yup = sk.zup_to_yup(wave_zup)
    np.testing.assert_allclose(sk.yup_to_zup(yup), wave_zup, atol=1e-12)
    m = sk.yup_to_zup(np.eye(3))  # rows: images of the basis vectors
    assert np.linalg.det(m) == pytest.approx(1.0)
    np.testing.assert_allclose(m @ m.T, np.eye(3), atol=1e-12)
    np.testing.assert_allclose(sk.yup_to_zup(np.array([0.0, 1.0, 0.0])), [0.0, 0.0, 1.0])  # up
    np.testing.assert_allclose(sk.yup_to_zup(np.array([0.0, 0.0, 1.0])), [0.0, -1.0, 0.0])  # facing -> -Y
    np.testing.assert_allclose(sk.yup_to_zup(np.array([1.0, 0.0, 0.0])), [1.0, 0.0, 0.0])  # left stays +X


def test_real_clip_in_blender_space_stands_up_and_faces_minus_y(wave_zup: np.ndarray) -> None:
    j = {n: i for i, n in enumerate(sk.SMPL_JOINT_NAMES)}
    first = wave_zup[0]
    assert first[j["head"], 2] > first[j["pelvis"], 2] > first[j["left_ankle"], 2]
    assert first[j["left_hip"], 0] > first[j["right_hip"], 0]  # left at +X
    assert wave_zup[..., 2].min() == pytest.approx(0.0, abs=0.03)  # canonical floor at 0


@pytest.mark.parametrize("fps_out", [24.0, 25.0, 30.0, 40.0, 12.5])
def test_resample_matches_source_at_shared_instants(wave_zup: np.ndarray, fps_out: float) -> None:
    out = sk.resample(wave_zup, sk.SERVED_FPS, fps_out)
    duration = (wave_zup.shape[0] - 1) / sk.SERVED_FPS
    assert (out.shape[0] - 1) / fps_out <= duration + 1e-9 < out.shape[0] / fps_out
    for k in range(out.shape[0]):
        t = k / fps_out * sk.SERVED_FPS
        if abs(t - round(t)) < 1e-9:
            np.testing.assert_allclose(out[k], wave_zup[round(t)], atol=1e-12)
        else:  # strictly between its two neighbours on every coordinate
            lo, hi = wave_zup[int(np.floor(t))], wave_zup[int(np.ceil(t))]
            assert np.all(out[k] >= np.minimum(lo, hi) - 1e-12) and np.all(
                out[k] <= np.maximum(lo, hi) + 1e-12
            )


def test_resample_rejects_bad_input() -> None:
    with pytest.raises(sk.MotionDataError, match="frame rates"):
        sk.resample(np.zeros((3, 22, 3)), 20.0, 0.0)
    with pytest.raises(sk.MotionDataError, match="shape"):
        sk.resample(np.zeros((3, 22)), 20.0, 24.0)
    bad = np.zeros((3, 22, 3))
    bad[1, 4, 2] = np.nan
    with pytest.raises(sk.MotionDataError, match="frame 1"):
        sk.resample(bad, 20.0, 24.0)


def test_remove_root_motion_pins_root_and_keeps_pose(cmu_hop) -> None:
    z = sk.yup_to_zup(cmu_hop.joints)
    travel = np.linalg.norm(z[-1, 0, :2] - z[0, 0, :2])
    assert travel > 0.3  # the clip really travels
    fixed = sk.remove_root_motion(z)
    np.testing.assert_allclose(fixed[:, 0, :2], np.repeat(z[:1, 0, :2], len(z), axis=0), atol=1e-12)
    np.testing.assert_allclose(fixed[..., 2], z[..., 2])
    np.testing.assert_allclose(fixed - fixed[:, :1], z - z[:, :1], atol=1e-12)


def test_tpose_rest_keeps_lengths_and_is_a_tpose(wave_zup: np.ndarray) -> None:
    names, parents = sk.SMPL_JOINT_NAMES, sk.SMPL_PARENTS
    rest = sk.tpose_rest(wave_zup, names, parents)
    j = {n: i for i, n in enumerate(names)}
    lengths = sk.bone_lengths(wave_zup, parents)
    for i, p in enumerate(parents):
        if p >= 0:  # median lengths; the hips/collars keep the clip's mean offset (same length to < 1 mm)
            assert np.linalg.norm(rest[i] - rest[p]) == pytest.approx(lengths[i], abs=1e-3)
    assert rest[:, 2].min() == pytest.approx(0.0)
    for side, sign in (("left", 1.0), ("right", -1.0)):
        arm = rest[j[f"{side}_wrist"]] - rest[j[f"{side}_shoulder"]]
        assert sign * arm[0] == pytest.approx(np.linalg.norm(arm))  # straight out sideways
        leg = rest[j[f"{side}_ankle"]] - rest[j[f"{side}_hip"]]
        assert -leg[2] == pytest.approx(np.linalg.norm(leg))  # straight down
        assert rest[j[f"{side}_foot"], 1] < rest[j[f"{side}_ankle"], 1]  # toes forward (-Y)
    spine = rest[j["neck"]] - rest[j["pelvis"]]
    assert spine[2] > 0.3 and abs(spine[0]) < 1e-9


def test_aim_children_and_lateral_pairs_follow_names() -> None:
    aims = sk.aim_children(sk.SMPL_JOINT_NAMES, sk.SMPL_PARENTS)
    name = dict(enumerate(sk.SMPL_JOINT_NAMES))
    assert name[aims[0]] == "spine1" and name[aims[9]] == "neck"
    assert all(aims[i] == -1 for i, n in name.items() if n in {"head", "left_wrist", "right_foot"})
    assert sk.lateral_pairs(sk.SMPL_JOINT_NAMES, sk.SMPL_PARENTS) == {0: (1, 2), 9: (13, 14)}


def test_frames_from_vectors_are_rotations(wave_zup: np.ndarray) -> None:
    up = wave_zup[:, 3] - wave_zup[:, 0]
    lat = wave_zup[:, 1] - wave_zup[:, 2]
    f = sk.frames_from_vectors(up, lat)
    np.testing.assert_allclose(f @ np.swapaxes(f, -1, -2), np.broadcast_to(np.eye(3), f.shape), atol=1e-12)
    np.testing.assert_allclose(np.linalg.det(f), 1.0, atol=1e-12)
    np.testing.assert_allclose(f[:, :, 1], up / np.linalg.norm(up, axis=-1, keepdims=True), atol=1e-12)


def test_doctests() -> None:
    assert doctest.testmod(sk).failed == 0
