"""Skeleton definitions shared by the whole project (defined once, here).

* SMPL-22 in HumanML3D order (names as SMPL names them), parents and kinematic chains.
* KIT-ML's 21 joints and a KIT -> SMPL-22 mapping (weighted joint combinations).
* The 14 body-part bands of the joint-angle motion image (29 channels) and the SMPL joints each
  band drives (used to turn band strengths into per-joint strengths).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "BANDS",
    "BAND_NAMES",
    "JOINT_INDEX",
    "KIT_JOINT_NAMES",
    "KIT_PARENTS",
    "KIT_TO_SMPL",
    "MIRROR_JOINTS",
    "NUM_ANGLE_CHANNELS",
    "NUM_BANDS",
    "NUM_JOINTS",
    "SMPL_CHAINS",
    "SMPL_JOINT_NAMES",
    "SMPL_PARENTS",
    "Band",
    "band_slices",
]


SMPL_JOINT_NAMES: tuple[str, ...] = (
    "pelvis", "left_hip", "right_hip", "spine1", "left_knee", "right_knee", "spine2",
    "left_ankle", "right_ankle", "spine3", "left_foot", "right_foot", "neck", "left_collar",
    "right_collar", "head", "left_shoulder", "right_shoulder", "left_elbow", "right_elbow",
    "left_wrist", "right_wrist",
)  # fmt: skip
NUM_JOINTS = len(SMPL_JOINT_NAMES)
JOINT_INDEX: dict[str, int] = {n: i for i, n in enumerate(SMPL_JOINT_NAMES)}

SMPL_PARENTS: tuple[int, ...] = (-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19)

#: HumanML3D's kinematic chains: right leg, left leg, spine+head, right arm, left arm.
SMPL_CHAINS: tuple[tuple[int, ...], ...] = (
    (0, 2, 5, 8, 11),
    (0, 1, 4, 7, 10),
    (0, 3, 6, 9, 12, 15),
    (9, 14, 17, 19, 21),
    (9, 13, 16, 18, 20),
)

#: index of each joint's left/right twin (itself for centre joints)
MIRROR_JOINTS: tuple[int, ...] = tuple(
    JOINT_INDEX[n.replace("left_", "@").replace("right_", "left_").replace("@", "right_")]
    for n in SMPL_JOINT_NAMES
)

#: KIT-ML joint order (21 joints, millimetres, Y up in HumanML3D's KIT conversion). The side of each
#: limb follows HumanML3D's ``face_joint_indx = [11, 16, 5, 8]`` (right hip, left hip, right shoulder,
#: left shoulder) for KIT.
KIT_JOINT_NAMES: tuple[str, ...] = (
    "root", "pelvis_top", "torso", "lower_neck", "head",
    "right_shoulder", "right_elbow", "right_wrist",
    "left_shoulder", "left_elbow", "left_wrist",
    "right_hip", "right_knee", "right_ankle", "right_metatarsal", "right_toe",
    "left_hip", "left_knee", "left_ankle", "left_metatarsal", "left_toe",
)  # fmt: skip
KIT_PARENTS: tuple[int, ...] = (-1, 0, 1, 2, 3, 3, 5, 6, 3, 8, 9, 0, 11, 12, 13, 14, 0, 16, 17, 18, 19)

#: SMPL joint name -> list of (KIT joint index, weight); weights sum to 1.
KIT_TO_SMPL: dict[str, tuple[tuple[int, float], ...]] = {
    "pelvis": ((0, 1.0),),
    "left_hip": ((16, 1.0),),
    "right_hip": ((11, 1.0),),
    "spine1": ((1, 1.0),),
    "left_knee": ((17, 1.0),),
    "right_knee": ((12, 1.0),),
    "spine2": ((1, 0.5), (2, 0.5)),
    "left_ankle": ((18, 1.0),),
    "right_ankle": ((13, 1.0),),
    "spine3": ((2, 1.0),),
    "left_foot": ((19, 1.0),),
    "right_foot": ((14, 1.0),),
    "neck": ((3, 1.0),),
    "left_collar": ((3, 0.5), (8, 0.5)),
    "right_collar": ((3, 0.5), (5, 0.5)),
    "head": ((4, 1.0),),
    "left_shoulder": ((8, 1.0),),
    "right_shoulder": ((5, 1.0),),
    "left_elbow": ((9, 1.0),),
    "right_elbow": ((6, 1.0),),
    "left_wrist": ((10, 1.0),),
    "right_wrist": ((7, 1.0),),
}


@dataclass(frozen=True)
class Band:
    """One body-part group of the motion image.

    Attributes:
        name: stable identifier (used in API responses and figures).
        label: human-readable name for figures and the add-on.
        channels: number of joint-angle channels in this group.
        joints: SMPL joint names this band drives (for per-joint strengths).
    """

    name: str
    label: str
    channels: int
    joints: tuple[str, ...]


#: The 14 body-part groups, in motion-image order (top band first). 29 channels in all.
BANDS: tuple[Band, ...] = (
    Band("root_position", "root position", 3, ("pelvis",)),
    Band("pelvis", "pelvis orientation", 3, ("pelvis",)),
    Band("left_hip", "left hip", 3, ("left_hip",)),
    Band("right_hip", "right hip", 3, ("right_hip",)),
    Band("left_knee", "left knee", 1, ("left_knee",)),
    Band("right_knee", "right knee", 1, ("right_knee",)),
    Band("left_ankle", "left ankle", 1, ("left_ankle", "left_foot")),
    Band("right_ankle", "right ankle", 1, ("right_ankle", "right_foot")),
    Band("lumbar", "lumbar spine", 3, ("spine1", "spine2", "spine3")),
    Band("neck", "neck", 2, ("neck", "head")),
    Band("left_shoulder", "left shoulder", 3, ("left_collar", "left_shoulder")),
    Band("right_shoulder", "right shoulder", 3, ("right_collar", "right_shoulder")),
    Band("left_elbow", "left elbow", 1, ("left_elbow", "left_wrist")),
    Band("right_elbow", "right elbow", 1, ("right_elbow", "right_wrist")),
)
BAND_NAMES: tuple[str, ...] = tuple(b.name for b in BANDS)
NUM_BANDS = len(BANDS)
NUM_ANGLE_CHANNELS = sum(b.channels for b in BANDS)


def band_slices(channels: tuple[int, ...] | None = None) -> list[slice]:
    """Channel slice of each band in a feature vector laid out band after band.

    Args:
        channels: channels per band; defaults to the joint-angle layout of :data:`BANDS`.

    Returns:
        One ``slice`` per band.

    >>> band_slices()[0], band_slices()[-1]
    (slice(0, 3, None), slice(28, 29, None))
    """
    counts = channels if channels is not None else tuple(b.channels for b in BANDS)
    out, start = [], 0
    for c in counts:
        out.append(slice(start, start + c))
        start += c
    return out
