"""One rig vocabulary: the add-on maps an armature as the backend maps the same rig in an upload.

* The add-on's ``addon/rig_aliases.json`` is a byte-equal copy of the backend's
  ``backend/motion/kinematics/rig_aliases.json`` (the table both detectors read).
* Every distinct skeleton of the shared datasets (each BVH file's hierarchy: Bandai-Namco 1 + 2, CMU samples,
  cgspeed, Daz, iClone, ReActIdle; the HDM05 ASF skeletons through the backend's Acclaim point names) and
  Mixamo / Rigify (``DEF-`` / ``ORG-`` / metarig) / Unreal / Biped bone lists: ``retarget.map_bones`` (the
  bones of the profile ``retarget.map_joints`` uses) and ``rigmap.detect_mapping`` give the same SMPL joint
  -> bone assignment, both normalise every name the same way and pick the same profile; a joint the backend
  places on one source joint is driven by that joint's bone.
"""

from __future__ import annotations

import doctest
import itertools
import re
from pathlib import Path

import pytest

from addon import rigmap, rigtable
from backend.errors import RigMappingError
from backend.motion.io.acclaim import read_asf
from backend.motion.io.bvh import parse_bvh
from backend.motion.kinematics import retarget
from backend.motion.kinematics.acclaim_fk import acclaim_point_names
from backend.motion.kinematics.fk import END_SITE_SUFFIX, point_names
from backend.motion.kinematics.skeleton import SMPL_JOINT_NAMES

REPO = Path(__file__).resolve().parents[3]
BVH_ARCHIVES = ("bandai1", "bandai2", "cmu_samples", "cmu_cgspeed", "cmu_daz", "cmu_iclone", "reactidle")
_MOTION = re.compile(r"^[ \t]*MOTION[ \t\r]*$", re.IGNORECASE | re.MULTILINE)
_CHANNELS = re.compile(r"CHANNELS\s+(\d+)")

Rig = tuple[list[str], list[int], list[str]]  # bone names, parents, the backend's point names


def _hierarchy(path: Path) -> Rig:
    """A BVH file's skeleton, from its HIERARCHY only (one zero frame stands in for the motion)."""
    text = path.read_text(encoding="utf-8", errors="replace")
    head = text[: _MOTION.search(text).start()]
    zeros = " ".join(["0"] * sum(int(n) for n in _CHANNELS.findall(head)))
    data = parse_bvh(f"{head}MOTION\nFrames: 1\nFrame Time: 0.05\n{zeros}\n", str(path))
    return list(data.names), list(data.parents), point_names(data)


@pytest.fixture(scope="session")
def dataset_rigs(request) -> dict[str, Rig]:
    """Every distinct skeleton of the shared datasets: ``"<archive>/<first file>"`` -> rig."""
    out: dict[str, Rig] = {}
    seen: set[tuple] = set()
    for fixture in BVH_ARCHIVES:
        root = request.getfixturevalue(fixture)
        for path in sorted(root.rglob("*")):
            if path.suffix.lower() != ".bvh":
                continue
            rig = _hierarchy(path)
            key = (tuple(rig[0]), tuple(rig[1]), tuple(rig[2]))
            if key not in seen:
                seen.add(key)
                out[f"{fixture}/{path.relative_to(root)}"] = rig
    hdm05 = request.getfixturevalue("hdm05")
    for path in sorted(hdm05.rglob("*.asf")):
        skel = read_asf(path)
        points = acclaim_point_names(skel)
        bones = [p for p in points if not p.endswith(END_SITE_SUFFIX)]
        parent_of = skel.parent_of()
        parents = [-1 if b == "root" else bones.index(parent_of[b]) for b in bones]
        key = (tuple(bones), tuple(parents), tuple(points))
        if key not in seen:
            seen.add(key)
            out[f"hdm05/{path.relative_to(hdm05)}"] = (bones, parents, points)
    return out


def _rig(bones: list[tuple[str, str | None]]) -> Rig:
    names = [n for n, _ in bones]
    parents = [names.index(p) if p else -1 for _, p in bones]
    inner = set(parents)
    return names, parents, names + [n + END_SITE_SUFFIX for i, n in enumerate(names) if i not in inner]


def _mixamo(ns: str = "mixamorig:") -> Rig:
    bones = [("Hips", None), ("Spine", "Hips"), ("Spine1", "Spine"), ("Spine2", "Spine1"),
             ("Neck", "Spine2"), ("Head", "Neck"), ("HeadTop_End", "Head")]  # fmt: skip
    for s in ("Left", "Right"):
        bones += [(f"{s}Shoulder", "Spine2"), (f"{s}Arm", f"{s}Shoulder"), (f"{s}ForeArm", f"{s}Arm"),
                  (f"{s}Hand", f"{s}ForeArm"), (f"{s}HandIndex1", f"{s}Hand"),
                  (f"{s}HandThumb1", f"{s}Hand"), (f"{s}UpLeg", "Hips"), (f"{s}Leg", f"{s}UpLeg"),
                  (f"{s}Foot", f"{s}Leg"), (f"{s}ToeBase", f"{s}Foot"),
                  (f"{s}Toe_End", f"{s}ToeBase")]  # fmt: skip
    return _rig([(ns + n, ns + p if p else None) for n, p in bones])


def _rigify(prefix: str) -> Rig:
    """Blender's human metarig (``prefix=""``) or a generated Rigify rig's DEF- / ORG- bones."""
    spine = ["spine", "spine.001", "spine.002", "spine.003", "spine.004", "spine.005", "spine.006"]
    bones = [(spine[0], None)] + [(b, a) for a, b in itertools.pairwise(spine)]
    for s in ("L", "R"):
        bones += [(f"pelvis.{s}", "spine"), (f"thigh.{s}", "spine"), (f"shin.{s}", f"thigh.{s}"),
                  (f"foot.{s}", f"shin.{s}"), (f"toe.{s}", f"foot.{s}"), (f"shoulder.{s}", "spine.003"),
                  (f"upper_arm.{s}", f"shoulder.{s}"), (f"forearm.{s}", f"upper_arm.{s}"),
                  (f"hand.{s}", f"forearm.{s}")]  # fmt: skip
        if prefix == "DEF-":  # the deform chains' twist segments
            bones += [(f"thigh.{s}.001", f"thigh.{s}"), (f"upper_arm.{s}.001", f"upper_arm.{s}")]
    return _rig([(prefix + n, prefix + p if p else None) for n, p in bones])


def _unreal(spines: int) -> Rig:
    chain = [f"spine_0{i}" for i in range(1, spines + 1)]
    bones = [("root", None), ("pelvis", "root"), (chain[0], "pelvis")] + list(zip(chain[1:], chain))
    bones += [("neck_01", chain[-1]), ("head", "neck_01")]
    for s in ("l", "r"):
        bones += [(f"clavicle_{s}", chain[-1]), (f"upperarm_{s}", f"clavicle_{s}"),
                  (f"lowerarm_{s}", f"upperarm_{s}"), (f"hand_{s}", f"lowerarm_{s}"),
                  (f"thigh_{s}", "pelvis"), (f"calf_{s}", f"thigh_{s}"), (f"foot_{s}", f"calf_{s}"),
                  (f"ball_{s}", f"foot_{s}")]  # fmt: skip
    return _rig(bones)


def _biped() -> Rig:
    b = "Bip01 "
    bones = [("Bip01", None), (b + "Pelvis", "Bip01"), (b + "Spine", b + "Pelvis"),
             (b + "Spine1", b + "Spine"), (b + "Spine2", b + "Spine1"), (b + "Neck", b + "Spine2"),
             (b + "Head", b + "Neck")]  # fmt: skip
    for s in ("L", "R"):
        p = f"{b}{s} "
        bones += [(p + "Clavicle", b + "Neck"), (p + "UpperArm", p + "Clavicle"),
                  (p + "Forearm", p + "UpperArm"), (p + "Hand", p + "Forearm"), (p + "Thigh", b + "Pelvis"),
                  (p + "Calf", p + "Thigh"), (p + "Foot", p + "Calf"), (p + "Toe0", p + "Foot")]  # fmt: skip
    return _rig(bones)


NAMED_RIGS = {
    "mixamo": (_mixamo(), "mixamo"),
    "mixamo_plain": (_mixamo(""), "mixamo"),
    "rigify_metarig": (_rigify(""), "rigify_metarig"),
    "rigify_def": (_rigify("DEF-"), "rigify_metarig"),
    "rigify_org": (_rigify("ORG-"), "rigify_metarig"),
    "unreal5": (_unreal(5), "unreal5"),
    "unreal4": (_unreal(3), "unreal4"),
    "biped": (_biped(), "biped"),
    "smpl": (_rig([(n, None) for n in SMPL_JOINT_NAMES]), "smpl"),  # no hierarchy needed for our own names
}


def _check_same(names: list[str], parents: list[int], points: list[str]) -> dict[str, str]:
    """Both detectors agree on ``points``; returns the add-on's bone map."""
    for n in points:
        assert rigtable.normalise_name(n) == retarget.normalise_name(n), n
    ours = rigmap.detect_mapping(names, parents)
    assert ours == retarget.map_bones(points)
    assert rigtable.detect_rig(points) == retarget.detect_rig(points)
    try:
        positions = retarget.map_joints(points)
    except RigMappingError:
        return ours
    for smpl, entries in positions.items():  # a joint on one source joint is driven by that joint's bone
        (idx, _), *more = entries
        if not more and not points[idx].endswith(END_SITE_SUFFIX):
            assert ours[smpl] == points[idx], smpl
    return ours


def test_the_two_tables_are_byte_equal() -> None:
    backend = REPO / "backend" / "motion" / "kinematics" / "rig_aliases.json"
    assert rigtable.RIG_ALIASES_PATH == REPO / "addon" / "rig_aliases.json"
    assert retarget.RIG_ALIASES_PATH == backend
    assert rigtable.RIG_ALIASES_PATH.read_bytes() == backend.read_bytes()
    assert list(rigtable.PROFILES) == list(retarget.RIG_PROFILES)


def test_every_dataset_rig_maps_the_same_in_both(dataset_rigs: dict[str, Rig]) -> None:
    # Bandai 1 + 2 (one skeleton), 3 CMU sample / cgspeed ones, 2 Daz, 2 iClone, ReActIdle, HDM05
    assert len(dataset_rigs) >= 10, sorted(dataset_rigs)
    rigs = set()
    for where, (names, parents, points) in dataset_rigs.items():
        ours = _check_same(names, parents, points)
        rig = retarget.detect_rig(points)
        rigs.add(rig)
        assert rigtable.detect_rig(points) == rig, where
        assert len(retarget.map_joints(points)) == 22, where  # the backend maps every dataset rig
        assert ours["pelvis"] and ours["left_hip"] and ours["right_elbow"], where
    assert rigs == {"bandai", "cmu_motionbuilder", "cmu_3dsmax", "daz", "acclaim", "character_creator",
                    "simple_metarig"}  # fmt: skip


@pytest.mark.parametrize("name", sorted(NAMED_RIGS))
def test_named_rig_families_map_the_same_in_both(name: str) -> None:
    (names, parents, points), rig = NAMED_RIGS[name]
    assert retarget.detect_rig(points) == rig == rigtable.detect_rig(points)
    ours = _check_same(names, parents, points)
    derivable = rigmap.derivable_joints(ours)
    assert [j for j in rigmap.missing_joints(ours) if j not in derivable] == []  # the add-on can sample it
    assert len(retarget.map_joints(points)) == 22


def test_bones_follow_the_anatomy_of_known_rigs(dataset_rigs: dict[str, Rig]) -> None:
    m = rigmap.detect_mapping(*NAMED_RIGS["rigify_def"][0][:2])
    assert (m["pelvis"], m["spine1"], m["spine2"], m["spine3"], m["neck"], m["head"]) == (
        "DEF-spine", "DEF-spine.001", "DEF-spine.002", "DEF-spine.003", "DEF-spine.004", "DEF-spine.006",
    )  # fmt: skip
    assert (m["left_collar"], m["left_shoulder"], m["left_foot"]) == (
        "DEF-shoulder.L", "DEF-upper_arm.L", "DEF-toe.L")  # fmt: skip
    m = rigmap.detect_mapping(*NAMED_RIGS["biped"][0][:2])
    assert (m["spine1"], m["spine2"], m["spine3"], m["left_foot"]) == (
        "Bip01 Spine", "Bip01 Spine1", "Bip01 Spine2", "Bip01 L Toe0")  # fmt: skip
    iclone = next(v for k, v in dataset_rigs.items() if k.startswith("cmu_iclone"))
    m = rigmap.detect_mapping(iclone[0], iclone[1])
    assert (m["pelvis"], m["left_collar"], m["spine2"]) == (
        "CC_Base_Hip", "CC_Base_L_Clavicle", "CC_Base_Spine02")  # fmt: skip
    assert rigmap.missing_joints(m) == ["spine3"] and "spine3" in rigmap.derivable_joints(m)
    asf = next(v for k, v in dataset_rigs.items() if k.startswith("hdm05"))
    m = rigmap.detect_mapping(asf[0], asf[1])
    assert (m["pelvis"], m["left_hip"], m["left_collar"], m["neck"]) == (
        "root", "lfemur", "lclavicle", "upperneck")  # fmt: skip


def test_doctests() -> None:
    result = doctest.testmod(rigtable)
    assert result.attempted > 0 and result.failed == 0
