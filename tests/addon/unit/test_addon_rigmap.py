"""Contract of ``addon/rigmap.py``: bone names -> SMPL joints, validation, JSON presets.

* Our own rig (the SMPL names) maps onto itself.
* Real BVH rigs of the shared datasets (Bandai-Namco, CMU) and the Mixamo / Unreal / Rigify naming
  schemes map every limb joint to the anatomically right bone, including the clashes (Mixamo
  ``LeftFoot`` is the ankle, ``LeftShoulder`` the collar) and the hierarchy-based spine.
* Missing joints are listed by name; derivable ones (spine2 of a two-bone spine) are allowed for sampling.
* Presets round-trip, and broken files raise errors that name the file.
"""

from __future__ import annotations

import doctest
import json
from pathlib import Path

import pytest

from addon import rigmap as rm
from addon.skeleton import SMPL_JOINT_NAMES, SMPL_PARENTS

LIMBS = {
    "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle", "left_foot", "right_foot",
    "left_collar", "right_collar", "left_shoulder", "right_shoulder", "left_elbow", "right_elbow",
    "left_wrist", "right_wrist",
}  # fmt: skip


def _mixamo() -> tuple[list[str], list[int]]:
    bones = [("Hips", None), ("Spine", "Hips"), ("Spine1", "Spine"), ("Spine2", "Spine1"), ("Neck", "Spine2"),
             ("Head", "Neck"), ("HeadTop_End", "Head")]  # fmt: skip
    for s in ("Left", "Right"):
        bones += [(f"{s}Shoulder", "Spine2"), (f"{s}Arm", f"{s}Shoulder"), (f"{s}ForeArm", f"{s}Arm"),
                  (f"{s}Hand", f"{s}ForeArm"), (f"{s}HandIndex1", f"{s}Hand"), (f"{s}HandThumb1", f"{s}Hand"),
                  (f"{s}UpLeg", "Hips"), (f"{s}Leg", f"{s}UpLeg"), (f"{s}Foot", f"{s}Leg"),
                  (f"{s}ToeBase", f"{s}Foot"), (f"{s}Toe_End", f"{s}ToeBase")]  # fmt: skip
    names = ["mixamorig:" + n for n, _ in bones]
    index = {n: i for i, (n, _) in enumerate(bones)}
    return names, [index[p] if p else -1 for _, p in bones]


def _unreal() -> tuple[list[str], list[int]]:
    bones = [("root", None), ("pelvis", "root"), ("spine_01", "pelvis"), ("spine_02", "spine_01"),
             ("spine_03", "spine_02"), ("spine_04", "spine_03"), ("spine_05", "spine_04"), ("neck_01", "spine_05"),
             ("neck_02", "neck_01"), ("head", "neck_02")]  # fmt: skip
    for s in ("l", "r"):
        bones += [(f"clavicle_{s}", "spine_05"), (f"upperarm_{s}", f"clavicle_{s}"), (f"lowerarm_{s}", f"upperarm_{s}"),
                  (f"hand_{s}", f"lowerarm_{s}"), (f"thigh_{s}", "pelvis"), (f"calf_{s}", f"thigh_{s}"),
                  (f"foot_{s}", f"calf_{s}"), (f"ball_{s}", f"foot_{s}")]  # fmt: skip
    index = {n: i for i, (n, _) in enumerate(bones)}
    return [n for n, _ in bones], [index[p] if p else -1 for _, p in bones]


def test_own_rig_maps_onto_itself() -> None:
    m = rm.detect_mapping(SMPL_JOINT_NAMES, SMPL_PARENTS)
    assert m == {n: n for n in SMPL_JOINT_NAMES}
    assert m == rm.detect_mapping(SMPL_JOINT_NAMES)  # the SMPL spine names also work without a hierarchy


def test_mixamo() -> None:
    names, parents = _mixamo()
    m = rm.detect_mapping(names, parents)
    assert rm.missing_joints(m) == []
    expect = {"pelvis": "Hips", "spine1": "Spine", "spine2": "Spine1", "spine3": "Spine2", "neck": "Neck",
              "head": "Head", "left_collar": "LeftShoulder", "left_shoulder": "LeftArm", "left_elbow": "LeftForeArm",
              "left_wrist": "LeftHand", "left_hip": "LeftUpLeg", "left_knee": "LeftLeg", "left_ankle": "LeftFoot",
              "left_foot": "LeftToeBase", "right_ankle": "RightFoot", "right_shoulder": "RightArm"}  # fmt: skip
    for joint, bone in expect.items():
        assert m[joint] == "mixamorig:" + bone, joint


def test_unreal_mannequin() -> None:
    names, parents = _unreal()
    m = rm.detect_mapping(names, parents)
    assert rm.missing_joints(m) == []
    assert (m["pelvis"], m["spine1"], m["spine2"], m["spine3"], m["neck"]) == (
        "pelvis",
        "spine_01",
        "spine_03",
        "spine_05",
        "neck_01",
    )
    assert (m["left_collar"], m["left_shoulder"], m["left_elbow"], m["left_wrist"]) == (
        "clavicle_l",
        "upperarm_l",
        "lowerarm_l",
        "hand_l",
    )
    assert (m["right_hip"], m["right_knee"], m["right_ankle"], m["right_foot"]) == (
        "thigh_r",
        "calf_r",
        "foot_r",
        "ball_r",
    )


def test_rigify_deform_names() -> None:
    names = ["DEF-thigh.L", "DEF-shin.L", "DEF-foot.L", "DEF-toe.L", "DEF-shoulder.L", "DEF-upper_arm.L",
             "DEF-forearm.L", "DEF-hand.L"]  # fmt: skip
    m = rm.detect_mapping(names)
    assert [m[j] for j in ("left_hip", "left_knee", "left_ankle", "left_foot", "left_collar", "left_shoulder",
                           "left_elbow", "left_wrist")] == names  # fmt: skip


def test_real_bvh_rigs(bvh_rigs: dict[str, tuple[list[str], list[int]]]) -> None:
    names, parents = bvh_rigs["bandai"]
    m = rm.detect_mapping(names, parents)
    assert LIMBS <= set(m)
    assert (m["left_ankle"], m["left_foot"], m["left_collar"], m["left_shoulder"]) == (
        "Foot_L",
        "Toes_L",
        "Shoulder_L",
        "UpperArm_L",
    )
    assert (m["pelvis"], m["spine1"], m["spine3"]) == ("Hips", "Spine", "Chest")
    assert rm.missing_joints(m) == ["spine2"] and "spine2" in rm.derivable_joints(m)
    rm.check_mapping(m, names, need_all=True)  # spine2 is interpolated when sampling

    names, parents = bvh_rigs["cmu"]
    m = rm.detect_mapping(names, parents)
    assert rm.missing_joints(m) == []
    assert (m["spine1"], m["spine2"], m["spine3"], m["neck"]) == ("lowerback", "Chest", "Chest2", "Neck")
    assert (m["left_hip"], m["left_wrist"], m["right_foot"]) == ("LeftHip", "LeftWrist", "RightToe")


def test_check_mapping_lists_problems() -> None:
    names, parents = _mixamo()
    m = rm.detect_mapping(names, parents)
    partial = {j: b for j, b in m.items() if not j.startswith("left_")}
    with pytest.raises(rm.RigMapError, match="left_hip.*left_wrist"):
        rm.check_mapping(partial, names, need_all=True)
    rm.check_mapping(partial, names, need_all=False)  # 15 of 22 incl. the pelvis: enough to import onto
    with pytest.raises(rm.RigMapError, match="pelvis is required"):
        rm.check_mapping({"head": m["head"]}, names, need_all=False)
    with pytest.raises(rm.RigMapError, match="NoSuchBone"):
        rm.check_mapping({**m, "head": "NoSuchBone"}, names, need_all=False)
    with pytest.raises(rm.RigMapError, match="unknown joints"):
        rm.check_mapping({"tail": "Hips"}, names, need_all=False)


def test_preset_roundtrip_and_errors(tmp_path: Path) -> None:
    names, parents = _mixamo()
    m = rm.detect_mapping(names, parents)
    path = tmp_path / "presets" / "mixamo.json"
    rm.save_preset(path, m, name="Mixamo")
    assert rm.load_preset(path) == m
    data = json.loads(path.read_text())
    assert data["format"] == rm.PRESET_FORMAT and data["name"] == "Mixamo"
    with pytest.raises(rm.RigMapError, match="missing.json"):
        rm.load_preset(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(rm.RigMapError, match="bad.json is not valid JSON"):
        rm.load_preset(tmp_path / "bad.json")
    (tmp_path / "other.json").write_text(json.dumps({"format": "something-else", "map": {}}))
    with pytest.raises(rm.RigMapError, match="not a rig map preset"):
        rm.load_preset(tmp_path / "other.json")
    (tmp_path / "joints.json").write_text(json.dumps({"format": rm.PRESET_FORMAT, "map": {"tail": "x"}}))
    with pytest.raises(rm.RigMapError, match="tail"):
        rm.load_preset(tmp_path / "joints.json")


def test_doctests() -> None:
    assert doctest.testmod(rm).failed == 0
