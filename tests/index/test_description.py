"""Contract of backend.search.description: a (T, 22, 3) joint array at any fps is canonicalised, encoded and
described by the caption bank ranked with MaxSim (captions as queries, the motion's windows as
documents, best window), plus the nearest library clips (a library clip's own motion finds itself first);
bad input raises errors naming the problem."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from backend.errors import InvalidInputError, MotionDataError
from backend.index.store import MotionIndex
from backend.model.scoring import maxsim
from backend.motion.kinematics.skeleton import SMPL_JOINT_NAMES
from backend.search.description import caption_alignment, describe
from backend.search.searcher import Searcher


@pytest.fixture(scope="module")
def searcher(built_index: Path, model) -> Searcher:
    return Searcher(MotionIndex.open(built_index), model)


def test_describe_ranks_caption_bank_by_maxsim(searcher: Searcher, library_clips: list) -> None:
    clip = next(c for c in library_clips if c.meta.id == "dataset-1_kick_normal_001")
    d = describe(searcher, clip.joints, 20.0, k=4)
    assert len(d.captions) == 4
    scores = [c.score for c in d.captions]
    assert scores == sorted(scores, reverse=True)
    texts, bank_emb, bank_mask = searcher.caption_bank()
    full = maxsim(bank_emb, bank_mask, torch.from_numpy(d.windows.emb), torch.from_numpy(d.windows.mask))
    best = full.max(dim=1).values
    expected = [texts[i] for i in torch.argsort(best, descending=True)[:4].tolist()]
    assert [c.text for c in d.captions] == expected
    for c in d.captions:
        assert c.score == pytest.approx(float(full[texts.index(c.text), c.window]), abs=1e-5)
        assert 0 <= c.start < c.end <= clip.meta.duration + 1e-9
    a = caption_alignment(searcher, d, d.captions[0])
    assert set(a["joint_strength"]) == set(SMPL_JOINT_NAMES) and max(a["joint_strength"].values()) == 1.0


@pytest.mark.parametrize("fps", [20.0, 60.0])
def test_library_clip_finds_itself(searcher: Searcher, library_clips: list, fps: float) -> None:
    clip = next(c for c in library_clips if c.meta.id == "dataset-1_byebye_normal_001")
    joints = clip.joints
    if fps != 20.0:  # the same motion sampled at 60 fps (linear interpolation)
        t_src = np.arange(len(joints)) / 20.0
        t_new = np.arange(0, t_src[-1] + 1e-9, 1 / fps)
        joints = np.stack(
            [np.stack([np.interp(t_new, t_src, joints[:, j, a]) for a in range(3)], -1) for j in range(22)], 1
        )
    d = describe(searcher, joints, fps, k=3, k_similar=4)
    assert len(d.similar) == 4
    assert d.similar[0].clip_id == clip.meta.id
    assert d.similar[0].score > 0.99
    assert [h.score for h in d.similar] == sorted((h.score for h in d.similar), reverse=True)
    assert len({h.clip_id for h in d.similar}) == 4


@pytest.mark.parametrize(
    "joints, fps, k, err, match",
    [
        (np.zeros((10, 21, 3)), 20.0, 5, InvalidInputError, "shape"),
        (np.zeros((10, 22, 3)), 0.0, 5, InvalidInputError, "fps"),
        (np.zeros((10, 22, 3)), 20.0, 0, InvalidInputError, "k must"),
        (np.zeros((10, 22, 3)), 20.0, 101, InvalidInputError, "k must"),
        (np.zeros((12001, 22, 3)), 20.0, 5, InvalidInputError, "limit"),
        (np.full((10, 22, 3), np.nan), 20.0, 5, MotionDataError, "non-finite|NaN"),
    ],
)
def test_describe_bad_input(
    searcher: Searcher, joints: np.ndarray, fps: float, k: int, err: type, match: str
) -> None:
    with pytest.raises(err, match=match):
        describe(searcher, joints, fps, k=k)
