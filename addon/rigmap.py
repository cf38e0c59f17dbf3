# SPDX-License-Identifier: GPL-3.0-or-later
"""Armature bone names -> the 22 SMPL joints (pure: no bpy).

Bone names are split into words (``LeftUpLeg`` -> left / up / leg, ``thigh_l`` -> thigh / l,
``DEF-upper_arm.L`` -> upper / arm / l), the side word is taken out, rig prefixes (``mixamorig:``, ``DEF-``,
``Bip01``, ...) are dropped and what is left is looked up in an alias table, most specific alias first,
each bone used once. That covers our own rig (the SMPL names), Mixamo (``Hips``, ``LeftUpLeg``,
``LeftLeg``, ``LeftFoot``, ``LeftToeBase``, ``LeftShoulder``, ``LeftArm``, ``LeftForeArm``, ``LeftHand``),
Unreal (``thigh_l``, ``calf_l``, ``ball_l``, ``clavicle_l``, ``upperarm_l``, ``lowerarm_l``), Rigify ``DEF-``
bones and 3ds Max bipeds. Note the clashes the order settles: Mixamo's ``LeftFoot`` is the SMPL *ankle*
and its ``LeftShoulder`` the SMPL *collar*.

The spine is mapped by hierarchy: the bones between the pelvis and the neck (up to the bone the collars
hang from, when that is one of them) become ``spine1`` (first), ``spine2`` (middle) and ``spine3`` (last;
with two bones ``spine2`` stays unmapped and is interpolated when sampling). A map is a plain ``{smpl_joint: bone_name}`` dict and can be
saved as a JSON preset.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping, Sequence

from .errors import RigMapError
from .skeleton import SMPL_JOINT_NAMES

__all__ = [
    "ALIASES",
    "PRESET_FORMAT",
    "check_mapping",
    "derivable_joints",
    "detect_mapping",
    "load_preset",
    "missing_joints",
    "save_preset",
    "split_name",
]

PRESET_FORMAT = "motion-search-rigmap"

#: Joint base name (side removed) -> aliases, most specific first. Sided joints match bones of that side.
ALIASES: dict[str, tuple[str, ...]] = {
    "pelvis": ("pelvis", "hips", "hip", "root"),
    "hip": ("hip", "upleg", "thigh", "upperleg", "legupper", "femur"),
    "knee": ("knee", "leg", "calf", "shin", "lowerleg", "leglower", "tibia"),
    "ankle": ("ankle", "foot"),
    "foot": ("toebase", "toe", "toes", "ball", "foot"),
    "neck": ("neck", "neck01", "neck1"),
    "head": ("head",),
    "collar": ("collar", "clavicle", "shoulder"),
    "shoulder": ("shoulder", "upperarm", "arm", "uparm", "humerus"),
    "elbow": ("elbow", "forearm", "lowerarm", "armlower", "radius"),
    "wrist": ("wrist", "hand"),
}
#: Matching order: a joint's aliases may be taken by an earlier joint (ankle before foot, collar before
#: shoulder) so each bone is used once.
_ORDER = ("pelvis", "neck", "head", "hip", "knee", "ankle", "foot", "collar", "shoulder", "elbow", "wrist")
_PREFIXES = {"def", "org", "mch", "mixamorig", "bip01", "bip001", "bip", "b", "cc", "base", "j", "jnt", "bn"}
_LEFT = {"left", "l", "lft"}
_RIGHT = {"right", "r", "rgt", "rt"}
_SPINE = ("spine1", "spine2", "spine3")


def split_name(name: str) -> tuple[str, str]:
    """Split a bone name into ``(side, base)``; side is ``"left"``, ``"right"`` or ``""``.

    >>> split_name("mixamorig:LeftUpLeg"), split_name("thigh_l"), split_name("DEF-upper_arm.L")
    (('left', 'upleg'), ('left', 'thigh'), ('left', 'upperarm'))
    >>> split_name("Bip01 R Forearm"), split_name("spine_01"), split_name("left_ankle")
    (('right', 'forearm'), ('', 'spine01'), ('left', 'ankle'))
    """
    raw = name.rsplit(":", 1)[-1]
    raw = re.sub(r"([a-z])([A-Z])", r"\1 \2", raw)
    words = [w.lower() for w in re.split(r"[^A-Za-z0-9]+", raw) if w]
    side = ""
    kept = []
    for i, w in enumerate(words):
        if w in _LEFT and not side:
            side = "left"
        elif w in _RIGHT and not side:
            side = "right"
        elif i == 0 and w in _PREFIXES and len(words) > 1:
            continue
        else:
            kept.append(w)
    return side, "".join(kept)


def _joint_key(joint: str) -> tuple[str, str]:
    """SMPL joint name -> (side, base)."""
    for side in ("left", "right"):
        if joint.startswith(side + "_"):
            return side, joint[len(side) + 1 :]
    return "", joint


def _spine_chain(pelvis: int, neck: int, parents: Sequence[int]) -> list[int]:
    """Bones strictly between ``pelvis`` and ``neck`` on the parent chain (root side first)."""
    chain = []
    b = parents[neck]
    while b >= 0 and b != pelvis:
        chain.append(b)
        b = parents[b]
    return list(reversed(chain)) if b == pelvis else []


def detect_mapping(bone_names: Sequence[str], parents: Sequence[int] | None = None) -> dict[str, str]:
    """Guess which bone drives each SMPL joint.

    Args:
        bone_names: ``(B,)`` the armature's bone names.
        parents: ``(B,)`` parent index of each bone (-1 for roots); enables the hierarchy-based spine map.

    Returns:
        ``{smpl_joint: bone_name}`` for the joints found (possibly fewer than 22), in SMPL order.

    >>> m = detect_mapping(["Hips", "Spine", "Spine1", "Spine2", "Neck", "Head"], [-1, 0, 1, 2, 3, 4])
    >>> m["spine1"], m["spine2"], m["spine3"]
    ('Spine', 'Spine1', 'Spine2')
    """
    keys = [split_name(n) for n in bone_names]
    used: set[int] = set()
    found: dict[str, int] = {}
    for base_joint in _ORDER:
        for side in ("left", "right") if base_joint not in ("pelvis", "neck", "head") else ("",):
            joint = f"{side}_{base_joint}" if side else base_joint
            for alias in ALIASES[base_joint]:
                hit = next((i for i, k in enumerate(keys) if i not in used and k == (side, alias)), None)
                if hit is not None:
                    found[joint] = hit
                    used.add(hit)
                    break
    chain: list[int] = []
    if parents is not None and "pelvis" in found and "neck" in found:
        chain = [b for b in _spine_chain(found["pelvis"], found["neck"], parents) if b not in used]
        chest = {parents[found[c]] for c in ("left_collar", "right_collar") if c in found} & set(chain)
        if len(chest) == 1:  # the collars hang from the chest: that is spine3, bones above it are neck bones
            chain = chain[: chain.index(chest.pop()) + 1]
    if chain:
        picks = {"spine1": chain[0], "spine3": chain[-1]}
        if len(chain) >= 3:
            picks["spine2"] = chain[len(chain) // 2]
        if len(chain) == 1:
            picks = {"spine3": chain[0]}
        found.update(picks)
    else:
        for joint in _SPINE:
            hit = next((i for i, k in enumerate(keys) if i not in used and k == ("", joint)), None)
            if hit is not None:
                found[joint] = hit
                used.add(hit)
    return {j: bone_names[found[j]] for j in SMPL_JOINT_NAMES if j in found}


def missing_joints(mapping: Mapping[str, str]) -> list[str]:
    """SMPL joints without a (non-empty) bone, in SMPL order."""
    return [j for j in SMPL_JOINT_NAMES if not mapping.get(j)]


#: Joints that can be estimated from others when a rig lacks them: joint -> ((joint, weight), ...).
_DERIVED: dict[str, tuple[tuple[str, float], ...]] = {
    "spine1": (("pelvis", 2 / 3), ("spine3", 1 / 3)),
    "spine2": (("pelvis", 1 / 3), ("spine3", 2 / 3)),
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
