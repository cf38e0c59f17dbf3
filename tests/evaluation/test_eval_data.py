"""Contract of ``backend.evaluation.data.load_split`` on real clips in the library and HumanML3D layouts.

* A library split yields its clips with captions and labels; only the asked split is read.
* A HumanML3D-layout folder yields one record per (sub-)segment; sub-segments of one motion share a group, so
  training never uses them as each other's negatives.
* ``max_clips`` keeps a seeded subset; bad roots / datasets / empty splits raise ``DatasetError``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from backend.errors import DatasetError
from backend.evaluation.data import crop_bounds, load_split

STEMS = ("dataset-2_walk_normal_001", "dataset-2_run_normal_001", "dataset-2_wave-left-hand_normal_001")


@pytest.fixture(scope="module")
def clips(bandai2: Path):
    from backend.motion.convert import bvh_to_clip

    data = bandai2 / "dataset" / "Bandai-Namco-Research-Motiondataset-2" / "data"
    return [bvh_to_clip(data / f"{stem}.bvh", clip_id=stem.replace("-", "_")) for stem in STEMS]


def test_library_split(clips, tmp_path: Path) -> None:
    from backend.motion.io.library import LibraryWriter

    root = tmp_path / "lib"
    with LibraryWriter(root) as writer:
        for i, clip in enumerate(clips):
            clip.meta.captions = [f"caption {i}", " "]
            clip.meta.labels = {"action": STEMS[i].split("_")[1]}
            clip.meta.split = "test" if i < 2 else "train"
            writer.add(clip)
    records = load_split("library", root, "test")
    assert [r.clip_id for r in records] == sorted(c.meta.id for c in clips[:2])
    assert {tuple(r.captions) for r in records} == {("caption 0",), ("caption 1",)}  # blank caption dropped
    assert records[0].joints.shape[1:] == (22, 3) and records[0].joints.dtype == np.float32
    assert records[0].group == records[0].clip_id
    assert len(load_split("library", root, "test", max_clips=1, seed=3)) == 1
    with pytest.raises(DatasetError, match="'val' has no captioned clips"):
        load_split("library", root, "val")


def test_humanml3d_layout_groups_sub_segments(clips, tmp_path: Path) -> None:
    root = tmp_path / "HumanML3D"
    (root / "new_joints").mkdir(parents=True)
    (root / "texts").mkdir()
    for i, clip in enumerate(clips):
        np.save(root / "new_joints" / f"{i:06d}.npy", clip.joints)
        lines = [f"a person moves number {i}#a/DET person/NOUN#0.0#0.0"]
        if i == 0:  # a caption of the first second only: a sub-segment item
            lines.append("the person starts walking#the/DET person/NOUN#0.0#1.0")
        (root / "texts" / f"{i:06d}.txt").write_text("\n".join(lines) + "\n")
    (root / "test.txt").write_text("000000\n000001\n")
    records = load_split("humanml3d", root, "test")
    assert len(records) == 3
    groups = {r.clip_id: r.group for r in records}
    first = [r for r in records if r.group == "000000"]
    assert len(first) == 2 and len(set(groups.values())) == 2
    segment = next(r for r in first if r.clip_id != "000000")
    assert segment.captions == ["the person starts walking"]
    assert segment.joints.shape[0] == 20  # one second at 20 fps


def test_bad_inputs(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="does not exist"):
        load_split("library", tmp_path / "nope", "test")
    with pytest.raises(DatasetError, match="unknown dataset 'amass'"):
        load_split("amass", tmp_path, "test")


def test_crop_bounds() -> None:
    rng = np.random.default_rng(0)
    starts = {crop_bounds(100, 40, rng)[0] for _ in range(50)}
    assert min(starts) >= 0 and max(starts) <= 60 and len(starts) > 5
    assert crop_bounds(100, 40) == (30, 70)
    assert crop_bounds(30, 40) == (0, 30)
