"""Contracts of ``backend.motion.kinematics.features``.

* ``compute_features(joints, representation)`` returns ``(T, C)`` float32 with
  ``C == sum(band_channels(representation))`` and 14 bands in ``BANDS`` order, for both representations.
* ``"angles"`` is exactly :func:`joint_angles`.
* ``"positions"``: root band = the pelvis trajectory (same as the angle root channels); every limb/spine
  band = its driven joints relative to the pelvis in the body's own heading frame, so a whole-body yaw or
  shift leaves every band but the pelvis orientation unchanged.
* An unknown representation raises ``ConfigError`` naming the valid ones.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from backend.errors import ConfigError, MotionDataError
from backend.motion.kinematics.angles import joint_angles
from backend.motion.kinematics.features import (
    REPRESENTATIONS,
    band_channels,
    channel_names,
    compute_features,
)
from backend.motion.kinematics.skeleton import BAND_NAMES, BANDS, JOINT_INDEX, NUM_BANDS, band_slices


@pytest.fixture(scope="module")
def walk(bandai2: Path) -> np.ndarray:
    """Canonical joints of one real walking-and-turning clip."""
    from backend.motion.convert import bvh_to_clip

    data = bandai2 / "dataset" / "Bandai-Namco-Research-Motiondataset-2" / "data"
    files = sorted(data.glob("dataset-2_walk-turn-right_normal_*.bvh"))
    if not files:
        pytest.skip(f"no walking clip under {data}")
    return bvh_to_clip(files[0]).joints


def _yaw(joints: np.ndarray, degrees: float) -> np.ndarray:
    rot = Rotation.from_euler("y", degrees, degrees=True)
    return rot.apply(joints.reshape(-1, 3)).reshape(joints.shape) + np.array([2.0, 0.0, -1.0])


@pytest.mark.parametrize("representation", REPRESENTATIONS)
def test_shapes_and_bands(walk: np.ndarray, representation: str) -> None:
    x = compute_features(walk, representation)
    counts = band_channels(representation)
    assert len(counts) == NUM_BANDS == 14
    assert x.shape == (walk.shape[0], sum(counts)) and x.dtype == np.float32
    assert len(channel_names(representation)) == x.shape[1]
    assert np.all(np.isfinite(x))
    assert all(np.ptp(x[:, sl]) > 0 for sl in band_slices(counts))  # every band carries signal


def test_angles_representation_is_joint_angles(walk: np.ndarray) -> None:
    np.testing.assert_array_equal(compute_features(walk, "angles"), joint_angles(walk))
    assert band_channels("angles") == tuple(b.channels for b in BANDS)


def test_positions_bands_hold_the_driven_joints(walk: np.ndarray) -> None:
    x = compute_features(walk, "positions")
    slices = band_slices(band_channels("positions"))
    np.testing.assert_allclose(x[:, slices[0]], joint_angles(walk)[:, :3], atol=1e-6)  # root trajectory
    forward = x[:, slices[1]]
    np.testing.assert_allclose(np.linalg.norm(forward, axis=1), 1.0, atol=1e-5)  # pelvis forward axis
    assert forward[0, 2] > 0.9  # a canonical clip faces +Z at frame 0
    pelvis = walk[:, JOINT_INDEX["pelvis"]]
    for band, sl in list(zip(BANDS, slices))[2:]:
        block = x[:, sl].reshape(len(walk), len(band.joints), 3)
        for k, name in enumerate(band.joints):
            # heading alignment is a rotation about Y: height and distance to the pelvis are kept
            rel = walk[:, JOINT_INDEX[name]] - pelvis
            np.testing.assert_allclose(block[:, k, 1], rel[:, 1], atol=1e-5)
            np.testing.assert_allclose(np.linalg.norm(block[:, k], axis=1), np.linalg.norm(rel, axis=1),
                                       atol=1e-5)  # fmt: skip
    left = x[:, slices[BAND_NAMES.index("left_hip")]]
    assert np.all(left[:, 0] > 0.03)  # the left hip is on the body's left (+X) in every frame


def test_positions_are_heading_invariant(walk: np.ndarray) -> None:
    base = compute_features(walk, "positions")
    turned = compute_features(_yaw(walk, 140.0), "positions")
    np.testing.assert_allclose(turned, base, atol=2e-5)


def test_unknown_representation_lists_valid_names(walk: np.ndarray) -> None:
    with pytest.raises(ConfigError, match="angles, positions"):
        compute_features(walk, "quaternions")
    with pytest.raises(ConfigError, match="representation"):
        band_channels("velocities")


def test_bad_joints_raise() -> None:
    with pytest.raises(MotionDataError, match="shape"):
        compute_features(np.zeros((5, 24, 3)), "positions")
