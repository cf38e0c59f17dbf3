"""KIT-ML in HumanML3D's release layout -> canonical SMPL-22 clips with captions.

Layout: the same as HumanML3D (see :mod:`backend.motion.datasets.humanml3d`)::

    ROOT/new_joints/<id>.npy   (T, 21, 3) KIT joint positions in millimetres, Y up, 12.5 fps
    ROOT/texts/<id>.txt        caption#tok/POS ...#from#to lines
    ROOT/train.txt, val.txt, test.txt

Frame rate: the KIT Motion-Language Dataset's recordings (KIT whole-body database, MMM format) are sampled at
100 Hz; the ``new_joints`` files of HumanML3D's KIT-ML release are downsampled by 8, to 12.5 fps, which is the
default here (pass ``fps`` for other copies). The 21 joints follow
:data:`~backend.motion.kinematics.skeleton.KIT_JOINT_NAMES` and become SMPL-22 through
:data:`~backend.motion.kinematics.skeleton.KIT_TO_SMPL` (weighted combinations: SMPL's spine2 and collars
have no KIT counterpart), then millimetres -> metres and 12.5 -> 20 fps in the canonicalisation.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from backend.motion.datasets.humanml3d import TextMotionItem, load_text_motion_folder
from backend.motion.kinematics.skeleton import KIT_JOINT_NAMES, KIT_TO_SMPL, NUM_JOINTS, SMPL_JOINT_NAMES

__all__ = ["KITML_FPS", "KITML_UNIT_SCALE", "kit_to_smpl", "load_kitml"]

KITML_FPS = 12.5
#: metres per KIT-ML unit (millimetres)
KITML_UNIT_SCALE = 0.001


def kit_to_smpl(joints: np.ndarray) -> np.ndarray:
    """Map KIT-21 joints to SMPL-22 with :data:`KIT_TO_SMPL`.

    Args:
        joints: ``(T, 21, 3)`` KIT joint positions.

    Returns:
        ``(T, 22, 3)`` SMPL-22 positions in the same units.
    """
    weights = np.zeros((NUM_JOINTS, len(KIT_JOINT_NAMES)))
    for j, name in enumerate(SMPL_JOINT_NAMES):
        for idx, w in KIT_TO_SMPL[name]:
            weights[j, idx] += w
    return np.einsum("jk,tkc->tjc", weights, joints)


def load_kitml(
    root: str | Path,
    split: str,
    *,
    fps: float = KITML_FPS,
    unit_scale: float = KITML_UNIT_SCALE,
    min_frames: int = 1,
    skip_missing: bool = False,
    licence: str = "",
) -> list[TextMotionItem]:
    """Load a split of KIT-ML (HumanML3D's release) as canonical SMPL-22 items.

    Args:
        root: the ``KIT-ML`` folder (with ``new_joints/``, ``texts/``, ``<split>.txt``).
        split: ``train``, ``val``, ``test`` ...
        fps: frame rate of the ``new_joints`` files (12.5 in HumanML3D's release).
        unit_scale: metres per unit (0.001: millimetres).
        min_frames: drop items shorter than this many canonical 20 fps frames.
        skip_missing: skip listed ids without files instead of raising.
        licence: licence string stored in each clip's metadata.

    Returns:
        The split's :class:`~backend.motion.datasets.humanml3d.TextMotionItem` objects.

    Raises:
        DatasetError: missing folder, split file or listed file; malformed caption lines or joint arrays.
    """
    return load_text_motion_folder(
        root,
        split,
        num_joints=len(KIT_JOINT_NAMES),
        fps=fps,
        unit_scale=unit_scale,
        dataset="kitml",
        to_smpl=kit_to_smpl,
        licence=licence,
        min_frames=min_frames,
        skip_missing=skip_missing,
    )
