"""Conversions between files / arrays and canonical :class:`~backend.motion.clip.Clip` objects.

* :func:`bvh_to_clip`: any humanoid BVH -> FK -> SMPL-22 (alias table or explicit mapping) -> canonical clip.
* :func:`amc_to_clip`: Acclaim AMC + its ASF skeleton -> FK -> SMPL-22 -> canonical clip.
* :func:`file_to_clip`: either of the two by the file's suffix (``.bvh``, ``.amc``).
* :func:`joints_to_clip`: SMPL-22 positions (Y up, metres, any fps) -> canonical clip.
* :func:`clip_to_bvh`: canonical clip -> BVH with an SMPL-22 hierarchy named with the SMPL joint names.

The BVH writer solves joint rotations from positions (:func:`positions_to_bvh`): rest offsets point along the
clip's frame-0 bones with their median length; parent first, a joint with one child gets the smallest
rotation (in its parent's frame) that points its bone at the child's target, and a joint with several
children (pelvis, spine3) the rotation that best aligns all of them (Kabsch / SVD, as
``scipy.spatial.transform.Rotation.align_vectors``). Bones aim from the *reconstructed* joint position, so
errors never accumulate along a chain. The pelvis carries position channels, and by default (``exact=True``)
so do the children of the two branching joints, because retargeted skeletons are not rigid there (CMU's hip
joints rotate, the lower back bends around the pelvis, clavicles move on the chest). Reading the file back
and running forward kinematics then reproduces the clip to within a few millimetres (what remains is bone
length variation from resampling).
"""

from __future__ import annotations

import os
import re
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from scipy.spatial.transform import Rotation

from backend.errors import MotionDataError, RigMappingError
from backend.motion.clip import Clip, ClipMeta
from backend.motion.io.acclaim import find_asf, read_amc, read_asf
from backend.motion.io.bvh import BvhData, read_bvh, write_bvh
from backend.motion.kinematics.acclaim_fk import acclaim_forward_kinematics, acclaim_point_names
from backend.motion.kinematics.canonical import canonicalise, validate_positions
from backend.motion.kinematics.fk import forward_kinematics, point_names
from backend.motion.kinematics.retarget import apply_mapping, map_joints
from backend.motion.kinematics.skeleton import CANONICAL_FPS, NUM_JOINTS, SMPL_JOINT_NAMES, SMPL_PARENTS
from backend.motion.limits import max_frames_at

__all__ = [
    "ACCLAIM_DEFAULT_FPS",
    "BVH_ROTATION_ORDER",
    "amc_to_clip",
    "bvh_to_clip",
    "clip_to_bvh",
    "file_to_clip",
    "joints_to_clip",
    "positions_to_bvh",
]

#: frame rate of an AMC file whose name does not end in ``_<fps>`` (the CMU database and HDM05 record at 120)
ACCLAIM_DEFAULT_FPS = 120.0
_FPS_SUFFIX = re.compile(r"_(\d{2,3})$")

#: rotation channels written by :func:`clip_to_bvh` (intrinsic Z, then X, then Y)
BVH_ROTATION_ORDER = ("Zrotation", "Xrotation", "Yrotation")


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


def _unit(v: np.ndarray) -> np.ndarray:
    n = np.linalg.norm(v, axis=-1, keepdims=True)
    return v / np.maximum(n, 1e-12)


def _min_rotation(rest: np.ndarray, target: np.ndarray) -> np.ndarray:
    """``(T, 3, 3)`` smallest rotations taking direction ``rest`` (3,) onto each ``target`` (T, 3)."""
    v = _unit(rest)
    u = _unit(target)
    axis = np.cross(v, u)
    s = np.linalg.norm(axis, axis=-1)
    c = u @ v
    helper = np.eye(3)[np.argmin(np.abs(v))]
    perp = _unit(np.cross(v, helper))
    axis = np.where((s > 1e-9)[:, None], axis / np.maximum(s, 1e-12)[:, None], perp)
    angle = np.arctan2(s, c)
    return Rotation.from_rotvec(axis * angle[:, None]).as_matrix()


def _best_rotation(rest: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """``(T, 3, 3)`` rotations best aligning rest directions (K, 3) with targets (T, K, 3) (Kabsch)."""
    m = np.einsum("tki,kj->tij", _unit(targets), _unit(rest))
    u, _, vt = np.linalg.svd(m)
    d = np.sign(np.linalg.det(u @ vt))
    u[:, :, 2] *= d[:, None]
    return u @ vt


_REST_REFINEMENTS = 2


def _world(pos: np.ndarray, local_r: np.ndarray, local_t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """FK of the SMPL-22 tree: world rotations ``(T, 22, 3, 3)`` and positions ``(T, 22, 3)``."""
    world_r = np.zeros_like(local_r)
    recon = np.zeros_like(pos)
    for j in range(NUM_JOINTS):
        parent = SMPL_PARENTS[j]
        if parent < 0:
            world_r[:, j], recon[:, j] = local_r[:, j], local_t[:, j]
        else:
            world_r[:, j] = world_r[:, parent] @ local_r[:, j]
            recon[:, j] = recon[:, parent] + np.einsum("tij,tj->ti", world_r[:, parent], local_t[:, j])
    return world_r, recon


def _solve_rotations(
    pos: np.ndarray,
    offsets: np.ndarray,
    children: dict[int, list[int]],
    translated: frozenset[int] = frozenset(),
) -> tuple[np.ndarray, np.ndarray]:
    """Local rotations pointing every bone at its target, parent first.

    Returns:
        ``(T, 22, 3, 3)`` local rotations and ``(T, 22, 3)`` local translations (the rest offset, except for
        the root and the ``translated`` joints, which are placed exactly).
    """
    n_frames = pos.shape[0]
    world_r = np.zeros((n_frames, NUM_JOINTS, 3, 3))
    local_r = np.zeros((n_frames, NUM_JOINTS, 3, 3))
    recon = np.zeros_like(pos)
    recon[:, 0] = pos[:, 0]
    local_t = np.broadcast_to(offsets, pos.shape).copy()
    local_t[:, 0] = pos[:, 0]
    eye = np.broadcast_to(np.eye(3), (n_frames, 3, 3))
    for j in range(NUM_JOINTS):
        parent_r = eye if j == 0 else world_r[:, SMPL_PARENTS[j]]
        kids = children[j]
        if not kids:
            local = eye
        else:
            # targets seen from the reconstructed joint, in the parent's frame
            targets = np.einsum("tji,tkj->tki", parent_r, pos[:, kids] - recon[:, j][:, None])
            if len(kids) == 1:
                local = _min_rotation(offsets[kids[0]], targets[:, 0])
            else:
                local = _best_rotation(offsets[kids], targets)
        local_r[:, j] = local
        world_r[:, j] = parent_r @ local
        for c in kids:
            if c in translated:
                recon[:, c] = pos[:, c]
                local_t[:, c] = np.einsum("tji,tj->ti", world_r[:, j], pos[:, c] - recon[:, j])
            else:
                recon[:, c] = recon[:, j] + world_r[:, j] @ offsets[c]
    return local_r, local_t


def positions_to_bvh(joints: np.ndarray, fps: float = CANONICAL_FPS, *, exact: bool = True) -> BvhData:
    """Solve an SMPL-22 BVH (rotations + root positions) that reproduces joint positions.

    Args:
        joints: ``(T, 22, 3)`` positions (canonical: metres, Y up).
        fps: frame rate of ``joints``.
        exact: also give position channels to the children of the pelvis and spine3 (hips, spine1, neck,
            collars), as Bandai-Namco's files do for every joint and Blender's importer supports (such bones
            are left unconnected). Retargeted clips whose pelvis or chest children do not move rigidly
            together (CMU's mobile hip joints, a bending lower back, clavicles) are then reproduced exactly;
            with ``False`` (a rotation-only rig) they are reproduced to about a millimetre on average but up
            to a few centimetres at those joints in extreme poses.

    Returns:
        :class:`BvhData` with joints named as in ``SMPL_JOINT_NAMES``; the pelvis has
        ``Xposition Yposition Zposition`` + rotation channels, every other joint rotation channels
        (:data:`BVH_ROTATION_ORDER`); End Sites on the head, wrists and toe bases.
    """
    pos = validate_positions(joints, fps, what="clip joints")
    n_frames = pos.shape[0]
    children = {j: [c for c in range(NUM_JOINTS) if SMPL_PARENTS[c] == j] for j in range(NUM_JOINTS)}
    translated = (
        frozenset(c for kids in children.values() if len(kids) > 1 for c in kids) if exact else frozenset()
    )
    offsets = np.zeros((NUM_JOINTS, 3))
    offsets[0] = pos[0, 0]
    for j in range(1, NUM_JOINTS):
        bone = pos[:, j] - pos[:, SMPL_PARENTS[j]]
        length = float(np.median(np.linalg.norm(bone, axis=-1)))
        d0 = bone[0] if np.linalg.norm(bone[0]) > 1e-9 else np.array([0.0, 1.0, 0.0])
        offsets[j] = _unit(d0) * length
    for _ in range(_REST_REFINEMENTS):
        # joints with several children: their mean directions in the joint's frame become the rest offsets
        local_r, local_t = _solve_rotations(pos, offsets, children, translated)
        world_r, recon = _world(pos, local_r, local_t)
        for j, kids in children.items():
            if len(kids) > 1:
                local = np.einsum("tji,tkj->tki", world_r[:, j], pos[:, kids] - recon[:, j][:, None])
                lengths = np.linalg.norm(offsets[kids], axis=-1, keepdims=True)
                offsets[kids] = _unit(_unit(local).mean(axis=0)) * lengths
    local_r, local_t = _solve_rotations(pos, offsets, children, translated)
    order = "".join(c[0] for c in BVH_ROTATION_ORDER)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # gimbal lock: angles still reproduce the matrix
        euler = Rotation.from_matrix(local_r.reshape(-1, 3, 3)).as_euler(order, degrees=True)
    euler = np.unwrap(euler.reshape(n_frames, NUM_JOINTS, 3), period=360.0, axis=0)
    blocks, channels = [], []
    for j in range(NUM_JOINTS):
        if j == 0 or j in translated:
            blocks.append(local_t[:, j])
            channels.append(("Xposition", "Yposition", "Zposition", *BVH_ROTATION_ORDER))
        else:
            channels.append(BVH_ROTATION_ORDER)
        blocks.append(euler[:, j])
    end_sites = {}
    for j in range(NUM_JOINTS):
        if not children[j]:
            length = float(np.linalg.norm(offsets[j]))
            end_sites[j] = _unit(offsets[j]) * max(0.5 * length, 0.05)
    return BvhData(
        names=list(SMPL_JOINT_NAMES),
        parents=list(SMPL_PARENTS),
        offsets=offsets,
        channels=channels,
        frame_time=1.0 / fps,
        motion=np.concatenate(blocks, axis=1),
        end_sites=end_sites,
    )


def clip_to_bvh(clip: Clip, path: str | os.PathLike, *, exact: bool = True) -> None:
    """Write a canonical clip as a 20 fps BVH in metres (temporary file + atomic rename).

    Args:
        clip: the clip (``joints`` ``(T, 22, 3)``).
        path: destination ``.bvh`` file.
        exact: position channels on the hips, spine1, neck and collars too (see :func:`positions_to_bvh`);
            ``False`` writes a rotation-only rig (positions on the pelvis only).

    Raises:
        MotionDataError: the clip's joints are not ``(T, 22, 3)`` finite values.
        BvhError: the file cannot be written.
    """
    joints = np.asarray(clip.joints)
    if joints.ndim != 3 or joints.shape[1:] != (NUM_JOINTS, 3):
        raise MotionDataError(f"clip {clip.meta.id!r}: joints must be (T, 22, 3), got {joints.shape}")
    write_bvh(path, positions_to_bvh(joints, CANONICAL_FPS, exact=exact))
