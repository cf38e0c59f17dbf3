"""Map any humanoid rig onto the 22 SMPL joints (HumanML3D order).

A mapping gives every SMPL joint a weighted combination of source points (joints, or End Sites named
``"<joint>/end"`` as :func:`~backend.motion.kinematics.fk.point_names` names them). Weighted combinations
fill joints a rig lacks, e.g. SMPL's three spine joints on a rig with two, placed at the fractions of the
pelvis-to-neck path where SMPL has them (about 0.22, 0.47 and 0.58).

Detection: source names are normalised (namespace such as ``mixamorig:`` and prefixes such as
``CC_Base_`` / ``Bip01`` / ``DEF-`` dropped; case and separators ignored; the side read from
``Left``/``Right``/``L``/``R`` prefixes and ``.L``/``_L``/``_Left`` suffixes). Each rig profile in
:data:`RIG_PROFILES` (checked in order) declares the names that identify it and a recipe per SMPL joint;
the first identified profile that resolves all 22 joints wins, the ``generic`` alias profile comes last.
Remember SMPL's naming: ``left_collar`` is the clavicle, ``left_shoulder`` the upper-arm (gleno-humeral)
joint, ``left_foot`` the toe base and ``left_ankle`` the ankle.

An explicit ``override`` (``{smpl_name: source_name}`` or ``{smpl_name: [(source_name, weight), ...]}``)
replaces single entries; a rig that still cannot be mapped raises :class:`~backend.errors.RigMappingError`
listing every missing SMPL joint.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

import numpy as np

from backend.errors import RigMappingError
from backend.motion.kinematics.fk import END_SITE_SUFFIX
from backend.motion.kinematics.skeleton import SMPL_JOINT_NAMES

__all__ = [
    "RIG_PROFILES",
    "JointMapping",
    "apply_mapping",
    "detect_rig",
    "map_joints",
    "normalise_name",
]

#: SMPL joint name -> ((source point index, weight), ...); weights sum to 1
JointMapping = dict[str, tuple[tuple[int, float], ...]]

# A recipe is a tuple of (reference, weight). A reference is a normalised base name (see normalise_name);
# "~name" takes the side of the SMPL joint being mapped; "name/end" is that joint's End Site; "=joint" is
# another SMPL joint of the same mapping (by its side-less key, "=~shoulder" = same-side shoulder).
_Recipe = tuple[tuple[str, float], ...]
_KEYS = ("pelvis", "hip", "knee", "ankle", "foot", "spine1", "spine2", "spine3", "neck", "head",
         "collar", "shoulder", "elbow", "wrist")  # fmt: skip


def _r(*refs: str | tuple[str, float]) -> tuple[_Recipe, ...]:
    """Alternatives, each a single reference (weight 1) or a (ref, weight) pair list given as a tuple."""
    out = []
    for ref in refs:
        out.append(((ref, 1.0),) if isinstance(ref, str) else tuple(ref))  # type: ignore[arg-type]
    return tuple(out)


def _lerp(a: str, b: str, t: float) -> tuple[tuple[str, float], tuple[str, float]]:
    """Recipe for the point a fraction ``t`` of the way from ``a`` to ``b``."""
    return ((a, round(1.0 - t, 4)), (b, round(t, 4)))


#: rig name -> {"requires": names that identify it, <key>: alternative recipes}; checked in this order
RIG_PROFILES: dict[str, dict[str, tuple]] = {
    "smpl": {
        "requires": ("spine3", "~collar", "~wrist"),
        "pelvis": _r("pelvis"), "hip": _r("~hip"), "knee": _r("~knee"), "ankle": _r("~ankle"),
        "foot": _r("~foot"), "spine1": _r("spine1"), "spine2": _r("spine2"), "spine3": _r("spine3"),
        "neck": _r("neck"), "head": _r("head"), "collar": _r("~collar"), "shoulder": _r("~shoulder"),
        "elbow": _r("~elbow"), "wrist": _r("~wrist"),
    },
    # Bandai-Namco: Hips, Spine (0.38 of pelvis->neck), Chest (0.60), Neck, Head; Shoulder_L = clavicle
    "bandai": {
        "requires": ("~upperleg", "~lowerarm", "chest"),
        "pelvis": _r("hips"), "hip": _r("~upperleg"), "knee": _r("~lowerleg"), "ankle": _r("~foot"),
        "foot": _r("~toes", "~toe"), "spine1": _r(_lerp("hips", "spine", 0.58)),
        "spine2": _r(_lerp("spine", "chest", 0.41)), "spine3": _r("chest"), "neck": _r("neck"),
        "head": _r("head"), "collar": _r("~shoulder"), "shoulder": _r("~upperarm"), "elbow": _r("~lowerarm"),
        "wrist": _r("~hand"),
    },
    # CMU cgspeed MotionBuilder names: Spine at 0.35, Spine1 (=Neck, top of thorax) at 0.70 of Hips->Neck1;
    # LeftShoulder starts on the spine, so the SMPL collar sits part-way to the shoulder (LeftArm).
    "cmu_motionbuilder": {
        "requires": ("~upleg", "lowerback", "neck1"),
        "pelvis": _r("hips"), "hip": _r("~upleg"), "knee": _r("~leg"), "ankle": _r("~foot"),
        "foot": _r("~toebase"), "spine1": _r(_lerp("hips", "spine", 0.63)),
        "spine2": _r(_lerp("spine", "spine1", 0.37)), "spine3": _r(_lerp("spine", "spine1", 0.69)),
        "neck": _r("neck1"), "head": _r("head"), "collar": _r(_lerp("~shoulder", "~arm", 0.45)),
        "shoulder": _r("~arm"), "elbow": _r("~forearm"), "wrist": _r("~hand"),
    },
    # CMU 3ds Max names: the same skeleton as above, renamed
    "cmu_3dsmax": {
        "requires": ("chest2", "lowerneck", "~collar"),
        "pelvis": _r("hips"), "hip": _r("~hip"), "knee": _r("~knee"), "ankle": _r("~ankle"),
        "foot": _r("~toe"), "spine1": _r(_lerp("hips", "chest", 0.63)),
        "spine2": _r(_lerp("chest", "chest2", 0.37)), "spine3": _r(_lerp("chest", "chest2", 0.69)),
        "neck": _r("neck"), "head": _r("head"), "collar": _r(_lerp("~collar", "~shoulder", 0.45)),
        "shoulder": _r("~shoulder"), "elbow": _r("~elbow"), "wrist": _r("~wrist"),
    },
    # Acclaim ASF (the CMU database's own skeleton and HDM05's; cgspeed's BVH is its conversion): the same
    # joints as cmu_motionbuilder under the ASF bone names (lowerback = LowerBack, upperback = Spine, thorax =
    # Spine1, upperneck = Neck1, lclavicle = LeftShoulder, lhumerus = LeftArm, lradius = LeftForeArm, lwrist =
    # LeftHand); a point named after a bone is where the bone starts. Some BVH conversions keep these names
    # with a root called "hip" (two Daz-folder files of CMU subject 16).
    "acclaim": {
        "requires": ("~femur", "upperback", "thorax", "~humerus"),
        "pelvis": _r("root", "hip", "hips"), "hip": _r("~femur"), "knee": _r("~tibia"), "ankle": _r("~foot"),
        "foot": _r("~toes", "~toes/end"), "spine1": _r(_lerp("=pelvis", "upperback", 0.63)),
        "spine2": _r(_lerp("upperback", "thorax", 0.37)), "spine3": _r(_lerp("upperback", "thorax", 0.69)),
        "neck": _r("upperneck"), "head": _r("head"), "collar": _r(_lerp("~clavicle", "~humerus", 0.45)),
        "shoulder": _r("~humerus"), "elbow": _r("~radius"), "wrist": _r("~wrist"),
    },
    # cgspeed's Daz-friendly CMU conversion: hip, abdomen, chest, neck, head; lCollar, lShldr, lForeArm, lHand;
    # lButtock, lThigh, lShin, lFoot (its End Site is the toe). On the takes it shares with the cgspeed
    # MotionBuilder copy its joint angles differ from that copy's by 7.6 deg on average (iClone's: 8.2 deg).
    "daz": {
        "requires": ("~shldr", "abdomen", "~thigh", "~shin"),
        "pelvis": _r("hip"), "hip": _r("~thigh"), "knee": _r("~shin"), "ankle": _r("~foot"),
        "foot": _r("~foot/end"), "spine1": _r("abdomen"),
        "spine2": _r(_lerp("abdomen", "chest", 0.5)), "spine3": _r("chest"),
        "neck": _r("neck"), "head": _r("head"), "collar": _r("~collar"),
        "shoulder": _r("~shldr"), "elbow": _r("~forearm"), "wrist": _r("~hand"),
    },
    # Mixamo: Spine (0.20), Spine1 (0.43), Spine2 (0.70), Neck
    "mixamo": {
        "requires": ("~upleg", "spine2", "~forearm"),
        "pelvis": _r("hips"), "hip": _r("~upleg"), "knee": _r("~leg"), "ankle": _r("~foot"),
        "foot": _r("~toebase", "~toe"), "spine1": _r("spine"), "spine2": _r(_lerp("spine1", "spine2", 0.2)),
        "spine3": _r(_lerp("spine1", "spine2", 0.6)), "neck": _r("neck"), "head": _r("head"),
        "collar": _r("~shoulder"), "shoulder": _r("~arm"), "elbow": _r("~forearm"), "wrist": _r("~hand"),
    },
    # iClone / Character Creator: Spine01 (0.22), Spine02 (0.49) of Hip->NeckTwist01 (neck base)
    "character_creator": {
        "requires": ("~thigh", "spine02", "necktwist01"),
        "pelvis": _r("hip", "pelvis"), "hip": _r("~thigh"), "knee": _r("~calf"), "ankle": _r("~foot"),
        "foot": _r("~toebase"), "spine1": _r("spine01"), "spine2": _r("spine02"),
        "spine3": _r(_lerp("spine02", "necktwist01", 0.2)), "neck": _r("necktwist01"), "head": _r("head"),
        "collar": _r("~clavicle"), "shoulder": _r("~upperarm"), "elbow": _r("~forearm"), "wrist": _r("~hand"),
    },
    # Blender's human metarig / Rigify: spine (pelvis), spine.001..003, spine.004 (neck), spine.006 (head)
    "rigify_metarig": {
        "requires": ("~thigh", "spine003", "spine004"),
        "pelvis": _r("spine"), "hip": _r("~thigh"), "knee": _r("~shin"), "ankle": _r("~foot"),
        "foot": _r("~toe", "~foot/end"), "spine1": _r("spine001"),
        "spine2": _r(_lerp("spine002", "spine003", 0.55)), "spine3": _r("spine003"), "neck": _r("spine004"),
        "head": _r("spine006", "spine005"), "collar": _r(_lerp("~shoulder", "~upperarm", 0.35)),
        "shoulder": _r("~upperarm"), "elbow": _r("~forearm"), "wrist": _r("~hand", "~forearm/end"),
    },
    # Reduced metarig (ReActIdle): pelvis, spine (at the pelvis), spine.001 (0.46), neck (shoulder level),
    # face (head); no hands or toes, so wrists and toe bases are the End Sites.
    "simple_metarig": {
        "requires": ("~thigh", "spine001", "neck", "~shin"),
        "pelvis": _r("pelvis", "spine"), "hip": _r("~thigh"), "knee": _r("~shin"), "ankle": _r("~foot"),
        "foot": _r("~toe", "~foot/end"), "spine1": _r(_lerp("spine", "spine001", 0.49)),
        "spine2": _r("spine001"), "spine3": _r(_lerp("spine001", "neck", 0.29)),
        "neck": _r(_lerp("neck", "face", 0.3), _lerp("neck", "head", 0.3), "neck"),
        "head": _r("face", "head"), "collar": _r(_lerp("~shoulder", "~upperarm", 0.35)),
        "shoulder": _r("~upperarm"), "elbow": _r("~forearm"), "wrist": _r("~hand", "~forearm/end"),
    },
    # Anything else: common aliases, then interpolations between SMPL joints found so far
    "generic": {
        "requires": (),
        "pelvis": _r("pelvis", "hips", "hip", "bip01pelvis"),
        "hip": _r("~hip", "~upleg", "~upperleg", "~thigh", "~femur", "~legupper"),
        "knee": _r("~knee", "~leg", "~lowerleg", "~calf", "~shin", "~tibia", "~leglower"),
        "ankle": _r("~ankle", "~foot"),
        "foot": _r("~toebase", "~toe", "~toes", "~ball", "~foot/end", "~ankle/end"),
        "spine1": _r("spine1", "spine", "lowerback", "abdomen", "spine01", "waist",
                     _lerp("=pelvis", "=spine3", 0.35)),
        "spine2": _r("spine2", "spine02", _lerp("=spine1", "=spine3", 0.5)),
        "spine3": _r("spine3", "upperchest", "chest2", "chest", "spine2", "thorax"),
        "neck": _r("neck", "neck1", "lowerneck", "necktwist01"),
        "head": _r("head", "skull"),
        "collar": _r("~collar", "~clavicle", _lerp("=spine3", "=~shoulder", 0.4)),
        "shoulder": _r("~shoulder", "~upperarm", "~arm", "~humerus", "~armupper", "~shldr"),
        "elbow": _r("~elbow", "~forearm", "~lowerarm", "~armlower"),
        "wrist": _r("~wrist", "~hand", "~forearm/end", "~lowerarm/end"),
    },
}  # fmt: skip

_PREFIXES = ("cc_base_", "bip001", "bip01", "def-", "def_", "mixamorig", "rl_")
_SIDE_WORD = re.compile(r"^(Left|Right|left|right|LEFT|RIGHT)(?=[^a-z]|$)")
_SIDE_LETTER = re.compile(r"^([LRlr])(?=[A-Z_.\- ])")
# Acclaim ASF bone names put a lower-case side letter straight before a lower-case limb word ("lfemur")
_SIDE_ACCLAIM = re.compile(
    r"^([lr])(?=(?:hipjoint|femur|tibia|foot|toes|clavicle|humerus|radius|wrist|hand|fingers|thumb)$)"
)
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


def _resolve_profile(profile: Mapping[str, tuple], table: dict, fixed: JointMapping) -> JointMapping:
    """Resolve as many SMPL joints as possible (``fixed`` entries win); returns the resolved ones."""
    out: JointMapping = dict(fixed)
    pending = [n for n in SMPL_JOINT_NAMES if n not in out]
    progress = True
    while pending and progress:  # '=joint' references may need several passes
        progress = False
        for smpl in list(pending):
            side, key = _smpl_key(smpl)
            for recipe in profile[key]:
                combo: dict[int, float] = {}
                ok = True
                for ref, w in recipe:
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
                        idx = table.get(_ref_key(ref, side))
                        if idx is None:
                            ok = False
                            break
                        combo[idx] = combo.get(idx, 0.0) + w
                if ok:
                    total = sum(combo.values())
                    out[smpl] = tuple((i, w / total) for i, w in combo.items() if w != 0.0)
                    pending.remove(smpl)
                    progress = True
                    break
    return out


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
    if rig is not None and rig not in RIG_PROFILES:
        raise RigMappingError(f"unknown rig {rig!r}; valid rigs: {', '.join(RIG_PROFILES)}")
    table = _lookup_table(names)
    fixed = _override_mapping(names, override or {}, table)
    if rig:
        candidates = [rig]
    else:  # identified profiles (generic last), then the others (an override may complete them)
        identified = _identified_rigs(table)
        candidates = identified + [r for r in RIG_PROFILES if r not in identified]
    best: JointMapping | None = None
    best_rig = ""
    for cand in candidates:
        got = _resolve_profile(RIG_PROFILES[cand], table, fixed)
        if len(got) == len(SMPL_JOINT_NAMES):
            return {n: got[n] for n in SMPL_JOINT_NAMES}
        if best is None or len(got) > len(best):
            best, best_rig = got, cand
    missing = [n for n in SMPL_JOINT_NAMES if best is None or n not in best]
    shown = ", ".join(names[:30]) + (" ..." if len(names) > 30 else "")
    raise RigMappingError(
        f"cannot map {len(missing)} SMPL joint(s) from this rig (closest profile {best_rig!r}): missing "
        f"{', '.join(missing)}; rig joints: {shown}. Pass mapping={{smpl_name: source_joint}} to map them."
    )


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
