# SPDX-License-Identifier: GPL-3.0-or-later
"""Which files of a folder "Add Folder to Library" sends, and the per-file report (pure: no bpy).

* ``.fbx`` and ``.bvh`` files are imported with Blender's own importers and sampled (``anim/batch.py``);
* ``.amc`` files (Acclaim; Blender has no importer) are uploaded with their ``.asf`` skeleton, chosen as the
  backend chooses it for a path: the only ``.asf`` in the AMC's folder, else the one whose name is the longest
  prefix of the AMC's name (``HDM_mm.asf`` for ``HDM_mm_grabHighR_018_120.amc``);
* every other file is left alone, and listed in the report with the reason, as is an ``.amc`` without a
  skeleton or a file over the upload limit.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from .library import UPLOAD_MAX_BYTES

__all__ = ["IMPORTED_SUFFIXES", "FolderItem", "Outcome", "find_asf", "report_summary", "scan_folder"]

#: suffix -> Blender importer kind
IMPORTED_SUFFIXES = {".fbx": "fbx", ".bvh": "bvh"}
_AMC, _ASF = ".amc", ".asf"
#: files that belong to a motion (skeletons) and are not reported as skipped on their own
_COMPANIONS = {_ASF}


@dataclass(frozen=True)
class FolderItem:
    """One motion file to add.

    Attributes:
        path: the file.
        name: its path relative to the chosen folder (for reports and clip ids).
        kind: ``"fbx"``, ``"bvh"`` (imported by Blender) or ``"amc"`` (uploaded with ``asf``).
        asf: the skeleton of an ``.amc`` ("" otherwise).
    """

    path: str
    name: str
    kind: str
    asf: str = ""


@dataclass
class Outcome:
    """What happened to one file: ``added`` clip ids, or why it was skipped."""

    name: str
    added: list[str] = field(default_factory=list)
    reason: str = ""

    @property
    def ok(self) -> bool:
        return bool(self.added) and not self.reason

    def line(self) -> str:
        """One report line, e.g. ``walk.bvh: added walk`` or ``x.amc: skipped: no .asf skeleton ...``."""
        if self.added and not self.reason:
            return f"{self.name}: added {', '.join(self.added)}"
        if self.added:
            return f"{self.name}: added {', '.join(self.added)}; skipped the rest: {self.reason}"
        return f"{self.name}: skipped: {self.reason}"


def find_asf(amc: str, asf_files: list[str]) -> str | None:
    """The skeleton of ``amc`` among the ``.asf`` files of its folder (None when none fits).

    >>> find_asf("/d/HDM_mm_walk_120.amc", ["/d/HDM_tr.asf", "/d/HDM_mm.asf"])
    '/d/HDM_mm.asf'
    >>> find_asf("/d/02_01.amc", ["/d/02.asf"]), find_asf("/d/x.amc", ["/d/a.asf", "/d/b.asf"])
    ('/d/02.asf', None)
    """
    if len(asf_files) == 1:
        return asf_files[0]
    stem = Path(amc).stem.lower()
    fitting = [a for a in asf_files if stem.startswith(Path(a).stem.lower())]
    if not fitting:
        return None
    return max(fitting, key=lambda a: len(Path(a).stem))


def scan_folder(folder: str, recursive: bool = True) -> tuple[list[FolderItem], list[Outcome]]:
    """The motion files under ``folder`` (sorted by relative path) and the files skipped up front.

    Args:
        folder: the folder the user chose.
        recursive: also look in sub-folders (hidden ones are left out).

    Returns:
        ``(items, skipped)``.

    Raises:
        NotADirectoryError: ``folder`` is not a folder (the message names it).
    """
    root = Path(folder)
    if not root.is_dir():
        raise NotADirectoryError(f"{folder!r} is not a folder")
    items: list[FolderItem] = []
    skipped: list[Outcome] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".")) if recursive else []
        names = sorted(f for f in filenames if not f.startswith("."))
        asfs = [os.path.join(dirpath, f) for f in names if Path(f).suffix.lower() == _ASF]
        for fname in names:
            path = os.path.join(dirpath, fname)
            rel = Path(path).relative_to(root).as_posix()
            suffix = Path(fname).suffix.lower()
            if suffix in IMPORTED_SUFFIXES:
                items.append(FolderItem(path, rel, IMPORTED_SUFFIXES[suffix]))
            elif suffix == _AMC:
                asf = find_asf(path, asfs)
                if asf is None:
                    why = "no .asf skeleton beside it" if not asfs else (
                        f"{len(asfs)} .asf files beside it and none is named like it (e.g. 02.asf for 02_01.amc)"
                    )  # fmt: skip
                    skipped.append(Outcome(rel, reason=f"{why}; Acclaim motions need their skeleton"))
                elif max(_size(path), _size(asf)) > UPLOAD_MAX_BYTES:
                    skipped.append(
                        Outcome(rel, reason=f"larger than the {UPLOAD_MAX_BYTES >> 20} MiB upload limit")
                    )
                else:
                    items.append(FolderItem(path, rel, "amc", asf))
            elif suffix not in _COMPANIONS:
                kinds = ", ".join(sorted({*IMPORTED_SUFFIXES, _AMC}))
                skipped.append(Outcome(rel, reason=f"not a motion file ({kinds})"))
    items.sort(key=lambda i: i.name)
    skipped.sort(key=lambda o: o.name)
    return items, skipped


def _size(path: str) -> int:
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


def report_summary(outcomes: list[Outcome], cancelled: bool = False, unit: str = "file") -> str:
    """One line for the status bar, e.g. ``added 3 clips from 3 files; skipped 2 files (see the report)``.

    >>> report_summary([Outcome("a", ["a"]), Outcome("b", reason="no")], unit="action")
    'added 1 clip from 1 action; skipped 1 action (see the report)'
    """
    clips = sum(len(o.added) for o in outcomes)
    files = sum(1 for o in outcomes if o.added)
    bad = sum(1 for o in outcomes if o.reason)
    text = f"added {clips} clip{'s' if clips != 1 else ''} from {files} {unit}{'s' if files != 1 else ''}"
    if bad:
        text += f"; skipped {bad} {unit}{'s' if bad != 1 else ''} (see the report)"
    return ("cancelled: " if cancelled else "") + text
