"""Search -> import -> colour -> describe in real Blender against a real backend process on loopback.

* Search fills the result list (ids, captions, scores from the server), thumbnails and the explain picture
  land in the preview collection, the matched words are listed.
* Import creates a 22-bone armature named after the served joints and a named action with keys for every
  joint at every scene frame over the clip's duration (written through the 4.2 ``action.fcurves`` or the
  4.4+/5.0 slot/layer/strip/channelbag API).
* The evaluated bone heads equal the served joints (Y up -> Z up) within 1 mm: at 20 fps frame by frame,
  at 24 fps at the instants both rates share. In place keeps the pelvis over its first position.
* Colouring: bone colours from ``joint_strength``, animated pose-bone colours on their own NLA track (the
  motion action only holds motion channels), keyframe types from the per-window strengths; the toggle
  removes all of it and brings it back.
* Describe on the imported clip finds that clip (top similar motion, its caption listed) and colours by
  the best caption.
* Import onto a user armature with Mixamo names and other proportions drives its mapped bones.
"""

from __future__ import annotations

import importlib
import json
import sys
import urllib.request
from types import ModuleType

import bpy
import numpy as np
import pytest

ADDON_MODULE = "bl_ext.user_default.motion_search"
MM = 0.001


def _mod() -> ModuleType:
    return sys.modules[ADDON_MODULE]


def _sub(name: str) -> ModuleType:
    """A sub-module of the installed add-on (``anim.*`` modules are imported lazily by the operators)."""
    return importlib.import_module(f"{ADDON_MODULE}.{name}")


def _served(backend, clip_id: str) -> dict:
    with urllib.request.urlopen(f"{backend.url}/motions/{clip_id}", timeout=60) as resp:
        return json.loads(resp.read())


def _search_and_import(backend, drain, query: str = "a person waves with the left hand", index: int = 0):
    st = bpy.context.window_manager.motion_search
    st.query = query
    assert bpy.ops.motion_search.search() == {"FINISHED"}
    drain(120)
    assert not st.status_is_error, st.status
    st.hit_index = index
    drain(120)
    hit = st.hits[index]
    assert bpy.ops.motion_search.import_selected() == {"FINISHED"}
    drain(120)
    assert not st.status_is_error, st.status
    return hit, bpy.context.view_layer.objects.active


def _heads(obj: bpy.types.Object, names: list[str]) -> np.ndarray:
    mw = np.array(obj.matrix_world)
    h = np.array([obj.pose.bones[n].head for n in names])
    return h @ mw[:3, :3].T + mw[:3, 3]


def _fcurves(action: bpy.types.Action) -> list:
    return _sub("anim.action").action_fcurves(action)


def test_search_lists_hits_previews_and_words(addon, scene, prefs, backend, drain) -> None:
    st = bpy.context.window_manager.motion_search
    st.query = "a person waves with the left hand"
    assert bpy.ops.motion_search.search() == {"FINISHED"}
    drain(120)
    assert not st.status_is_error, st.status
    assert len(st.hits) == min(5, len(backend.clips)) and st.status.startswith(f"{len(st.hits)} results")
    ids = [h.motion_id for h in st.hits]
    assert set(ids) <= set(backend.clips) and len(set(ids)) == len(ids)
    assert all(h.caption == backend.clips[h.motion_id] for h in st.hits)
    assert [h.score for h in st.hits] == sorted((h.score for h in st.hits), reverse=True)
    pv = _mod().previews
    assert all(pv.has(pv.key_for_preview(i)) for i in ids)
    assert st.explain_key == pv.key_for_explain(ids[0], st.query) and pv.has(st.explain_key)
    assert sorted(w.token for w in st.words) == sorted(json.loads(st.hits[0].alignment_json)["tokens"])
    assert all(w.part for w in st.words)


@pytest.mark.parametrize("fps", [20, 24])
def test_import_keys_every_joint_and_heads_match(addon, scene, prefs, backend, drain, fps: int) -> None:
    scene.render.fps = fps
    hit, obj = _search_and_import(backend, drain)
    served = _served(backend, hit.motion_id)
    names = served["joint_names"]
    joints = np.asarray(served["joints"], dtype=np.float64)
    zup = np.stack([joints[..., 0], -joints[..., 2], joints[..., 1]], axis=-1)
    assert (
        obj.type == "ARMATURE"
        and sorted(b.name for b in obj.data.bones) == sorted(names)
        and len(names) == 22
    )
    action = obj.animation_data.action
    assert action is not None and hit.motion_id in action.name
    if bpy.app.version >= (4, 4, 0):
        assert len(action.slots) == 1 and obj.animation_data.action_slot == action.slots[0]
    else:
        assert len(action.fcurves) > 0
    n_frames = int(np.floor((len(zup) - 1) * fps / 20.0 + 1e-9)) + 1
    first = scene.frame_start
    keyed = {}
    for fc in _fcurves(action):
        bone = fc.data_path.split('"')[1]
        keyed.setdefault(bone, set()).add(fc.data_path.rsplit(".", 1)[1])
        frames = [k.co[0] for k in fc.keyframe_points]
        assert frames == list(range(first, first + n_frames)), fc.data_path
        assert fc.group is not None and fc.group.name == bone
    assert set(keyed) == set(names)
    assert all("rotation_quaternion" in props for props in keyed.values()) and "location" in keyed["pelvis"]
    worst = 0.0
    for f in range(n_frames):
        t = f * 20.0 / fps
        if abs(t - round(t)) > 1e-9:
            continue
        scene.frame_set(first + f)
        worst = max(worst, float(np.abs(_heads(obj, names) - zup[round(t)]).max()))
    assert worst <= 1 * MM, f"evaluated heads are {worst * 1000:.3f} mm off the served joints"
    # colours on by default after import
    assert obj.motion_search.colouring and obj.data.bones["pelvis"].color.palette == "CUSTOM"


def test_import_in_place(addon, scene, prefs, backend, drain) -> None:
    prefs.root_motion = False
    _, obj = _search_and_import(backend, drain, "a person dashes forward")
    track = []
    for f in range(scene.frame_start, int(obj.animation_data.action.frame_range[1]) + 1, 3):
        scene.frame_set(f)
        track.append(_heads(obj, ["pelvis"])[0])
    track = np.array(track)
    assert len(track) >= 3 and np.abs(track[:, :2] - track[0, :2]).max() < 1e-4


def test_colouring_layers_and_toggle(addon, scene, prefs, backend, drain) -> None:
    hit, obj = _search_and_import(backend, drain)
    mod = _mod()
    alignment = mod.payloads.Alignment.from_json(json.loads(hit.alignment_json))
    motion = obj.animation_data.action
    # 1 static bone colours
    for joint, strength in alignment.joint_strength.items():
        colour = obj.data.bones[joint].color
        assert colour.palette == "CUSTOM"
        np.testing.assert_allclose(
            colour.custom.normal, mod.heat.heat_colour(strength), atol=2.5 / 255
        )  # stored as 8 bit
    # 2 animated colours on their own NLA track; the motion action holds no colour channel
    track = obj.animation_data.nla_tracks[_sub("anim.colouring").TRACK_NAME]
    colours = track.strips[0].action
    colours_name = colours.name
    assert colours is not None and colours != motion
    assert all(".color." in fc.data_path for fc in _fcurves(colours))
    assert not any(".color." in fc.data_path for fc in _fcurves(motion))
    spans = mod.heat.window_frame_spans(
        [(w.start, w.end) for w in alignment.windows], 24.0, scene.frame_start
    )
    for f in (scene.frame_start, scene.frame_start + 20, scene.frame_start + 40):
        scene.frame_set(f)
        for joint in ("left_wrist", "right_knee", "head"):
            s = mod.heat.strength_per_frame(alignment.joint_window_strength[joint], spans, np.array([f]))[0]
            np.testing.assert_allclose(
                obj.pose.bones[joint].color.custom.normal, mod.heat.heat_colour(s), atol=2.5 / 255
            )
    # 3 keyframe types follow the per-window strengths
    levels = set()
    for fc in _fcurves(motion):
        joint = fc.data_path.split('"')[1]
        for k in fc.keyframe_points:
            s = mod.heat.strength_per_frame(
                alignment.joint_window_strength[joint], spans, np.array([k.co[0]])
            )[0]
            assert k.type == mod.heat.keyframe_type(s)
            levels.add(k.type)
    assert len(levels) >= 2
    # the toggle removes everything ...
    obj.motion_search.colouring = False
    assert all(b.color.palette == "DEFAULT" for b in obj.data.bones)
    assert all(pb.color.palette == "DEFAULT" for pb in obj.pose.bones)
    assert _sub("anim.colouring").TRACK_NAME not in obj.animation_data.nla_tracks
    assert colours_name not in bpy.data.actions
    assert {k.type for fc in _fcurves(motion) for k in fc.keyframe_points} == {"KEYFRAME"}
    # ... and brings it back
    obj.motion_search.colouring = True
    assert (
        obj.data.bones["head"].color.palette == "CUSTOM"
        and _sub("anim.colouring").TRACK_NAME in obj.animation_data.nla_tracks
    )


def test_describe_finds_the_imported_clip(addon, scene, prefs, backend, drain) -> None:
    hit, obj = _search_and_import(backend, drain, "a person bows politely")
    obj.motion_search.colouring = False
    st = bpy.context.window_manager.motion_search
    st.describe_count = 5
    assert bpy.ops.motion_search.describe() == {"FINISHED"}
    drain(180)
    assert not st.status_is_error, st.status
    assert len(st.captions) == 5 and all(c.text in backend_captions(backend) for c in st.captions)
    assert [c.score for c in st.captions] == sorted((c.score for c in st.captions), reverse=True)
    assert st.similar[0].motion_id == hit.motion_id  # the clip itself is the most similar library motion
    assert backend.clips[hit.motion_id] in {c.text for c in st.captions}  # its caption among the top 5 of 8
    assert obj.motion_search.text == st.captions[0].text and obj.motion_search.colouring
    assert obj.data.bones["pelvis"].color.palette == "CUSTOM" and len(st.words) > 0


def backend_captions(backend) -> set[str]:
    import json as _json

    return set(_json.loads((backend.log.parent / "fixture.json").read_text())["captions"])


def test_import_onto_a_mixamo_named_rig(addon, scene, prefs, backend, drain, mixamo_rig) -> None:
    rig = mixamo_rig(1.4)
    prefs.import_target = "SELECTED"
    hit, obj = _search_and_import(backend, drain, "a person kicks with the right leg")
    assert obj == rig and obj.animation_data.action is not None
    mapping = {row.joint: row.bone for row in rig.motion_search.bone_map if row.bone}
    assert (
        mapping["left_ankle"] == "LeftFoot" and mapping["left_shoulder"] == "LeftArm" and len(mapping) == 22
    )
    assert all(pb.rotation_mode == "QUATERNION" for pb in rig.pose.bones)
    served = _served(backend, hit.motion_id)
    joints = np.asarray(served["joints"], dtype=np.float64)
    zup = np.stack([joints[..., 0], -joints[..., 2], joints[..., 1]], axis=-1)
    for f in (0, 5, 20, 40):  # served frames whose instants are scene frames at 24 fps
        scene.frame_set(scene.frame_start + f * 24 // 20)
        for a, b in (("left_elbow", "left_wrist"), ("right_knee", "right_ankle"), ("spine1", "spine2")):
            ia, ib = served["joint_names"].index(a), served["joint_names"].index(b)
            want = zup[f, ib] - zup[f, ia]
            now = _heads(rig, [mapping[b]])[0] - _heads(rig, [mapping[a]])[0]
            assert np.dot(now, want) / np.linalg.norm(now) / np.linalg.norm(want) > 0.999, (f, a, b)


def test_sampling_an_imported_clip_gives_back_the_served_joints(addon, scene, prefs, backend, drain) -> None:
    """Import at 20 fps, then sample for /describe: Z up -> Y up round trip within 1 mm, frame for frame."""
    scene.render.fps = 20
    hit, obj = _search_and_import(backend, drain, "a person walks backwards")
    served = _served(backend, hit.motion_id)
    mapping = {row.joint: row.bone for row in obj.motion_search.bone_map if row.bone}
    sampled = _sub("anim.sample").sample_joints(bpy.context, obj, mapping)
    joints = np.asarray(served["joints"], dtype=np.float64)
    assert sampled.fps == 20.0 and sampled.frame_start == scene.frame_start
    assert sampled.joints.shape == joints.shape
    assert np.abs(sampled.joints - joints).max() <= 1 * MM
    assert scene.frame_current == scene.frame_start  # the current frame is restored


def test_colouring_restores_a_users_own_colours_and_key_types(
    addon, scene, prefs, backend, drain, mixamo_rig
) -> None:
    rig = mixamo_rig(1.0)
    rig.data.bones["LeftArm"].color.palette = "THEME03"
    prefs.import_target = "SELECTED"
    _search_and_import(backend, drain, "a person bows politely")
    assert rig.data.bones["LeftArm"].color.palette == "CUSTOM" and rig.motion_search.colouring
    rig.motion_search.colouring = False
    assert rig.data.bones["LeftArm"].color.palette == "THEME03"
    fc = next(f for f in _fcurves(rig.animation_data.action) if f.data_path.startswith('pose.bones["Head"]'))
    fc.keyframe_points[3].type = "BREAKDOWN"
    rig.motion_search.colouring = True
    rig.motion_search.colouring = False
    types = [k.type for k in fc.keyframe_points]
    assert types[3] == "BREAKDOWN" and set(types[:3] + types[4:]) == {"KEYFRAME"}


def test_bone_map_preset_and_coloured_body(addon, scene, prefs, backend, drain, mixamo_rig, tmp_path) -> None:
    rig = mixamo_rig(1.0)
    assert bpy.ops.motion_search.map_detect() == {"FINISHED"}
    rows = {row.joint: row for row in rig.motion_search.bone_map}
    assert len(rows) == 22 and rows["left_elbow"].bone == "LeftForeArm"
    rows["left_elbow"].bone = "LeftHand"  # an edit by hand ...
    preset = tmp_path / "rig.json"
    assert bpy.ops.motion_search.map_save(filepath=str(preset)) == {"FINISHED"}
    assert json.loads(preset.read_text())["map"]["left_elbow"] == "LeftHand"
    assert bpy.ops.motion_search.map_detect() == {"FINISHED"}
    assert bpy.ops.motion_search.map_load(filepath=str(preset)) == {"FINISHED"}
    assert {r.joint: r.bone for r in rig.motion_search.bone_map}["left_elbow"] == "LeftHand"  # ... survives

    prefs.import_target = "NEW"
    _, obj = _search_and_import(backend, drain, "a person waves goodbye with one hand")
    assert bpy.ops.motion_search.add_body() == {"FINISHED"}
    body = bpy.data.objects[obj.name + " body"]
    assert body.parent == obj and body.modifiers[0].object == obj and len(body.data.materials) == 22
    mat = next(m for m in body.data.materials if m.name.endswith("left_wrist"))
    for frame in (scene.frame_start, scene.frame_start + 30, scene.frame_start + 60):
        scene.frame_set(frame)
        evaluated = mat.evaluated_get(bpy.context.evaluated_depsgraph_get()).diffuse_color
        np.testing.assert_allclose(evaluated[:3], obj.pose.bones["left_wrist"].color.custom.normal, atol=1e-4)
