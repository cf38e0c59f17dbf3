"""Contract of ``scripts/build_addon.py``.

* The zip has the manifest at its root and the add-on package beside it (``__init__.py``, ``anim/...``),
  and nothing else (no caches, no tests, no backend).
* Two builds give byte-identical zips.
* Blender's own validator (``blender_ext.py validate`` from a bpy wheel) accepts the zip.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]


def _build_module():
    spec = importlib.util.spec_from_file_location("build_addon", REPO / "scripts" / "build_addon.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


def test_zip_layout_and_determinism(tmp_path: Path) -> None:
    build = _build_module()
    first = build.build_zip(tmp_path / "a")
    second = build.build_zip(tmp_path / "b")
    assert first.read_bytes() == second.read_bytes()
    manifest = tomllib.loads((REPO / "blender_manifest.toml").read_text())
    assert first.name == f"{manifest['id']}-{manifest['version']}.zip"
    names = zipfile.ZipFile(first).namelist()
    assert names == sorted(names)
    assert "blender_manifest.toml" in names and "__init__.py" in names and "anim/action.py" in names
    assert "rig_aliases.json" in names  # the rig vocabulary rigtable.py reads beside itself
    expected = {
        p.relative_to(REPO / "addon").as_posix()
        for p in (REPO / "addon").rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"
    }
    assert set(names) == expected | {"blender_manifest.toml"}


def test_manifest_fields() -> None:
    manifest = tomllib.loads((REPO / "blender_manifest.toml").read_text())
    assert manifest["schema_version"] == "1.0.0" and manifest["id"] == "motion_search"
    assert manifest["blender_version_min"] == "4.2.0" and manifest["type"] == "add-on"
    assert manifest["license"] == ["SPDX:GPL-3.0-or-later"]
    assert manifest["permissions"]["network"]


def test_blender_validator_accepts_the_zip(tmp_path: Path) -> None:
    build = _build_module()
    tool = build.find_blender_ext()
    if tool is None:
        pytest.skip("no bpy venv with blender_ext.py (.venv-bpy42 / .venv-bpy50)")
    target = build.build_zip(tmp_path)
    proc = subprocess.run(
        [sys.executable, str(tool), "validate", str(target)], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Success" in proc.stdout
