"""ASF/AMC reader and Acclaim forward kinematics: a hand-made file with known answers, clear errors naming file
and line, and the real HDM05 clips (upright human of plausible height, the kick's left foot rises, the squat's
pelvis drops)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from backend.errors import AsfAmcError, MotionSearchError
from backend.motion.convert import amc_to_clip, file_to_clip
from backend.motion.io.acclaim import find_asf, read_amc, read_asf
from backend.motion.kinematics.acclaim_fk import acclaim_forward_kinematics, acclaim_point_names
from backend.motion.kinematics.skeleton import SMPL_JOINT_NAMES

J = {n: i for i, n in enumerate(SMPL_JOINT_NAMES)}

ASF = """# hand-made
:version 1.10
:name test
:units
  mass 1.0
  length 0.45
  angle deg
:root
   order TX TY TZ RX RY RZ
   axis XYZ
   position 0 0 0
   orientation 0 0 0
:bonedata
  begin
     id 1
     name upper
     direction 0 1 0
     length 10
     axis 0 0 90 XYZ
    dof rx
    limits (-180 180)
  end
  begin
     id 2
     name lower
     direction 1 0 0
     length 5
     axis 0 0 0 XYZ
    dof rz ry
  end
:hierarchy
  begin
    root upper
    upper lower
  end
"""

AMC = """#!OML:ASF test.asf
:FULLY-SPECIFIED
:DEGREES
1
root 1 2 3 0 90 0
upper 0
lower 0 0
2
root 0 0 0 0 0 0
upper 90
3
upper 0
lower 90 90
"""


def _write(tmp_path: Path, asf: str = ASF, amc: str = AMC) -> tuple[Path, Path]:
    (tmp_path / "test.asf").write_text(asf)
    (tmp_path / "test_01.amc").write_text(amc)
    return tmp_path / "test.asf", tmp_path / "test_01.amc"


def test_hand_made_asf_amc_known_answers(tmp_path: Path) -> None:
    asf_path, amc_path = _write(tmp_path)
    skel = read_asf(asf_path)
    assert skel.metres_per_unit == pytest.approx(0.0254 / 0.45) and skel.degrees
    assert skel.order() == ["upper", "lower"] and skel.bones["lower"].dof == ("rz", "ry")
    motion = read_amc(amc_path, skel)
    assert motion.num_frames == 3
    np.testing.assert_array_equal(motion.values["lower"][1], [0, 0])  # frame 2 keeps frame 1's lower values
    assert acclaim_point_names(skel) == ["root", "upper", "lower", "lower/end"]
    pts = acclaim_forward_kinematics(skel, motion)
    # frame 1: root at (1,2,3) turned 90 deg about +Y: the upper bone points up, the lower one along -Z
    np.testing.assert_allclose(pts[0], [[1, 2, 3], [1, 2, 3], [1, 12, 3], [1, 12, -2]], atol=1e-9)
    # frame 2: rx 90 in a local frame whose x axis is world +Y (axis 0 0 90) turns the chain about +Y
    np.testing.assert_allclose(pts[1, 3], [0, 10, -5], atol=1e-9)
    # frame 3: dof order "rz ry": Z first (x -> y), then Y (leaves y), so the lower bone points up
    np.testing.assert_allclose(pts[2, 3], [0, 15, 0], atol=1e-9)


def test_radians_and_find_asf(tmp_path: Path) -> None:
    asf_path, amc_path = _write(
        tmp_path, amc=AMC.replace(":DEGREES", ":RADIANS").replace("upper 90", "upper 1.5707963267948966")
    )
    motion = read_amc(amc_path, read_asf(asf_path))
    assert not motion.degrees
    pts = acclaim_forward_kinematics(read_asf(asf_path), motion)
    np.testing.assert_allclose(pts[1, 3], [0, 10, -5], atol=1e-9)
    assert find_asf(amc_path) == asf_path
    (tmp_path / "other.asf").write_text(ASF)
    assert find_asf(amc_path) == asf_path  # "test" is the longest stem prefix of "test_01"
    (tmp_path / "test_0.asf").write_text(ASF)
    assert find_asf(amc_path) == tmp_path / "test_0.asf"


@pytest.mark.parametrize(
    "asf, amc, match",
    [
        (
            ASF,
            AMC.replace("lower 0 0", "lower 0"),
            r"test_01\.amc:7: bone 'lower' has 1 value\(s\); its dof needs 2",
        ),
        (ASF, AMC.replace("upper 90", "elbow 90"), r"test_01\.amc:10: unknown bone 'elbow'"),
        (
            ASF,
            AMC.replace("upper 0\nlower 0 0", "upper x\nlower 0 0"),
            r"test_01\.amc:6: bone 'upper': not a number",
        ),
        (ASF, AMC.replace("\n2\n", "\n5\n"), r"test_01\.amc:8: frame 5 out of order"),
        (
            ASF.replace("    upper lower", "    upper wrist"),
            AMC,
            r"test\.asf:\d+: hierarchy names unknown bone 'wrist'",
        ),
        (ASF.replace("     length 5\n", ""), AMC, r"test\.asf:\d+: bone without 'length'"),
        (ASF.replace("dof rz ry", "dof rz qq"), AMC, r"test\.asf:\d+: unknown dof \['qq'\]"),
        (ASF.replace("angle deg", "angle grad"), AMC, r"test\.asf:7: angle unit must be 'deg' or 'rad'"),
    ],
)
def test_errors_name_file_and_line(tmp_path: Path, asf: str, amc: str, match: str) -> None:
    asf_path, amc_path = _write(tmp_path, asf, amc)
    with pytest.raises(AsfAmcError, match=match):
        read_amc(amc_path, read_asf(asf_path))


def test_missing_asf_and_frame_cap(tmp_path: Path) -> None:
    (tmp_path / "lonely.amc").write_text(AMC)
    with pytest.raises(AsfAmcError, match=r"lonely\.amc: no \.asf skeleton beside it"):
        amc_to_clip(tmp_path / "lonely.amc")
    asf_path, amc_path = _write(tmp_path)
    with pytest.raises(AsfAmcError, match=r"test_01\.amc:8: more than 1 frames"):
        read_amc(amc_path, read_asf(asf_path), max_frames=1)
    with pytest.raises(MotionSearchError, match=r"not a motion file"):
        file_to_clip(asf_path)


def _hdm(root: Path, cls_dir: str, pattern: str) -> list[Path]:
    return sorted((root / "train" / cls_dir).glob(pattern)) + sorted((root / "test" / cls_dir).glob(pattern))


def test_real_hdm05_clips_are_upright_and_plausible(hdm05: Path) -> None:
    files = sorted(hdm05.rglob("*.amc"))
    assert len(files) == 287
    for f in files[::20]:
        clip = amc_to_clip(f)
        j = clip.joints
        assert clip.meta.fps_orig == 120.0 and j.shape[0] >= 5
        height = j[0, J["head"], 1] - j[0, [J["left_ankle"], J["right_ankle"]], 1].min()
        assert 1.2 < height < 1.9, (f.name, height)  # head joint over ankles: a human of plausible size
        assert j[0, J["head"], 1] > j[0, J["pelvis"], 1] > j[0, J["left_knee"], 1] > j[0, J["left_ankle"], 1]
        assert j[0, J["left_hip"], 0] > j[0, J["right_hip"], 0]  # canonical: left is +X when facing +Z


def test_real_hdm05_kick_raises_the_left_foot(hdm05: Path) -> None:
    for f in _hdm(hdm05, "6", "*kickLFront*.amc")[::6]:
        j = amc_to_clip(f).joints
        left, right = j[:, J["left_ankle"], 1], j[:, J["right_ankle"], 1]
        assert left.max() > 0.35 and left.max() > right.max() + 0.2, f.name
        # the left ankle travels forward (+Z) of the pelvis at the kick's height
        top = int(np.argmax(left))
        assert j[top, J["left_ankle"], 2] - j[top, J["pelvis"], 2] > 0.2, f.name


def test_real_hdm05_squat_lowers_the_pelvis(hdm05: Path) -> None:
    for f in _hdm(hdm05, "10", "*squat*.amc")[::8]:
        j = amc_to_clip(f).joints
        pelvis = j[:, J["pelvis"], 1]
        assert pelvis.min() < 0.75 * pelvis[0] and pelvis[-1] > 0.85 * pelvis[0], f.name
        assert j[:, J["left_ankle"], 1].max() < 0.25  # the feet stay on the floor
