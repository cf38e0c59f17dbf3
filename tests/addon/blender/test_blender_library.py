"""Adding to the library from Blender, in real bpy against a real backend process on loopback.

* *Add Selected*: an armature imported by Blender's BVH importer from a served clip (``?format=bvh``) is
  sampled through its bone map and sent as joints; the backend then serves the same motion (within 2 mm),
  with the caption, tags, licence and commercial use given; ``/search`` with ``tags`` / ``commercial_safe``
  finds exactly the added clips. An armature whose bones cannot be mapped is skipped with the missing joints.
* *Add Every Action*: each action on the armature that plays it, an unassigned one on the chosen armature,
  one moving bones the armature lacks skipped with the reason; the armature's own action, slot and NLA
  setting are put back; the alignment colouring's colour action is no body motion and is left out.
* *Add Folder*: a Mixamo-style FBX (made here with Blender's FBX exporter), a BVH and an HDM05 ASF/AMC pair
  are added; an AMC without its skeleton, a broken BVH and a text file are skipped, each with its reason;
  nothing the imports created is left in the file. The modal operator's body is driven by hand (timers never
  fire headless): progress, status line, Esc cancels before the next file and names what was not read.
* *Libraries*: named backends in the preferences; picking one points the add-on at it, the panel label says
  which library it searches.
"""

from __future__ import annotations

import importlib
import json
import shutil
import sys
import urllib.request
from pathlib import Path
from types import ModuleType, SimpleNamespace

import bpy
import numpy as np
import pytest

ADDON_MODULE = "bl_ext.user_default.motion_search"
MM = 0.001
BANDAI_DATA = "dataset/Bandai-Namco-Research-Motiondataset-1/data"


def _sub(name: str) -> ModuleType:
    return importlib.import_module(f"{ADDON_MODULE}.{name}")


def _get(backend, path: str, fmt: str = "json"):
    with urllib.request.urlopen(f"{backend.url}{path}", timeout=60) as resp:
        raw = resp.read()
    return json.loads(raw) if fmt == "json" else raw.decode()


def _search(backend, **extra) -> list[dict]:
    body = json.dumps({"text": "a person moves", "k": 100, **extra}).encode()
    req = urllib.request.Request(
        f"{backend.url}/search", data=body, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(req, timeout=60) as resp:
        return json.loads(resp.read())["results"]


def _lib_state():
    return bpy.context.window_manager.motion_search_library


def _import_bvh(path: Path) -> bpy.types.Object:
    assert bpy.ops.import_anim.bvh(filepath=str(path), axis_forward="-Z", axis_up="Y", rotate_mode="NATIVE",
                                   update_scene_fps=False, update_scene_duration=True) == {"FINISHED"}  # fmt: skip
    return bpy.context.view_layer.objects.active


def _served_bvh(backend, clip_id: str, tmp_path: Path) -> Path:
    path = tmp_path / f"{clip_id}.bvh"
    path.write_text(_get(backend, f"/motions/{clip_id}?format=bvh", fmt="text"))
    return path


def _data_ids() -> dict[str, set[int]]:
    skip = {"window_managers", "workspaces", "screens", "libraries"}
    return {
        p.identifier: {i.as_pointer() for i in getattr(bpy.data, p.identifier)}
        for p in bpy.types.BlendData.bl_rna.properties
        if p.type == "COLLECTION" and p.identifier not in skip
    }


@pytest.fixture(scope="module")
def backend(backend_factory):
    """A backend of this module's own: these tests add clips, the session's shared backend stays as built."""
    with backend_factory() as b:
        yield b


@pytest.fixture()
def info():
    st = _lib_state()
    old = (st.caption, st.tags, st.licence, st.commercial_use)
    st.reports.clear()
    st.summary, st.busy = "", False
    yield st
    st.caption, st.tags, st.licence, st.commercial_use = old


def test_add_selected_sends_the_sampled_motion(addon, scene, prefs, backend, drain, info, tmp_path) -> None:
    scene.render.fps = 20  # the served clip's rate: frame for frame
    source = "dataset-1_bow_normal_001"
    obj = _import_bvh(_served_bvh(backend, source, tmp_path))
    obj.animation_data.action.name = "my bow take"
    info.caption, info.tags, info.licence, info.commercial_use = (
        "a person bows deeply",
        "studio, bow",
        "own work",
        True,
    )
    assert bpy.ops.motion_search.library_add_selected() == {"FINISHED"}
    drain(180)
    assert not bpy.context.window_manager.motion_search.status_is_error, info.summary
    assert [r.ok for r in info.reports] == [True] and "added my_bow_take" in info.reports[0].text
    assert len(obj.motion_search.bone_map) == 22  # the detected map is kept, as Describe keeps it

    stored = _get(backend, "/motions/my_bow_take")
    original = np.asarray(_get(backend, f"/motions/{source}")["joints"])
    joints = np.asarray(stored["joints"])
    assert joints.shape == original.shape
    assert np.abs(joints - original).max() <= 2 * MM, "the added clip is not the motion of the armature"
    meta = stored["metadata"]
    assert meta["captions"] == ["a person bows deeply"] and meta["licence"] == "own work"
    hits = _search(backend, tags=["studio", "bow"])
    assert [h["id"] for h in hits] == ["my_bow_take"] and hits[0]["commercial_use"] is True
    assert hits[0]["tags"] == ["studio", "bow"] and hits[0]["dataset"] == "user"
    assert [h["id"] for h in _search(backend, commercial_safe=True)] == [
        "my_bow_take"
    ]  # fixture: Bandai (NC)

    # a second add of the unchanged action is the same clip again (an idempotent retry), not a duplicate
    assert bpy.ops.motion_search.library_add_selected() == {"FINISHED"}
    drain(180)
    assert [r.ok for r in info.reports] == [True] and "added my_bow_take" in info.reports[0].text
    assert len(_search(backend, tags=["studio"])) == 1


def test_unmappable_armature_is_reported(addon, scene, prefs, backend, drain, info) -> None:
    arm = bpy.data.armatures.new("Crate")
    obj = bpy.data.objects.new("Crate", arm)
    scene.collection.objects.link(obj)
    bpy.context.view_layer.objects.active = obj
    bpy.ops.object.mode_set(mode="EDIT")
    for i, name in enumerate(("lid", "box", "hinge")):
        b = arm.edit_bones.new(name)
        b.head, b.tail = (0, 0, i), (0, 0, i + 0.5)
    bpy.ops.object.mode_set(mode="OBJECT")
    obj.pose.bones["lid"].keyframe_insert("location", frame=1)
    obj.pose.bones["lid"].location = (0, 0, 1)
    obj.pose.bones["lid"].keyframe_insert("location", frame=10)
    assert bpy.ops.motion_search.library_add_selected() == {"CANCELLED"}
    assert not info.reports[0].ok and "Crate" in info.reports[0].text
    assert "pelvis" in info.reports[0].text  # the joints the rig lacks are named
    assert not addon.jobs.get_queue().busy()


def _key_pose(obj: bpy.types.Object, frame: int, angle: float, bones: list[str]) -> None:
    for name in bones:
        pb = obj.pose.bones[name]
        pb.rotation_mode = "QUATERNION"
        pb.rotation_quaternion = (np.cos(angle / 2), np.sin(angle / 2), 0.0, 0.0)
        pb.keyframe_insert("rotation_quaternion", frame=frame)


def test_add_every_action_in_the_file(addon, scene, prefs, backend, drain, info, tmp_path) -> None:
    scene.render.fps = 20
    obj = _import_bvh(_served_bvh(backend, "dataset-1_kick_normal_001", tmp_path))
    own = obj.animation_data.action
    own.name = "kick take"
    # another take of this rig, assigned to nothing: played on the chosen (active) armature
    spare = own.copy()
    spare.name = "kick take mirror"
    spare.use_fake_user = True
    for fc in _sub("anim.action").action_fcurves(spare):
        if '"left_shoulder"' in fc.data_path and "rotation" in fc.data_path and fc.array_index == 0:
            for k in fc.keyframe_points:
                k.co[1] += 0.8  # the left arm raised: another motion, not an identical retry
            fc.update()
    # an action for a rig that is not here (bones the armature lacks), and a colour-only action
    holder = bpy.data.objects.new("holder", bpy.data.armatures.new("holder"))  # names the slots (4.4+)
    for name, path in (("prop take", 'pose.bones["prop_bone"].location'),
                       ("colours", 'pose.bones["left_wrist"].color.custom.normal')):  # fmt: skip
        action = bpy.data.actions.new(name)
        action.use_fake_user = True
        fc = _sub("anim.action").channel_container(action, holder).fcurves.new(path, index=0)
        fc.keyframe_points.insert(1, 0.0)
        fc.keyframe_points.insert(10, 1.0)
    rig2 = bpy.data.objects.new("rig2", obj.data)  # the chosen armature, with no action of its own
    scene.collection.objects.link(rig2)
    bpy.context.view_layer.objects.active = obj
    obj.animation_data.use_nla = True
    slot_before = obj.animation_data.action_slot.handle if bpy.app.version >= (4, 4, 0) else None
    info.tags, info.licence = "takes", "own work"
    assert bpy.ops.motion_search.library_add_actions(armature="rig2") == {"FINISHED"}
    drain(240)
    rows = {r.text.split(":")[0]: r for r in info.reports}
    assert rows["kick take on " + obj.name].ok and rows["kick take mirror on rig2"].ok, [
        r.text for r in info.reports
    ]
    assert not rows["prop take"].ok and "prop_bone" in rows["prop take"].text
    assert len(rows) == 3  # the colour-only action is no body motion: not listed
    assert obj.animation_data.action == own and obj.animation_data.use_nla is True  # put back
    assert rig2.animation_data is None or rig2.animation_data.action is None
    if slot_before is not None:
        assert obj.animation_data.action_slot.handle == slot_before
    hits = {h["id"]: h for h in _search(backend, tags=["takes"])}
    assert set(hits) == {"kick_take", "kick_take_mirror"}
    assert hits["kick_take"]["caption"] == "kick take"  # several clips: captioned from their names
    a = np.asarray(_get(backend, "/motions/kick_take")["joints"])
    b = np.asarray(_get(backend, "/motions/kick_take_mirror")["joints"])
    assert a.shape == b.shape and np.abs(a - b).max() > 0.05


MIXAMO = {
    "pelvis": "Hips", "spine1": "Spine", "spine2": "Spine1", "spine3": "Spine2", "neck": "Neck", "head": "Head",
    **{f"{side}_{j}": f"{s}{m}" for side, s in (("left", "Left"), ("right", "Right"))
       for j, m in (("hip", "UpLeg"), ("knee", "Leg"), ("ankle", "Foot"), ("foot", "ToeBase"),
                    ("collar", "Shoulder"), ("shoulder", "Arm"), ("elbow", "ForeArm"), ("wrist", "Hand"))},
}  # fmt: skip


def _mixamo_fbx(backend, path: Path, frames: int = 37) -> None:
    """A Mixamo-style rig (``mixamorig:`` bone names, a served clip's proportions), animated by hand and
    exported with Blender's FBX exporter; removed from the file afterwards."""
    sk = _sub("skeleton")
    body = np.asarray(_get(backend, "/motions/dataset-1_bow_normal_001")["joints"][:1])
    rest = sk.tpose_rest(sk.yup_to_zup(body), sk.SMPL_JOINT_NAMES, sk.SMPL_PARENTS)
    names = ["mixamorig:" + MIXAMO[n] for n in sk.SMPL_JOINT_NAMES]
    before = _data_ids()
    obj = _sub("anim.armature").build_armature(bpy.context, "Armature", names, list(sk.SMPL_PARENTS), rest)
    for f in range(1, frames + 1, 4):
        angle = 1.2 * np.sin(f / frames * np.pi)
        _key_pose(obj, f, angle, ["mixamorig:LeftArm", "mixamorig:RightArm", "mixamorig:LeftUpLeg"])
        obj.pose.bones["mixamorig:Hips"].location = (0.0, f * 0.01, 0.0)
        obj.pose.bones["mixamorig:Hips"].keyframe_insert("location", frame=f)
    obj.animation_data.action.name = "mixamo.com"
    for o in bpy.context.view_layer.objects:
        o.select_set(o == obj)
    scene = bpy.context.scene
    keep = scene.frame_start, scene.frame_end
    scene.frame_start, scene.frame_end = 1, frames  # the exporter bakes the scene range
    try:
        assert bpy.ops.export_scene.fbx(filepath=str(path), use_selection=True, bake_anim=True, add_leaf_bones=False,
                                        bake_anim_use_all_actions=False, bake_anim_use_nla_strips=False,
                                        ) == {"FINISHED"}  # fmt: skip
    finally:
        scene.frame_start, scene.frame_end = keep
    new = [i for attr, old in before.items() for i in getattr(bpy.data, attr) if i.as_pointer() not in old]
    bpy.data.batch_remove(new)


def _folder(backend, tmp_path: Path, bandai1: Path, hdm05: Path) -> Path:
    folder = tmp_path / "my mocap"
    (folder / "cmu" / "lonely").mkdir(parents=True)
    _mixamo_fbx(backend, folder / "Arm Swing.fbx")
    shutil.copy(bandai1 / BANDAI_DATA / "dataset-1_bye_normal_001.bvh", folder / "bye.bvh")
    taken = (
        "dataset-1_walk-back_normal_001.bvh"  # its id is the fixture clip's, which differs from this sampling
    )
    shutil.copy(bandai1 / BANDAI_DATA / taken, folder / taken)
    amc_dir = next(p.parent for p in hdm05.rglob("HDM_mm_grabHighR_018_120.amc"))
    shutil.copy(amc_dir / "HDM_mm.asf", folder / "cmu" / "HDM_mm.asf")
    shutil.copy(amc_dir / "HDM_mm_grabHighR_018_120.amc", folder / "cmu" / "HDM_mm_grabHighR_018_120.amc")
    shutil.copy(amc_dir / "HDM_mm_grabHighR_019_120.amc", folder / "cmu" / "lonely" / "take.amc")
    (folder / "broken.bvh").write_text("HIERARCHY\nROOT Hips\n{\n  OFFSET 0 0\n")
    (folder / "notes.txt").write_text("shot list")
    return folder


def test_add_folder_of_fbx_bvh_and_amc(
    addon, scene, prefs, backend, drain, info, tmp_path, bandai1, hdm05
) -> None:
    folder = _folder(backend, tmp_path, bandai1, hdm05)
    info.tags, info.caption = "folder", "ignored for several clips"
    size = _get(backend, "/library")["size"]
    before = _data_ids()
    assert bpy.ops.motion_search.library_add_folder(directory=str(folder)) == {"FINISHED"}
    drain(240)
    assert _data_ids() == before, "the imports left data behind"
    assert bpy.context.scene == scene and scene.render.fps == 24
    rows = {r.text.split(":")[0]: r for r in info.reports}
    added = {
        "Arm Swing.fbx",
        "bye.bvh",
        "cmu/HDM_mm_grabHighR_018_120.amc",
        "dataset-1_walk-back_normal_001.bvh",
    }
    assert set(rows) == added | {"cmu/lonely/take.amc", "broken.bvh", "notes.txt"}, [
        r.text for r in info.reports
    ]
    ok = {name for name, r in rows.items() if r.ok}
    assert ok == added, [r.text for r in info.reports]
    assert "no .asf skeleton" in rows["cmu/lonely/take.amc"].text
    assert "BVH importer failed" in rows["broken.bvh"].text and "not a motion file" in rows["notes.txt"].text
    assert info.summary.startswith("added 4 clips from 4 files; skipped 3 files")
    assert _get(backend, "/library")["size"] == size + 4
    hits = {h["id"]: h for h in _search(backend, tags=["folder"])}
    ids = {"Arm_Swing", "bye", "cmu_HDM_mm_grabHighR_018_120", "dataset-1_walk-back_normal_001_2"}
    assert set(hits) == ids  # the taken id got the next free number
    report = sorted(r.text for r in info.reports)
    # the same folder again: every clip finds itself (identical adds), nothing new, the same report
    assert bpy.ops.motion_search.library_add_folder(directory=str(folder)) == {"FINISHED"}
    drain(240)
    assert _get(backend, "/library")["size"] == size + 4 and sorted(r.text for r in info.reports) == report
    assert hits["Arm_Swing"]["caption"] == "arm swing" and hits["bye"]["caption"] == "bye"
    assert hits["Arm_Swing"]["duration"] == pytest.approx(36 / 24, abs=0.1)  # keys on frames 1..37 at 24 fps
    fbx = np.asarray(_get(backend, "/motions/Arm_Swing")["joints"])
    height = fbx[0, 15, 1] - fbx[0, 7:9, 1].min()  # head above the ankles: a body in metres
    assert 0.8 < height < 2.5
    wrist = fbx[:, 20]  # the left arm swings: its wrist moves by decimetres
    assert np.linalg.norm(wrist - wrist[0], axis=1).max() > 0.2


def test_folder_modal_progress_and_cancel(
    addon, scene, prefs, backend, drain, info, tmp_path, bandai1, hdm05
) -> None:
    folder = _folder(backend, tmp_path, bandai1, hdm05)
    ops_folder = _sub("ops_folder")
    cls = ops_folder.MOTIONSEARCH_OT_library_add_folder
    reports: list[tuple] = []
    wm = bpy.context.window_manager
    fake = SimpleNamespace(report=lambda kind, text: reports.append((kind, text)), _timer=None)
    fake._finish = lambda context, run: cls._finish(fake, context, run)
    run = ops_folder.FolderRun(_sub("results").make_client(_sub("preferences").snapshot()), str(folder))
    ops_folder._RUNS["current"] = run
    fake._timer = wm.event_timer_add(0.05, window=bpy.context.window)
    info.busy = True
    before = _data_ids()
    try:
        assert cls.modal(fake, bpy.context, SimpleNamespace(type="TIMER")) == {"RUNNING_MODAL"}
        assert run.pos == 1 and info.progress.startswith(f"adding 1/{run.total}: Arm Swing.fbx")
        assert cls.modal(fake, bpy.context, SimpleNamespace(type="MOUSEMOVE")) == {"PASS_THROUGH"}
        assert cls.modal(fake, bpy.context, SimpleNamespace(type="ESC")) == {"RUNNING_MODAL"}
        assert run.cancelled and run.pos == 1
        result = None
        for _ in range(2000):
            drain(60)
            result = cls.modal(fake, bpy.context, SimpleNamespace(type="TIMER"))
            if result != {"RUNNING_MODAL"}:
                break
        assert result == {"FINISHED"}
    finally:
        ops_folder._RUNS.pop("current", None)
    assert _data_ids() == before and not info.busy
    rows = {r.text.split(":")[0]: r.text for r in info.reports}
    assert "added Arm_Swing" in rows["Arm Swing.fbx"] and "not read: cancelled" in rows["bye.bvh"]
    assert info.summary.startswith("cancelled: added 1 clip from 1 file")
    assert reports and reports[0][0] == {"WARNING"} and reports[0][1] == info.summary


def test_named_libraries_switch_the_backend(addon, scene, prefs, backend, drain, info, tmp_path) -> None:
    libs = prefs.libraries
    libs.clear()
    prefs.library_index = -1
    old_url = prefs.backend_url
    try:
        assert bpy.ops.motion_search.library_new(name="Demo", url="http://127.0.0.1:9") == {"FINISHED"}
        assert prefs.backend_url == "http://127.0.0.1:9"
        assert bpy.ops.motion_search.library_new(name="Studio", url=backend.url) == {"FINISHED"}
        assert prefs.backend_url == backend.url and prefs.library_index == 1
        assert bpy.ops.motion_search.library_new(name="Studio", url="http://127.0.0.1:10") == {"CANCELLED"}
        label = _sub("library").library_label(prefs.backend_url, [(i.name, i.url) for i in libs])
        assert label == f"Studio ({backend.url})"
        st = bpy.context.window_manager.motion_search
        assert bpy.ops.motion_search.check_backend() == {"FINISHED"}
        drain(30)
        assert st.status.startswith(f"backend OK at {backend.url}")
        prefs.library_index = 0
        assert prefs.backend_url == "http://127.0.0.1:9"
        _import_bvh(_served_bvh(backend, "dataset-1_dash_normal_001", tmp_path))
        assert bpy.ops.motion_search.library_add_selected() == {"FINISHED"}  # nothing listens on port 9
        drain(60)
        assert (
            not info.reports[0].ok and "backend not reachable at http://127.0.0.1:9" in info.reports[0].text
        )
        assert st.status_is_error
        libs[0].url = "http://127.0.0.1:11"  # editing the selected library's URL moves the add-on with it
        assert prefs.backend_url == "http://127.0.0.1:11"
        assert bpy.ops.motion_search.library_remove() == {"FINISHED"}
        assert [i.name for i in libs] == ["Studio"]
    finally:
        libs.clear()
        prefs.library_index = -1
        prefs.backend_url = old_url


def test_registered(addon) -> None:
    for op in ("library_add_selected", "library_add_actions", "library_add_folder", "library_cancel",
               "library_new", "library_remove"):  # fmt: skip
        assert hasattr(bpy.ops.motion_search, op), op
    assert hasattr(bpy.types, "VIEW3D_PT_motion_search_library")
    assert hasattr(bpy.types.WindowManager, "motion_search_library")
    assert sys.modules[ADDON_MODULE].ops_library.library_state().reports is not None
