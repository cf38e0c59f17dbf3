"""Fixtures of the model tests: a tiny config, one shared tiny model (real MiniLM), real clips and captions."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from backend.model.config import RetrievalConfig

#: Bandai-Namco-1 clips (file stem) and captions written from their action/style labels
BANDAI_CLIPS: dict[str, str] = {
    "dataset-1_bow_active_001": "a person bows energetically",
    "dataset-1_byebye_normal_001": "someone waves goodbye with one hand",
    "dataset-1_dash_normal_001": "a person dashes forward",
    "dataset-1_walk-back_normal_001": "a man walks backwards",
    "dataset-1_kick_normal_001": "a person kicks",
    "dataset-1_walk-left_normal_001": "a person walks to the left",
}


def tiny_config(**overrides: object) -> RetrievalConfig:
    """A seconds-fast config: 2-block 32-wide ViT, 32-frame window, MiniLM with its top layer trainable."""
    base: dict[str, object] = {
        "vit_kwargs": {"depth": 2, "embed_dim": 32, "num_heads": 2},
        "window_frames": 32,
        "text_trainable_layers": 1,
        "embed_dim": 64,
    }
    base.update(overrides)
    return RetrievalConfig(**base)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def make_config():
    """The :func:`tiny_config` factory (test modules take it as a fixture instead of importing conftest)."""
    return tiny_config


@pytest.fixture(scope="session")
def bandai_captions() -> dict[str, str]:
    """Captions of :data:`BANDAI_CLIPS`, keyed by clip stem."""
    return dict(BANDAI_CLIPS)


@pytest.fixture(scope="session", autouse=True)
def _one_thread() -> None:
    torch.set_num_threads(1)


@pytest.fixture(scope="session")
def tiny_model():
    """One tiny model shared by the read-only tests (eval mode; do not train or mutate it)."""
    from backend.model.retrieval import MotionTextRetrieval

    torch.manual_seed(0)
    return MotionTextRetrieval.from_config(tiny_config()).eval()


@pytest.fixture(scope="session")
def kit_captions(kitml_annotations: Path) -> list[str]:
    """Real KIT-ML captions (all of them, in file order)."""
    data = json.loads((kitml_annotations / "datasets/annotations/kitml/annotations.json").read_text())
    return [a["text"] for item in data.values() for a in item["annotations"] if a["text"].strip()]


@pytest.fixture(scope="session")
def bandai_joints(bandai1: Path) -> dict[str, np.ndarray]:
    """Canonical ``(T, 22, 3)`` joints of :data:`BANDAI_CLIPS`, converted from the real BVH files."""
    from backend.motion.convert import bvh_to_clip

    folder = bandai1 / "dataset/Bandai-Namco-Research-Motiondataset-1/data"
    return {stem: bvh_to_clip(folder / f"{stem}.bvh").joints for stem in BANDAI_CLIPS}
