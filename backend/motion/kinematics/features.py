"""Per-frame motion features laid out in the 14 body-part bands of ``BANDS``.

Two representations feed the same 14-band motion image:

* ``"angles"`` (the paper's): the 29 ISB joint-angle channels of :func:`~.angles.joint_angles`.
* ``"positions"`` (the ablation): joint positions, 3 values per joint, grouped by the joints each band
  drives (``Band.joints``):

  - ``root_position``: the pelvis trajectory, identical to the angle representation's root channels
    (displacement since frame 0 in frame 0's heading frame, height absolute).
  - ``pelvis``: the pelvis *orientation* as the unit forward (ISB X) axis of the pelvis frame, in frame
    0's heading frame. (The band's only joint is the pelvis, whose pelvis-relative position is always 0;
    the forward axis carries what the angle representation's pelvis band carries.)
  - every other band: each driven joint's position relative to the pelvis, rotated about Y by that
    frame's own heading (HumanML3D's facing) so the body faces +Z, like HumanML3D's root-relative,
    rotation-invariant positions. Heading lives in the pelvis band only, as with the angles.

  69 channels in all: ``3 + 3 + 3 * (number of driven joints)`` per band.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from backend.errors import ConfigError
from backend.motion.kinematics.angles import (
    ANGLE_CHANNEL_NAMES,
    check_joints,
    facing_angle,
    joint_angles,
    root_trajectory,
    segment_frames,
)
from backend.motion.kinematics.skeleton import BANDS, JOINT_INDEX

__all__ = [
    "REPRESENTATIONS",
    "Representation",
    "band_channels",
    "channel_names",
    "check_representation",
    "compute_features",
]

Representation = Literal["angles", "positions"]
REPRESENTATIONS: tuple[str, ...] = ("angles", "positions")


def check_representation(representation: str) -> str:
    """Return ``representation`` if it is known.

    Raises:
        ConfigError: unknown name (lists the valid names).

    >>> check_representation("angles")
    'angles'
    """
    if representation not in REPRESENTATIONS:
        raise ConfigError(
            f"representation: unknown value {representation!r}; valid names: {', '.join(REPRESENTATIONS)}"
        )
    return representation


def band_channels(representation: str = "angles") -> tuple[int, ...]:
    """Number of channels of each of the 14 bands, in ``BANDS`` order.

    Args:
        representation: one of :data:`REPRESENTATIONS`.

    Returns:
        14 channel counts (they sum to the feature width ``C``).

    >>> band_channels("angles")
    (3, 3, 3, 3, 1, 1, 1, 1, 3, 2, 3, 3, 1, 1)
    >>> sum(band_channels("positions"))
    69
    """
    if check_representation(representation) == "angles":
        return tuple(b.channels for b in BANDS)
    return tuple(3 if b.name in ("root_position", "pelvis") else 3 * len(b.joints) for b in BANDS)


def channel_names(representation: str = "angles") -> tuple[str, ...]:
    """Name of every feature channel, in order (``C`` names).

    >>> channel_names("positions")[:4]
    ('root_x', 'root_y', 'root_z', 'pelvis_forward_x')
    """
    if check_representation(representation) == "angles":
        return ANGLE_CHANNEL_NAMES
    names = ["root_x", "root_y", "root_z", "pelvis_forward_x", "pelvis_forward_y", "pelvis_forward_z"]
    for band in BANDS[2:]:
        names += [f"{joint}_{axis}" for joint in band.joints for axis in "xyz"]
    return tuple(names)


def _rotate_y(v: np.ndarray, angle: np.ndarray) -> np.ndarray:
    """Rotate ``(T, ..., 3)`` vectors about +Y by ``-angle`` ``(T,)`` (undoes a heading of ``angle``)."""
    c = np.cos(angle).reshape((-1,) + (1,) * (v.ndim - 2))
    s = np.sin(angle).reshape(c.shape)
    x, y, z = v[..., 0], v[..., 1], v[..., 2]
    return np.stack([x * c - z * s, y, x * s + z * c], axis=-1)


def _position_features(j: np.ndarray) -> np.ndarray:
    """The ``positions`` representation of checked float64 joints ``(T, 22, 3)`` -> ``(T, 69)``."""
    heading0 = np.full(j.shape[0], facing_angle(j[:1])[0])
    forward = segment_frames(j)["pelvis"][..., 0]
    parts = [root_trajectory(j), _rotate_y(forward, heading0)]
    local = _rotate_y(j - j[:, JOINT_INDEX["pelvis"]][:, None], facing_angle(j))
    for band in BANDS[2:]:
        idx = [JOINT_INDEX[n] for n in band.joints]
        parts.append(local[:, idx].reshape(j.shape[0], -1))
    return np.concatenate(parts, axis=-1)


def compute_features(joints: np.ndarray, representation: str = "angles") -> np.ndarray:
    """Per-frame features of a motion, band after band (see the module docstring).

    Args:
        joints: ``(T, 22, 3)`` canonical SMPL-22 positions.
        representation: ``"angles"`` (29 channels) or ``"positions"`` (69 channels).

    Returns:
        ``(T, C)`` float32 with ``C = sum(band_channels(representation))``.

    Raises:
        ConfigError: unknown representation.
        MotionDataError: wrong shape, no frames, or NaN/inf values.

    >>> compute_features(np.zeros((4, 22, 3)), "positions").shape
    (4, 69)
    """
    check_representation(representation)
    if representation == "angles":
        return joint_angles(joints)
    return _position_features(check_joints(joints)).astype(np.float32)
