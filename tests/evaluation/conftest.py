"""Fixtures of the issue-11 evaluation tests: real Bandai-Namco-2 clips of one-sided actions and the shipped model.

The library holds the real joints of ``wave-left-hand``, ``wave-right-hand``, ``raise-up-left-hand`` and ``walk``
clips (styles ``active`` and ``elderly``; takes 001-002 = val, 003-004 = test), labelled and captioned the way the
library builder labels and captions them.
"""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DEFAULT_MODEL = REPO / "backend" / "assets" / "default_model"

SIDED_ACTIONS = ("wave-left-hand", "wave-right-hand", "raise-up-left-hand", "walk")
SIDED_STYLES = ("active", "elderly")
SPLIT_OF_TAKE = {1: "val", 2: "val", 3: "test", 4: "test"}


@pytest.fixture(scope="session")
def sided_library(bandai2: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 32-clip library folder of real clips (16 val, 16 test)."""
    from backend.library.captions import captions_for
    from backend.motion.convert import bvh_to_clip
    from backend.motion.io.library import LibraryWriter

    data = bandai2 / "dataset" / "Bandai-Namco-Research-Motiondataset-2" / "data"
    root = tmp_path_factory.mktemp("sided-library") / "library"
    with LibraryWriter(root) as writer:
        for action in SIDED_ACTIONS:
            for style in SIDED_STYLES:
                for take, split in SPLIT_OF_TAKE.items():
                    clip_id = f"bandai2_{action}_{style}_{take:03d}"
                    clip = bvh_to_clip(
                        data / f"dataset-2_{action}_{style}_{take:03d}.bvh",
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
def shipped_model():
    """The shipped default model (skips when it is not there)."""
    if not (DEFAULT_MODEL / "config.json").is_file():
        pytest.skip(f"no shipped default model at {DEFAULT_MODEL}")
    from backend.model.retrieval import MotionTextRetrieval

    return MotionTextRetrieval.from_pretrained(DEFAULT_MODEL)
