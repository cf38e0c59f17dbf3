"""Acclaim ASF/AMC reader (the CMU motion-capture database's own format, and HDM05's).

* **ASF** (skeleton): ``:units`` (``length`` = the file's length multiplier, ``angle deg|rad``), ``:root``
  (``order`` of the root's AMC values, ``axis`` order, ``position``, ``orientation``), ``:bonedata`` (per bone:
  ``name``, unit ``direction`` and ``length`` in the rest pose, in world axes; ``axis rx ry rz ORDER``, the
  bone's local frame; ``dof`` = which rotation / translation values its AMC lines carry, in that order) and
  ``:hierarchy`` (``parent child child ...`` lines).
* **AMC** (motion): an optional header (``:FULLY-SPECIFIED``, ``:DEGREES`` / ``:RADIANS``), then per frame its
  number on a line of its own followed by ``bone v1 v2 ...`` lines (one value per ``dof``; the root's per
  ``:root order``). AMC has no frame rate: the caller gives it (the CMU database and HDM05 record at 120 fps).

Units: CMU's convention, which HDM05 follows, is ``length 0.45`` = lengths in units of ``1 / 0.45`` inch, so one
file unit is ``0.0254 / length`` metres (:attr:`AsfSkeleton.metres_per_unit`).

Every problem raises :class:`~backend.errors.AsfAmcError` naming the file and line. The AMC reader refuses a
file whose running frame count passes :data:`~backend.motion.limits.MAX_SOURCE_FRAMES` (or a caller's
``max_frames``) before it stores more, so a huge file costs no memory.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from backend.errors import AsfAmcError
from backend.motion.limits import MAX_FILE_BYTES, MAX_SOURCE_FRAMES

__all__ = ["AmcMotion", "AsfBone", "AsfSkeleton", "find_asf", "read_amc", "read_asf"]

_ROTATION_DOFS = ("rx", "ry", "rz")
_DOFS = ("tx", "ty", "tz", "rx", "ry", "rz", "l")
_FRAME_LINE = re.compile(r"^\d+$")


@dataclass
class AsfBone:
    """One ASF bone.

    Attributes:
        name: bone name (``lfemur``).
        direction: ``(3,)`` unit vector of the bone in the rest pose, world axes.
        length: bone length in file units.
        axis: ``(3,)`` Euler angles of the bone's local frame (file angle unit).
        axis_order: order of ``axis`` (``"XYZ"``).
        dof: the bone's AMC values in order (``("rx", "ry", "rz")``; may be empty).
        line: line of the bone's ``begin`` in the ASF (for messages).
    """

    name: str
    direction: np.ndarray
    length: float
    axis: np.ndarray
    axis_order: str = "XYZ"
    dof: tuple[str, ...] = ()
    line: int = 0


@dataclass
class AsfSkeleton:
    """A parsed ASF file.

    Attributes:
        path: the file.
        length_unit: the ``:units length`` multiplier (1.0 if absent).
        degrees: whether angles are in degrees (``:units angle deg``; the Acclaim default).
        root_order: the root's AMC value order (``("tx", "ty", "tz", "rx", "ry", "rz")``).
        root_axis_order: order of the root orientation (``"XYZ"``).
        root_position: ``(3,)`` rest position of the root (file units).
        root_orientation: ``(3,)`` rest orientation Euler angles of the root.
        bones: bones by name, in file order.
        children: ``name -> child names`` from ``:hierarchy`` (``"root"`` included).
    """

    path: Path
    length_unit: float = 1.0
    degrees: bool = True
    root_order: tuple[str, ...] = ("tx", "ty", "tz", "rx", "ry", "rz")
    root_axis_order: str = "XYZ"
    root_position: np.ndarray = field(default_factory=lambda: np.zeros(3))
    root_orientation: np.ndarray = field(default_factory=lambda: np.zeros(3))
    bones: dict[str, AsfBone] = field(default_factory=dict)
    children: dict[str, list[str]] = field(default_factory=dict)

    @property
    def metres_per_unit(self) -> float:
        """Metres per file length unit (CMU convention: ``0.0254 / length``)."""
        return 0.0254 / self.length_unit

    def parent_of(self) -> dict[str, str]:
        """``bone -> parent`` (``"root"`` for the root's children)."""
        return {c: p for p, kids in self.children.items() for c in kids}

    def order(self) -> list[str]:
        """Bone names parent first (depth-first from the root, in hierarchy order)."""
        out: list[str] = []
        stack = list(reversed(self.children.get("root", [])))
        while stack:
            name = stack.pop()
            out.append(name)
            stack.extend(reversed(self.children.get(name, [])))
        return out


@dataclass
class AmcMotion:
    """A parsed AMC file.

    Attributes:
        path: the file.
        values: ``name -> (F, n_dof)`` float64 values per bone (``"root"`` included), file angle unit.
        degrees: whether the values are degrees.
    """

    path: Path
    values: dict[str, np.ndarray]
    degrees: bool

    @property
    def num_frames(self) -> int:
        """Number of frames."""
        return next(iter(self.values.values())).shape[0] if self.values else 0


def _err(path: Path, line: int, message: str) -> AsfAmcError:
    return AsfAmcError(f"{path}:{line}: {message}")


def _check_size(path: Path) -> None:
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise AsfAmcError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if size > MAX_FILE_BYTES:
        raise AsfAmcError(f"{path}: {size} bytes; motion files are limited to {MAX_FILE_BYTES} bytes")


def _read_lines(path: Path) -> list[str]:
    _check_size(path)
    try:
        return path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError as exc:
        raise AsfAmcError(f"{path}: cannot read ({exc.strerror or exc})") from None


def _floats(path: Path, line: int, words: list[str], n: int, what: str) -> np.ndarray:
    if len(words) < n:
        raise _err(path, line, f"{what} needs {n} numbers, got {len(words)}")
    try:
        out = np.array([float(w) for w in words[:n]], dtype=np.float64)
    except ValueError:
        raise _err(path, line, f"{what}: not a number in {' '.join(words[:n])!r}") from None
    if not np.all(np.isfinite(out)):
        raise _err(path, line, f"{what}: values must be finite")
    return out


def _parse_units(path: Path, lineno: int, words: list[str], skel: AsfSkeleton) -> None:
    key = words[0].lower()
    if key == "length" and len(words) > 1:
        value = _floats(path, lineno, words[1:], 1, "length unit")[0]
        if value <= 0:
            raise _err(path, lineno, f"length unit must be positive, got {value:g}")
        skel.length_unit = float(value)
    elif key == "angle" and len(words) > 1:
        unit = words[1].lower()
        if unit not in ("deg", "rad"):
            raise _err(path, lineno, f"angle unit must be 'deg' or 'rad', got {words[1]!r}")
        skel.degrees = unit == "deg"


def _parse_root(path: Path, lineno: int, words: list[str], skel: AsfSkeleton) -> None:
    key = words[0].lower()
    if key == "order":
        order = tuple(w.lower() for w in words[1:])
        bad = [w for w in order if w not in _DOFS[:6]]
        if bad or not order:
            raise _err(
                path, lineno, f"root order has unknown channel(s) {bad or 'none'}; use TX TY TZ RX RY RZ"
            )
        skel.root_order = order
    elif key == "axis":
        skel.root_axis_order = _axis_order(path, lineno, words[1] if len(words) > 1 else "")
    elif key == "position":
        skel.root_position = _floats(path, lineno, words[1:], 3, "root position")
    elif key == "orientation":
        skel.root_orientation = _floats(path, lineno, words[1:], 3, "root orientation")


def _axis_order(path: Path, lineno: int, text: str) -> str:
    order = text.upper()
    if sorted(order) != ["X", "Y", "Z"]:
        raise _err(path, lineno, f"axis order must be a permutation of XYZ, got {text!r}")
    return order


def _parse_bone_line(path: Path, lineno: int, words: list[str], bone: dict) -> None:
    key = words[0].lower()
    if key == "name" and len(words) > 1:
        bone["name"] = words[1]
    elif key == "direction":
        bone["direction"] = _floats(path, lineno, words[1:], 3, "direction")
    elif key == "length":
        bone["length"] = float(_floats(path, lineno, words[1:], 1, "length")[0])
    elif key == "axis":
        bone["axis"] = _floats(path, lineno, words[1:], 3, "axis")
        bone["axis_order"] = _axis_order(path, lineno, words[4] if len(words) > 4 else "XYZ")
    elif key == "dof":
        dof = tuple(w.lower() for w in words[1:])
        bad = [w for w in dof if w not in _DOFS]
        if bad:
            raise _err(path, lineno, f"unknown dof {bad}; valid: {' '.join(_DOFS)}")
        bone["dof"] = dof


def _make_bone(path: Path, data: dict) -> AsfBone:
    line = data["line"]
    for key in ("name", "direction", "length"):
        if key not in data:
            raise _err(path, line, f"bone without {key!r}")
    direction = data["direction"]
    norm = float(np.linalg.norm(direction))
    if data["length"] != 0 and norm < 1e-9:
        raise _err(path, line, f"bone {data['name']!r} has a zero direction")
    return AsfBone(
        name=data["name"],
        direction=direction / norm if norm > 0 else direction,
        length=data["length"],
        axis=data.get("axis", np.zeros(3)),
        axis_order=data.get("axis_order", "XYZ"),
        dof=data.get("dof", ()),
        line=line,
    )


def read_asf(path: str | os.PathLike) -> AsfSkeleton:
    """Parse an ASF skeleton file.

    Raises:
        AsfAmcError: unreadable file, malformed value, a bone without name/direction/length, a hierarchy
            naming an unknown bone, or a bone missing from the hierarchy (file and line named).
    """
    path = Path(path)
    lines = _read_lines(path)
    skel = AsfSkeleton(path=path)
    section = ""
    bone: dict | None = None
    seen_bonedata = False
    for lineno, raw in enumerate(lines, start=1):
        text = raw.split("#", 1)[0].strip()
        if not text:
            continue
        words = text.split()
        if words[0].startswith(":"):
            section = words[0][1:].lower()
            seen_bonedata |= section == "bonedata"
            continue
        if section == "units":
            _parse_units(path, lineno, words, skel)
        elif section == "root":
            _parse_root(path, lineno, words, skel)
        elif section == "bonedata":
            if words[0] == "begin":
                bone = {"line": lineno}
            elif words[0] == "end":
                if bone is None:
                    raise _err(path, lineno, "'end' without 'begin'")
                made = _make_bone(path, bone)
                if made.name in skel.bones or made.name == "root":
                    raise _err(path, lineno, f"bone {made.name!r} defined twice")
                skel.bones[made.name] = made
                bone = None
            elif bone is not None:
                _parse_bone_line(path, lineno, words, bone)
            elif words[0].lower() != "limits" and not words[0].startswith("("):
                raise _err(path, lineno, f"unexpected {words[0]!r} outside a bone's begin/end")
        elif section == "hierarchy" and words[0] not in ("begin", "end"):
            parent, kids = words[0], words[1:]
            for name in (parent, *kids):
                if name != "root" and name not in skel.bones:
                    raise _err(path, lineno, f"hierarchy names unknown bone {name!r}")
            skel.children.setdefault(parent, []).extend(kids)
    if bone is not None:
        raise _err(path, len(lines), "file ends inside a bone's begin/end")
    if not seen_bonedata or not skel.bones:
        raise AsfAmcError(f"{path}: no :bonedata section with bones - not an ASF skeleton file")
    reachable = set(skel.order())
    missing = [name for name in skel.bones if name not in reachable]
    if missing:
        raise AsfAmcError(f"{path}: bone(s) {missing} are not reachable from the root in :hierarchy")
    return skel


def read_amc(path: str | os.PathLike, skeleton: AsfSkeleton, *, max_frames: int | None = None) -> AmcMotion:
    """Parse an AMC motion file against its skeleton.

    Args:
        path: the ``.amc`` file.
        skeleton: its ASF skeleton (value counts per bone come from its ``dof`` lines).
        max_frames: refuse files with more frames (default :data:`~backend.motion.limits.MAX_SOURCE_FRAMES`).

    Returns:
        :class:`AmcMotion`; a bone absent from a frame keeps its previous values (0 in the first frame).

    Raises:
        AsfAmcError: an unknown bone, a wrong value count, a non-number, frames out of order, no frames or
            too many (file and line named).
    """
    path = Path(path)
    limit = MAX_SOURCE_FRAMES if max_frames is None else int(max_frames)
    lines = _read_lines(path)
    counts = {name: len(b.dof) for name, b in skeleton.bones.items()}
    counts["root"] = len(skeleton.root_order)
    degrees = skeleton.degrees
    frames: list[dict[str, np.ndarray]] = []
    current: dict[str, np.ndarray] | None = None
    for lineno, raw in enumerate(lines, start=1):
        text = raw.split("#", 1)[0].strip()
        if not text:
            continue
        if text.startswith(":"):
            key = text[1:].split()[0].upper()
            if key in ("DEGREES", "RADIANS"):
                degrees = key == "DEGREES"
            continue
        words = text.split()
        if _FRAME_LINE.match(text):
            if int(text) != len(frames) + 1:
                raise _err(path, lineno, f"frame {text} out of order (expected {len(frames) + 1})")
            if len(frames) >= limit:
                raise _err(
                    path, lineno, f"more than {limit} frames; clips are limited to {limit} source frames"
                )
            current = dict(frames[-1]) if frames else {}
            frames.append(current)
            continue
        if current is None:
            raise _err(path, lineno, f"{words[0]!r} before the first frame number")
        name = words[0]
        if name not in counts:
            raise _err(path, lineno, f"unknown bone {name!r} (not in {skeleton.path.name})")
        n = counts[name]
        if len(words) - 1 != n:
            raise _err(path, lineno, f"bone {name!r} has {len(words) - 1} value(s); its dof needs {n}")
        current[name] = _floats(path, lineno, words[1:], n, f"bone {name!r}")
    if not frames:
        raise AsfAmcError(f"{path}: no frames - not an AMC motion file")
    values = {}
    for name, n in counts.items():
        if n == 0:
            continue
        zeros = np.zeros(n)
        values[name] = np.stack([f.get(name, zeros) for f in frames])
    return AmcMotion(path=path, values=values, degrees=degrees)


def find_asf(amc: str | os.PathLike) -> Path:
    """The ASF skeleton that belongs to an AMC file, looked for beside it.

    Rules: the only ``.asf`` in the folder; else the one whose stem is the longest prefix of the AMC's stem
    (``HDM_mm.asf`` for ``HDM_mm_kick_001_120.amc``, ``02.asf`` for ``02_01.amc``).

    Raises:
        AsfAmcError: none found, or several that fit equally (names them).
    """
    amc = Path(amc)
    candidates = sorted(p for p in amc.parent.glob("*") if p.suffix.lower() == ".asf" and p.is_file())
    if len(candidates) == 1:
        return candidates[0]
    if not candidates:
        raise AsfAmcError(f"{amc}: no .asf skeleton beside it; put the ASF in the same folder or name it")
    stem = amc.stem.lower()
    fitting = [p for p in candidates if stem.startswith(p.stem.lower())]
    if fitting:
        best = max(len(p.stem) for p in fitting)
        top = [p for p in fitting if len(p.stem) == best]
        if len(top) == 1:
            return top[0]
    names = ", ".join(p.name for p in candidates)
    raise AsfAmcError(f"{amc}: cannot tell which skeleton it uses among {names}; name the ASF")
