"""Map any humanoid rig onto the 22 SMPL joints (HumanML3D order).

A mapping gives every SMPL joint a weighted combination of source points (joints, or End Sites named
``"<joint>/end"`` as :func:`~backend.motion.kinematics.fk.point_names` names them). Weighted combinations
fill joints a rig lacks, e.g. SMPL's three spine joints on a rig with two, placed at the fractions of the
pelvis-to-neck path where SMPL has them (about 0.22, 0.47 and 0.58).

The vocabulary is data: ``rig_aliases.json`` beside this module (the add-on ships a byte-equal copy and
maps Blender armatures with the same rules, see ``addon/rigtable.py``). Source names are normalised
(namespace such as ``mixamorig:`` and prefixes such as ``CC_Base_`` / ``Bip01`` / ``DEF-`` / ``ORG-``
dropped; case and separators ignored; the side read from ``Left``/``Right``/``L``/``R`` prefixes and
``.L``/``_L``/``_Left`` suffixes). Each rig profile of :data:`RIG_PROFILES` (checked in order) declares the
names that identify it and recipes per SMPL joint; the first identified profile that resolves all 22 joints
wins, the ``generic`` alias profile comes last. Each recipe also names the bone that drives the joint on an
armature (:func:`map_bones`). Remember SMPL's naming: ``left_collar`` is the clavicle, ``left_shoulder`` the
upper-arm (gleno-humeral) joint, ``left_foot`` the toe base and ``left_ankle`` the ankle.

An explicit ``override`` (``{smpl_name: source_name}`` or ``{smpl_name: [(source_name, weight), ...]}``)
replaces single entries; a rig that still cannot be mapped raises :class:`~backend.errors.RigMappingError`
listing every missing SMPL joint.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np

from backend.errors import RigMappingError
from backend.motion.kinematics.fk import END_SITE_SUFFIX
from backend.motion.kinematics.skeleton import SMPL_JOINT_NAMES

__all__ = [
    "RIG_ALIASES_PATH",
    "RIG_PROFILES",
    "JointMapping",
    "Recipe",
    "apply_mapping",
    "detect_rig",
    "map_bones",
    "map_joints",
    "normalise_name",
]

#: SMPL joint name -> ((source point index, weight), ...); weights sum to 1
JointMapping = dict[str, tuple[tuple[int, float], ...]]

#: the rig vocabulary (``addon/rig_aliases.json`` is a byte-equal copy)
RIG_ALIASES_PATH = Path(__file__).with_name("rig_aliases.json")

_KEYS = ("pelvis", "hip", "knee", "ankle", "foot", "spine1", "spine2", "spine3", "neck", "head",
         "collar", "shoulder", "elbow", "wrist")  # fmt: skip


class Recipe(NamedTuple):
    """One alternative for an SMPL joint.

    Attributes:
        refs: ``((reference, weight), ...)``; a reference is a normalised base name, ``"~name"`` takes the
            side of the SMPL joint being mapped, ``"name/end"`` is that joint's End Site and ``"=joint"``
            another SMPL joint of the same mapping (``"=~shoulder"`` = the same-side shoulder).
        bone: reference of the bone that drives the joint on an armature (None: no bone does).
    """

    refs: tuple[tuple[str, float], ...]
    bone: str | None


def _recipe(entry: str | dict) -> Recipe:
    """A JSON alternative: a reference (its own bone unless an End Site / SMPL joint) or a ``lerp``."""
    if isinstance(entry, str):
        own = not (entry.endswith(END_SITE_SUFFIX) or entry.startswith("="))
        return Recipe(((entry, 1.0),), entry if own else None)
    a, b, t = entry["lerp"]
    return Recipe(((a, round(1.0 - t, 4)), (b, round(t, 4))), entry.get("bone"))


def _load_profiles(table: dict) -> dict[str, dict[str, tuple]]:
    out: dict[str, dict[str, tuple]] = {}
    for rig, profile in table["profiles"].items():
        joints = profile["joints"]
        if set(joints) != set(_KEYS):
            raise ValueError(f"{RIG_ALIASES_PATH}: profile {rig!r} must give exactly the keys {_KEYS}")
        bones = [e.get("bone") for alts in joints.values() for e in alts if isinstance(e, dict)]
        if any(b is not None and (b.endswith(END_SITE_SUFFIX) or b.startswith("=")) for b in bones):
            raise ValueError(f"{RIG_ALIASES_PATH}: profile {rig!r}: a bone must be a joint name, not {bones}")
        out[rig] = {"requires": tuple(profile["requires"])}
        out[rig].update({key: tuple(_recipe(e) for e in joints[key]) for key in _KEYS})
    return out


with open(RIG_ALIASES_PATH, encoding="utf-8") as _fh:
    _TABLE = json.load(_fh)

#: rig name -> {"requires": names that identify it, <key>: alternative :class:`Recipe` s}; checked in order
RIG_PROFILES: dict[str, dict[str, tuple]] = _load_profiles(_TABLE)

_PREFIXES = tuple(_TABLE["names"]["prefixes"])
_SIDE_WORD = re.compile(r"^(Left|Right|left|right|LEFT|RIGHT)(?=[^a-z]|$)")
_SIDE_LETTER = re.compile(r"^([LRlr])(?=[A-Z_.\- ])")
# Acclaim ASF bone names put a lower-case side letter straight before a lower-case limb word ("lfemur")
_SIDE_ACCLAIM = re.compile(r"^([lr])(?=(?:" + "|".join(_TABLE["names"]["acclaim_limbs"]) + r")$)")
_SIDE_SUFFIX_WORD = re.compile(r"[_.\- ]?(Left|Right|left|right|LEFT|RIGHT)$")
_SIDE_SUFFIX_LETTER = re.compile(r"[_.\- ]([LRlr])$")
_SEPARATORS = re.compile(r"[\s_.\-:|]+")


def normalise_name(name: str) -> tuple[str, str, bool]:
    """Normalise a source joint name for alias matching.

    Args:
        name: joint name as in the rig (or ``"<joint>/end"`` for an End Site).

    Returns:
        ``(side, base, is_end)``: side ``"l"``, ``"r"`` or ``""``; lower-case base without separators.

    >>> normalise_name("mixamorig:LeftUpLeg"), normalise_name("CC_Base_L_Thigh"), normalise_name("thigh.L")
    (('l', 'upleg', False), ('l', 'thigh', False), ('l', 'thigh', False))
    >>> normalise_name("LowerBack"), normalise_name("left_collar"), normalise_name("forearm.R/end")
    (('', 'lowerback', False), ('l', 'collar', False), ('r', 'forearm', True))
    >>> normalise_name("lfemur"), normalise_name("rtoes/end"), normalise_name("lShldr"), normalise_name("lowerneck")
    (('l', 'femur', False), ('r', 'toes', True), ('l', 'shldr', False), ('', 'lowerneck', False))
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
    base = _SEPARATORS.sub("", s).lower()
    return side, base, is_end


def _lookup_table(names: Sequence[str]) -> dict[tuple[str, str, bool], int]:
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


def _resolve_profile(
    profile: Mapping[str, tuple], table: dict, fixed: JointMapping
) -> tuple[JointMapping, dict[str, Recipe]]:
    """Resolve as many SMPL joints as possible (``fixed`` entries win).

    Returns:
        The resolved joints, and the :class:`Recipe` each non-fixed one was resolved with.
    """
    out: JointMapping = dict(fixed)
    chosen: dict[str, Recipe] = {}
    pending = [n for n in SMPL_JOINT_NAMES if n not in out]
    progress = True
    while pending and progress:  # '=joint' references may need several passes
        progress = False
        for smpl in list(pending):
            side, key = _smpl_key(smpl)
            for recipe in profile[key]:
                combo: dict[int, float] = {}
                ok = True
                for ref, w in recipe.refs:
                    if ref.startswith("="):
                        other = ref[1:]
                        if other.startswith("~"):
                            other = {"l": "left_", "r": "right_"}[side] + other[1:]
                        if other not in out:
                            ok = False
                            break
                        for idx, w2 in out[other]:
                            combo[idx] = combo.get(idx, 0.0) + w * w2
                    else:
                        col = table.get(_ref_key(ref, side))
                        if col is None:
                            ok = False
                            break
                        combo[col] = combo.get(col, 0.0) + w
                if ok:
                    total = sum(combo.values())
                    out[smpl] = tuple((i, w / total) for i, w in combo.items() if w != 0.0)
                    chosen[smpl] = recipe
                    pending.remove(smpl)
                    progress = True
                    break
    return out, chosen


def _override_mapping(names: Sequence[str], override: Mapping, table: dict) -> JointMapping:
    fixed: JointMapping = {}
    exact = {n: i for i, n in reversed(list(enumerate(names)))}
    for smpl, value in override.items():
        if smpl not in SMPL_JOINT_NAMES:
            raise RigMappingError(
                f"mapping override key {smpl!r} is not an SMPL joint; "
                f"valid keys: {', '.join(SMPL_JOINT_NAMES)}"
            )
        pairs = [(value, 1.0)] if isinstance(value, str) else list(value)
        combo = []
        for src, w in pairs:
            idx = exact.get(src, table.get(normalise_name(src)))
            if idx is None:
                raise RigMappingError(
                    f"mapping override {smpl!r} -> {src!r}: the rig has no joint {src!r} "
                    f"(joints: {', '.join(names[:40])}{' ...' if len(names) > 40 else ''})"
                )
            combo.append((idx, float(w)))
        total = sum(w for _, w in combo)
        if not combo or total <= 0:
            raise RigMappingError(f"mapping override {smpl!r}: weights must sum to a positive value")
        fixed[smpl] = tuple((i, w / total) for i, w in combo)
    return fixed


def _identified_rigs(table: dict) -> list[str]:
    """Profiles whose identifying joints are all present, in :data:`RIG_PROFILES` order."""

    def present(ref: str) -> bool:
        if ref.startswith("~"):
            return any(_ref_key(ref, side) in table for side in ("l", "r"))
        return _ref_key(ref, "") in table

    return [rig for rig, profile in RIG_PROFILES.items() if all(present(r) for r in profile["requires"])]


def _choose_profile(
    table: dict, fixed: JointMapping, rig: str | None
) -> tuple[str, JointMapping, dict[str, Recipe]]:
    """The profile a rig maps with: the first candidate resolving all 22 joints, else the one resolving most.

    Candidates: ``rig`` alone when given, else the identified profiles (generic last), then the others (an
    override may complete them). Returns ``(profile name, resolved joints, recipe of each)``.
    """
    if rig:
        candidates = [rig]
    else:
        identified = _identified_rigs(table)
        candidates = identified + [r for r in RIG_PROFILES if r not in identified]
    best: tuple[str, JointMapping, dict[str, Recipe]] | None = None
    for cand in candidates:
        got, chosen = _resolve_profile(RIG_PROFILES[cand], table, fixed)
        if len(got) == len(SMPL_JOINT_NAMES):
            return cand, got, chosen
        if best is None or len(got) > len(best[1]):
            best = (cand, got, chosen)
    assert best is not None
    return best


def detect_rig(names: Sequence[str]) -> str:
    """Name of the first profile in :data:`RIG_PROFILES` whose identifying joints are all present.

    Args:
        names: source point names.

    Returns:
        A key of :data:`RIG_PROFILES` (``"generic"`` when no specific rig is recognised).

    >>> detect_rig(["Hips", "LHipJoint", "LeftUpLeg", "LowerBack", "Spine", "Spine1", "Neck", "Neck1"])
    'cmu_motionbuilder'
    """
    return _identified_rigs(_lookup_table(names))[0]


def _check_rig(rig: str | None) -> None:
    if rig is not None and rig not in RIG_PROFILES:
        raise RigMappingError(f"unknown rig {rig!r}; valid rigs: {', '.join(RIG_PROFILES)}")


def map_joints(
    names: Sequence[str],
    override: Mapping[str, str | Sequence[tuple[str, float]]] | None = None,
    *,
    rig: str | None = None,
) -> JointMapping:
    """Map source points onto the 22 SMPL joints.

    Args:
        names: source point names (joints, and End Sites as ``"<joint>/end"``).
        override: explicit entries ``{smpl_name: source_name}`` or ``{smpl_name: [(source_name, weight)]}``
            that replace the automatic ones.
        rig: force a profile of :data:`RIG_PROFILES` instead of detecting it.

    Returns:
        ``{smpl_name: ((source_index, weight), ...)}`` for all 22 joints in SMPL order; weights sum to 1.

    Raises:
        RigMappingError: unknown ``rig``, a bad override, or SMPL joints that cannot be mapped (all listed).

    >>> m = map_joints(["Hips", "Spine", "Chest", "Neck", "Head"] + [f"{p}_{s}" for s in "LR" for p in
    ...     ("Shoulder", "UpperArm", "LowerArm", "Hand", "UpperLeg", "LowerLeg", "Foot", "Toes")])
    >>> m["left_shoulder"], m["spine1"]
    (((6, 1.0),), ((0, 0.42), (1, 0.58)))
    """
    names = list(names)
    _check_rig(rig)
    table = _lookup_table(names)
    fixed = _override_mapping(names, override or {}, table)
    best_rig, got, _ = _choose_profile(table, fixed, rig)
    if len(got) == len(SMPL_JOINT_NAMES):
        return {n: got[n] for n in SMPL_JOINT_NAMES}
    missing = [n for n in SMPL_JOINT_NAMES if n not in got]
    shown = ", ".join(names[:30]) + (" ..." if len(names) > 30 else "")
    raise RigMappingError(
        f"cannot map {len(missing)} SMPL joint(s) from this rig (closest profile {best_rig!r}): missing "
        f"{', '.join(missing)}; rig joints: {shown}. Pass mapping={{smpl_name: source_joint}} to map them."
    )


def map_bones(names: Sequence[str], *, rig: str | None = None) -> dict[str, str]:
    """Which source joint (an armature's bone) drives each SMPL joint, by the profile :func:`map_joints` uses.

    The add-on's bone-map detector (``addon/rigmap.detect_mapping``) gives the same answer for the same rig.

    Args:
        names: source point names (joints, and End Sites as ``"<joint>/end"``).
        rig: force a profile of :data:`RIG_PROFILES` instead of detecting it.

    Returns:
        ``{smpl_name: source_name}`` in SMPL order for the joints a bone drives (each source at most once, the
        first SMPL joint keeps it); joints placed between bones, on End Sites or from other joints are left
        out. A rig no profile fully maps gives what the closest profile resolves (never raises for that).

    Raises:
        RigMappingError: unknown ``rig``.

    >>> m = map_bones(["Hips", "Spine", "Chest", "Neck", "Head"] + [f"{p}_{s}" for s in "LR" for p in
    ...     ("Shoulder", "UpperArm", "LowerArm", "Hand", "UpperLeg", "LowerLeg", "Foot", "Toes")])
    >>> m["spine1"], m["spine3"], "spine2" in m, m["left_collar"]
    ('Spine', 'Chest', False, 'Shoulder_L')
    """
    names = list(names)
    _check_rig(rig)
    table = _lookup_table(names)
    _, _, chosen = _choose_profile(table, {}, rig)
    out: dict[str, str] = {}
    used: set[int] = set()
    for smpl in SMPL_JOINT_NAMES:
        recipe = chosen.get(smpl)
        if recipe is None or recipe.bone is None:
            continue
        idx = table.get(_ref_key(recipe.bone, _smpl_key(smpl)[0]))
        if idx is not None and idx not in used:
            used.add(idx)
            out[smpl] = names[idx]
    return out


def apply_mapping(points: np.ndarray, mapping: JointMapping) -> np.ndarray:
    """Build SMPL-22 positions from source points.

    Args:
        points: ``(F, N, 3)`` source points (joints + End Sites).
        mapping: result of :func:`map_joints`.

    Returns:
        ``(F, 22, 3)`` positions, same dtype as ``points``.
    """
    weights = np.zeros((len(SMPL_JOINT_NAMES), points.shape[1]), dtype=points.dtype)
    for j, name in enumerate(SMPL_JOINT_NAMES):
        for idx, w in mapping[name]:
            weights[j, idx] += w
    return np.einsum("jn,fnc->fjc", weights, points)
