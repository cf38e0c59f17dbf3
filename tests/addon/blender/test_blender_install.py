"""The extension in real Blender: validation, offline install, registration, failure paths without a backend.

* ``blender_ext.py validate`` shipped in this bpy wheel accepts the built zip.
* The zip installs offline through ``extensions.package_install_files`` and enables: operators, panels,
  UI lists, preferences (with their documented defaults) and the result timer exist.
* Disabling unregisters every class and the timer (mirror of register); enabling again works.
* Backend down: the search operator returns at once, the worker fails, and the timer body puts a clear
  status ("backend not reachable at <url>: start it with `bash scripts/run.sh`") with no exception.
* A non-loopback URL while online access is off is refused with the way to allow it.
"""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import bpy

ADDON_MODULE = "bl_ext.user_default.motion_search"


def _blender_ext() -> Path:
    return Path(bpy.utils.system_resource("SCRIPTS")) / "addons_core" / "bl_pkg" / "cli" / "blender_ext.py"


def test_validator_accepts_the_zip(addon_zip: Path) -> None:
    proc = subprocess.run(
        [sys.executable, str(_blender_ext()), "validate", str(addon_zip)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Success" in proc.stdout


def test_installed_and_registered(addon: ModuleType) -> None:
    assert ADDON_MODULE in bpy.context.preferences.addons
    for op in ("search", "describe", "import_selected", "colour_apply", "colour_remove", "map_detect", "map_save",
               "map_load", "check_backend"):  # fmt: skip
        assert hasattr(bpy.ops.motion_search, op), op
    for cls in ("VIEW3D_PT_motion_search", "VIEW3D_PT_motion_search_import", "MOTIONSEARCH_UL_hits"):
        assert hasattr(bpy.types, cls), cls
    assert bpy.types.VIEW3D_PT_motion_search.bl_category == "Motion Search"
    prefs = addon.preferences.addon_prefs()
    assert (
        prefs.backend_url == "http://127.0.0.1:8765"
        and prefs.result_count == 10
        and prefs.import_target == "NEW"
    )
    snap = addon.preferences.snapshot()
    assert snap.url == prefs.backend_url and snap.timeout == prefs.timeout
    assert bpy.app.timers.is_registered(addon.jobs.timer_tick)
    assert hasattr(bpy.context.window_manager, "motion_search")


def test_disable_unregisters_everything_and_enable_restores(addon: ModuleType) -> None:
    bpy.ops.preferences.addon_disable(module=ADDON_MODULE)
    try:
        assert ADDON_MODULE not in bpy.context.preferences.addons
        assert not hasattr(bpy.types, "VIEW3D_PT_motion_search")
        assert not hasattr(bpy.types.WindowManager, "motion_search")
        assert not bpy.app.timers.is_registered(addon.jobs.timer_tick)
    finally:
        bpy.ops.preferences.addon_enable(module=ADDON_MODULE)
    assert hasattr(bpy.types, "VIEW3D_PT_motion_search")
    assert bpy.app.timers.is_registered(sys.modules[ADDON_MODULE].jobs.timer_tick)


def test_backend_down_gives_clear_status(addon: ModuleType, scene, drain) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{s.getsockname()[1]}"  # closed again: nothing listens there
    mod = sys.modules[ADDON_MODULE]
    prefs = mod.preferences.addon_prefs()
    old = prefs.backend_url
    prefs.backend_url = url
    try:
        st = bpy.context.window_manager.motion_search
        st.query = "a person waves with the left hand"
        assert bpy.ops.motion_search.search() == {"FINISHED"}
        assert st.status.startswith("searching")
        drain(30)
        assert st.status_is_error
        assert st.status.startswith(f"backend not reachable at {url}") and "bash scripts/run.sh" in st.status
        assert len(st.hits) == 0 and mod.jobs.get_queue().errors == []
        assert bpy.ops.motion_search.check_backend() == {"FINISHED"}
        drain(30)
        assert "not reachable" in st.status
    finally:
        prefs.backend_url = old


def test_remote_url_needs_online_access(addon: ModuleType, scene) -> None:
    mod = sys.modules[ADDON_MODULE]
    prefs = mod.preferences.addon_prefs()
    old = prefs.backend_url
    prefs.backend_url = "http://192.0.2.10:8765"
    try:
        st = bpy.context.window_manager.motion_search
        if bpy.app.online_access:  # bpy as a module starts with online access off; skip if a build differs
            return
        assert bpy.ops.motion_search.search() == {"CANCELLED"}
        assert st.status_is_error and "Allow Online Access" in st.status and "192.0.2.10" in st.status
        assert not mod.jobs.get_queue().busy()
    finally:
        prefs.backend_url = old


def test_empty_query_and_nothing_to_import(addon: ModuleType, scene) -> None:
    st = bpy.context.window_manager.motion_search
    st.query = "   "
    assert bpy.ops.motion_search.search() == {"CANCELLED"}
    assert st.status_is_error and "type a description" in st.status
    assert not bpy.ops.motion_search.import_selected.poll()  # no result selected
