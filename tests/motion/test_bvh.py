"""BVH reader / writer contract (backend.motion.io.bvh).

* Every rig in the shared datasets parses: joint count, root, per-joint channels and rotation orders, frame
  rate, frame count (checked against the file's own header), End Sites.
* Bad input raises BvhError naming the file, the line and the problem: truncated files, malformed numbers,
  wrong value counts, unknown channels, zero frames, NaN/inf, absurd frame times, broken hierarchy.
* write_bvh -> read_bvh reproduces names, offsets, channels, motion and frame time; writes are atomic.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from backend.errors import BvhError
from backend.motion.io.bvh import BvhData, parse_bvh, read_bvh, write_bvh
from backend.motion.kinematics.fk import forward_kinematics

BANDAI1 = "dataset/Bandai-Namco-Research-Motiondataset-1/data/dataset-1_walk_normal_001.bvh"
BANDAI2 = "dataset/Bandai-Namco-Research-Motiondataset-2/data/dataset-2_walk_normal_001.bvh"
CMU_MB = "TMoCo/InverseKinematics/bvh/02_01.bvh"
CMU_3DSMAX = "yuki-koyama/bvh11/resources/131_03.bvh"
CC_BONEROOT = "All_BVH/subjects/002/002_01.bvh"
CC_HIP = "All_BVH/subjects/007/007_03.bvh"
REACTIDLE = "genuine/003_genuine.bvh"


def _header(path: Path) -> tuple[int, float]:
    text = path.read_text()
    frames = int(re.search(r"Frames:\s*(\d+)", text).group(1))
    frame_time = float(re.search(r"Frame Time:\s*(\S+)", text).group(1))
    return frames, frame_time


@pytest.mark.parametrize(
    "fixture, rel, n_joints, root, fps",
    [
        ("bandai1", BANDAI1, 22, "joint_Root", 30.0),
        ("bandai2", BANDAI2, 22, "joint_Root", 30.0),
        ("cmu_samples", CMU_MB, 31, "Hips", 120.0),
        ("cmu_samples", CMU_3DSMAX, 31, "Hips", 120.0),
        ("cmu_iclone", CC_BONEROOT, 101, "RL_BoneRoot", 60.0),
        ("cmu_iclone", CC_HIP, 100, "CC_Base_Hip", 60.0),
        ("reactidle", REACTIDLE, 19, "pelvis", 24.0),
    ],
)
def test_reads_every_rig(request, fixture, rel, n_joints, root, fps) -> None:
    path = request.getfixturevalue(fixture) / rel
    data = read_bvh(path)
    frames, frame_time = _header(path)
    assert data.num_joints == n_joints and data.names[0] == root and data.parents[0] == -1
    assert data.num_frames == frames and data.frame_time == pytest.approx(frame_time)
    assert data.fps == pytest.approx(fps, rel=1e-3)
    assert data.motion.shape == (frames, sum(len(c) for c in data.channels))
    assert data.offsets.shape == (n_joints, 3) and np.isfinite(data.motion).all()
    assert all(p < i for i, p in enumerate(data.parents))  # parents precede children
    assert data.source == str(path)


def test_channel_layouts_per_rig(bandai1, cmu_samples, cmu_iclone, reactidle) -> None:
    bandai = read_bvh(bandai1 / BANDAI1)
    assert all(len(c) == 6 for c in bandai.channels)  # positions on every joint
    assert {bandai.rotation_order(j) for j in range(bandai.num_joints)} == {"ZXY"}

    mb = read_bvh(cmu_samples / CMU_MB)
    assert mb.channels[0][:3] == ("Xposition", "Yposition", "Zposition")
    assert {mb.rotation_order(j) for j in range(mb.num_joints)} == {"ZYX"}

    max3ds = read_bvh(cmu_samples / CMU_3DSMAX)
    orders = {n: max3ds.rotation_order(j) for j, n in enumerate(max3ds.names)}
    assert orders["LeftElbow"] == "ZXY" and orders["RightShoulder"] == "ZXY" and orders["LeftKnee"] == "ZYX"

    cc = read_bvh(cmu_iclone / CC_BONEROOT)
    assert cc.names[1] == "CC_Base_Hip" and "CC_Base_L_Thigh" in cc.names

    ri = read_bvh(reactidle / REACTIDLE)
    ch = dict(zip(ri.names, ri.channels))
    assert ch["spine.001"] == ("Xrotation", "Yrotation", "Zrotation")  # 3 channels only
    assert ri.rotation_order(ri.names.index("shoulder.L")) == "YXZ"
    assert ri.rotation_order(ri.names.index("thigh.L")) == "XYZ"
    forearm = ri.names.index("forearm.L")
    assert forearm in ri.end_sites and ri.end_sites[forearm][0] > 0.15  # the hand is an End Site


def _cmu_text(cmu_samples: Path) -> str:
    return (cmu_samples / CMU_MB).read_text()


def _motion_line_no(text: str, k: int) -> int:
    """1-based line number of the k-th motion line (0-based k)."""
    lines = text.splitlines()
    ft = next(i for i, ln in enumerate(lines) if ln.startswith("Frame Time"))
    return ft + 2 + k


def _write(tmp_path: Path, text: str, name: str = "bad.bvh") -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


@pytest.mark.parametrize(
    "mutation, pattern",
    [
        ("truncate_motion", r"truncated"),
        ("truncate_line", r"truncated file: .* the last line has \d+ of 96 values"),
        ("truncate_hierarchy", r"(no MOTION|truncated)"),
        ("malformed_number", r"malformed number '1\.2\.3'"),
        ("missing_value", r"has 95 values.*96 channels"),
        ("unknown_channel", r"unknown channel 'Wrotation'"),
        ("zero_frames", r"zero frames"),
        ("nan", r"non-finite"),
        ("inf", r"non-finite"),
        ("frame_time_zero", r"absurd Frame Time"),
        ("frame_time_negative", r"absurd Frame Time"),
        ("fps_too_high", r"absurd Frame Time .*fps"),
        ("fps_too_low", r"absurd Frame Time .*fps"),
        ("bad_offset", r"OFFSET of 'LeftUpLeg' needs 3 numbers"),
        ("extra_frames", r"Frames: \d+ declared but \d+ motion lines"),
        ("channel_count", r"declares 3 channel\(s\) but lists 2"),
    ],
)
def test_bad_files_raise_named_errors(cmu_samples, tmp_path, mutation, pattern) -> None:
    text = _cmu_text(cmu_samples)
    lines = text.splitlines()
    ft_idx = next(i for i, ln in enumerate(lines) if ln.startswith("Frame Time"))
    first = ft_idx + 1
    if mutation == "truncate_motion":
        text = "\n".join(lines[: first + 10])
    elif mutation == "truncate_line":
        text = "\n".join(lines[: first + 10] + [lines[first + 10][:50]])
    elif mutation == "truncate_hierarchy":
        text = "\n".join(lines[:40])
    elif mutation == "malformed_number":
        vals = lines[first + 5].split()
        vals[7] = "1.2.3"
        lines[first + 5] = " ".join(vals)
        text = "\n".join(lines)
    elif mutation == "missing_value":
        lines[first + 5] = " ".join(lines[first + 5].split()[:-1])
        text = "\n".join(lines)
    elif mutation == "unknown_channel":
        text = text.replace("Zrotation Yrotation Xrotation", "Zrotation Wrotation Xrotation", 1)
    elif mutation == "zero_frames":
        text = "\n".join(lines[: first - 2] + ["Frames: 0", "Frame Time: 0.0083333"])
    elif mutation in ("nan", "inf"):
        vals = lines[first + 3].split()
        vals[10] = mutation
        lines[first + 3] = " ".join(vals)
        text = "\n".join(lines)
    elif mutation.startswith(("frame_time", "fps")):
        value = {
            "frame_time_zero": "0",
            "frame_time_negative": "-0.01",
            "fps_too_high": "0.0001",
            "fps_too_low": "2.5",
        }[mutation]
        lines[ft_idx] = f"Frame Time: {value}"
        text = "\n".join(lines)
    elif mutation == "bad_offset":
        idx = next(i for i, ln in enumerate(lines) if "LeftUpLeg" in ln) + 2
        lines[idx] = "OFFSET 1.0 2.0"
        text = "\n".join(lines)
    elif mutation == "extra_frames":
        text = "\n".join(lines + [lines[-1]])
    elif mutation == "channel_count":
        text = text.replace("CHANNELS 3 Zrotation Yrotation Xrotation", "CHANNELS 3 Zrotation Yrotation", 1)
    path = _write(tmp_path, text)
    with pytest.raises(BvhError, match=pattern) as err:
        read_bvh(path)
    assert str(path) in str(err.value)
    assert re.search(rf"{re.escape(str(path))}:\d+: ", str(err.value)), "message must name the line"


def test_error_line_numbers_point_at_the_bad_line(cmu_samples, tmp_path) -> None:
    text = _cmu_text(cmu_samples)
    lines = text.splitlines()
    k = 17
    line_no = _motion_line_no(text, k)
    vals = lines[line_no - 1].split()
    vals[3] = "x1"
    lines[line_no - 1] = " ".join(vals)
    path = _write(tmp_path, "\n".join(lines))
    with pytest.raises(BvhError, match=rf":{line_no}: malformed number 'x1'"):
        read_bvh(path)


def test_missing_file_and_empty_file(tmp_path) -> None:
    with pytest.raises(BvhError, match="cannot read"):
        read_bvh(tmp_path / "nope.bvh")
    with pytest.raises(BvhError, match="empty file"):
        read_bvh(_write(tmp_path, "\n\n"))
    with pytest.raises(BvhError, match="expected 'HIERARCHY'"):
        read_bvh(_write(tmp_path, "hello\nworld\n"))


def test_names_with_spaces_crlf_and_brace_on_same_line() -> None:
    text = (
        "HIERARCHY\r\nROOT Bip01 Pelvis {\r\n\tOFFSET 0 0 0\r\n\tCHANNELS 6 Xposition Yposition Zposition "
        "Zrotation Xrotation Yrotation\r\n\tJOINT Bip01 L Thigh\r\n\t{\r\n\t\tOFFSET 10 0 0\r\n"
        "\t\tCHANNELS 3 Zrotation Xrotation Yrotation\r\n\t\tEnd site\r\n\t\t{\r\n\t\t\tOFFSET 0 -40 0\r\n"
        "\t\t}\r\n\t}\r\n}\r\nMOTION\r\nFrames:\t2\r\nFrame Time:\t.04\r\n0 90 0 0 0 0 0 0 0\r\n"
        "1 90 0 0 0 0 90 0 0\r\n"
    )
    data = parse_bvh(text, "mem.bvh")
    assert data.names == ["Bip01 Pelvis", "Bip01 L Thigh"]
    assert data.fps == pytest.approx(25.0)
    assert 1 in data.end_sites
    pts = forward_kinematics(data, with_end_sites=True)
    np.testing.assert_allclose(pts[0, 1], [10, 90, 0], atol=1e-9)
    # frame 1: the thigh is rotated 90 deg about Z: its End Site (0,-40,0) -> (40, 0, 0)
    np.testing.assert_allclose(pts[1, 2], [1 + 10 + 40, 90, 0], atol=1e-9)


@pytest.mark.parametrize(
    "fixture, rel", [("bandai1", BANDAI1), ("cmu_samples", CMU_3DSMAX), ("reactidle", REACTIDLE)]
)
def test_write_read_round_trip(request, tmp_path, fixture, rel) -> None:
    data = read_bvh(request.getfixturevalue(fixture) / rel)
    if data.num_frames > 300:
        data.motion = data.motion[:300]
    out = tmp_path / "copy.bvh"
    write_bvh(out, data)
    back = read_bvh(out)
    assert back.names == data.names and back.parents == data.parents and back.channels == data.channels
    np.testing.assert_allclose(back.offsets, data.offsets, atol=1e-6)
    np.testing.assert_allclose(back.motion, data.motion, atol=1e-6)
    assert back.frame_time == pytest.approx(data.frame_time, rel=1e-6)
    assert sorted(back.end_sites) == sorted(data.end_sites)
    np.testing.assert_allclose(forward_kinematics(back), forward_kinematics(data), atol=1e-4)
    assert [p.name for p in tmp_path.iterdir()] == ["copy.bvh"]  # no temp file left behind


def test_write_is_atomic_and_validates(tmp_path) -> None:
    good = BvhData(
        ["a", "b"],
        [-1, 0],
        np.array([[0.0, 0, 0], [0, 1, 0]]),
        [("Xposition", "Yposition", "Zposition", "Zrotation"), ("Xrotation",)],
        0.05,
        np.zeros((3, 5)),
        {1: np.array([0.0, 1.0, 0.0])},
    )
    out = tmp_path / "x.bvh"
    write_bvh(out, good)
    before = out.read_bytes()
    bad = BvhData(good.names, good.parents, good.offsets, good.channels, 0.05, np.full((3, 5), np.nan))
    with pytest.raises(BvhError, match="non-finite"):
        write_bvh(out, bad)
    wrong = BvhData(good.names, good.parents, good.offsets, good.channels, 0.05, np.zeros((3, 4)))
    with pytest.raises(BvhError, match=r"motion has shape \(3, 4\)"):
        write_bvh(out, wrong)
    assert out.read_bytes() == before and [p.name for p in tmp_path.iterdir()] == ["x.bvh"]
    with pytest.raises(BvhError, match="cannot write"):
        write_bvh(tmp_path / "missing_dir" / "x.bvh", good)
