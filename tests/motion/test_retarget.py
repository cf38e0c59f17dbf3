"""Rig -> SMPL-22 mapping contract (backend.motion.kinematics.retarget).

* Names are matched case/separator-insensitively with sides from Left/Right/L/R prefixes and .L/_L suffixes.
* Each rig of the shared datasets (and Mixamo / Blender metarig / SMPL-named rigs) is recognised and every
  SMPL joint lands on the anatomically matching source joint (collar = clavicle, shoulder = upper arm,
  foot = toe base), with weighted interpolation where the rig lacks a joint; weights sum to 1.
* The mapped spine joints lie in order along the pelvis -> neck path on real data.
* Overrides replace entries; an unmappable rig raises RigMappingError listing every missing joint.
"""

from __future__ import annotations

import numpy as np
import pytest

from backend.errors import RigMappingError
from backend.motion.io.bvh import read_bvh
from backend.motion.kinematics.fk import forward_kinematics, point_names
from backend.motion.kinematics.retarget import apply_mapping, detect_rig, map_joints, normalise_name
from backend.motion.kinematics.skeleton import JOINT_INDEX, SMPL_JOINT_NAMES

RIGS = [
    ("bandai1", "dataset/Bandai-Namco-Research-Motiondataset-1/data/dataset-1_walk_normal_001.bvh", "bandai"),
    ("bandai2", "dataset/Bandai-Namco-Research-Motiondataset-2/data/dataset-2_walk_normal_001.bvh", "bandai"),
    ("cmu_samples", "TMoCo/InverseKinematics/bvh/02_01.bvh", "cmu_motionbuilder"),
    ("cmu_samples", "yuki-koyama/bvh11/resources/131_03.bvh", "cmu_3dsmax"),
    ("cmu_iclone", "All_BVH/subjects/002/002_01.bvh", "character_creator"),
    ("cmu_iclone", "All_BVH/subjects/007/007_03.bvh", "character_creator"),
    ("reactidle", "genuine/003_genuine.bvh", "simple_metarig"),
    ("cmu_cgspeed", "data/08/08_01.bvh", "cmu_motionbuilder"),
    ("cmu_daz", "data/13/13_10.bvh", "daz"),
    ("cmu_daz", "data/16/16_01.bvh", "acclaim"),  # a Daz-folder file that keeps CMU's ASF bone names
]

# SMPL joint -> source name it must map to with weight 1 (per rig)
EXPECTED = {
    "bandai": {
        "pelvis": "Hips",
        "left_hip": "UpperLeg_L",
        "left_knee": "LowerLeg_L",
        "left_ankle": "Foot_L",
        "left_foot": "Toes_L",
        "left_collar": "Shoulder_L",
        "left_shoulder": "UpperArm_L",
        "right_elbow": "LowerArm_R",
        "right_wrist": "Hand_R",
        "neck": "Neck",
        "head": "Head",
    },
    "cmu_motionbuilder": {
        "pelvis": "Hips",
        "left_hip": "LeftUpLeg",
        "left_knee": "LeftLeg",
        "left_ankle": "LeftFoot",
        "left_foot": "LeftToeBase",
        "left_shoulder": "LeftArm",
        "right_elbow": "RightForeArm",
        "right_wrist": "RightHand",
        "neck": "Neck1",
    },
    "cmu_3dsmax": {
        "pelvis": "Hips",
        "left_hip": "LeftHip",
        "left_knee": "LeftKnee",
        "left_ankle": "LeftAnkle",
        "left_foot": "LeftToe",
        "left_shoulder": "LeftShoulder",
        "right_elbow": "RightElbow",
        "right_wrist": "RightWrist",
        "neck": "Neck",
        "head": "Head",
    },
    "character_creator": {
        "pelvis": "CC_Base_Hip",
        "left_hip": "CC_Base_L_Thigh",
        "left_knee": "CC_Base_L_Calf",
        "left_ankle": "CC_Base_L_Foot",
        "left_foot": "CC_Base_L_ToeBase",
        "left_collar": "CC_Base_L_Clavicle",
        "left_shoulder": "CC_Base_L_Upperarm",
        "right_wrist": "CC_Base_R_Hand",
        "spine1": "CC_Base_Spine01",
        "neck": "CC_Base_NeckTwist01",
    },
    "daz": {
        "pelvis": "hip",
        "left_hip": "lThigh",
        "left_knee": "lShin",
        "left_ankle": "lFoot",
        "left_foot": "lFoot/end",
        "left_collar": "lCollar",
        "left_shoulder": "lShldr",
        "right_elbow": "rForeArm",
        "right_wrist": "rHand",
        "spine1": "abdomen",
        "spine3": "chest",
        "neck": "neck",
        "head": "head",
    },
    "acclaim": {
        "pelvis": "hip",
        "left_hip": "lfemur",
        "left_knee": "ltibia",
        "left_ankle": "lfoot",
        "left_foot": "ltoes",
        "left_shoulder": "lhumerus",
        "right_elbow": "rradius",
        "right_wrist": "rwrist",
        "neck": "upperneck",
        "head": "head",
    },
    "simple_metarig": {
        "pelvis": "pelvis",
        "left_hip": "thigh.L",
        "right_knee": "shin.R",
        "left_ankle": "foot.L",
        "left_foot": "foot.L/end",
        "left_shoulder": "upper_arm.L",
        "right_elbow": "forearm.R",
        "left_wrist": "forearm.L/end",
        "head": "face",
    },
}


@pytest.mark.parametrize(
    "name, expected",
    [
        ("LeftUpLeg", ("l", "upleg", False)),
        ("mixamorig:RightHand", ("r", "hand", False)),
        ("CC_Base_L_Thigh", ("l", "thigh", False)),
        ("CC_Base_Spine01", ("", "spine01", False)),
        ("thigh.L", ("l", "thigh", False)),
        ("upper_arm.R", ("r", "upperarm", False)),
        ("UpperArm_L", ("l", "upperarm", False)),
        ("LHipJoint", ("l", "hipjoint", False)),
        ("LowerBack", ("", "lowerback", False)),
        ("lowerback", ("", "lowerback", False)),
        ("left_collar", ("l", "collar", False)),
        ("Bip01 R Forearm", ("r", "forearm", False)),
        ("DEF-shin.L", ("l", "shin", False)),
        ("Hand_Left", ("l", "hand", False)),
        ("spine.001", ("", "spine001", False)),
        ("forearm.L/end", ("l", "forearm", True)),
    ],
)
def test_normalise_name(name, expected) -> None:
    assert normalise_name(name) == expected


@pytest.mark.parametrize("fixture, rel, rig", RIGS)
def test_real_rigs_map_anatomically(request, fixture, rel, rig) -> None:
    data = read_bvh(request.getfixturevalue(fixture) / rel)
    names = point_names(data)
    assert detect_rig(names) == rig
    mapping = map_joints(names)
    assert list(mapping) == list(SMPL_JOINT_NAMES)
    for smpl, entries in mapping.items():
        assert sum(w for _, w in entries) == pytest.approx(1.0)
        assert all(0 <= i < len(names) and w > 0 for i, w in entries)
    for smpl, src in EXPECTED[rig].items():
        assert [(names[i], w) for i, w in mapping[smpl]] == [(src, 1.0)], smpl
    # mirrored joints map to mirrored sources
    for smpl in SMPL_JOINT_NAMES:
        if smpl.startswith("left_"):
            left = [normalise_name(names[i]) for i, _ in mapping[smpl]]
            right = [normalise_name(names[i]) for i, _ in mapping["right_" + smpl[5:]]]
            assert [b for _, b, _ in left] == [b for _, b, _ in right]


@pytest.mark.parametrize("fixture, rel, rig", RIGS)
def test_mapped_spine_is_ordered_between_pelvis_and_neck(request, fixture, rel, rig) -> None:
    data = read_bvh(request.getfixturevalue(fixture) / rel)
    names = point_names(data)
    smpl = apply_mapping(forward_kinematics(data, with_end_sites=True), map_joints(names))
    assert smpl.shape == (data.num_frames, 22, 3)
    chain = [JOINT_INDEX[n] for n in ("pelvis", "spine1", "spine2", "spine3", "neck", "head")]
    axis = np.median(smpl[:, JOINT_INDEX["neck"]] - smpl[:, JOINT_INDEX["pelvis"]], axis=0)
    axis /= np.linalg.norm(axis)
    heights = np.median(smpl[:, chain] @ axis, axis=0)
    assert np.all(np.diff(heights) > 0), heights  # pelvis < spine1 < spine2 < spine3 < neck < head
    # the collars sit between the spine and the shoulders, on the correct side
    for side in ("left", "right"):
        collar, shoulder = smpl[:, JOINT_INDEX[f"{side}_collar"]], smpl[:, JOINT_INDEX[f"{side}_shoulder"]]
        centre = smpl[:, JOINT_INDEX["spine3"]]
        assert np.median(np.linalg.norm(shoulder - collar, axis=-1)) < np.median(
            np.linalg.norm(shoulder - centre, axis=-1)
        )


def _mixamo_names() -> list[str]:
    body = ["Hips", "Spine", "Spine1", "Spine2", "Neck", "Head", "HeadTop_End"]
    limbs = ["Shoulder", "Arm", "ForeArm", "Hand", "UpLeg", "Leg", "Foot", "ToeBase"]
    return [f"mixamorig:{n}" for n in body] + [f"mixamorig:{s}{n}" for s in ("Left", "Right") for n in limbs]


def _rigify_names() -> list[str]:
    body = ["spine", "spine.001", "spine.002", "spine.003", "spine.004", "spine.005", "spine.006"]
    limbs = ["thigh", "shin", "foot", "toe", "shoulder", "upper_arm", "forearm", "hand", "pelvis"]
    return body + [f"{n}.{s}" for s in "LR" for n in limbs]


def _smpl_names() -> list[str]:
    return list(reversed(SMPL_JOINT_NAMES))


@pytest.mark.parametrize(
    "names, rig, checks",
    [
        (
            _mixamo_names(),
            "mixamo",
            {
                "left_foot": "mixamorig:LeftToeBase",
                "left_collar": "mixamorig:LeftShoulder",
                "spine1": "mixamorig:Spine",
                "left_shoulder": "mixamorig:LeftArm",
            },
        ),
        (
            _rigify_names(),
            "rigify_metarig",
            {
                "pelvis": "spine",
                "neck": "spine.004",
                "head": "spine.006",
                "left_foot": "toe.L",
                "left_wrist": "hand.L",
            },
        ),
        (_smpl_names(), "smpl", {n: n for n in SMPL_JOINT_NAMES}),
    ],
)
def test_other_rig_families(names, rig, checks) -> None:
    assert detect_rig(names) == rig
    mapping = map_joints(names)
    for smpl, src in checks.items():
        assert [(names[i], w) for i, w in mapping[smpl]] == [(src, 1.0)]


def test_override_replaces_entries(cmu_samples) -> None:
    names = point_names(read_bvh(cmu_samples / "TMoCo/InverseKinematics/bvh/02_01.bvh"))
    mapping = map_joints(names, {"neck": "Neck", "spine2": [("Spine", 1.0), ("Spine1", 3.0)]})
    assert mapping["neck"] == ((names.index("Neck"), 1.0),)
    assert dict(mapping["spine2"]) == {names.index("Spine"): 0.25, names.index("Spine1"): 0.75}
    # normalised spelling is accepted too
    assert map_joints(names, {"head": "head"})["head"] == ((names.index("Head"), 1.0),)


def test_bad_overrides(cmu_samples) -> None:
    names = point_names(read_bvh(cmu_samples / "TMoCo/InverseKinematics/bvh/02_01.bvh"))
    with pytest.raises(RigMappingError, match="'nose' is not an SMPL joint"):
        map_joints(names, {"nose": "Head"})
    with pytest.raises(RigMappingError, match="no joint 'Tail'"):
        map_joints(names, {"head": "Tail"})
    with pytest.raises(RigMappingError, match="unknown rig 'robot'"):
        map_joints(names, rig="robot")


def test_rig_without_arms_lists_every_missing_joint(bandai1) -> None:
    data = read_bvh(bandai1 / RIGS[0][1])
    names = [n for n in point_names(data) if not any(k in n for k in ("Arm", "Hand", "Shoulder"))]
    missing = [
        "left_collar",
        "right_collar",
        "left_shoulder",
        "right_shoulder",
        "left_elbow",
        "right_elbow",
        "left_wrist",
        "right_wrist",
    ]
    with pytest.raises(RigMappingError) as err:
        map_joints(names)
    msg = str(err.value)
    assert f"cannot map {len(missing)} SMPL joint(s)" in msg
    assert all(m in msg for m in missing) and "left_hip" not in msg.split("rig joints:")[0]
    # the override fills what is missing (here: every arm joint onto the chest, a degenerate but legal map)
    fixed = map_joints(names, {m: "Chest" for m in missing})
    assert fixed["left_wrist"] == ((names.index("Chest"), 1.0),)


def test_unknown_rig_falls_back_to_generic_aliases() -> None:
    names = ["Root", "Pelvis", "Abdomen", "Chest", "Neck", "Head"] + [
        f"{s}{n}"
        for s in ("L", "R")
        for n in ("Thigh", "Shin", "Ankle", "Toe", "Clavicle", "UpperArm", "Forearm", "Wrist")
    ]
    assert detect_rig(names) == "generic"
    mapping = map_joints(names)
    got = {k: [names[i] for i, _ in v] for k, v in mapping.items()}
    assert got["left_hip"] == ["LThigh"] and got["left_ankle"] == ["LAnkle"] and got["left_foot"] == ["LToe"]
    assert got["left_collar"] == ["LClavicle"] and got["right_wrist"] == ["RWrist"]
    assert got["spine1"] == ["Abdomen"] and got["spine3"] == ["Chest"]
    assert sorted(got["spine2"]) == ["Abdomen", "Chest"]  # interpolated between the SMPL neighbours


def _angles_deg_error(a: np.ndarray, b: np.ndarray) -> float:
    from backend.motion.kinematics.angles import joint_angles

    x, y = joint_angles(a), joint_angles(b)
    n = min(len(x), len(y))
    d = np.abs(x[:n, 3:] - y[:n, 3:])  # the 26 rotation channels (the first 3 are the root position)
    return float(np.degrees(np.minimum(d, 2 * np.pi - d)).mean())


def test_daz_rig_gives_the_same_joint_angles_as_the_cgspeed_copy(cmu_cgspeed, cmu_daz, cmu_iclone) -> None:
    """The same CMU takes on three rigs: the Daz mapping agrees with cgspeed's at least as well as iClone's."""
    from backend.motion.convert import bvh_to_clip

    daz, iclone = [], []
    for trial in ("02_01", "07_01", "06_01", "02_02", "05_01", "07_02"):
        s, t = trial.split("_")
        ref = bvh_to_clip(cmu_cgspeed / f"data/{s}/{trial}.bvh").joints
        daz.append(_angles_deg_error(ref, bvh_to_clip(cmu_daz / f"data/{s}/{trial}.bvh").joints))
        other = cmu_iclone / f"All_BVH/subjects/0{s}/0{s}_{t}.bvh"
        iclone.append(_angles_deg_error(ref, bvh_to_clip(other).joints))
    # measured: 7.6 deg (Daz) vs 8.2 deg (iClone) mean absolute joint-angle difference
    assert np.mean(daz) < 10.0 and np.mean(daz) <= np.mean(iclone) + 1.0, (daz, iclone)
