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
def tiny_library(make_bandai2_library) -> Path:
    """A 32-clip library folder (real joints, real captions, train/val/test)."""
    return make_bandai2_library("tiny-library", ACTIONS, STYLES, SPLIT_OF_TAKE)


@pytest.fixture(scope="session")
def tiny_config_path() -> Path:
    """``configs/tiny.yaml``."""
    return TINY_CONFIG
