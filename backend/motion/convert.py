"""Conversions between files / arrays and canonical :class:`~backend.motion.clip.Clip` objects.

* :func:`bvh_to_clip`: any humanoid BVH -> FK -> SMPL-22 (alias table or explicit mapping) -> canonical clip.
* :func:`amc_to_clip`: Acclaim AMC + its ASF skeleton -> FK -> SMPL-22 -> canonical clip.
* :func:`file_to_clip`: either of the two by the file's suffix (``.bvh``, ``.amc``).
* :func:`joints_to_clip`: SMPL-22 positions (Y up, metres, any fps) -> canonical clip.
* :func:`clip_to_bvh`: canonical clip -> BVH with an SMPL-22 hierarchy named with the SMPL joint names.

The BVH writer's rotation solver is :func:`backend.motion.bvh_solve.positions_to_bvh`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from backend.errors import MotionDataError, RigMappingError
from backend.motion.bvh_solve import positions_to_bvh
from backend.motion.clip import CANONICAL_FPS, Clip, ClipMeta
from backend.motion.io.acclaim import find_asf, read_amc, read_asf
from backend.motion.io.bvh import read_bvh, write_bvh
from backend.motion.kinematics.acclaim_fk import acclaim_forward_kinematics, acclaim_point_names
from backend.motion.kinematics.canonical import canonicalise, validate_positions
from backend.motion.kinematics.fk import forward_kinematics, point_names
from backend.motion.kinematics.retarget import apply_mapping, map_joints
from backend.motion.kinematics.skeleton import NUM_JOINTS
from backend.motion.limits import max_frames_at

__all__ = [
    "ACCLAIM_DEFAULT_FPS",
    "amc_to_clip",
    "bvh_to_clip",
    "clip_to_bvh",
    "file_to_clip",
    "joints_to_clip",
]

#: frame rate of an AMC file whose name does not end in ``_<fps>`` (the CMU database and HDM05 record at 120)
ACCLAIM_DEFAULT_FPS = 120.0
_FPS_SUFFIX = re.compile(r"_(\d{2,3})$")


def _safe_id(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("._") or "clip"


def bvh_to_clip(
    path: str | os.PathLike,
    *,
    clip_id: str | None = None,
    dataset: str = "user",
    source: str | None = None,
    licence: str = "",
    mapping: Mapping[str, str | Sequence[tuple[str, float]]] | None = None,
    unit_scale: float | None = None,
    rig: str | None = None,
    up_axis: str = "y",
    drop_rest_frame: bool = True,
) -> Clip:
    """Read a BVH file and convert it into a canonical clip.

    Args:
        path: the ``.bvh`` file.
        clip_id: clip id; defaults to the file stem (made filesystem-safe).
        dataset: dataset key stored in the metadata.
        source: source path stored in the metadata; defaults to the file name.
        licence: licence name stored in the metadata.
        mapping: explicit ``{smpl_name: source_joint}`` entries overriding the alias table.
        unit_scale: metres per file unit; ``None`` detects it from the body size.
        rig: force a rig profile of :data:`~backend.motion.kinematics.retarget.RIG_PROFILES`.
        up_axis: up axis of the file (``"y"`` for every rig in the shared datasets, ``"auto"`` to detect).
        drop_rest_frame: drop a prepended rest/T-pose frame (only when frame 0 clearly teleports).

    Returns:
        :class:`Clip` with ``(T, 22, 3)`` float32 canonical joints; ``meta.fps_orig`` is the file's frame
        rate (rounded to 1e-3) and ``meta.duration`` is ``T / 20`` seconds.

    Raises:
        BvhError: unreadable or malformed file.
        RigMappingError: the rig cannot be mapped onto SMPL-22 (names the file and every missing joint).
        MotionDataError: unusable motion values.
    """
    p = Path(path)
    data = read_bvh(p)
    names = point_names(data)
    try:
        joint_map = map_joints(names, mapping, rig=rig)
    except RigMappingError as exc:
        raise RigMappingError(f"{p}: {exc}") from None
    points = forward_kinematics(data, with_end_sites=True)
    smpl = apply_mapping(points, joint_map)
    joints = canonicalise(
        smpl, data.fps, unit_scale, up_axis=up_axis, drop_rest_frame=drop_rest_frame, what=str(p)
    )
    meta = ClipMeta(
        id=clip_id if clip_id is not None else _safe_id(p.stem),
        source=source if source is not None else p.name,
        dataset=dataset,
        licence=licence,
        fps_orig=round(data.fps, 3),
        duration=joints.shape[0] / CANONICAL_FPS,
    )
    return Clip(joints=joints, meta=meta)


def _amc_fps(path: Path) -> float:
    """``_120`` at the end of the stem (HDM05's names) gives the rate; else :data:`ACCLAIM_DEFAULT_FPS`."""
    m = _FPS_SUFFIX.search(path.stem)
    if m and 10 <= int(m.group(1)) <= 480:
        return float(m.group(1))
    return ACCLAIM_DEFAULT_FPS


def amc_to_clip(
    path: str | os.PathLike,
    asf: str | os.PathLike | None = None,
    *,
    clip_id: str | None = None,
    dataset: str = "user",
    source: str | None = None,
    licence: str = "",
    mapping: Mapping[str, str | Sequence[tuple[str, float]]] | None = None,
    fps: float | None = None,
    unit_scale: float | None = None,
    rig: str | None = None,
) -> Clip:
    """Read an Acclaim AMC motion (with its ASF skeleton) and convert it into a canonical clip.

    Args:
        path: the ``.amc`` file.
        asf: its ``.asf`` skeleton; ``None`` looks beside the AMC (:func:`~backend.motion.io.acclaim.find_asf`).
        clip_id, dataset, source, licence, mapping, rig: as for :func:`bvh_to_clip`.
        fps: frame rate; ``None`` reads a ``_<fps>`` name suffix (``..._120.amc``), else 120.
        unit_scale: metres per file unit; ``None`` takes the ASF's ``:units length`` (``0.0254 / length``)
            when it gives a body of human size, else detects it from the body size.

    Returns:
        :class:`Clip` with ``(T, 22, 3)`` float32 canonical joints (Y up, as Acclaim files are).

    Raises:
        AsfAmcError: missing or malformed ASF / AMC (file and line named).
        RigMappingError: the skeleton cannot be mapped onto SMPL-22.
        MotionDataError: unusable motion values.
    """
    p = Path(path)
    skeleton = read_asf(asf if asf is not None else find_asf(p))
    rate = float(fps) if fps is not None else _amc_fps(p)
    motion = read_amc(p, skeleton, max_frames=max_frames_at(rate))
    names = acclaim_point_names(skeleton)
    try:
        joint_map = map_joints(names, mapping, rig=rig)
    except RigMappingError as exc:
        raise RigMappingError(f"{p}: {exc}") from None
    smpl = apply_mapping(acclaim_forward_kinematics(skeleton, motion), joint_map)
    if unit_scale is None:
        scale = skeleton.metres_per_unit
        extent = float(np.ptp(smpl[0], axis=0).max()) * scale  # body size in the first frame (lying too)
        unit_scale = scale if 0.5 <= extent <= 2.5 else None
    joints = canonicalise(smpl, rate, unit_scale, drop_rest_frame=False, what=str(p))
    meta = ClipMeta(
        id=clip_id if clip_id is not None else _safe_id(p.stem),
        source=source if source is not None else p.name,
        dataset=dataset,
        licence=licence,
        fps_orig=round(rate, 3),
        duration=joints.shape[0] / CANONICAL_FPS,
    )
    return Clip(joints=joints, meta=meta)


def file_to_clip(path: str | os.PathLike, **kwargs) -> Clip:
    """Convert a motion file by its suffix: ``.bvh`` (:func:`bvh_to_clip`) or ``.amc`` (:func:`amc_to_clip`,
    ASF beside it unless ``asf=`` is given). Keyword arguments go to the converter (``asf`` only to AMC).

    Raises:
        InvalidInputError: another suffix (names the accepted ones).
    """
    from backend.errors import InvalidInputError

    suffix = Path(path).suffix.lower()
    if suffix == ".amc":
        return amc_to_clip(path, **kwargs)
    if suffix == ".bvh":
        kwargs.pop("asf", None)
        return bvh_to_clip(path, **kwargs)
    raise InvalidInputError(f"{path}: not a motion file (.bvh, or .amc with its .asf)")


def joints_to_clip(
    joints: np.ndarray,
    fps: float,
    *,
    clip_id: str = "query",
    dataset: str = "user",
    source: str = "",
    licence: str = "",
    unit_scale: float = 1.0,
) -> Clip:
    """Canonicalise SMPL-22 joint positions (Y up, metres by default, any frame rate).

    Args:
        joints: ``(T, 22, 3)`` positions in HumanML3D joint order.
        fps: their frame rate.
        clip_id: id of the resulting clip.
        dataset: dataset key stored in the metadata.
        source: source stored in the metadata.
        licence: licence stored in the metadata.
        unit_scale: metres per unit of ``joints`` (``None`` detects it).

    Returns:
        The canonical :class:`Clip` (20 fps).

    Raises:
        MotionDataError: wrong shape (names the expected ``(T, 22, 3)``), NaN/inf, zero frames, absurd fps.
    """
    arr = validate_positions(joints, fps, what=f"joints of clip {clip_id!r}")
    canon = canonicalise(arr, fps, unit_scale, what=f"joints of clip {clip_id!r}")
    meta = ClipMeta(
        id=clip_id,
        source=source,
        dataset=dataset,
        licence=licence,
        fps_orig=round(float(fps), 3),
        duration=canon.shape[0] / CANONICAL_FPS,
    )
    return Clip(joints=canon, meta=meta)


def clip_to_bvh(clip: Clip, path: str | os.PathLike, *, exact: bool = True) -> None:
    """Write a canonical clip as a canonical-rate (20 fps) BVH in metres, atomically.

    Args:
        clip: the clip (``joints`` ``(T, 22, 3)``).
        path: destination ``.bvh`` file.
        exact: position channels on the hips, spine1, neck and collars too (see :func:`~backend.motion.bvh_solve.positions_to_bvh`);
            ``False`` writes a rotation-only rig (positions on the pelvis only).

    Raises:
        MotionDataError: the clip's joints are not ``(T, 22, 3)`` finite values.
        BvhError: the file cannot be written.
    """
    joints = np.asarray(clip.joints)
    if joints.ndim != 3 or joints.shape[1:] != (NUM_JOINTS, 3):
        raise MotionDataError(f"clip {clip.meta.id!r}: joints must be (T, 22, 3), got {joints.shape}")
    write_bvh(path, positions_to_bvh(joints, CANONICAL_FPS, exact=exact))
