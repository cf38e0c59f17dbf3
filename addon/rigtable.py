# SPDX-License-Identifier: GPL-3.0-or-later
"""The rig vocabulary (``rig_aliases.json`` beside this module) and its matching rules (pure: no bpy).

The JSON table is a byte-equal copy of the backend's ``backend/motion/kinematics/rig_aliases.json``, and the
rules below are those of the backend's ``retarget.py`` (which the add-on may not import): names are normalised
the same way, rig profiles are identified and chosen the same way, and :func:`map_bones` gives the same
``{smpl_joint: bone}`` assignment as ``retarget.map_bones`` for the same names
(``tests/addon/unit/test_addon_rig_vocabulary.py`` checks both on every rig of the shared datasets).

Points are named as the backend names them: joints (bones) by name, a leaf's End Site (its bone's tail)
``"<name>/end"``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path

from .skeleton import SMPL_JOINT_NAMES

__all__ = ["END_SITE_SUFFIX", "PROFILES", "RIG_ALIASES_PATH", "detect_rig", "map_bones", "normalise_name"]

#: the vocabulary shipped with the add-on (a copy of the backend's)
RIG_ALIASES_PATH = Path(__file__).with_name("rig_aliases.json")
#: suffix naming a leaf joint's End Site
END_SITE_SUFFIX = "/end"

_KEYS = ("pelvis", "hip", "knee", "ankle", "foot", "spine1", "spine2", "spine3", "neck", "head",
         "collar", "shoulder", "elbow", "wrist")  # fmt: skip

#: one alternative: (references it needs, reference of the bone that drives the joint or None)
_Recipe = tuple[tuple[str, ...], str | None]


def _recipe(entry: str | dict) -> _Recipe:
    """A JSON alternative: a reference (its own bone unless an End Site / SMPL joint) or a ``lerp``."""
    if isinstance(entry, str):
        own = not (entry.endswith(END_SITE_SUFFIX) or entry.startswith("="))
        return (entry,), entry if own else None
    a, b, _ = entry["lerp"]
    return (a, b), entry.get("bone")


with open(RIG_ALIASES_PATH, encoding="utf-8") as _fh:
    _TABLE = json.load(_fh)

#: rig name -> {"requires": names that identify it, <key>: alternatives}; checked in this order
PROFILES: dict[str, dict[str, tuple]] = {
    rig: {"requires": tuple(p["requires"]), **{k: tuple(_recipe(e) for e in p["joints"][k]) for k in _KEYS}}
    for rig, p in _TABLE["profiles"].items()
}

_PREFIXES = tuple(_TABLE["names"]["prefixes"])
_SIDE_WORD = re.compile(r"^(Left|Right|left|right|LEFT|RIGHT)(?=[^a-z]|$)")
_SIDE_LETTER = re.compile(r"^([LRlr])(?=[A-Z_.\- ])")
# Acclaim ASF bone names put a lower-case side letter straight before a lower-case limb word ("lfemur")
_SIDE_ACCLAIM = re.compile(r"^([lr])(?=(?:" + "|".join(_TABLE["names"]["acclaim_limbs"]) + r")$)")
_SIDE_SUFFIX_WORD = re.compile(r"[_.\- ]?(Left|Right|left|right|LEFT|RIGHT)$")
_SIDE_SUFFIX_LETTER = re.compile(r"[_.\- ]([LRlr])$")
_SEPARATORS = re.compile(r"[\s_.\-:|]+")


def normalise_name(name: str) -> tuple[str, str, bool]:
    """Normalise a bone / point name for alias matching (the backend's ``retarget.normalise_name``).

    Returns:
        ``(side, base, is_end)``: side ``"l"``, ``"r"`` or ``""``; lower-case base without separators.

    >>> normalise_name("mixamorig:LeftUpLeg"), normalise_name("thigh_l"), normalise_name("DEF-upper_arm.L")
    (('l', 'upleg', False), ('l', 'thigh', False), ('l', 'upperarm', False))
    >>> normalise_name("Bip01 R Forearm"), normalise_name("spine_01"), normalise_name("lfemur")
    (('r', 'forearm', False), ('', 'spine01', False), ('l', 'femur', False))
    """
    is_end = name.endswith(END_SITE_SUFFIX)
    s = name[: -len(END_SITE_SUFFIX)] if is_end else name
    s = re.split(r"[:|]", s)[-1].strip()
    for prefix in _PREFIXES:
        if s.lower().startswith(prefix) and len(s) > len(prefix):
            s = s[len(prefix) :].lstrip(" _.-")
            break
    side = ""
    for regex in (_SIDE_WORD, _SIDE_LETTER, _SIDE_ACCLAIM):
        m = regex.match(s)
        if m and len(s) > m.end():
            side, s = m.group(1)[0].lower(), s[m.end() :]
            break
    if not side:
        for regex in (_SIDE_SUFFIX_WORD, _SIDE_SUFFIX_LETTER):
            m = regex.search(s)
            if m and m.start() > 0:
                side, s = m.group(1)[0].lower(), s[: m.start()]
                break
    return side, _SEPARATORS.sub("", s).lower(), is_end


def _lookup_table(names: Sequence[str]) -> dict[tuple[str, str, bool], int]:
    """Normalised name -> index of the first point with it."""
    table: dict[tuple[str, str, bool], int] = {}
    for i, n in enumerate(names):
        table.setdefault(normalise_name(n), i)
    return table


def _ref_key(ref: str, side: str) -> tuple[str, str, bool]:
    is_end = ref.endswith(END_SITE_SUFFIX)
    if is_end:
        ref = ref[: -len(END_SITE_SUFFIX)]
    if ref.startswith("~"):
        return side, ref[1:], is_end
    return "", ref, is_end


def _smpl_key(smpl_name: str) -> tuple[str, str]:
    """``"left_shoulder"`` -> (``"l"``, ``"shoulder"``); ``"spine1"`` -> (``""``, ``"spine1"``)."""
    for side, prefix in (("l", "left_"), ("r", "right_")):
        if smpl_name.startswith(prefix):
            return side, smpl_name[len(prefix) :]
    return "", smpl_name


def _resolve(profile: dict[str, tuple], table: dict) -> dict[str, _Recipe]:
    """The alternative each resolvable SMPL joint takes (``=joint`` references may need several passes)."""
    chosen: dict[str, _Recipe] = {}
    pending = list(SMPL_JOINT_NAMES)
    progress = True
    while pending and progress:
        progress = False
        for smpl in list(pending):
            side, key = _smpl_key(smpl)
            for recipe in profile[key]:
                refs, _ = recipe
                if all(_present(ref, side, table, chosen) for ref in refs):
                    chosen[smpl] = recipe
                    pending.remove(smpl)
                    progress = True
                    break
    return chosen


def _present(ref: str, side: str, table: dict, chosen: dict[str, _Recipe]) -> bool:
    if ref.startswith("="):
        other = ref[1:]
        if other.startswith("~"):
            other = {"l": "left_", "r": "right_"}[side] + other[1:]
        return other in chosen
    return _ref_key(ref, side) in table


def _identified(table: dict) -> list[str]:
    """Profiles whose identifying names are all present, in :data:`PROFILES` order (generic last)."""

    def present(ref: str) -> bool:
        if ref.startswith("~"):
            return any(_ref_key(ref, side) in table for side in ("l", "r"))
        return _ref_key(ref, "") in table

    return [rig for rig, profile in PROFILES.items() if all(present(r) for r in profile["requires"])]


def _choose(table: dict) -> tuple[str, dict[str, _Recipe]]:
    """The first candidate resolving all 22 joints, else the one resolving most (identified ones first)."""
    identified = _identified(table)
    best: tuple[str, dict[str, _Recipe]] | None = None
    for cand in identified + [r for r in PROFILES if r not in identified]:
        chosen = _resolve(PROFILES[cand], table)
        if len(chosen) == len(SMPL_JOINT_NAMES):
            return cand, chosen
        if best is None or len(chosen) > len(best[1]):
            best = (cand, chosen)
    assert best is not None
    return best


def detect_rig(names: Sequence[str]) -> str:
    """The first profile whose identifying names are all present (``"generic"`` when no specific one is).

    >>> detect_rig(["mixamorig:Hips", "mixamorig:LeftUpLeg", "mixamorig:Spine2", "mixamorig:RightForeArm"])
    'mixamo'
    """
    return _identified(_lookup_table(names))[0]


def map_bones(names: Sequence[str]) -> dict[str, str]:
    """Which point (bone) drives each SMPL joint (the backend's ``retarget.map_bones``).

    Args:
        names: point names: bones, and ``"<bone>/end"`` for the End Sites (tails) of leaf bones.

    Returns:
        ``{smpl_joint: name}`` in SMPL order for the joints a bone drives, each bone at most once (the first
        SMPL joint keeps it); joints placed between bones, on End Sites or from other joints are left out.
    """
    names = list(names)
    table = _lookup_table(names)
    _, chosen = _choose(table)
    out: dict[str, str] = {}
    used: set[int] = set()
    for smpl in SMPL_JOINT_NAMES:
        bone = chosen[smpl][1] if smpl in chosen else None
        idx = None if bone is None else table.get(_ref_key(bone, _smpl_key(smpl)[0]))
        if idx is not None and idx not in used:
            used.add(idx)
            out[smpl] = names[idx]
    return out
