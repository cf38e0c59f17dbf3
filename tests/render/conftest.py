"""Render fixtures: real canonical clips from the shared BVH files and real alignments from a tiny model."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

CLIPS = ("dataset-1_byebye_normal_001", "dataset-1_walk-left_normal_001", "dataset-1_kick_normal_001")


@pytest.fixture(scope="session")
def clips(bandai1: Path) -> dict[str, np.ndarray]:
    """Canonical ``(T, 22, 3)`` joints of :data:`CLIPS` (converted from the real BVH files)."""
    from backend.motion.convert import bvh_to_clip

    folder = bandai1 / "dataset/Bandai-Namco-Research-Motiondataset-1/data"
    return {stem: bvh_to_clip(folder / f"{stem}.bvh").joints for stem in CLIPS}


@pytest.fixture(scope="session")
def tiny_model(clips: dict[str, np.ndarray]) -> Any:
    """A random-init tiny model (2-block ViT, 64-frame window) with the real MiniLM and fitted stats."""
    import torch

    from backend.model.config import RetrievalConfig
    from backend.model.retrieval import MotionTextRetrieval
    from backend.motion.kinematics.features import compute_features
    from backend.motion.kinematics.normalize import fit_stats

    torch.set_num_threads(1)
    torch.manual_seed(0)
    config = RetrievalConfig(vit_kwargs={"depth": 2, "embed_dim": 32, "num_heads": 2}, window_frames=64,
                             text_trainable_layers=1, embed_dim=64)  # fmt: skip
    model = MotionTextRetrieval.from_config(config).eval()
    model.set_feature_stats(fit_stats([compute_features(j, "angles") for j in clips.values()], "angles"))
    return model


@pytest.fixture(scope="session")
def align(tiny_model: Any) -> Callable[[str, np.ndarray, int], tuple[dict[str, Any], np.ndarray]]:
    """``align(text, joints, start_frame) -> (alignment dict, features (T, C))`` for one 64-frame window."""
    import torch

    from backend.search.alignment import compute_alignment

    def run(text: str, joints: np.ndarray, start: int = 0) -> tuple[dict[str, Any], np.ndarray]:
        feats = tiny_model.featurize(joints)
        window = feats[start : start + 64]
        with torch.inference_mode():
            enc = tiny_model.encode_text([text])
            x, fm = tiny_model.prepare_motion_batch([window])
            mot = tiny_model.encode_motion(x, fm)
        a = compute_alignment(
            enc, mot.emb[0], mot.mask[0], mot.n_windows, start / 20.0, valid_frames=len(window)
        )
        return a, feats

    return run
