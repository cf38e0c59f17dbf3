"""BVH <-> canonical clip contract (backend.motion.convert).

* bvh_to_clip turns a real clip of every rig into a plausible canonical human: adult head heights, feet on
  the floor, facing +Z with the left side at +X at frame 0, walks moving forward, a raised *left* hand on the
  left; metadata filled (id, source, dataset, fps of origin, duration).
* clip_to_bvh writes an SMPL-22 BVH (SMPL joint names, 20 fps, metres, pelvis with positions) that reads
  back through read_bvh + FK to the clip's positions within millimetres, and bvh_to_clip of that file gives
  the clip back; the rotation-only variant stays within a few millimetres on average.
* joints_to_clip canonicalises SMPL-22 arrays and rejects bad shapes / values; bad files and unmappable rigs
  raise errors that name the file and the problem.
"""

from __future__ import annotations

import numpy as np
import pytest

from backend.errors import BvhError, MotionDataError, RigMappingError
from backend.motion.bvh_solve import positions_to_bvh
from backend.motion.clip import Clip, ClipMeta
from backend.motion.convert import bvh_to_clip, clip_to_bvh, joints_to_clip
from backend.motion.io.bvh import read_bvh
from backend.motion.kinematics.canonical import facing_direction
from backend.motion.kinematics.fk import forward_kinematics
from backend.motion.kinematics.skeleton import JOINT_INDEX, SMPL_JOINT_NAMES

J = JOINT_INDEX
FEET = [J["left_ankle"], J["right_ankle"], J["left_foot"], J["right_foot"]]
B1 = "dataset/Bandai-Namco-Research-Motiondataset-1/data/"
B2 = "dataset/Bandai-Namco-Research-Motiondataset-2/data/"

# (fixture, relative path, is a forward walk, fps)
CLIPS = {
    "bandai1_walk": ("bandai1", B1 + "dataset-1_walk_normal_001.bvh", True, 30.0),
    "bandai2_walk": ("bandai2", B2 + "dataset-2_walk_normal_001.bvh", True, 30.0),
    "cmu_mb_walk": ("cmu_samples", "TMoCo/InverseKinematics/bvh/02_01.bvh", True, 120.0),
    "cmu_3dsmax_walk": ("cmu_samples", "yuki-koyama/bvh11/resources/131_02.bvh", True, 120.0),
    "iclone_walk": ("cmu_iclone", "All_BVH/subjects/002/002_01.bvh", True, 60.0),
    "iclone_rest_frame": ("cmu_iclone", "All_BVH/subjects/007/007_03.bvh", True, 60.0),
    "reactidle_idle": ("reactidle", "genuine/003_genuine.bvh", False, 24.0),
}


@pytest.fixture(scope="module")
def clips(request) -> dict[str, Clip]:
    out = {}
    for key, (fixture, rel, _, _) in CLIPS.items():
        out[key] = bvh_to_clip(request.getfixturevalue(fixture) / rel, dataset=fixture)
    return out


@pytest.mark.parametrize("key", list(CLIPS))
def test_real_clips_are_plausible_humans(clips, key) -> None:
    _, rel, walks, fps = CLIPS[key]
    clip = clips[key]
    x = clip.joints
    assert x.dtype == np.float32 and x.ndim == 3 and x.shape[1:] == (22, 3) and x.shape[0] > 10
    assert clip.meta.id == rel.rsplit("/", 1)[1][:-4] and clip.meta.source == rel.rsplit("/", 1)[1]
    assert clip.meta.fps_orig == pytest.approx(fps, rel=1e-3)
    assert clip.meta.duration == pytest.approx(x.shape[0] / 20.0)
    head = np.median(x[:, J["head"], 1])
    assert 1.15 < head < 1.8, head  # head joint of an adult, standing
    assert 0.6 < x[0, J["pelvis"], 1] < 1.1
    assert np.all(
        np.median(x[:, [J["pelvis"], J["neck"], J["head"]], 1], axis=0)
        == np.sort(np.median(x[:, [J["pelvis"], J["neck"], J["head"]], 1], axis=0))
    )
    lowest = x[:, FEET, 1].min(axis=1)
    assert lowest.min() == pytest.approx(0.0, abs=1e-5)
    # feet on the floor (within the height of the ankle/toe joints above the sole; CMU floors slope a little)
    assert np.median(lowest) < 0.08 and lowest.max() < 0.25, (np.median(lowest), lowest.max())
    np.testing.assert_allclose(x[0, J["pelvis"], [0, 2]], 0.0, atol=1e-5)
    np.testing.assert_allclose(facing_direction(x[0]), [0, 0, 1], atol=1e-5)
    assert x[0, J["left_hip"], 0] > 0 > x[0, J["right_hip"], 0]
    # toes point forward (+Z) relative to the ankles at frame 0
    assert (
        np.mean(x[0, [J["left_foot"], J["right_foot"]], 2] - x[0, [J["left_ankle"], J["right_ankle"]], 2]) > 0
    )
    if walks:
        travel = x[-1, J["pelvis"]] - x[0, J["pelvis"]]
        assert travel[2] > 1.0 and abs(travel[0]) < 0.5 * travel[2], travel


def test_raised_left_hand_is_on_the_left(bandai2) -> None:
    clip = bvh_to_clip(bandai2 / (B2 + "dataset-2_raise-up-left-hand_normal_001.bvh"))
    x = clip.joints
    top = x[:, J["left_wrist"], 1].argmax()
    assert x[top, J["left_wrist"], 1] > x[top, J["head"], 1]  # the left hand goes above the head
    assert x[:, J["right_wrist"], 1].max() < x[top, J["right_shoulder"], 1]
    assert x[top, J["left_wrist"], 0] > x[top, J["right_wrist"], 0]  # ... on the +X (left) side


def test_rest_frame_is_dropped_by_default(cmu_iclone) -> None:
    path = cmu_iclone / CLIPS["iclone_rest_frame"][1]
    kept = bvh_to_clip(path, drop_rest_frame=False).joints
    dropped = bvh_to_clip(path).joints
    step = np.linalg.norm(np.diff(kept, axis=0), axis=-1).max(axis=1)
    assert step[0] > 0.5  # the prepended rest pose teleports
    assert np.linalg.norm(dropped[1] - dropped[0], axis=-1).max() < 0.3


def _by_name(path) -> np.ndarray:
    data = read_bvh(path)
    pts = forward_kinematics(data)
    return pts[:, [data.names.index(n) for n in SMPL_JOINT_NAMES]], data


@pytest.mark.parametrize("key", list(CLIPS))
def test_clip_to_bvh_round_trip(clips, key, tmp_path) -> None:
    clip = clips[key]
    clip = Clip(clip.joints[:400], clip.meta)  # keep the long idle clip quick
    out = tmp_path / f"{key}.bvh"
    clip_to_bvh(clip, out)
    assert [p.name for p in tmp_path.iterdir()] == [out.name]
    pts, data = _by_name(out)
    assert sorted(data.names) == sorted(SMPL_JOINT_NAMES) and data.names[0] == "pelvis"
    assert data.fps == pytest.approx(20.0) and data.num_frames == clip.num_frames
    assert data.channels[0][:3] == ("Xposition", "Yposition", "Zposition")
    leaves = {"head", "left_wrist", "right_wrist", "left_foot", "right_foot"}
    assert {data.names[j] for j in data.end_sites} == leaves
    err = np.linalg.norm(pts - clip.joints, axis=-1)
    assert err.mean() < 1e-3 and err.max() < 0.01, (err.mean(), err.max())
    # and our own importer gives the clip back (SMPL names, metres)
    again = bvh_to_clip(out)
    np.testing.assert_allclose(again.joints, clip.joints, atol=0.01)


@pytest.mark.parametrize("key", ["bandai1_walk", "cmu_mb_walk", "iclone_walk", "reactidle_idle"])
def test_rotation_only_bvh_is_close(clips, key) -> None:
    joints = clips[key].joints[:400]
    data = positions_to_bvh(joints, exact=False)
    assert all(not any(c.endswith("position") for c in ch) for ch in data.channels[1:])
    err = np.linalg.norm(forward_kinematics(data) - joints, axis=-1)
    assert err.mean() < 3e-3 and np.percentile(err, 99) < 0.02, (err.mean(), np.percentile(err, 99))


def test_joints_to_clip(clips) -> None:
    canon = clips["bandai1_walk"].joints.astype(np.float64)
    # the same motion at 60 fps, turned and shifted: canonicalises back to the 20 fps clip
    t = np.arange(canon.shape[0] * 3 - 2) / 3.0
    i0 = np.minimum(np.floor(t).astype(int), canon.shape[0] - 1)
    i1 = np.minimum(i0 + 1, canon.shape[0] - 1)
    up = canon[i0] + (t - i0)[:, None, None] * (canon[i1] - canon[i0])
    c, s = np.cos(1.0), np.sin(1.0)
    moved = up @ np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]]).T + [2.0, 0.5, -3.0]
    clip = joints_to_clip(moved, 60.0, clip_id="q1")
    assert clip.meta.id == "q1" and clip.meta.fps_orig == 60.0 and clip.joints.dtype == np.float32
    np.testing.assert_allclose(clip.joints, canon, atol=1e-4)
    with pytest.raises(MotionDataError, match=r"\(T, 22, 3\), got \(10, 21, 3\)"):
        joints_to_clip(np.zeros((10, 21, 3)), 20.0)
    with pytest.raises(MotionDataError, match="zero frames"):
        joints_to_clip(np.zeros((0, 22, 3)), 20.0)
    bad = canon.copy()
    bad[3, 4, 0] = np.nan
    with pytest.raises(MotionDataError, match="non-finite"):
        joints_to_clip(bad, 20.0)
    with pytest.raises(MotionDataError, match="absurd frame rate"):
        joints_to_clip(canon, 0.0)


def test_bad_files_name_the_file(bandai1, tmp_path) -> None:
    src = (bandai1 / CLIPS["bandai1_walk"][1]).read_text()
    truncated = tmp_path / "truncated.bvh"
    truncated.write_text(src[: len(src) // 2])
    with pytest.raises(BvhError, match=r"truncated\.bvh:\d+: truncated file"):
        bvh_to_clip(truncated)
    # a creature whose arms have unknown names: every arm joint is reported, with the file
    alien = tmp_path / "alien.bvh"
    alien.write_text(src.replace("Arm_", "Wing_").replace("Hand_", "Claw_").replace("Shoulder_", "Fin_"))
    with pytest.raises(RigMappingError, match=r"alien\.bvh: cannot map 8 SMPL joint\(s\)") as err:
        bvh_to_clip(alien)
    assert all(n in str(err.value) for n in ("left_collar", "right_shoulder", "left_elbow", "right_wrist"))
    mapping = {
        f"{side}_{smpl}": f"{src}_{s}"
        for side, s in (("left", "L"), ("right", "R"))
        for smpl, src in (
            ("collar", "Fin"),
            ("shoulder", "UpperWing"),
            ("elbow", "LowerWing"),
            ("wrist", "Claw"),
        )
    }
    fixed = bvh_to_clip(alien, mapping=mapping, rig="bandai", clip_id="alien")  # Bandai's profile + override
    np.testing.assert_allclose(
        fixed.joints, bvh_to_clip(bandai1 / CLIPS["bandai1_walk"][1]).joints, atol=1e-6
    )


def test_clip_to_bvh_errors(tmp_path) -> None:
    clip = Clip(np.zeros((5, 21, 3), np.float32), ClipMeta(id="bad"))
    with pytest.raises(MotionDataError, match="'bad'"):
        clip_to_bvh(clip, tmp_path / "x.bvh")
    ok = Clip(np.random.default_rng(0).normal(size=(5, 22, 3)).astype(np.float32), ClipMeta(id="ok"))
    with pytest.raises(BvhError, match="cannot write"):
        clip_to_bvh(ok, tmp_path / "no_such_dir" / "x.bvh")
