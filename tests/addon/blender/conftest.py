"""Fixtures of the add-on's tests in real Blender (the ``bpy`` module of .venv-bpy42 / .venv-bpy50).

Run explicitly with a bpy venv's python (the main venv's pytest config ignores this folder)::

    .venv-bpy42/bin/python -m pytest tests/addon/blender -p no:cacheprovider -o addopts=""

* Blender's user folders go to a temporary directory (``BLENDER_USER_RESOURCES``, set before bpy is
  imported) so the tests never touch ~/.config/blender.
* ``addon``: the add-on is built with ``scripts/build_addon.py``, installed offline from the zip with
  ``bpy.ops.extensions.package_install_files`` and enabled; at the end of the session it is disabled
  (bpy 4.2 crashes at exit when an add-on class stays registered).
* ``backend``: a REAL backend process on loopback: ``tests/addon/backend_fixture.py`` builds a tiny
  checkpoint + index from real Bandai-Namco-1 clips in the main venv (the bpy venvs have no torch), then
  ``python -m backend serve`` runs on a free port until the session ends.
* Timers never fire in a headless session: tests drain the job queue by calling the timer body.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import pytest

REPO = Path(__file__).resolve().parents[3]
ADDON_MODULE = "bl_ext.user_default.motion_search"
MAIN_PYTHON = Path(os.environ.get("MOTION_SEARCH_MAIN_PYTHON", REPO / ".venv" / "bin" / "python"))

# Must happen before the first `import bpy` (test modules import it at collection time).
os.environ.setdefault("BLENDER_USER_RESOURCES", tempfile.mkdtemp(prefix="motion_search_blender_user_"))


@dataclass
class Backend:
    """A running backend process and what its index holds."""

    url: str
    clips: dict[str, str]  # id -> caption
    frames: dict[str, int]  # id -> canonical frame count (20 fps)
    log: Path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _drain(module: ModuleType, timeout: float = 60.0) -> None:
    """Call the add-on's timer body until no job is pending (timers never fire headless)."""
    deadline = time.monotonic() + timeout
    queue = module.jobs.get_queue()
    while True:
        module.jobs.timer_tick()
        if not queue.busy():
            module.jobs.timer_tick()
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"add-on jobs still pending after {timeout} s")
        time.sleep(0.02)


@pytest.fixture()
def drain(addon: ModuleType):
    """``drain(timeout=60)``: run the add-on's timer body until every job has delivered its result."""
    return lambda timeout=60.0: _drain(addon, timeout)


@pytest.fixture(scope="session")
def addon_zip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The add-on zip built by scripts/build_addon.py."""
    sys.path.insert(0, str(REPO / "scripts"))
    try:
        import build_addon
    finally:
        sys.path.pop(0)
    return build_addon.build_zip(tmp_path_factory.mktemp("dist"))


@pytest.fixture(scope="session")
def addon(addon_zip: Path) -> Iterator[ModuleType]:
    """The installed and enabled add-on package (``bl_ext.user_default.motion_search``)."""
    import bpy

    bpy.ops.wm.read_factory_settings(use_empty=True)
    result = bpy.ops.extensions.package_install_files(
        filepath=str(addon_zip), repo="user_default", enable_on_install=True, overwrite=True
    )
    assert result == {"FINISHED"}, result
    assert ADDON_MODULE in bpy.context.preferences.addons, "the extension did not enable"
    yield sys.modules[ADDON_MODULE]
    if ADDON_MODULE in bpy.context.preferences.addons:
        bpy.ops.preferences.addon_disable(module=ADDON_MODULE)


@pytest.fixture()
def scene(addon: ModuleType):
    """A clean scene (objects, armatures and actions removed; 24 fps from frame 1) and a clean panel."""
    import bpy

    for obj in list(bpy.data.objects):
        bpy.data.objects.remove(obj)
    for coll in (bpy.data.armatures, bpy.data.actions, bpy.data.meshes, bpy.data.materials):
        for item in list(coll):
            coll.remove(item)
    sc = bpy.context.scene
    sc.render.fps, sc.render.fps_base = 24, 1.0
    sc.frame_start, sc.frame_end = 1, 250
    sc.frame_set(1)
    st = bpy.context.window_manager.motion_search
    st.hits.clear()
    st.captions.clear()
    st.similar.clear()
    st.words.clear()
    st.status, st.status_is_error = "", False
    addon.jobs.get_queue().cancel()
    addon.jobs.get_queue().errors.clear()
    return sc


@contextlib.contextmanager
def _start_backend(bandai1: Path, root: Path) -> Iterator[Backend]:
    """Build a tiny real index under ``root`` and serve it from a real backend process on 127.0.0.1."""
    if not MAIN_PYTHON.exists():
        pytest.skip(f"main venv python not found at {MAIN_PYTHON} (set MOTION_SEARCH_MAIN_PYTHON)")
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}
    env.pop("BLENDER_USER_RESOURCES", None)
    build = subprocess.run(
        [str(MAIN_PYTHON), str(REPO / "tests" / "addon" / "backend_fixture.py"), "--bandai1", str(bandai1),
         "--out", str(root)],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert build.returncode == 0, f"backend fixture build failed:\n{build.stdout}\n{build.stderr}"
    info = json.loads((root / "fixture.json").read_text())
    port = _free_port()
    log = root / "server.log"
    with open(log, "wb") as fh:
        proc = subprocess.Popen(
            [str(MAIN_PYTHON), "-m", "backend", "serve", "--index", info["index"], "--checkpoint", info["checkpoint"],
             "--port", str(port), "--threads", "1", "--preview-cache", str(root / "previews")],
            cwd=REPO, env=env, stdout=fh, stderr=subprocess.STDOUT,
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    while True:
        try:
            with urllib.request.urlopen(url + "/health", timeout=2) as resp:
                if resp.status == 200:
                    break
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"backend did not start (exit {proc.returncode}):\n{log.read_text()[-3000:]}")
        time.sleep(0.5)
    try:
        yield Backend(url, info["clips"], info["frames"], log)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture(scope="session")
def backend(bandai1: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backend]:
    """A real backend process on 127.0.0.1 over a tiny real index (built in the main venv). Shared by the
    session: tests that add or remove clips use :func:`backend_factory` for a backend of their own."""
    with _start_backend(bandai1, tmp_path_factory.mktemp("backend")) as b:
        yield b


@pytest.fixture(scope="session")
def backend_factory(bandai1: Path, tmp_path_factory: pytest.TempPathFactory):
    """``with backend_factory() as b:`` -- a fresh backend process of its own (same tiny index)."""

    def start():
        return _start_backend(bandai1, tmp_path_factory.mktemp("own-backend"))

    return start


@pytest.fixture()
def prefs(addon: ModuleType, backend: Backend):
    """The add-on preferences pointed at the test backend (restored afterwards)."""
    p = addon.preferences.addon_prefs()
    old = (p.backend_url, p.result_count, p.timeout, p.root_motion, p.import_target)
    p.backend_url, p.result_count, p.timeout, p.root_motion, p.import_target = (
        backend.url,
        5,
        60.0,
        True,
        "NEW",
    )
    yield p
    p.backend_url, p.result_count, p.timeout, p.root_motion, p.import_target = old


#: SMPL joint -> Mixamo bone name (a user rig as Mixamo exports it)
MIXAMO_NAMES: dict[str, str] = {
    "pelvis": "Hips", "spine1": "Spine", "spine2": "Spine1", "spine3": "Spine2", "neck": "Neck", "head": "Head",
    **{
        f"{side}_{joint}": f"{s}{bone}"
        for side, s in (("left", "Left"), ("right", "Right"))
        for joint, bone in (("hip", "UpLeg"), ("knee", "Leg"), ("ankle", "Foot"), ("foot", "ToeBase"),
                            ("collar", "Shoulder"), ("shoulder", "Arm"), ("elbow", "ForeArm"), ("wrist", "Hand"))
    },
}  # fmt: skip


@pytest.fixture(scope="session")
def mixamo_rig(addon: ModuleType):
    """``make(scale, seed=0) -> Object``: a user armature with Mixamo names, other proportions (seeded) and Euler
    rotations, built by the add-on's own armature builder."""
    import importlib

    import bpy
    import numpy as np

    def make(scale: float, seed: int = 0):
        sk = addon.skeleton
        rest = sk.tpose_rest(np.random.default_rng(seed).normal(size=(1, 22, 3)) * 0.2, sk.SMPL_JOINT_NAMES,
                             sk.SMPL_PARENTS) * scale  # fmt: skip
        build = importlib.import_module(f"{addon.__name__}.anim.armature").build_armature
        obj = build(bpy.context, "UserRig", [MIXAMO_NAMES[n] for n in sk.SMPL_JOINT_NAMES], list(sk.SMPL_PARENTS),
                    rest)  # fmt: skip
        for pb in obj.pose.bones:
            pb.rotation_mode = "XYZ"
        return obj

    return make
