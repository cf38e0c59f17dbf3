"""HumanML3D / KIT-ML official layouts (backend.motion.datasets.humanml3d, backend.motion.datasets.kitml).

Fixture folders are written here, in tmp_path, from real BVH clips of the shared datasets converted to the
canonical form (and, for KIT-ML, to KIT's 21 joints in millimetres at 12.5 fps), never from AMASS data.

* Whole-motion captions (``#0.0#0.0`` or NaN) share one item; every other from/to range becomes its own,
  re-canonicalised item with its frames cut at ``int(seconds * fps)``; tokens are kept per caption.
* KIT-21 millimetres at 12.5 fps come back as canonical SMPL-22 metres at 20 fps via KIT_TO_SMPL.
* Missing folders / split files / listed files and malformed lines raise DatasetError naming them.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from backend.errors import DatasetError
from backend.motion.convert import bvh_to_clip
from backend.motion.datasets.humanml3d import load_humanml3d, read_texts
from backend.motion.datasets.kitml import load_kitml
from backend.motion.kinematics.canonical import canonicalise, facing_direction, resample
from backend.motion.kinematics.skeleton import JOINT_INDEX, KIT_JOINT_NAMES, KIT_TO_SMPL

J = JOINT_INDEX
B1 = "dataset/Bandai-Namco-Research-Motiondataset-1/data/"


@pytest.fixture(scope="module")
def real_clips(bandai1, cmu_samples, reactidle) -> dict[str, np.ndarray]:
    return {
        "000001": bvh_to_clip(bandai1 / (B1 + "dataset-1_walk_normal_001.bvh")).joints,
        "000002": bvh_to_clip(cmu_samples / "TMoCo/InverseKinematics/bvh/02_01.bvh").joints,
        "000003": bvh_to_clip(reactidle / "genuine/003_genuine.bvh").joints[:200],
    }


TEXTS = {
    "000001": [
        "a person walks forward.#a/DET person/NOUN walk/VERB forward/ADV#0.0#0.0",
        (
            "someone strolls ahead at a steady pace#someone/PRON stroll/VERB ahead/ADV at/ADP "
            "a/DET steady/ADJ pace/NOUN#0.0#0.0"
        ),
        "a man starts walking#a/DET man/NOUN start/VERB walk/VERB#0.0#1.5",
        "the person takes the first steps#the/DET person/NOUN take/VERB the/DET first/ADJ step/NOUN#0.0#1.5",
        "a person keeps walking#a/DET person/NOUN keep/VERB walk/VERB#2.0#4.0",
        "",
    ],
    "000002": ["a person walks in a straight line#a/DET person/NOUN walk/VERB#nan#nan"],
    "000003": ["a person stands idle and looks around#a/DET person/NOUN stand/VERB#0.0#0.0"],
}


def _write_humanml3d(root, clips) -> None:
    (root / "new_joints").mkdir(parents=True)
    (root / "texts").mkdir()
    for mid, joints in clips.items():
        np.save(root / "new_joints" / f"{mid}.npy", joints)
        (root / "texts" / f"{mid}.txt").write_text("\n".join(TEXTS[mid]) + "\n")
    (root / "train.txt").write_text("000001\n000002\n")
    (root / "test.txt").write_text("000003\n")
    (root / "val.txt").write_text("000002\n999999\n")


def test_read_texts(tmp_path) -> None:
    p = tmp_path / "t.txt"
    p.write_text("\n".join(TEXTS["000001"]))
    anns = read_texts(p)
    assert len(anns) == 5 and anns[0].whole and not anns[2].whole
    assert anns[0].tokens == ("a/DET", "person/NOUN", "walk/VERB", "forward/ADV")
    assert (anns[4].start, anns[4].end) == (2.0, 4.0)
    p.write_text("fine#a/DET#0.0#0.0\nbroken line without fields\n")
    with pytest.raises(DatasetError, match=r"t\.txt:2: expected 'caption#tokens#from#to'"):
        read_texts(p)
    p.write_text("bad numbers#a/DET#zero#1.0\n")
    with pytest.raises(DatasetError, match=r"t\.txt:1: malformed from/to"):
        read_texts(p)


def test_load_humanml3d_items_and_segments(tmp_path, real_clips) -> None:
    root = tmp_path / "HumanML3D"
    _write_humanml3d(root, real_clips)
    items = load_humanml3d(root, "train")
    assert [it.id for it in items] == ["000001", "000001_0_30", "000001_40_80", "000002"]
    whole = items[0]
    assert whole.captions == ["a person walks forward.", "someone strolls ahead at a steady pace"]
    assert whole.clip.meta.captions == whole.captions and whole.clip.meta.dataset == "humanml3d"
    assert whole.tokens[1][:2] == ("someone/PRON", "stroll/VERB") and whole.motion_id == "000001"
    np.testing.assert_allclose(whole.clip.joints, real_clips["000001"], atol=1e-5)  # already canonical
    assert items[3].captions == ["a person walks in a straight line"]  # NaN range = whole motion
    np.testing.assert_allclose(items[3].clip.joints, real_clips["000002"], atol=1e-5)

    first, later = items[1], items[2]
    assert first.captions == ["a man starts walking", "the person takes the first steps"]
    assert first.clip.num_frames == 30 and (first.start, first.end) == (0.0, 1.5)
    assert later.clip.num_frames == 40 and (later.start, later.end) == (2.0, 4.0)
    for item, (a, b) in ((first, (0, 30)), (later, (40, 80))):
        x = item.clip.joints
        np.testing.assert_allclose(x[0, J["pelvis"], [0, 2]], 0.0, atol=1e-5)
        np.testing.assert_allclose(facing_direction(x[0]), [0, 0, 1], atol=1e-5)
        assert x[:, [7, 8, 10, 11], 1].min() == pytest.approx(0.0, abs=1e-6)
        # the same motion up to a rigid move: pairwise joint distances are unchanged
        src = real_clips["000001"][a:b]
        d_item = np.linalg.norm(x[:, :, None] - x[:, None], axis=-1)
        d_src = np.linalg.norm(src[:, :, None] - src[:, None], axis=-1)
        np.testing.assert_allclose(d_item, d_src, atol=1e-5)
    # a later segment starts where the walker had got to, re-centred: its raw start is not the origin
    assert np.abs(real_clips["000001"][40, J["pelvis"], [0, 2]]).max() > 0.5

    test_items = load_humanml3d(root, "test")
    assert [it.id for it in test_items] == ["000003"] and test_items[0].clip.num_frames == 200
    assert [it.id for it in load_humanml3d(root, "train", min_frames=35)] == [
        "000001",
        "000001_40_80",
        "000002",
    ]


def test_humanml3d_errors(tmp_path, real_clips) -> None:
    root = tmp_path / "HumanML3D"
    with pytest.raises(DatasetError, match="dataset folder not found"):
        load_humanml3d(root, "train")
    _write_humanml3d(root, real_clips)
    with pytest.raises(DatasetError, match=r"999999\.npy: file not found \(listed in .*val\.txt\)"):
        load_humanml3d(root, "val")
    assert [it.id for it in load_humanml3d(root, "val", skip_missing=True)] == ["000002"]
    with pytest.raises(DatasetError, match=r"train_val\.txt: split file not found"):
        load_humanml3d(root, "train_val")
    with pytest.raises(DatasetError, match="invalid split name"):
        load_humanml3d(root, "../train")
    np.save(root / "new_joints" / "000003.npy", np.zeros((10, 21, 3)))
    with pytest.raises(DatasetError, match=r"000003\.npy: expected joints of shape \(T, 22, 3\)"):
        load_humanml3d(root, "test")
    bad = np.array(real_clips["000003"])
    bad[5, 3, 1] = np.nan
    np.save(root / "new_joints" / "000003.npy", bad)
    with pytest.raises(DatasetError, match=r"000003\.npy: non-finite"):
        load_humanml3d(root, "test")
    (root / "texts" / "000003.txt").unlink()
    with pytest.raises(DatasetError, match=r"texts/000003\.txt: file not found"):
        load_humanml3d(root, "test")
    (root / "texts").rename(root / "captions")
    with pytest.raises(DatasetError, match=r"texts: folder not found"):
        load_humanml3d(root, "train")


def _smpl_to_kit(joints: np.ndarray) -> np.ndarray:
    """Inverse of the one-to-one entries of KIT_TO_SMPL; KIT toes extrapolated beyond the metatarsals."""
    kit = np.zeros((joints.shape[0], len(KIT_JOINT_NAMES), 3))
    filled = set()
    for smpl, entries in KIT_TO_SMPL.items():
        if len(entries) == 1:
            kit[:, entries[0][0]] = joints[:, J[smpl]]
            filled.add(entries[0][0])
    for toe, meta, ankle in ((15, 14, 13), (20, 19, 18)):
        kit[:, toe] = kit[:, meta] + 0.5 * (kit[:, meta] - kit[:, ankle])
        filled.add(toe)
    assert filled == set(range(len(KIT_JOINT_NAMES)))
    return kit


def test_load_kitml_from_real_cmu_clip(tmp_path, cmu_samples, kitml_annotations) -> None:
    ann = json.loads((kitml_annotations / "datasets/annotations/kitml/annotations.json").read_text())
    kid, entry = next((k, v) for k, v in ann.items() if v["path"] == "CMU/131/131_03_poses")
    canon = bvh_to_clip(cmu_samples / "yuki-koyama/bvh11/resources/131_03.bvh").joints.astype(np.float64)
    kit_mm = _smpl_to_kit(resample(canon, 20.0, 12.5)) * 1000.0  # KIT-ML: 21 joints, mm, 12.5 fps
    root = tmp_path / "KIT-ML"
    (root / "new_joints").mkdir(parents=True)
    (root / "texts").mkdir()
    np.save(root / "new_joints" / f"{kid}.npy", kit_mm.astype(np.float32))
    lines = [f"{a['text']}##0.0#0.0" for a in entry["annotations"]]
    (root / "texts" / f"{kid}.txt").write_text("\n".join(lines) + "\n")
    (root / "test.txt").write_text(f"{kid}\n")

    items = load_kitml(root, "test")
    assert len(items) == 1 and items[0].id == kid
    item = items[0]
    assert item.captions == [a["text"] for a in entry["annotations"]] and item.tokens == [()]
    meta = item.clip.meta
    assert meta.dataset == "kitml" and meta.fps_orig == 12.5 and meta.source == f"new_joints/{kid}.npy"
    x = item.clip.joints
    back = canonicalise(resample(resample(canon, 20.0, 12.5), 12.5, 20.0), 20.0, 1.0)
    assert x.shape == back.shape and x.dtype == np.float32
    direct = [J[n] for n, e in KIT_TO_SMPL.items() if len(e) == 1]
    np.testing.assert_allclose(x[:, direct], back[:, direct], atol=2e-4)  # mm -> m, 12.5 -> 20 fps
    # SMPL joints KIT lacks are interpolated: spine2 halfway up the KIT torso, collars inside the shoulders
    np.testing.assert_allclose(x[:, J["spine2"]], 0.5 * (x[:, J["spine1"]] + x[:, J["spine3"]]), atol=1e-5)
    assert 1.2 < np.median(x[:, J["head"], 1]) < 1.8
    with pytest.raises(DatasetError, match="train.txt: split file not found"):
        load_kitml(root, "train")
