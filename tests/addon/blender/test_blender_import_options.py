"""Import options in real Blender against a real backend on loopback: segment, playhead, NLA strip, mirror,
several hits in sequence, each on the new armature and on a mapped user rig (Mixamo names, other
proportions, Euler bones).

* **Segment + playhead** (new armature, 20 fps so scene frames are served frames): the keys span exactly the
  served frames of the hit's segment ± the margin (computed here from the hit), start at the current frame,
  and the evaluated heads equal those served joints (shifted so the pelvis starts over the origin) within
  1 mm; the colouring's clip origin lies before the playhead by the cut-off frames.
* **Mirror + NLA strip** (new armature): no active action; one new track holds one strip with the keys,
  playing from the scene start; the evaluated left ankle / wrist sit on the served right ankle / wrist
  mirrored across X within 1 mm; the colouring is mirrored too (the left wrist gets the right wrist's
  strength).
* **On a user rig** the same options drive the mapped bones: segment + playhead + mirror + NLA strip keep
  the user's own active action (and its key types) untouched, and each mapped bone points along the mirrored
  served bone (cosine > 0.999).
* **Sequence**: the picked hits, in list order, become strips on one NLA track, each with the clip's full
  key count at 24 fps, the next starting the gap + 1 frames after the previous one's last key; at each
  strip's first frame the mapped bones point along that clip's first served pose. On the new armature the
  first clip builds the rig and the others are retargeted onto it.
* The options are preferences: the snapshot handed to workers carries them.
"""

from __future__ import annotations

import importlib
import json
import math
import sys
import urllib.request
from types import ModuleType

import bpy
import numpy as np
import pytest

ADDON_MODULE = "bl_ext.user_default.motion_search"
MM = 0.001
KICK = "a person kicks with the right leg"
BONES = (
    ("left_elbow", "left_wrist"),
    ("right_knee", "right_ankle"),
    ("left_hip", "left_knee"),
    ("spine1", "spine2"),
)


def _mod() -> ModuleType:
    return sys.modules[ADDON_MODULE]


def _sub(name: str) -> ModuleType:
    return importlib.import_module(f"{ADDON_MODULE}.{name}")


def _served(backend, clip_id: str) -> tuple[list[str], np.ndarray]:
    with urllib.request.urlopen(f"{backend.url}/motions/{clip_id}", timeout=60) as resp:
        d = json.loads(resp.read())
    j = np.asarray(d["joints"], dtype=np.float64)
    return d["joint_names"], np.stack([j[..., 0], -j[..., 2], j[..., 1]], axis=-1)  # Y up -> Z up


def _mirrored(names: list[str], zup: np.ndarray) -> np.ndarray:
    twin = [
        names.index(n.replace("left_", "#").replace("right_", "left_").replace("#", "right_")) for n in names
    ]
    out = zup[:, twin].copy()
    out[..., 0] *= -1.0
    return out


def _search(drain, query: str) -> None:
    st = bpy.context.window_manager.motion_search
    st.query = query
    assert bpy.ops.motion_search.search() == {"FINISHED"}
    drain(120)
    assert not st.status_is_error, st.status


def _import(drain) -> bpy.types.Object:
    st = bpy.context.window_manager.motion_search
    assert bpy.ops.motion_search.import_selected() == {"FINISHED"}
    drain(120)
    assert not st.status_is_error, st.status
    return bpy.context.view_layer.objects.active


def _heads(obj: bpy.types.Object, bones: list[str]) -> np.ndarray:
    mw = np.array(obj.matrix_world)
    h = np.array([obj.pose.bones[n].head for n in bones])
    return h @ mw[:3, :3].T + mw[:3, 3]


def _fcurves(action) -> list:
    return _sub("anim.action").action_fcurves(action)


def _key_frames(action) -> list[float]:
    return sorted({k.co[0] for fc in _fcurves(action) for k in fc.keyframe_points})


def _directions_match(obj, mapping: dict[str, str], names: list[str], pose: np.ndarray) -> float:
    """Smallest cosine between each mapped bone (evaluated now) and the same bone of ``pose`` (J, 3)."""
    worst = 1.0
    for a, b in BONES:
        want = pose[names.index(b)] - pose[names.index(a)]
        now = _heads(obj, [mapping[b]])[0] - _heads(obj, [mapping[a]])[0]
        worst = min(worst, float(np.dot(now, want) / np.linalg.norm(now) / np.linalg.norm(want)))
    return worst


@pytest.fixture()
def options(prefs):
    """The import options reset to the plain import, and restored afterwards."""
    keys = ("clip_range", "segment_margin", "import_start", "import_place", "mirror", "sequence_gap")
    old = {k: getattr(prefs, k) for k in keys}
    prefs.clip_range, prefs.segment_margin, prefs.import_start = "WHOLE", 0.5, "SCENE"
    prefs.import_place, prefs.mirror, prefs.sequence_gap = "ACTION", False, 10
    yield prefs
    for k, v in old.items():
        setattr(prefs, k, v)


def test_options_are_remembered_in_the_preferences(addon, scene, options) -> None:
    options.clip_range, options.segment_margin, options.import_start = "SEGMENT", 1.25, "PLAYHEAD"
    options.import_place, options.mirror, options.sequence_gap = "NLA", True, 7
    snap = _mod().preferences.snapshot()
    assert (snap.clip_range, snap.margin, snap.start, snap.place, snap.mirror, snap.gap) == (
        "SEGMENT", 1.25, "PLAYHEAD", "NLA", True, 7,
    )  # fmt: skip


def test_segment_at_the_playhead_on_a_new_armature(addon, scene, options, backend, drain) -> None:
    scene.render.fps = 20
    options.clip_range, options.segment_margin, options.import_start = "SEGMENT", 0.5, "PLAYHEAD"
    _search(drain, KICK)
    st = bpy.context.window_manager.motion_search
    st.hit_index = next(i for i, h in enumerate(st.hits) if h.duration > 8.0)  # the long kick clip
    hit = st.hits[st.hit_index]
    names, zup = _served(backend, hit.motion_id)
    first = max(0, math.floor((hit.segment_start - 0.5) * 20 + 1e-6))
    last = min(len(zup) - 1, math.ceil((hit.segment_end + 0.5) * 20 - 1e-6))
    assert first > 0 or last < len(zup) - 1, "the segment must cut something off for this test"
    scene.frame_set(37)
    obj = _import(drain)
    action = obj.animation_data.action
    assert _key_frames(action) == [float(f) for f in range(37, 37 + last - first + 1)]
    want = zup[first : last + 1].copy()
    want[..., :2] -= want[0, 0, :2]  # the segment starts with the pelvis over the origin
    worst = 0.0
    for i in range(0, last - first + 1, 7):
        scene.frame_set(37 + i)
        worst = max(worst, float(np.abs(_heads(obj, names) - want[i]).max()))
    assert worst <= 1 * MM, f"heads {worst * 1000:.3f} mm off the served segment"
    assert obj.motion_search.frame_start == pytest.approx(37 - first)  # colouring: the clip's time 0
    assert obj.motion_search.colouring and "frames 37-" in st.status


def test_mirrored_nla_strip_on_a_new_armature(addon, scene, options, backend, drain) -> None:
    scene.render.fps = 20
    options.import_place, options.mirror = "NLA", True
    _search(drain, KICK)
    st = bpy.context.window_manager.motion_search
    hit = st.hits[0]
    obj = _import(drain)
    ad = obj.animation_data
    assert ad.action is None  # the clip plays from its strip, not as the active action
    track = ad.nla_tracks[f"Motion Search {hit.motion_id}"]
    assert len(track.strips) == 1
    strip = track.strips[0]
    assert hit.motion_id in strip.action.name and "mirrored" in strip.action.name
    assert strip.frame_start == scene.frame_start and len(_fcurves(strip.action)) > 0
    if hasattr(strip, "action_slot"):
        assert strip.action_slot is not None
    names, zup = _served(backend, hit.motion_id)
    mirrored = _mirrored(names, zup)
    worst = 0.0
    for f in range(0, len(zup), 9):
        scene.frame_set(scene.frame_start + f)
        worst = max(worst, float(np.abs(_heads(obj, names) - mirrored[f]).max()))
    assert worst <= 1 * MM, f"heads {worst * 1000:.3f} mm off the mirrored clip"
    alignment = json.loads(obj.motion_search.alignment_json)
    served = json.loads(hit.alignment_json)
    assert alignment["joint_strength"]["left_wrist"] == served["joint_strength"]["right_wrist"]
    assert obj.motion_search.colouring and _sub("anim.colouring").TRACK_NAME in ad.nla_tracks


def test_segment_playhead_mirror_strip_on_a_user_rig(
    addon, scene, options, backend, drain, mixamo_rig
) -> None:
    rig = mixamo_rig(1.3, seed=1)
    rig.keyframe_insert("location", frame=1)  # the user's own active action
    users = rig.animation_data.action
    options.import_target = "SELECTED"
    options.clip_range, options.import_start, options.import_place, options.mirror = (
        "SEGMENT",
        "PLAYHEAD",
        "NLA",
        True,
    )
    _search(drain, KICK)
    st = bpy.context.window_manager.motion_search
    st.hit_index = next(i for i, h in enumerate(st.hits) if h.duration > 8.0)
    hit = st.hits[st.hit_index]
    scene.frame_set(11)
    obj = _import(drain)
    assert obj == rig and rig.animation_data.action == users  # the user's action stays active
    assert {k.type for fc in _fcurves(users) for k in fc.keyframe_points} == {"KEYFRAME"}
    strip = rig.animation_data.nla_tracks[f"Motion Search {hit.motion_id}"].strips[0]
    assert strip.frame_start == 11
    names, zup = _served(backend, hit.motion_id)
    first = max(0, math.floor((hit.segment_start - 0.5) * 20 + 1e-6))
    mirrored = _mirrored(names, zup)
    mapping = {row.joint: row.bone for row in rig.motion_search.bone_map if row.bone}
    assert mapping["left_wrist"] == "LeftHand" and len(mapping) == 22
    for f in (0, 10, 40):  # served frames whose instants are scene frames at 24 fps
        if first + f >= len(zup):
            continue
        scene.frame_set(11 + f * 24 // 20)
        assert _directions_match(rig, mapping, names, mirrored[first + f]) > 0.999, f


@pytest.mark.parametrize("target", ["NEW", "SELECTED"])
def test_picked_hits_in_sequence_on_one_track(
    addon, scene, options, backend, drain, mixamo_rig, target: str
) -> None:
    rig = mixamo_rig(0.9, seed=1) if target == "SELECTED" else None
    options.import_target, options.sequence_gap = target, 5
    _search(drain, "a person walks")
    st = bpy.context.window_manager.motion_search
    picked = [st.hits[i] for i in (0, 2, 3)]
    for h in picked:
        h.picked = True
    ids = [h.motion_id for h in picked]
    assert bpy.ops.motion_search.import_sequence() == {"FINISHED"}
    drain(180)
    assert not st.status_is_error, st.status
    obj = bpy.context.view_layer.objects.active
    if rig is not None:
        assert obj == rig
    else:
        assert obj.type == "ARMATURE" and len([o for o in bpy.data.objects if o.type == "ARMATURE"]) == 1
    track = obj.animation_data.nla_tracks[_sub("ops_import").SEQUENCE_TRACK]
    strips = sorted(track.strips, key=lambda s: s.frame_start)
    assert [next(i for i in ids if i in s.action.name) for s in strips] == ids
    assert strips[0].frame_start == scene.frame_start
    mapping = {row.joint: row.bone for row in obj.motion_search.bone_map if row.bone}
    for i, (s, clip) in enumerate(zip(strips, ids, strict=True)):
        names, zup = _served(backend, clip)
        n = int(np.floor((len(zup) - 1) * 24 / 20.0 + 1e-9)) + 1
        assert _key_frames(s.action) == [float(s.frame_start + f) for f in range(n)], clip
        if i:
            assert s.frame_start == strips[i - 1].frame_end + 1 + 5
        scene.frame_set(int(s.frame_start))
        assert _directions_match(obj, mapping, names, zup[0]) > 0.999, clip
    assert f"imported 3 clips in sequence onto {obj.name}" in st.status
