"""Contracts of ``backend.motion.kinematics.normalize``.

* ``fit_stats`` streams over clips: its mean/std equal those of all frames stacked (population std),
  whatever the chunking; std is floored so constant channels do not divide by zero.
* ``apply`` standardises, ``invert`` undoes it; a width mismatch raises ``MotionDataError``.
* ``save`` writes JSON atomically (no temp file left behind) and ``load`` round-trips it exactly;
  broken files raise ``CheckpointError`` naming the path.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from backend.errors import CheckpointError, ConfigError, MotionDataError
from backend.motion.kinematics.features import compute_features
from backend.motion.kinematics.normalize import DEFAULT_MIN_STD, FeatureStats, fit_stats


@pytest.fixture(scope="module")
def clip_features(bandai2: Path) -> list[np.ndarray]:
    """Angle features of a few real clips (a 'train split' stand-in)."""
    from backend.motion.convert import bvh_to_clip

    data = bandai2 / "dataset" / "Bandai-Namco-Research-Motiondataset-2" / "data"
    files = (
        sorted(data.glob("dataset-2_walk_normal_*.bvh"))[:2]
        + sorted(data.glob("dataset-2_raise-up-both-hands_*.bvh"))[:1]
    )
    if len(files) < 2:
        pytest.skip(f"too few clips under {data}")
    return [compute_features(bvh_to_clip(f).joints, "angles") for f in files]


def test_streaming_matches_stacked(clip_features: list[np.ndarray]) -> None:
    stacked = np.concatenate(clip_features).astype(np.float64)
    stats = fit_stats(iter(clip_features))  # a one-shot generator is enough
    np.testing.assert_allclose(stats.mean, stacked.mean(axis=0), rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(stats.std, np.maximum(stacked.std(axis=0), DEFAULT_MIN_STD), rtol=1e-9)
    assert stats.num_frames == len(stacked) and stats.representation == "angles"
    # different chunking (single frames, an empty chunk) gives the same statistics
    chunks = [stacked[i : i + 7] for i in range(0, len(stacked), 7)] + [stacked[:0]]
    again = fit_stats(chunks)
    np.testing.assert_allclose(again.mean, stats.mean, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(again.std, stats.std, rtol=1e-9)


def test_apply_standardises_and_invert_undoes(clip_features: list[np.ndarray]) -> None:
    stats = fit_stats(clip_features)
    z = stats.apply(np.concatenate(clip_features))
    assert z.dtype == np.float32
    np.testing.assert_allclose(z.mean(axis=0), 0.0, atol=1e-4)
    varying = stats.std > DEFAULT_MIN_STD
    np.testing.assert_allclose(z.std(axis=0)[varying], 1.0, atol=1e-3)
    x = clip_features[0]
    np.testing.assert_allclose(stats.invert(stats.apply(x)), x, atol=1e-5)
    batch = np.stack([x[:10], x[10:20]])  # (B, T, C) broadcasts
    np.testing.assert_allclose(stats.apply(batch)[1], stats.apply(x[10:20]), atol=1e-6)


def test_constant_channel_is_floored() -> None:
    x = np.ones((50, 3))
    x[:, 1] = np.linspace(-1, 1, 50)
    stats = fit_stats([x], min_std=1e-2)
    assert stats.std[0] == 1e-2 and stats.std[2] == 1e-2
    assert np.all(np.isfinite(stats.apply(x))) and np.all(stats.apply(x)[:, 0] == 0)


def test_save_load_round_trip(tmp_path: Path, clip_features: list[np.ndarray]) -> None:
    stats = fit_stats(clip_features)
    path = stats.save(tmp_path / "model" / "feature_stats.json")
    assert sorted(p.name for p in path.parent.iterdir()) == ["feature_stats.json"]  # no temp file left
    loaded = FeatureStats.load(path)
    np.testing.assert_array_equal(loaded.mean, stats.mean)
    np.testing.assert_array_equal(loaded.std, stats.std)
    assert (loaded.representation, loaded.num_frames) == ("angles", stats.num_frames)
    assert json.loads(path.read_text())["format"] == "motion-search-feature-stats"
    assert FeatureStats.from_dict(stats.to_dict()).to_dict() == stats.to_dict()


def test_broken_files_raise_checkpoint_error(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="not found"):
        FeatureStats.load(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(CheckpointError, match="bad.json"):
        FeatureStats.load(bad)
    bad.write_text(json.dumps({"mean": [0.0, 1.0], "std": [1.0], "representation": "angles"}))
    with pytest.raises(CheckpointError, match="mean"):
        FeatureStats.load(bad)


def test_invalid_inputs() -> None:
    with pytest.raises(MotionDataError, match="no frames"):
        fit_stats([])
    with pytest.raises(MotionDataError, match="array 1"):
        fit_stats([np.zeros((3, 4)), np.zeros((3, 5))])
    with pytest.raises(MotionDataError, match="NaN"):
        fit_stats([np.full((2, 2), np.nan)])
    stats = fit_stats([np.random.default_rng(0).normal(size=(20, 4))])
    with pytest.raises(MotionDataError, match="4"):
        stats.apply(np.zeros((3, 5)))
    with pytest.raises(ConfigError, match="missing field 'std'"):
        FeatureStats.from_dict({"mean": [0.0], "representation": "angles"})
    with pytest.raises(ConfigError, match="representation"):
        FeatureStats.from_dict({"mean": [0.0], "std": [1.0], "representation": "rotations"})
