# SPDX-License-Identifier: GPL-3.0-or-later
"""Armature bone names -> the 22 SMPL joints; bone-map validation and JSON presets (pure: no bpy).

Detection uses the project's one rig vocabulary (:mod:`.rigtable`: ``rig_aliases.json``, shared with the
backend, and the backend's matching rules), so an armature maps in Blender as the same rig maps in a BVH or
ASF/AMC upload: our own rig (the SMPL names), Mixamo, Bandai-Namco, the CMU conversions (MotionBuilder,
3ds Max, Daz, iClone / Character Creator, Acclaim ASF names, as in HDM05), Blender's metarig and Rigify
(``DEF-`` / ``ORG-`` bones), Unreal's mannequins and 3ds Max bipeds, then generic aliases. Remember SMPL's
naming: Mixamo's ``LeftFoot`` is the SMPL *ankle* and its ``LeftShoulder`` the SMPL *collar*.

Each SMPL joint gets the bone the vocabulary says drives it; joints the backend places between bones (e.g.
Bandai's ``spine2``) or on End Sites (Daz's toes) get none: missing joints that :func:`derivable_joints` can
interpolate from mapped ones are filled when sampling. A map is a plain ``{smpl_joint: bone_name}`` dict and
can be saved as a JSON preset.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence

from .errors import RigMapError
from .rigtable import END_SITE_SUFFIX, map_bones
from .skeleton import SMPL_JOINT_NAMES

__all__ = [
    "PRESET_FORMAT",
    "check_mapping",
    "derivable_joints",
    "detect_mapping",
    "load_preset",
    "missing_joints",
    "point_names",
    "save_preset",
]

PRESET_FORMAT = "motion-search-rigmap"


def point_names(bone_names: Sequence[str], parents: Sequence[int] | None = None) -> list[str]:
    """The bones as the backend names a rig's points: every bone, then ``"<bone>/end"`` for each leaf's tail.

    Args:
        bone_names: ``(B,)`` the armature's bone names.
        parents: ``(B,)`` parent index of each bone (-1 for roots); without it every bone counts as a leaf.

    >>> point_names(["Hips", "Spine", "Head"], [-1, 0, 1])
    ['Hips', 'Spine', 'Head', 'Head/end']
    """
    names = list(bone_names)
    inner = set(parents or ()) if parents is not None else set()
    return names + [n + END_SITE_SUFFIX for i, n in enumerate(names) if i not in inner]


def detect_mapping(bone_names: Sequence[str], parents: Sequence[int] | None = None) -> dict[str, str]:
    """Guess which bone drives each SMPL joint.

    Args:
        bone_names: ``(B,)`` the armature's bone names.
        parents: ``(B,)`` parent index of each bone (-1 for roots): tells leaf bones (End Sites) apart.

    Returns:
        ``{smpl_joint: bone_name}`` for the joints found (possibly fewer than 22), in SMPL order.

    >>> bones = ["Hips", "Spine", "Chest", "Neck", "Head"] + [f"{p}_L" for p in ("Shoulder", "UpperArm",
    ...     "LowerArm", "Hand", "UpperLeg", "LowerLeg", "Foot", "Toes")]
    >>> m = detect_mapping(bones)
    >>> m["spine1"], m["spine3"], "spine2" in derivable_joints(m), m["left_collar"], m["left_ankle"]
    ('Spine', 'Chest', True, 'Shoulder_L', 'Foot_L')
    """
    names = [n for n in bone_names if not n.endswith(END_SITE_SUFFIX)]
    if len(names) != len(bone_names):  # a bone named "<x>/end" would read as an End Site: not matched
        keep = [i for i, n in enumerate(bone_names) if not n.endswith(END_SITE_SUFFIX)]
        remap = {old: new for new, old in enumerate(keep)}
        parents = None if parents is None else [remap.get(parents[i], -1) for i in keep]
    return map_bones(point_names(names, parents))


def missing_joints(mapping: Mapping[str, str]) -> list[str]:
    """SMPL joints without a (non-empty) bone, in SMPL order."""
    return [j for j in SMPL_JOINT_NAMES if not mapping.get(j)]


#: Joints that can be estimated from others when a rig lacks them: joint -> ((joint, weight), ...).
_DERIVED: dict[str, tuple[tuple[str, float], ...]] = {
    "spine1": (("pelvis", 2 / 3), ("spine3", 1 / 3)),
    "spine2": (("pelvis", 1 / 3), ("spine3", 2 / 3)),
    "spine3": (("spine2", 0.8), ("neck", 0.2)),  # SMPL's spine3 sits 0.2 of the way from spine2 to the neck
    "neck": (("spine3", 0.5), ("head", 0.5)),
    "left_collar": (("spine3", 0.5), ("left_shoulder", 0.5)),
    "right_collar": (("spine3", 0.5), ("right_shoulder", 0.5)),
}


def derivable_joints(mapping: Mapping[str, str]) -> dict[str, tuple[tuple[str, float], ...]]:
    """Missing joints that can be interpolated from mapped ones: joint -> ((source joint, weight), ...)."""
    have = {j for j in SMPL_JOINT_NAMES if mapping.get(j)}
    return {
        j: recipe for j, recipe in _DERIVED.items() if j not in have and all(src in have for src, _ in recipe)
    }


def check_mapping(mapping: Mapping[str, str], bone_names: Sequence[str], *, need_all: bool) -> None:
    """Validate a map against an armature.

    Args:
        mapping: ``{smpl_joint: bone_name}``.
        bone_names: the armature's bones.
        need_all: every joint must be mapped or derivable (describe); otherwise the pelvis and at least
            half of the joints must be mapped (import onto a rig).

    Raises:
        RigMapError: unknown joint or bone names, or missing joints (all listed).
    """
    bones = set(bone_names)
    unknown = sorted(j for j in mapping if j not in SMPL_JOINT_NAMES)
    if unknown:
        raise RigMapError(f"rig map names unknown joints {unknown}; joints are {', '.join(SMPL_JOINT_NAMES)}")
    absent = sorted(b for b in mapping.values() if b and b not in bones)
    if absent:
        raise RigMapError(f"rig map names bones the armature does not have: {', '.join(absent)}")
    missing = missing_joints(mapping)
    if need_all:
        missing = [j for j in missing if j not in derivable_joints(mapping)]
        if missing:
            raise RigMapError(f"cannot sample the armature: no bone mapped to {', '.join(missing)}")
    elif not mapping.get("pelvis") or len(missing) > len(SMPL_JOINT_NAMES) // 2:
        raise RigMapError(
            f"too few bones mapped to drive this armature ({len(SMPL_JOINT_NAMES) - len(missing)} of 22; the "
            f"pelvis is required); missing: {', '.join(missing)}"
        )


def save_preset(path: str | os.PathLike, mapping: Mapping[str, str], name: str = "") -> None:
    """Write a map as a JSON preset (temp file + rename).

    Args:
        path: target ``.json`` file.
        mapping: ``{smpl_joint: bone_name}``.
        name: optional preset name stored in the file.
    """
    data = {
        "format": PRESET_FORMAT,
        "version": 1,
        "name": name,
        "map": {j: mapping[j] for j in SMPL_JOINT_NAMES if mapping.get(j)},
    }
    path = os.fspath(path)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = f"{path}.tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(data, fh, indent=2)
        fh.write("\n")
    os.replace(tmp, path)


def load_preset(path: str | os.PathLike) -> dict[str, str]:
    """Read a JSON preset written by :func:`save_preset`.

    Raises:
        RigMapError: the file is missing, not JSON, not a rig-map preset, or names unknown joints.
    """
    path = os.fspath(path)
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except OSError as exc:
        raise RigMapError(f"cannot read rig map preset {path}: {exc.strerror or exc}") from None
    except json.JSONDecodeError as exc:
        raise RigMapError(f"rig map preset {path} is not valid JSON (line {exc.lineno}: {exc.msg})") from None
    if (
        not isinstance(data, dict)
        or data.get("format") != PRESET_FORMAT
        or not isinstance(data.get("map"), dict)
    ):
        raise RigMapError(
            f'{path} is not a rig map preset (expected "format": "{PRESET_FORMAT}" and a "map")'
        )
    out = {str(k): str(v) for k, v in data["map"].items()}
    unknown = sorted(j for j in out if j not in SMPL_JOINT_NAMES)
    if unknown:
        raise RigMapError(f"rig map preset {path} names unknown joints {unknown}")
    return out
