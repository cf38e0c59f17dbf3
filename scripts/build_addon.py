"""Pack the Blender add-on: ``addon/`` + ``blender_manifest.toml`` -> ``dist/motion_search-<version>.zip``.

The manifest sits at the zip root with the package's modules beside it (``__init__.py``, ``client.py``,
``anim/...``), which is the layout Blender's "Install from Disk" and ``extensions.package_install_files``
expect. The zip is deterministic: sorted entries, fixed timestamps and permissions, so the same sources
always give the same bytes (and the same SHA-256).

Usage::

    python scripts/build_addon.py                 # -> dist/motion_search-0.1.0.zip
    python scripts/build_addon.py --validate      # also run Blender's own `blender_ext.py validate`
    python scripts/build_addon.py --out /tmp/x    # another output folder
"""

from __future__ import annotations

import argparse
import glob
import hashlib
import os
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

__all__ = ["REPO", "addon_files", "build_zip", "find_blender_ext", "main", "read_manifest", "validate"]

REPO = Path(__file__).resolve().parents[1]
_ADDED = str(REPO) not in sys.path
if _ADDED:  # for backend.atomic only: Blender's Python (the add-on tests) loads this file too
    sys.path.insert(0, str(REPO))
try:
    from backend.atomic import atomic_path
finally:
    if _ADDED:
        sys.path.remove(str(REPO))

MANIFEST = "blender_manifest.toml"
_FIXED_TIME = (1980, 1, 1, 0, 0, 0)
_SKIP_DIRS = {"__pycache__", ".pytest_cache", ".ruff_cache"}
_SKIP_SUFFIXES = {".pyc", ".pyo", ".orig", ".rej", ".swp"}


def read_manifest(repo: Path = REPO) -> dict:
    """Parse ``blender_manifest.toml`` of ``repo``.

    Raises:
        SystemExit: the manifest is missing or not valid TOML (message names the file).
    """
    path = repo / MANIFEST
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise SystemExit(f"error: {path} not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise SystemExit(f"error: {path} is not valid TOML: {exc}") from None


def addon_files(repo: Path = REPO) -> list[tuple[Path, str]]:
    """``(source file, name in the zip)`` for the manifest and every add-on file, sorted by zip name."""
    src = repo / "addon"
    out = [(repo / MANIFEST, MANIFEST)]
    for root, dirs, files in os.walk(src):
        dirs[:] = sorted(d for d in dirs if d not in _SKIP_DIRS and not d.startswith("."))
        for name in files:
            path = Path(root) / name
            if path.suffix in _SKIP_SUFFIXES or name.startswith("."):
                continue
            out.append((path, path.relative_to(src).as_posix()))
    return sorted(out, key=lambda item: item[1])


def build_zip(out_dir: Path, repo: Path = REPO) -> Path:
    """Write ``<out_dir>/<id>-<version>.zip`` deterministically; returns its path."""
    manifest = read_manifest(repo)
    if not (repo / "addon" / "__init__.py").exists():
        raise SystemExit(f"error: {repo / 'addon' / '__init__.py'} not found")
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / f"{manifest['id']}-{manifest['version']}.zip"
    with atomic_path(target) as tmp, zipfile.ZipFile(tmp, "w") as zf:
        for path, arcname in addon_files(repo):
            info = zipfile.ZipInfo(arcname, date_time=_FIXED_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = (0o100644 & 0xFFFF) << 16
            info.create_system = 3  # unix, so the permissions above are honoured everywhere
            zf.writestr(info, path.read_bytes(), compresslevel=9)
    return target


def find_blender_ext(repo: Path = REPO) -> Path | None:
    """``blender_ext.py`` shipped inside a bpy wheel of one of the repo's bpy venvs (newest first)."""
    pattern = str(
        repo
        / ".venv-bpy*"
        / "lib"
        / "python3*"
        / "site-packages"
        / "bpy"
        / "*"
        / "scripts"
        / "addons_core"
        / "bl_pkg"
        / "cli"
        / "blender_ext.py"
    )
    found = sorted(glob.glob(pattern), reverse=True)
    return Path(found[0]) if found else None


def validate(source: Path, blender_ext: Path) -> subprocess.CompletedProcess:
    """Run ``blender_ext.py validate <source>`` (a folder with a manifest, or a zip); returns the process."""
    return subprocess.run(
        [sys.executable, str(blender_ext), "validate", str(source)],
        capture_output=True,
        text=True,
        check=False,
    )


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the exit code."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=REPO / "dist", help="output folder (default: dist/)")
    parser.add_argument(
        "--validate", action="store_true", help="run Blender's blender_ext.py validate on the zip"
    )
    parser.add_argument(
        "--blender-ext", type=Path, default=None, help="path of blender_ext.py (default: from a bpy venv)"
    )
    args = parser.parse_args(argv)
    target = build_zip(args.out)
    digest = hashlib.sha256(target.read_bytes()).hexdigest()
    print(f"{target} ({target.stat().st_size} bytes, sha256 {digest})")
    if args.validate:
        tool = args.blender_ext or find_blender_ext()
        if tool is None:
            print(
                "error: blender_ext.py not found; pass --blender-ext or create .venv-bpy42/.venv-bpy50",
                file=sys.stderr,
            )
            return 2
        proc = validate(target, tool)
        print(proc.stdout.strip())
        if proc.returncode != 0:
            print(proc.stderr.strip(), file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
