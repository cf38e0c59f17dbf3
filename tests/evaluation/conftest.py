"""Fixtures of the issue-11 evaluation tests: real Bandai-Namco-2 clips of one-sided actions and the shipped model.

The library holds the real joints of ``wave-left-hand``, ``wave-right-hand``, ``raise-up-left-hand`` and ``walk``
clips (styles ``active`` and ``elderly``; takes 001-002 = val, 003-004 = test), labelled and captioned the way the
library builder labels and captions them.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from backend.model.config import DEFAULT_MODEL_DIR as DEFAULT_MODEL

SIDED_ACTIONS = ("wave-left-hand", "wave-right-hand", "raise-up-left-hand", "walk")
SIDED_STYLES = ("active", "elderly")
SPLIT_OF_TAKE = {1: "val", 2: "val", 3: "test", 4: "test"}


@pytest.fixture(scope="session")
def sided_library(make_bandai2_library) -> Path:
    """A 32-clip library folder of real clips (16 val, 16 test)."""
    return make_bandai2_library("sided-library", SIDED_ACTIONS, SIDED_STYLES, SPLIT_OF_TAKE)


@pytest.fixture(scope="session")
def shipped_model():
    """The shipped default model (skips when it is not there)."""
    if not (DEFAULT_MODEL / "config.json").is_file():
        pytest.skip(f"no shipped default model at {DEFAULT_MODEL}")
    from backend.model.retrieval import MotionTextRetrieval

    return MotionTextRetrieval.from_pretrained(DEFAULT_MODEL)
