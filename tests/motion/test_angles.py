"""Contracts of ``backend.motion.kinematics.angles.joint_angles``.

* ``(T, 22, 3)`` canonical joints -> ``(T, 29)`` float32 in ``BANDS`` order; root in metres, the rest in
  radians, unwrapped over time.
* Known answers on poses built here from a standing T-pose with plausible bone lengths: a T-pose reads
  zero everywhere except the 90 deg shoulder abduction; knee and elbow flexion read the bend angle; each
  anatomical sign convention (flexion forward, abduction outward on both sides, internal rotation) holds.
* A pure root yaw changes only the pelvis rotation channel; mirroring left <-> right swaps the left and
  right channels and negates only the antisymmetric ones.
* Real walking clips (Bandai-Namco 2, via ``bvh_to_clip``) give finite, continuous channels (no frame-to-frame
  jump > 30 deg) and a knee flexion range of roughly 0-70 deg.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from backend.errors import MotionDataError
from backend.motion.kinematics.angles import (
    ANGLE_CHANNEL_NAMES,
    ANGLE_MIRROR_SIGNS,
    joint_angles,
    mirror_angles,
)
from backend.motion.kinematics.skeleton import (
    BANDS,
    JOINT_INDEX,
    MIRROR_JOINTS,
    NUM_ANGLE_CHANNELS,
    SMPL_PARENTS,
    band_slices,
)

CH = {n: i for i, n in enumerate(ANGLE_CHANNEL_NAMES)}
ROOT = ("root_x", "root_y", "root_z")
LOCAL = [n for n in ANGLE_CHANNEL_NAMES if not n.startswith(("root_", "pelvis_"))]
WALK_STYLES = ("normal", "elderly", "exhausted", "feminine", "masculine")

# A standing T-pose (metres, Y up, facing +Z, left = +X): straight legs, feet flat and pointing forward,
# vertical spine and head, arms straight out sideways.
_TPOSE = {
    "pelvis": (0.0, 0.95, 0.0), "left_hip": (0.09, 0.90, 0.0), "right_hip": (-0.09, 0.90, 0.0),
    "spine1": (0.0, 1.05, 0.0), "left_knee": (0.09, 0.50, 0.0), "right_knee": (-0.09, 0.50, 0.0),
    "spine2": (0.0, 1.18, 0.0), "left_ankle": (0.09, 0.08, 0.0), "right_ankle": (-0.09, 0.08, 0.0),
    "spine3": (0.0, 1.30, 0.0), "left_foot": (0.09, 0.08, 0.14), "right_foot": (-0.09, 0.08, 0.14),
    "neck": (0.0, 1.50, 0.0), "left_collar": (0.07, 1.45, 0.0), "right_collar": (-0.07, 1.45, 0.0),
    "head": (0.0, 1.62, 0.0), "left_shoulder": (0.18, 1.43, 0.0), "right_shoulder": (-0.18, 1.43, 0.0),
    "left_elbow": (0.46, 1.43, 0.0), "right_elbow": (-0.46, 1.43, 0.0),
    "left_wrist": (0.71, 1.43, 0.0), "right_wrist": (-0.71, 1.43, 0.0),
}  # fmt: skip


def t_pose() -> np.ndarray:
    """``(22, 3)`` standing T-pose."""
    return np.array([_TPOSE[n] for n in sorted(JOINT_INDEX, key=JOINT_INDEX.get)], dtype=np.float64)


def descendants(joint: int) -> list[int]:
    """Every joint below ``joint`` in the SMPL tree (not the joint itself)."""
    out = []
    for j in range(len(SMPL_PARENTS)):
        k = SMPL_PARENTS[j]
        while k != -1:
            if k == joint:
                out.append(j)
                break
            k = SMPL_PARENTS[k]
    return out


def bend(pose: np.ndarray, joint: str, axis: str, degrees: float) -> np.ndarray:
    """Rotate everything below ``joint`` about the world ``axis`` through the joint (a local pose edit)."""
    out = pose.copy()
    i = JOINT_INDEX[joint]
    idx = descendants(i)
    rot = Rotation.from_euler(axis, degrees, degrees=True)
    out[idx] = rot.apply(pose[idx] - pose[i]) + pose[i]
    return out


def arms_down(pose: np.ndarray) -> np.ndarray:
    """Lower both arms from the T-pose to the sides (left arm at +X rotates about -Z)."""
    return bend(bend(pose, "left_shoulder", "z", -90.0), "right_shoulder", "z", 90.0)


def angles_deg(pose: np.ndarray) -> dict[str, float]:
    """Channels of a single pose, angles in degrees (root channels stay in metres)."""
    a = joint_angles(pose[None]).astype(np.float64)[0]
    return {n: (a[i] if n in ROOT else float(np.rad2deg(a[i]))) for n, i in CH.items()}


def mirror(joints: np.ndarray) -> np.ndarray:
    """Left/right mirror image of ``(T, 22, 3)`` joints (x -> -x, left and right joints swapped)."""
    return joints[:, list(MIRROR_JOINTS)] * np.array([-1.0, 1.0, 1.0])


def yaw(joints: np.ndarray, degrees: float, shift: tuple[float, float, float]) -> np.ndarray:
    """Rotate a whole motion about the vertical axis and move it."""
    rot = Rotation.from_euler("y", degrees, degrees=True)
    return rot.apply(joints.reshape(-1, 3)).reshape(joints.shape) + np.asarray(shift)


def synthetic_motion(frames: int = 60) -> np.ndarray:
    """A made-up asymmetric motion: every joint bends along its own slow sinusoid while the body travels."""
    out = []
    for t in range(frames):
        p = t_pose()
        for k, (joint, axis, amp) in enumerate((
            ("left_hip", "x", -40), ("right_hip", "x", 25), ("left_hip", "z", 15), ("right_knee", "x", 60),
            ("left_knee", "x", 30), ("left_ankle", "x", 20), ("spine1", "x", 20), ("spine2", "z", 10),
            ("spine3", "y", 15), ("neck", "x", 20), ("left_shoulder", "z", -70), ("right_shoulder", "y", 40),
            ("left_elbow", "y", -80), ("right_elbow", "x", -60), ("left_shoulder", "x", 30),
        )):  # fmt: skip
            p = bend(p, joint, axis, amp * (0.5 + 0.5 * np.sin(0.15 * t + k)))
        p = bend(p, "pelvis", "y", 2.0 * t)
        out.append(p + np.array([0.2 * np.sin(0.1 * t), 0.0, 0.03 * t]))
    return np.stack(out)


@pytest.fixture(scope="module")
def walks(bandai2: Path) -> list[np.ndarray]:
    """Canonical joints of real Bandai-Namco 2 walking clips (two takes per style)."""
    from backend.motion.convert import bvh_to_clip

    data = bandai2 / "dataset" / "Bandai-Namco-Research-Motiondataset-2" / "data"
    files = [f for style in WALK_STYLES for f in sorted(data.glob(f"dataset-2_walk_{style}_*.bvh"))[:2]]
    files += sorted(data.glob("dataset-2_walk-turn-left_normal_*.bvh"))[:1]
    if len(files) < 5:
        pytest.skip(f"too few walking clips under {data}")
    return [bvh_to_clip(f).joints for f in files]


def test_layout_matches_bands() -> None:
    out = joint_angles(synthetic_motion(5).astype(np.float32))
    assert out.shape == (5, NUM_ANGLE_CHANNELS) and out.dtype == np.float32
    assert len(ANGLE_CHANNEL_NAMES) == NUM_ANGLE_CHANNELS == 29
    for band, sl in zip(BANDS, band_slices()):
        prefix = "root" if band.name == "root_position" else band.name
        assert all(n.startswith(prefix) for n in ANGLE_CHANNEL_NAMES[sl]), band.name


def test_t_pose_reads_neutral() -> None:
    a = angles_deg(t_pose())
    assert a["left_shoulder_abduction"] == pytest.approx(90.0, abs=0.5)
    assert a["right_shoulder_abduction"] == pytest.approx(90.0, abs=0.5)
    assert a["root_y"] == pytest.approx(0.95, abs=1e-5)
    for name, value in a.items():
        if name not in ("left_shoulder_abduction", "right_shoulder_abduction", "root_y"):
            assert value == pytest.approx(0.0, abs=0.5), name


@pytest.mark.parametrize("side", ["left", "right"])
@pytest.mark.parametrize("degrees", [30.0, 90.0, 120.0])
def test_knee_flexion_reads_the_bend(side: str, degrees: float) -> None:
    a = angles_deg(bend(t_pose(), f"{side}_knee", "x", degrees))
    assert a[f"{side}_knee_flexion"] == pytest.approx(degrees, abs=1.0)
    other = "right" if side == "left" else "left"
    assert a[f"{other}_knee_flexion"] == pytest.approx(0.0, abs=0.5)
    assert a[f"{side}_hip_flexion"] == pytest.approx(0.0, abs=0.5)


@pytest.mark.parametrize("side", ["left", "right"])
def test_elbow_flexion_90(side: str) -> None:
    # T-pose, forearm swung forwards in the horizontal plane
    sign = -1.0 if side == "left" else 1.0
    a = angles_deg(bend(t_pose(), f"{side}_elbow", "y", sign * 90.0))
    assert a[f"{side}_elbow_flexion"] == pytest.approx(90.0, abs=1.0)
    # arm at the side, forearm raised forwards
    a = angles_deg(bend(arms_down(t_pose()), f"{side}_elbow", "x", -90.0))
    assert a[f"{side}_elbow_flexion"] == pytest.approx(90.0, abs=1.0)
    assert a[f"{side}_shoulder_abduction"] == pytest.approx(0.0, abs=1.0)
    assert a[f"{side}_shoulder_rotation"] == pytest.approx(0.0, abs=1.0)


def test_shoulder_abduction_arm_down_to_t_pose() -> None:
    down, up = angles_deg(arms_down(t_pose())), angles_deg(t_pose())
    for side in ("left", "right"):
        assert up[f"{side}_shoulder_abduction"] - down[f"{side}_shoulder_abduction"] == pytest.approx(
            90, abs=1
        )
        assert down[f"{side}_shoulder_abduction"] == pytest.approx(0.0, abs=1.0)


def test_shoulder_sweeps_have_no_singularity() -> None:
    """Arm from the side over the head (frontal plane) and from back to front (horizontal): exact, smooth."""
    steps = np.linspace(0.0, 170.0, 69)
    frontal = np.stack([bend(arms_down(t_pose()), "left_shoulder", "z", s) for s in steps])
    a = np.rad2deg(joint_angles(frontal))
    np.testing.assert_allclose(a[:, CH["left_shoulder_abduction"]], steps, atol=0.5)
    np.testing.assert_allclose(a[:, CH["left_shoulder_flexion"]], 0.0, atol=0.5)
    sweep = np.linspace(-60.0, 120.0, 73)  # horizontal: behind the T-pose line to across the chest
    horizontal = np.stack([bend(t_pose(), "right_shoulder", "y", s) for s in sweep])
    a = np.rad2deg(joint_angles(horizontal))
    np.testing.assert_allclose(a[:, CH["right_shoulder_flexion"]], sweep, atol=0.5)
    np.testing.assert_allclose(a[:, CH["right_shoulder_abduction"]], 90.0, atol=0.5)


@pytest.mark.parametrize(
    ("joint", "axis", "degrees", "channel"),
    [
        ("left_hip", "x", -30.0, "left_hip_flexion"),  # thigh forwards
        ("right_hip", "x", -30.0, "right_hip_flexion"),
        ("left_hip", "z", 25.0, "left_hip_abduction"),  # left leg outwards (+X)
        ("right_hip", "z", -25.0, "right_hip_abduction"),  # right leg outwards (-X)
        ("left_hip", "y", -20.0, "left_hip_rotation"),  # left foot turned inwards (towards -X)
        ("right_hip", "y", 20.0, "right_hip_rotation"),  # right foot turned inwards (towards +X)
        ("left_ankle", "x", -15.0, "left_ankle_dorsiflexion"),  # toes up
        ("spine1", "x", 25.0, "lumbar_flexion"),  # bend forwards
        ("spine1", "z", 20.0, "lumbar_lateral_bend"),  # lean right (top towards -X)
        ("neck", "x", 20.0, "neck_flexion"),  # nod forwards
        ("neck", "z", 15.0, "neck_lateral_bend"),  # head to the right (-X)
        ("pelvis", "x", 15.0, "pelvis_tilt"),  # whole body pitched forwards
        ("pelvis", "y", 40.0, "pelvis_rotation"),  # whole body turned left
    ],
)
def test_sign_conventions(joint: str, axis: str, degrees: float, channel: str) -> None:
    a = angles_deg(bend(t_pose(), joint, axis, degrees))
    assert a[channel] == pytest.approx(abs(degrees), abs=1.0)
    moved = [n for n, v in a.items() if n not in ROOT and abs(v - angles_deg(t_pose())[n]) > 1.0]
    assert moved == [channel]


@pytest.mark.parametrize("side", ["left", "right"])
@pytest.mark.parametrize("elbow", [70.0, 90.0, 140.0])
def test_shoulder_internal_rotation(side: str, elbow: float) -> None:
    """Arm at the side, forearm forwards, then the forearm swung across the belly = internal rotation."""
    sign = 1.0 if side == "left" else -1.0  # left forearm swings towards -X: rotation about -Y for left
    pose = bend(arms_down(t_pose()), f"{side}_elbow", "x", -elbow)
    a = angles_deg(bend(pose, f"{side}_shoulder", "y", -sign * 50.0))
    assert a[f"{side}_shoulder_rotation"] == pytest.approx(50.0, abs=1.0)
    assert a[f"{side}_elbow_flexion"] == pytest.approx(elbow, abs=1.0)
    assert a[f"{side}_shoulder_abduction"] == pytest.approx(0.0, abs=1.0)


def test_shoulder_twist_fades_as_the_elbow_straightens() -> None:
    """The twist of a straight arm is unobservable: it fades to 0 smoothly, with no jump."""
    down = arms_down(t_pose())
    frames = np.stack(
        [  # humerus rotated 60 deg inwards while the elbow straightens from 90 deg
            bend(bend(down, "right_elbow", "x", -e), "right_shoulder", "y", 60.0)
            for e in np.linspace(90, 0, 46)
        ]
    )
    twist = np.rad2deg(joint_angles(frames)[:, CH["right_shoulder_rotation"]])
    assert twist[0] == pytest.approx(60.0, abs=1.0) and twist[-1] == pytest.approx(0.0, abs=1e-3)
    assert np.all(np.diff(twist) < 1e-4) and np.abs(np.diff(twist)).max() < 8.0


def test_pure_yaw_changes_only_pelvis_rotation() -> None:
    motion = synthetic_motion()
    base = joint_angles(motion)
    for degrees in (37.0, -120.0, 181.0):
        out = joint_angles(yaw(motion, degrees, (1.5, 0.0, -0.7)))
        keep = [CH[n] for n in ANGLE_CHANNEL_NAMES if n != "pelvis_rotation"]
        np.testing.assert_allclose(out[:, keep], base[:, keep], atol=2e-4)
        turn = np.angle(np.exp(1j * (out[:, CH["pelvis_rotation"]] - base[:, CH["pelvis_rotation"]])))
        np.testing.assert_allclose(np.rad2deg(turn), np.angle(np.exp(1j * np.deg2rad(degrees)), deg=True),
                                   atol=0.05)  # fmt: skip


def test_pure_yaw_on_real_walk(walks: list[np.ndarray]) -> None:
    motion = walks[0]
    base, out = joint_angles(motion), joint_angles(yaw(motion, -75.0, (0.3, 0.0, 2.0)))
    local = [CH[n] for n in LOCAL + list(ROOT) + ["pelvis_tilt", "pelvis_obliquity"]]
    np.testing.assert_allclose(out[:, local], base[:, local], atol=2e-4)
    assert np.ptp(out[:, CH["pelvis_rotation"]] - base[:, CH["pelvis_rotation"]]) < 1e-3


def test_mirror_swaps_left_and_right(walks: list[np.ndarray]) -> None:
    for motion in (synthetic_motion(), walks[1]):
        a, m = joint_angles(motion), joint_angles(mirror(motion))
        np.testing.assert_allclose(m, mirror_angles(a), atol=2e-4)
        for name in ANGLE_CHANNEL_NAMES:
            twin = name.replace("left_", "@").replace("right_", "left_").replace("@", "right_")
            sign = ANGLE_MIRROR_SIGNS[CH[name]]
            np.testing.assert_allclose(m[:, CH[name]], sign * a[:, CH[twin]], atol=2e-4, err_msg=name)
        # limb channels keep their sign: abduction outwards is positive on both sides
        assert all(ANGLE_MIRROR_SIGNS[CH[n]] == 1.0 for n in ANGLE_CHANNEL_NAMES if "left_" in n)
    assert np.abs(a[:, CH["right_hip_abduction"]]).max() > 0.02  # the check above is not vacuous


def test_real_walks_are_continuous(walks: list[np.ndarray]) -> None:
    for motion in walks:
        a = joint_angles(motion)
        assert np.all(np.isfinite(a))
        jumps = np.rad2deg(np.abs(np.diff(a[:, 3:], axis=0))).max(axis=0)
        worst = int(np.argmax(jumps))
        assert jumps[worst] < 30.0, f"{ANGLE_CHANNEL_NAMES[3 + worst]} jumps {jumps[worst]:.1f} deg"
        knees = np.rad2deg(a[:, [CH["left_knee_flexion"], CH["right_knee_flexion"]]])
        assert knees.min() < 30.0 and 55.0 < knees.max() < 90.0  # roughly 0-70 deg
        assert np.all(knees > -1e-3)


def test_unwrapped_through_full_turns() -> None:
    spin = np.stack([bend(t_pose(), "pelvis", "y", 12.0 * t) for t in range(75)])  # 2.5 turns
    turn = joint_angles(spin)[:, CH["pelvis_rotation"]]
    np.testing.assert_allclose(np.diff(np.rad2deg(turn)), 12.0, atol=1e-3)
    assert np.rad2deg(turn[-1] - turn[0]) == pytest.approx(12.0 * 74, abs=0.01)


def test_degenerate_poses_stay_finite() -> None:
    pose = t_pose()
    pose[JOINT_INDEX["left_foot"]] = pose[JOINT_INDEX["left_ankle"]]  # zero-length foot
    pose[JOINT_INDEX["left_collar"]] = pose[JOINT_INDEX["right_collar"]] = pose[JOINT_INDEX["neck"]]
    still = np.stack([pose, np.zeros_like(pose)])
    assert np.all(np.isfinite(joint_angles(still)))


@pytest.mark.parametrize(
    ("joints", "message"),
    [
        (np.zeros((10, 21, 3)), "shape"),
        (np.zeros((0, 22, 3)), "shape"),
        (np.zeros((22, 3)), "shape"),
    ],
)
def test_bad_shapes_raise(joints: np.ndarray, message: str) -> None:
    with pytest.raises(MotionDataError, match=message):
        joint_angles(joints)


def test_non_finite_raises_naming_the_frame() -> None:
    motion = synthetic_motion(6)
    motion[4, JOINT_INDEX["left_knee"], 1] = np.nan
    with pytest.raises(MotionDataError, match=r"frame 4, joint 4"):
        joint_angles(motion)
