"""Headless end-to-end demo of the Blender add-on against a running backend.

Installs the built add-on into a throw-away Blender user folder, then, exactly as an animator would
through the sidebar: searches "a person waves with the left hand", imports the top hit onto a new
armature (coloured by its alignment), asks the backend to describe the imported animation, adds a
coloured body for rendering, saves ``dist/demo.blend`` and renders ``dist/demo.png`` with Workbench.

Usage (with a bpy venv's python; start the backend first, e.g. ``bash scripts/run.sh``)::

    .venv-bpy50/bin/python scripts/demo_blender.py [--url http://127.0.0.1:8765] [--out dist]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
ADDON_MODULE = "bl_ext.user_default.motion_search"


def _drain(module, timeout: float) -> None:
    """Run the add-on's timer body until its jobs are done (timers never fire in a headless session)."""
    deadline = time.monotonic() + timeout
    while module.jobs.get_queue().busy():
        module.jobs.timer_tick()
        if time.monotonic() > deadline:
            raise SystemExit(f"error: backend jobs still pending after {timeout} s")
        time.sleep(0.05)
    module.jobs.timer_tick()


def _check(st, what: str) -> None:
    print(f"[demo] {what}: {st.status}")
    if st.status_is_error:
        raise SystemExit(f"error: {st.status}")


def _stage(bpy, ms, obj, frame: int) -> None:
    """Camera, ground, light and Workbench settings framing ``obj`` at ``frame``."""
    import numpy as np
    from mathutils import Vector

    scene = bpy.context.scene
    scene.frame_set(frame)
    mw = np.array(obj.matrix_world)
    heads = np.array([mw[:3, :3] @ np.array(pb.head) + mw[:3, 3] for pb in obj.pose.bones])
    lo, hi = heads.min(0), heads.max(0)
    centre = (lo + hi) / 2
    size = max(float(np.max(hi - lo)), 1.0)
    j = {pb.name: i for i, pb in enumerate(obj.pose.bones)}
    left = heads[j["left_hip"]] - heads[j["right_hip"]] if "left_hip" in j else np.array([1.0, 0.0, 0.0])
    facing = np.cross([0.0, 0.0, 1.0], -left)
    facing = facing / max(np.linalg.norm(facing), 1e-9)
    side = np.cross([0.0, 0.0, 1.0], facing)
    direction = 0.85 * facing + 0.45 * side + np.array([0.0, 0.0, 0.3])
    direction /= np.linalg.norm(direction)
    cam_data = bpy.data.cameras.new("Demo camera")
    cam_data.lens = 50
    cam = bpy.data.objects.new("Demo camera", cam_data)
    scene.collection.objects.link(cam)
    cam.location = Vector(centre + direction * size * 3.6)
    cam.rotation_euler = (Vector(centre) - cam.location).to_track_quat("-Z", "Y").to_euler()
    scene.camera = cam
    bpy.ops.mesh.primitive_plane_add(
        size=max(40.0, size * 20), location=(float(centre[0]), float(centre[1]), 0.0)
    )
    ground = bpy.context.active_object
    ground.name = "Ground"
    mat = bpy.data.materials.new("Ground")
    mat.diffuse_color = (0.55, 0.56, 0.6, 1.0)
    ground.data.materials.append(mat)
    world = scene.world or bpy.data.worlds.new("World")
    scene.world = world
    world.color = (0.16, 0.17, 0.2)
    scene.render.engine = "BLENDER_WORKBENCH"
    shading = scene.display.shading
    shading.light = "STUDIO"
    shading.color_type = "MATERIAL"
    shading.show_shadows = True
    shading.show_cavity = True
    scene.render.resolution_x, scene.render.resolution_y = 1280, 800
    scene.render.film_transparent = False
    bpy.context.view_layer.objects.active = obj


def main(argv: list[str] | None = None) -> int:
    """Run the demo; returns the exit code."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default="http://127.0.0.1:8765", help="backend URL")
    parser.add_argument(
        "--out", type=Path, default=REPO / "dist", help="output folder for demo.blend / demo.png"
    )
    parser.add_argument("--query", default="a person waves with the left hand")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds to wait for each backend job")
    args = parser.parse_args(argv)
    args.out = args.out.resolve()
    args.out.mkdir(parents=True, exist_ok=True)
    os.environ["BLENDER_USER_RESOURCES"] = tempfile.mkdtemp(prefix="motion_search_demo_")

    sys.path.insert(0, str(REPO / "scripts"))
    import bpy
    import build_addon

    zip_path = build_addon.build_zip(Path(tempfile.mkdtemp(prefix="motion_search_zip_")))
    bpy.ops.wm.read_factory_settings(use_empty=True)
    bpy.ops.extensions.package_install_files(
        filepath=str(zip_path), repo="user_default", enable_on_install=True
    )
    ms = sys.modules[ADDON_MODULE]
    try:
        prefs = ms.preferences.addon_prefs()
        prefs.backend_url, prefs.result_count, prefs.timeout = args.url, 5, args.timeout
        scene = bpy.context.scene
        scene.render.fps, scene.frame_start = 24, 1
        st = bpy.context.window_manager.motion_search

        st.query = args.query
        bpy.ops.motion_search.search()
        _drain(ms, args.timeout)
        _check(st, "search")
        for h in st.hits:
            print(f"[demo]   {h.score:.3f}  {h.motion_id}  '{h.caption}'  {h.duration:.1f} s  ({h.dataset})")
        hit = st.hits[0]

        bpy.ops.motion_search.import_selected()
        _drain(ms, args.timeout)
        _check(st, "import")
        obj = bpy.context.view_layer.objects.active
        print(
            "[demo] matched words: "
            + "; ".join(f"{w.token} -> {w.part} {w.start:.1f}-{w.end:.1f} s" for w in st.words)
        )

        bpy.ops.motion_search.describe()
        _drain(ms, args.timeout)
        _check(st, "describe")
        for c in st.captions:
            print(f"[demo]   caption {c.score:.3f}  '{c.text}'")
        for s in st.similar:
            print(f"[demo]   similar {s.score:.3f}  {s.motion_id}  '{s.caption}'")

        # describe re-coloured by the best caption; colour by the search hit again for the picture
        ost = obj.motion_search
        ost.text, ost.alignment_json = st.searched_text, hit.alignment_json
        bpy.ops.motion_search.colour_apply()
        bpy.ops.motion_search.add_body()
        _check(st, "body")
        fps = scene.render.fps / scene.render.fps_base
        frame = int(scene.frame_start + fps * (hit.segment_start + hit.segment_end) / 2)
        _stage(bpy, ms, obj, frame)
        blend = args.out / "demo.blend"
        bpy.ops.wm.save_as_mainfile(filepath=str(blend))
        scene.frame_set(frame)
        scene.render.filepath = str(args.out / "demo.png")
        bpy.ops.render.render(write_still=True)
        summary = {
            "query": args.query, "top_hit": hit.motion_id, "caption": hit.caption, "render_frame": frame,
            "best_description": st.captions[0].text if len(st.captions) else None,
            "blend": str(blend), "png": str(args.out / "demo.png"),
            "strongest_joints": sorted(json.loads(hit.alignment_json)["joint_strength"].items(), key=lambda kv: -kv[1])[:4],
        }  # fmt: skip
        print("[demo] " + json.dumps(summary))
        return 0 if math.isfinite(frame) else 1
    finally:
        bpy.ops.preferences.addon_disable(module=ADDON_MODULE)


if __name__ == "__main__":
    sys.exit(main())
