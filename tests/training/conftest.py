"""Fixtures of the training / evaluation-CLI tests: a tiny library of real Bandai-Namco-2 clips.

The library is built the way ``data build-library`` builds one -- ``bvh_to_clip`` + ``LibraryWriter`` -- with
the library's own labels (``action``, ``style``) and captions (``captions_for``), and a hand-made split: takes
001-002 train, 003 val, 004 test, for 4 actions x 2 styles (16 / 8 / 8 clips).
"""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
TINY_CONFIG = REPO / "configs" / "tiny.yaml"

ACTIONS = ("walk", "run", "wave-left-hand", "wave-right-hand")
STYLES = ("active", "elderly")
SPLIT_OF_TAKE = {1: "train", 2: "train", 3: "val", 4: "test"}


@pytest.fixture(scope="session")
def tiny_library(bandai2: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 32-clip library folder (real joints, real captions, train/val/test)."""
    from backend.library.captions import captions_for
    from backend.motion.convert import bvh_to_clip
    from backend.motion.io.library import LibraryWriter

    data = bandai2 / "dataset" / "Bandai-Namco-Research-Motiondataset-2" / "data"
    root = tmp_path_factory.mktemp("tiny-library") / "library"
    with LibraryWriter(root) as writer:
        for action in ACTIONS:
            for style in STYLES:
                for take, split in SPLIT_OF_TAKE.items():
                    stem = f"dataset-2_{action}_{style}_{take:03d}"
                    clip_id = f"bandai2_{action}_{style}_{take:03d}"
                    clip = bvh_to_clip(
                        data / f"{stem}.bvh",
                        clip_id=clip_id,
                        dataset="bandai-namco-2",
                        licence="CC BY-NC 4.0",
                    )
                    clip.meta.labels = {"action": action, "style": style, "take": f"{take:03d}"}
                    clip.meta.captions = captions_for(clip.meta.labels, clip_id)
                    clip.meta.split = split
                    writer.add(clip)
    return root


@pytest.fixture(scope="session")
def tiny_config_path() -> Path:
    """``configs/tiny.yaml``."""
    return TINY_CONFIG
