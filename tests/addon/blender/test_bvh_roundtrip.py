"""The backend's BVH writer round-trips through Blender's own BVH importer (issue: foundation, BVH writer).

A real Bandai-Namco clip is converted to the canonical form and written as BVH by the backend
(``backend.motion.convert.clip_to_bvh``, run in the main venv because the bpy venv has no scipy/torch);
Blender's ``import_anim.bvh`` then imports it, and every bone head at every frame must land on the canonical
joint it stands for (Blender Z-up converted back to Y-up). Blender's ``export_anim.bvh`` of that armature
then reads back through the backend's reader to the same canonical joints.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import bpy
import numpy as np
from conftest import MAIN_PYTHON, REPO

SMPL = (
    "pelvis",
    "left_hip",
    "right_hip",
    "spine1",
    "left_knee",
    "right_knee",
    "spine2",
    "left_ankle",
    "right_ankle",
    "spine3",
    "left_foot",
    "right_foot",
    "neck",
    "left_collar",
    "right_collar",
    "head",
    "left_shoulder",
    "right_shoulder",
    "left_elbow",
    "right_elbow",
    "left_wrist",
    "right_wrist",
)

WRITE = """
import sys, numpy as np
from backend.motion.convert import bvh_to_clip, clip_to_bvh
clip = bvh_to_clip(sys.argv[1])
clip_to_bvh(clip, sys.argv[2])
np.save(sys.argv[3], clip.joints)
"""

READ = """
import sys, numpy as np
from backend.motion.convert import bvh_to_clip
np.save(sys.argv[2], bvh_to_clip(sys.argv[1], drop_rest_frame=False, up_axis="auto").joints)
"""


def test_written_bvh_imports_into_blender_at_the_canonical_joints(bandai1: Path, tmp_path: Path) -> None:
    src = next(bandai1.rglob("dataset-1_bye_normal_001.bvh"))
    bvh, npy = tmp_path / "clip.bvh", tmp_path / "joints.npy"
    subprocess.run([str(MAIN_PYTHON), "-c", WRITE, str(src), str(bvh), str(npy)], cwd=REPO, check=True)
    joints = np.load(npy)  # (T, 22, 3) metres, Y up

    import addon_utils

    addon_utils.enable("io_anim_bvh", default_set=True)
    before = set(bpy.data.objects)
    bpy.ops.import_anim.bvh(
        filepath=str(bvh),
        axis_forward="-Z",
        axis_up="Y",
        global_scale=1.0,
        rotate_mode="NATIVE",
        update_scene_fps=False,
        update_scene_duration=True,
    )
    (arm,) = [o for o in bpy.data.objects if o not in before and o.type == "ARMATURE"]
    try:
        assert {b.name for b in arm.data.bones} >= set(SMPL)
        scene = bpy.context.scene
        errors = []
        for f in range(0, joints.shape[0], 5):
            scene.frame_set(f + 1)  # the importer keys frame i of the file at scene frame i + 1
            for j, name in enumerate(SMPL):
                h = arm.matrix_world @ arm.pose.bones[name].head
                yup = np.array([h.x, h.z, -h.y])
                errors.append(np.linalg.norm(yup - joints[f, j]))
        errors = np.array(errors)
        assert errors.max() < 0.01, f"max {errors.max() * 1000:.1f} mm"
        assert errors.mean() < 0.002, f"mean {errors.mean() * 1000:.2f} mm"

        # ... and a BVH exported by Blender reads back through the backend's reader to the same joints.
        exported, back = tmp_path / "blender_export.bvh", tmp_path / "back.npy"
        bpy.ops.object.select_all(action="DESELECT")
        arm.select_set(True)
        bpy.context.view_layer.objects.active = arm
        fps = (scene.render.fps, scene.render.fps_base)
        scene.render.fps, scene.render.fps_base = 20, 1.0  # the exporter writes the scene's frame time
        bpy.ops.export_anim.bvh(
            filepath=str(exported),
            frame_start=1,
            frame_end=joints.shape[0],
            global_scale=1.0,
            rotate_mode="NATIVE",
            root_transform_only=False,
        )
        scene.render.fps, scene.render.fps_base = fps
        subprocess.run([str(MAIN_PYTHON), "-c", READ, str(exported), str(back)], cwd=REPO, check=True)
        again = np.load(back)
        assert again.shape == joints.shape
        err = np.linalg.norm(again - joints, axis=-1)
        assert err.max() < 0.01 and err.mean() < 0.002, f"max {err.max() * 1000:.1f} mm"
    finally:
        bpy.data.objects.remove(arm, do_unlink=True)
