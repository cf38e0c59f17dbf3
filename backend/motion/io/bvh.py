"""BVH (Biovision hierarchy) reading and writing.

The reader accepts every rig in the shared datasets (Bandai-Namco, CMU cgspeed MotionBuilder and 3ds Max
conversions, the iClone Character Creator rig, ReActIdle's Blender metarig) and BVH written by Blender:

* any channel subset per joint, in any order (``Xposition`` ... ``Zrotation``); the rotation order of a joint
  is the order its rotation channels are listed in (intrinsic, ``R = R_c1 @ R_c2 @ R_c3`` acting on column
  vectors); position channels on any joint replace the matching components of its ``OFFSET``
  (see :mod:`backend.motion.kinematics.fk`);
* ``End Site`` blocks (kept as offsets of their parent joint), joint names with spaces, tabs, CRLF line ends;
* strict checks with :class:`~backend.errors.BvhError` messages of the form ``"<file>:<line>: <problem>"``
  for truncated files, malformed numbers, wrong value counts, unknown channels, zero frames, NaN/inf and
  absurd frame times (``<= 0``, or a frame rate above 1000 or below 1 fps).

The writer produces a standard BVH (tab indented, ``%.6f`` numbers) through a temporary file and an atomic
rename, so a crash never leaves a half-written file behind.
"""

from __future__ import annotations

import io
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from backend.atomic import atomic_write_text
from backend.errors import BvhError
from backend.motion.io._bvh_text import (
    MAX_FPS,
    MIN_FPS,
    Lines,
    depth_first,
    hierarchy_text,
    parse_hierarchy,
    parse_motion,
)
from backend.motion.limits import MAX_FILE_BYTES

#: the line that ends the HIERARCHY section (any case, surrounding blanks)
_MOTION_RE = re.compile(r"^[ \t\f\v]*MOTION[ \t\f\v\r]*$", re.IGNORECASE | re.MULTILINE)
#: most HIERARCHY lines accepted (a 1,000-joint rig needs about 5,000)
MAX_HIERARCHY_LINES = 100_000

__all__ = [
    "MAX_FPS",
    "MAX_HIERARCHY_LINES",
    "MIN_FPS",
    "POSITION_CHANNELS",
    "ROTATION_CHANNELS",
    "BvhData",
    "parse_bvh",
    "read_bvh",
    "write_bvh",
]

#: channel name -> axis index of a position channel
POSITION_CHANNELS: dict[str, int] = {"Xposition": 0, "Yposition": 1, "Zposition": 2}
#: channel name -> axis letter of a rotation channel
ROTATION_CHANNELS: dict[str, str] = {"Xrotation": "X", "Yrotation": "Y", "Zrotation": "Z"}


@dataclass
class BvhData:
    """A parsed BVH file.

    Joints are stored depth-first in file order, so a parent always precedes its children.

    Attributes:
        names: ``J`` joint names.
        parents: ``J`` parent indices (``-1`` for a root).
        offsets: ``(J, 3)`` float64 rest offsets from the parent joint, file units.
        channels: per joint, its channel names in file order (e.g. ``("Zrotation", "Xrotation",
            "Yrotation")``).
        frame_time: seconds per frame.
        motion: ``(F, C)`` float64 channel values, ``C`` = total channel count; rotations in degrees.
        end_sites: joint index -> ``(3,)`` float64 offset of that joint's ``End Site``.
        source: file the data came from (used in error messages; empty when built in memory).
    """

    names: list[str]
    parents: list[int]
    offsets: np.ndarray
    channels: list[tuple[str, ...]]
    frame_time: float
    motion: np.ndarray
    end_sites: dict[int, np.ndarray] = field(default_factory=dict)
    source: str = ""

    @property
    def num_joints(self) -> int:
        """Number of joints ``J`` (End Sites excluded)."""
        return len(self.names)

    @property
    def num_frames(self) -> int:
        """Number of frames ``F``."""
        return int(self.motion.shape[0])

    @property
    def fps(self) -> float:
        """Frames per second (``1 / frame_time``)."""
        return 1.0 / self.frame_time

    def channel_starts(self) -> list[int]:
        """Column of each joint's first channel in :attr:`motion`.

        Returns:
            ``J`` start columns.
        """
        starts, col = [], 0
        for ch in self.channels:
            starts.append(col)
            col += len(ch)
        return starts

    def rotation_order(self, joint: int) -> str:
        """Rotation order of one joint as listed in its channels, e.g. ``"ZXY"`` (empty if none)."""
        return "".join(ROTATION_CHANNELS[c] for c in self.channels[joint] if c in ROTATION_CHANNELS)

    def children(self, joint: int) -> list[int]:
        """Indices of the direct children of ``joint``."""
        return [j for j, p in enumerate(self.parents) if p == joint]


def parse_bvh(text: str, source: str = "<string>") -> BvhData:
    """Parse BVH text.

    Args:
        text: the whole file content.
        source: name used in error messages.

    Returns:
        The parsed :class:`BvhData` (motion ``(F, C)`` float64).

    Raises:
        BvhError: naming ``source``, the line and the problem.
    """
    if not text.strip():
        raise BvhError(f"{source}:1: empty file")
    m = _MOTION_RE.search(text)
    head = (text[: m.start()] if m else text).splitlines()
    start = next((i for i, ln in enumerate(head) if ln.strip()), len(head))
    first = head[start].strip() if start < len(head) else "MOTION"
    if first.upper() != "HIERARCHY":
        raise BvhError(f"{source}:{start + 1}: expected 'HIERARCHY', got {first[:60]!r}")
    if m is None:
        raise BvhError(f"{source}:{len(head)}: no MOTION section (truncated file?)")
    motion_at = len(head)  # 0-based line index of MOTION
    if len(head) > MAX_HIERARCHY_LINES:
        raise BvhError(
            f"{source}:{motion_at}: HIERARCHY has {len(head)} lines (at most {MAX_HIERARCHY_LINES})"
        )
    cur = Lines(head, source)
    cur.rows = [r for r in cur.rows if r[0] > start + 1]  # skip everything up to HIERARCHY
    names, parents, offsets, channels, end_sites = parse_hierarchy(cur)
    n_channels = sum(len(c) for c in channels)
    if n_channels == 0:
        raise BvhError(f"{source}:{motion_at + 1}: no joint has any CHANNELS")
    rest = io.StringIO(text[m.end() :], newline=None)  # read lazily, line by line
    next(rest, None)  # the remainder of the MOTION line
    _, frame_time, motion = parse_motion(rest, motion_at + 2, n_channels, source)
    return BvhData(
        names=names,
        parents=parents,
        offsets=np.stack(offsets),
        channels=channels,
        frame_time=frame_time,
        motion=motion,
        end_sites=end_sites,
        source=source,
    )


def read_bvh(path: str | os.PathLike) -> BvhData:
    """Read a BVH file.

    Args:
        path: the ``.bvh`` file.

    Returns:
        :class:`BvhData` with ``source`` set to ``str(path)``.

    Raises:
        BvhError: unreadable, truncated or malformed file (the message names the file and line).
    """
    p = Path(path)
    try:
        with open(p, "rb") as f:
            raw = f.read(MAX_FILE_BYTES + 1)  # never more than the limit, whatever stat says
    except OSError as exc:
        raise BvhError(f"{p}: cannot read BVH file: {exc.strerror or exc}") from None
    if len(raw) > MAX_FILE_BYTES:
        raise BvhError(f"{p}: file is larger than {MAX_FILE_BYTES} bytes")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    return parse_bvh(text, source=str(p))


def _validate_for_write(data: BvhData, path: str) -> None:
    j = len(data.names)
    if len(data.parents) != j or len(data.channels) != j or np.shape(data.offsets) != (j, 3):
        raise BvhError(
            f"{path}: inconsistent BvhData: {j} names, {len(data.parents)} parents, "
            f"{len(data.channels)} channel lists, offsets {np.shape(data.offsets)}"
        )
    n_ch = sum(len(c) for c in data.channels)
    if data.motion.ndim != 2 or data.motion.shape[1] != n_ch or data.motion.shape[0] == 0:
        raise BvhError(f"{path}: motion has shape {data.motion.shape}, expected (F>0, {n_ch})")
    if not np.all(np.isfinite(data.motion)) or not np.all(np.isfinite(data.offsets)):
        raise BvhError(f"{path}: refusing to write non-finite values")
    if not (data.frame_time > 0 and MIN_FPS <= 1.0 / data.frame_time <= MAX_FPS):
        raise BvhError(f"{path}: absurd frame_time {data.frame_time}")
    for i, p in enumerate(data.parents):
        if p >= i:
            raise BvhError(f"{path}: joint {data.names[i]!r} has parent {p}; parents must precede children")
        for c in data.channels[i]:
            if c not in POSITION_CHANNELS and c not in ROTATION_CHANNELS:
                raise BvhError(f"{path}: unknown channel {c!r} for joint {data.names[i]!r}")


def write_bvh(path: str | os.PathLike, data: BvhData) -> None:
    """Write ``data`` as a BVH file, atomically (temporary file in the same folder, then rename).

    Joints are written depth-first (the only order BVH allows), so reading the file back lists them in that
    order, which differs from ``data``'s order when ``data`` is not depth-first (e.g. SMPL order); match
    joints by name.

    Args:
        path: destination ``.bvh`` file (its folder must exist).
        data: what to write; ``motion`` ``(F, C)`` with ``F >= 1``.

    Raises:
        BvhError: inconsistent or non-finite data, or the file cannot be written.
    """
    dest = Path(path)
    _validate_for_write(data, str(dest))
    buf = io.StringIO()
    buf.write(hierarchy_text(data.names, data.parents, data.offsets, data.channels, data.end_sites))
    buf.write(f"MOTION\nFrames: {data.motion.shape[0]}\nFrame Time: {data.frame_time:.8f}\n")
    starts = data.channel_starts()
    columns = [starts[j] + k for j in depth_first(data.parents) for k in range(len(data.channels[j]))]
    np.savetxt(buf, data.motion[:, columns], fmt="%.6f", delimiter=" ")
    try:
        atomic_write_text(dest, buf.getvalue(), mkdir=False)  # world-readable: a BVH is meant to be shared
    except OSError as exc:
        raise BvhError(f"{dest}: cannot write BVH file: {exc.strerror or exc}") from None
