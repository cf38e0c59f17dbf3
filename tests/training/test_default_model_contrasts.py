"""Targeted checks of the shipped default model on real held-out clips: left/right and style words must move the
ranking the way a person expects.

The clips are Bandai-Namco-2 takes that the library's split rule puts in ``test`` (never trained on). The
model is ``backend/assets/default_model`` (the test is skipped until the model is shipped there).

* Pairwise contrasts (``backend.evaluation.contrasts``): for texts of a left-hand clip, left-hand clips must
  outscore right-hand clips more often than not (chance = 50 %); the same for styles of one action.
* Free-text swaps: replacing "left" by "right" in a typed query raises the right-hand clips relative to the
  left-hand clips.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from backend.model.config import DEFAULT_MODEL_DIR as DEFAULT_MODEL

PAIRS = (
    ("wave-left-hand", "wave-right-hand"),
    ("raise-up-left-hand", "raise-up-right-hand"),
    ("walk-turn-left", "walk-turn-right"),
)
STYLES = ("active", "elderly")
SWAPS = (
    (
        "a person waves their left hand",
        "a person waves their right hand",
        "wave-left-hand",
        "wave-right-hand",
    ),
    (
        "someone raises the left arm above the head",
        "someone raises the right arm above the head",
        "raise-up-left-hand",
        "raise-up-right-hand",
    ),
    (
        "a man walks and turns to the left",
        "a man walks and turns to the right",
        "walk-turn-left",
        "walk-turn-right",
    ),
)


def _test_takes(data: Path, action: str, style: str, n: int = 1) -> list[Path]:
    from backend.library.splits import bandai_split

    out = []
    for take in range(2, 120):
        path = data / f"dataset-2_{action}_{style}_{take:03d}.bvh"
        if path.is_file() and bandai_split("bandai-namco-2", action, style, take) == "test":
            out.append(path)
            if len(out) == n:
                break
    return out


@pytest.fixture(scope="module")
def scored(bandai2: Path):
    if not (DEFAULT_MODEL / "config.json").is_file():
        pytest.skip(f"no shipped default model at {DEFAULT_MODEL}")
    from backend.evaluation.encoding import encode_motions
    from backend.evaluation.run import EvalClip
    from backend.library.captions import captions_for
    from backend.model.retrieval import MotionTextRetrieval
    from backend.motion.convert import bvh_to_clip

    model = MotionTextRetrieval.from_pretrained(DEFAULT_MODEL)
    data = bandai2 / "dataset" / "Bandai-Namco-Research-Motiondataset-2" / "data"
    clips = []
    for pair in PAIRS:
        for action in pair:
            for style in STYLES:
                for path in _test_takes(data, action, style):
                    clip = bvh_to_clip(path, clip_id=path.stem)
                    labels = {"action": action, "style": style}
                    clips.append(
                        EvalClip(
                            path.stem,
                            model.featurize(clip.joints),
                            captions_for(labels, path.stem),
                            labels,
                            captions_for(labels, path.stem, heldout=True),
                        )
                    )
    return model, clips, encode_motions(model, [c.features for c in clips])


def test_left_right_and_style_contrasts_beat_chance(scored) -> None:
    from backend.evaluation.run import evaluate_clips

    model, clips, _ = scored
    table = evaluate_clips(model, clips, protocols=("contrasts",))
    acc = {(r["kind"], r["queries"]): r["accuracy"] for r in table["contrasts"]}
    assert acc[("left/right", "all")] > 50.0, table["contrasts"]
    assert acc[("left/right", "heldout")] > 50.0, table["contrasts"]
    assert acc[("style", "all")] > 50.0, table["contrasts"]


@pytest.mark.parametrize(("left_query", "right_query", "left_action", "right_action"), SWAPS)
def test_swapping_left_for_right_moves_the_ranking(
    scored, left_query: str, right_query: str, left_action: str, right_action: str
) -> None:
    from backend.evaluation.encoding import score_texts

    model, clips, motion = scored
    s = score_texts(model, [left_query, right_query], motion)  # (2, Nc)
    actions = np.array([c.labels["action"] for c in clips])
    shift = s[0] - s[1]  # how much more the "left" wording likes each clip
    assert shift[actions == left_action].mean() > shift[actions == right_action].mean()
