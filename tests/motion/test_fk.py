"""Forward kinematics contract (backend.motion.kinematics.fk).

* Rotation channels compose in the listed order as intrinsic rotations (R = R_c1 R_c2 R_c3 on column
  vectors), checked against hand-written elementary matrices for several orders.
* Position channels replace the matching offset components (on any joint); End Sites hang off their joint.
* On real files FK is a rigid chain: every parent-child distance stays equal to the OFFSET length for joints
  without position channels, in every frame, for every rig.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from backend.motion.io.bvh import BvhData, read_bvh
from backend.motion.kinematics.fk import forward_kinematics, point_names


def _rx(a: float) -> np.ndarray:
    c, s = math.cos(math.radians(a)), math.sin(math.radians(a))
    return np.array([[1, 0, 0], [0, c, -s], [0, s, c]])


def _ry(a: float) -> np.ndarray:
    c, s = math.cos(math.radians(a)), math.sin(math.radians(a))
    return np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])


def _rz(a: float) -> np.ndarray:
    c, s = math.cos(math.radians(a)), math.sin(math.radians(a))
    return np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])


_ELEMENTARY = {"X": _rx, "Y": _ry, "Z": _rz}


def _chain(order: str, angles: tuple[float, float, float]) -> BvhData:
    """root (no rotation) -> joint with rotation channels in ``order`` -> child at (0, 0, 2)."""
    chans = tuple(f"{a}rotation" for a in order)
    return BvhData(
        names=["root", "j", "child"],
        parents=[-1, 0, 1],
        offsets=np.array([[0.0, 0, 0], [1.0, 2.0, 3.0], [0.0, 0.0, 2.0]]),
        channels=[("Xposition", "Yposition", "Zposition"), chans, ()],
        frame_time=1 / 30,
        motion=np.array([[0.5, 0.0, -1.0, *angles]]),
        end_sites={2: np.array([1.0, 0.0, 0.0])},
    )


@pytest.mark.parametrize("order", ["ZXY", "ZYX", "XYZ", "YXZ", "YZX", "XZY"])
def test_rotation_order_is_intrinsic_in_channel_order(order) -> None:
    angles = (30.0, -50.0, 70.0)
    pts = forward_kinematics(_chain(order, angles), with_end_sites=True)[0]
    r = _ELEMENTARY[order[0]](angles[0]) @ _ELEMENTARY[order[1]](angles[1]) @ _ELEMENTARY[order[2]](angles[2])
    joint = np.array([0.5, 0.0, -1.0]) + np.array([1.0, 2.0, 3.0])
    np.testing.assert_allclose(pts[1], joint, atol=1e-12)
    np.testing.assert_allclose(pts[2], joint + r @ [0.0, 0.0, 2.0], atol=1e-12)
    np.testing.assert_allclose(pts[3], joint + r @ [0.0, 0.0, 2.0] + r @ [1.0, 0.0, 0.0], atol=1e-12)


def test_orders_differ() -> None:
    a = forward_kinematics(_chain("ZXY", (30.0, -50.0, 70.0)))[0, 2]
    b = forward_kinematics(_chain("XYZ", (30.0, -50.0, 70.0)))[0, 2]
    assert np.linalg.norm(a - b) > 0.1


def test_position_channels_replace_offset_components() -> None:
    data = BvhData(
        names=["root", "mid", "tip"],
        parents=[-1, 0, 1],
        offsets=np.array([[9.0, 9.0, 9.0], [1.0, 2.0, 3.0], [0.0, 1.0, 0.0]]),
        channels=[("Xposition", "Yposition", "Zposition", "Yrotation"), ("Yposition", "Xrotation"), ()],
        frame_time=0.01,
        motion=np.array([[0.0, 0.0, 0.0, 90.0, 5.0, 90.0]]),
    )
    pts = forward_kinematics(data)[0]
    np.testing.assert_allclose(pts[0], [0, 0, 0], atol=1e-12)  # root offset replaced entirely
    # mid: local (1, 5, 3) (Y replaced, X/Z kept) rotated 90 deg about Y -> (3, 5, -1)
    np.testing.assert_allclose(pts[1], [3, 5, -1], atol=1e-12)
    # tip: (0, 1, 0) through Ry(90) Rx(90) -> Ry(90) @ (0, 0, 1) = (1, 0, 0)
    np.testing.assert_allclose(pts[2], [4, 5, -1], atol=1e-12)
    assert point_names(data) == ["root", "mid", "tip"]


BANDAI1 = "dataset/Bandai-Namco-Research-Motiondataset-1/data/dataset-1_walk_normal_001.bvh"


@pytest.mark.parametrize(
    "fixture, rel",
    [
        ("bandai1", BANDAI1),
        ("cmu_samples", "TMoCo/InverseKinematics/bvh/05_06.bvh"),
        ("cmu_samples", "yuki-koyama/bvh11/resources/131_02.bvh"),
        ("cmu_iclone", "All_BVH/subjects/002/002_01.bvh"),
        ("reactidle", "genuine/003_genuine.bvh"),
    ],
)
def test_real_fk_is_a_rigid_chain(request, fixture, rel) -> None:
    data = read_bvh(request.getfixturevalue(fixture) / rel)
    pts = forward_kinematics(data, with_end_sites=True)
    n_j = data.num_joints
    assert pts.shape == (data.num_frames, n_j + len(data.end_sites), 3)
    assert len(point_names(data)) == pts.shape[1]
    checked = 0
    for j in range(1, n_j):
        p = data.parents[j]
        has_pos = any(c.endswith("position") for c in data.channels[j])
        d = np.linalg.norm(pts[:, j] - pts[:, p], axis=-1)
        if has_pos:
            start = data.channel_starts()[j]
            local = data.motion[:, start : start + 3]  # all position channels on these rigs are XYZ first
            np.testing.assert_allclose(d, np.linalg.norm(local, axis=-1), rtol=1e-9, atol=1e-9)
        else:
            np.testing.assert_allclose(d, np.linalg.norm(data.offsets[j]), rtol=1e-9, atol=1e-9)
        checked += 1
    for k, j in enumerate(sorted(data.end_sites)):
        d = np.linalg.norm(pts[:, n_j + k] - pts[:, j], axis=-1)
        np.testing.assert_allclose(d, np.linalg.norm(data.end_sites[j]), atol=1e-9)
    assert checked == n_j - 1
    # and the body actually moves: some joint travels
    assert np.ptp(pts[:, :n_j], axis=0).max() > 1e-3 * np.abs(pts).max()


def test_cmu_3dsmax_arm_order_matters(cmu_samples) -> None:
    """131_03 lists its arm joints in ZXY order; reading them as ZYX moves the hands by centimetres."""
    data = read_bvh(cmu_samples / "yuki-koyama/bvh11/resources/131_03.bvh")
    wrist = data.names.index("LeftWrist")
    right = forward_kinematics(data)[:, wrist]
    swapped = [
        ("Zrotation", "Yrotation", "Xrotation") if c == ("Zrotation", "Xrotation", "Yrotation") else c
        for c in data.channels
    ]
    wrong = BvhData(data.names, data.parents, data.offsets, swapped, data.frame_time, data.motion)
    moved = np.linalg.norm(forward_kinematics(wrong)[:, wrist] - right, axis=-1)
    assert moved.max() * 0.056444 > 0.02  # > 2 cm somewhere (CMU units)
