"""Left/right mirror augmentation (``data.mirror_prob``) on a real clip: the mirrored joints give the mirrored
joint angles, the dataset serves the mirror with ``left`` / ``right`` swapped in the caption, reproducibly."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from backend.errors import ConfigError, InvalidInputError
from backend.evaluation.data import ClipRecord
from backend.motion.kinematics.angles import joint_angles, mirror_angles
from backend.motion.kinematics.features import compute_features
from backend.training.config import TrainConfig
from backend.training.datasets import TextMotionDataset, featurize_records, mirror_joints, swap_sides


@pytest.fixture(scope="module")
def left_hand_clip(bandai2: Path) -> ClipRecord:
    from backend.motion.convert import bvh_to_clip

    data = bandai2 / "dataset" / "Bandai-Namco-Research-Motiondataset-2" / "data"
    clip = bvh_to_clip(data / "dataset-2_raise-up-left-hand_normal_001.bvh", dataset="bandai-namco-2")
    caps = ["a person raises the left hand", "someone lifts their Left arm", "a person stands still"]
    return ClipRecord(clip.meta.id, clip.joints, caps, {"action": "raise-up-left-hand"})


def test_mirrored_joints_give_mirrored_angles(left_hand_clip: ClipRecord) -> None:
    j = left_hand_clip.joints
    np.testing.assert_array_equal(mirror_joints(mirror_joints(j)), j)
    np.testing.assert_allclose(joint_angles(mirror_joints(j)), mirror_angles(joint_angles(j)), atol=1e-4)
    # the raised (left) wrist ends up on the right side, as high as it was
    li, ri = 20, 21  # left_wrist, right_wrist
    m = mirror_joints(j)
    np.testing.assert_allclose(m[:, ri, 1], j[:, li, 1])
    np.testing.assert_allclose(m[:, ri, 0], -j[:, li, 0])


def test_dataset_serves_mirrors_with_swapped_sides(left_hand_clip: ClipRecord) -> None:
    items = featurize_records([left_hand_clip] * 8, lambda j: compute_features(j, "angles"), mirror=True)
    assert items[0].mirrored is not None
    np.testing.assert_allclose(
        items[0].mirrored, compute_features(mirror_joints(left_hand_clip.joints), "angles")
    )
    always = TextMotionDataset(items, window_frames=10_000, train=True, seed=0, mirror_prob=1.0)
    for i in range(8):
        s = always[i]
        assert s["text"] in {swap_sides(c) for c in left_hand_clip.captions}
        np.testing.assert_array_equal(s["motion"], items[i].mirrored)
    assert {always[i]["text"] for i in range(8)} & {
        "a person raises the right hand",
        "someone lifts their Right arm",
    }
    half = TextMotionDataset(items, window_frames=10_000, train=True, seed=0, mirror_prob=0.5)
    picks = [np.array_equal(half[i]["motion"], items[i].mirrored) for i in range(8)]
    assert 0 < sum(picks) < 8 and picks == [
        np.array_equal(half[i]["motion"], items[i].mirrored) for i in range(8)
    ]
    off = TextMotionDataset(items, window_frames=10_000, train=True, seed=0)
    assert all(off[i]["text"] in left_hand_clip.captions for i in range(8))
    evaluation = TextMotionDataset(items, window_frames=10_000, train=False, mirror_prob=1.0)
    assert evaluation[0]["text"] == left_hand_clip.captions[0]  # never mirrored outside training


def test_mirror_settings_are_checked(left_hand_clip: ClipRecord) -> None:
    plain = featurize_records([left_hand_clip], lambda j: compute_features(j, "angles"))
    with pytest.raises(InvalidInputError, match="mirror=True"):
        TextMotionDataset(plain, window_frames=64, mirror_prob=0.5)
    with pytest.raises(InvalidInputError, match="mirror_prob"):
        TextMotionDataset(plain, window_frames=64, mirror_prob=1.5)
    cfg = TrainConfig()
    cfg.data.mirror_prob = -0.1
    with pytest.raises(ConfigError, match="data.mirror_prob"):
        cfg.validate()
