"""Text-level helpers of :mod:`backend.motion.io.bvh`: the HIERARCHY / MOTION parsers and the writer's
hierarchy text. They work on plain lists and arrays (no :class:`~backend.motion.io.bvh.BvhData`)."""

from __future__ import annotations

import io
import re
from collections.abc import Iterable

import numpy as np

from backend.errors import BvhError
from backend.motion.limits import MAX_FPS, MAX_MOTION_VALUES, MIN_FPS, clip_length_problem

__all__ = [
    "CHANNEL_NAMES",
    "MAX_FPS",
    "MIN_FPS",
    "Lines",
    "check_motion_size",
    "depth_first",
    "hierarchy_text",
    "parse_hierarchy",
    "parse_motion",
]

#: channel names in canonical spelling, keyed by lower case
CHANNEL_NAMES = ("Xposition", "Yposition", "Zposition", "Xrotation", "Yrotation", "Zrotation")
_CHANNEL_CANON = {n.lower(): n for n in CHANNEL_NAMES}


class Lines:
    """Cursor over the HIERARCHY lines, each split into tokens, with 1-based line numbers."""

    def __init__(self, lines: list[str], source: str) -> None:
        self.rows = [(i + 1, ln.split()) for i, ln in enumerate(lines)]
        self.rows = [(n, toks) for n, toks in self.rows if toks]
        self.pos = 0
        self.source = source

    def error(self, line: int, msg: str) -> BvhError:
        """A :class:`BvhError` naming the file and ``line``."""
        return BvhError(f"{self.source}:{line}: {msg}")

    def next(self, what: str) -> tuple[int, list[str]]:
        """Next non-empty line as ``(line number, tokens)``; raises (truncated file) when there is none."""
        if self.pos >= len(self.rows):
            last = self.rows[-1][0] if self.rows else 1
            raise self.error(last, f"file ends inside HIERARCHY while expecting {what} (truncated file?)")
        row = self.rows[self.pos]
        self.pos += 1
        return row


def _floats(tokens: list[str], count: int, line: int, what: str, source: str) -> np.ndarray:
    if len(tokens) != count:
        raise BvhError(
            f"{source}:{line}: {what} needs {count} numbers, got {len(tokens)}: {' '.join(tokens)!r}"
        )
    try:
        values = np.array([float(t) for t in tokens], dtype=np.float64)
    except ValueError:
        raise BvhError(f"{source}:{line}: malformed number in {what}: {' '.join(tokens)!r}") from None
    if not np.all(np.isfinite(values)):
        raise BvhError(f"{source}:{line}: non-finite value in {what}: {' '.join(tokens)!r}")
    return values


def parse_hierarchy(cur: Lines) -> tuple[list[str], list[int], list[np.ndarray], list[tuple[str, ...]], dict]:
    """Parse the joints between ``HIERARCHY`` and ``MOTION``.

    Returns:
        names, parent indices (-1 for roots), ``(3,)`` offsets, channel tuples, End Site offsets by joint.

    Raises:
        BvhError: any structural or numeric problem, naming the line.
    """
    names: list[str] = []
    parents: list[int] = []
    offsets: list[np.ndarray] = []
    channels: list[tuple[str, ...]] = []
    end_sites: dict[int, np.ndarray] = {}
    # stack entries: joint index, or -2 for an End Site block
    stack: list[int] = []
    while cur.pos < len(cur.rows):
        line, toks = cur.next("a joint")
        key = toks[0].upper()
        if key in ("ROOT", "JOINT"):
            if key == "JOINT" and not stack:
                raise cur.error(line, "JOINT outside of any ROOT block")
            if key == "ROOT" and stack:
                raise cur.error(line, "ROOT inside another joint (missing '}'?)")
            name_toks = toks[1:-1] if toks[-1] == "{" and len(toks) > 2 else toks[1:]
            name = " ".join(name_toks)
            if not name:
                raise cur.error(line, f"{toks[0]} without a name")
            if stack and stack[-1] == -2:
                raise cur.error(line, "JOINT inside an End Site block")
            parent = stack[-1] if stack else -1
            if toks[-1] != "{":
                bl, btoks = cur.next("'{'")
                if btoks != ["{"]:
                    raise cur.error(bl, f"expected '{{' after {key} {name}, got {' '.join(btoks)!r}")
            ln, otoks = cur.next("OFFSET")
            if otoks[0].upper() != "OFFSET":
                raise cur.error(ln, f"expected OFFSET for joint {name!r}, got {otoks[0]!r}")
            offsets.append(_floats(otoks[1:], 3, ln, f"OFFSET of {name!r}", cur.source))
            # CHANNELS is optional (a joint without channels is rigid)
            chans: tuple[str, ...] = ()
            if cur.pos < len(cur.rows) and cur.rows[cur.pos][1][0].upper() == "CHANNELS":
                ln, ctoks = cur.next("CHANNELS")
                chans = _parse_channels(ctoks, ln, name, cur.source)
            names.append(name)
            parents.append(parent)
            channels.append(chans)
            stack.append(len(names) - 1)
        elif key == "END":
            if not stack or stack[-1] == -2:
                raise cur.error(line, "End Site outside of a joint")
            if toks[-1] != "{":
                bl, btoks = cur.next("'{'")
                if btoks != ["{"]:
                    raise cur.error(bl, f"expected '{{' after End Site, got {' '.join(btoks)!r}")
            ln, otoks = cur.next("OFFSET")
            if otoks[0].upper() != "OFFSET":
                raise cur.error(ln, f"expected OFFSET in End Site, got {otoks[0]!r}")
            off = _floats(otoks[1:], 3, ln, f"End Site OFFSET of {names[stack[-1]]!r}", cur.source)
            end_sites.setdefault(stack[-1], off)
            stack.append(-2)
        elif toks == ["}"]:
            if not stack:
                raise cur.error(line, "unbalanced '}'")
            stack.pop()
        elif key == "MOTION":
            raise cur.error(line, "unexpected MOTION")
        else:
            raise cur.error(line, f"unexpected {' '.join(toks)!r} in HIERARCHY")
    if stack:
        last = cur.rows[-1][0] if cur.rows else 1
        raise cur.error(last, f"HIERARCHY ends with {len(stack)} unclosed block(s) (truncated file?)")
    if not names:
        raise cur.error(1, "HIERARCHY has no ROOT joint")
    return names, parents, offsets, channels, end_sites


def _parse_channels(toks: list[str], line: int, joint: str, source: str) -> tuple[str, ...]:
    try:
        n = int(toks[1]) if len(toks) > 1 else -1
    except ValueError:
        raise BvhError(f"{source}:{line}: malformed channel count {toks[1]!r} for joint {joint!r}") from None
    if n < 0 or n > 6 or len(toks) - 2 != n:
        raise BvhError(
            f"{source}:{line}: CHANNELS of joint {joint!r} declares {toks[1] if len(toks) > 1 else '?'} "
            f"channel(s) but lists {len(toks) - 2}"
        )
    out = []
    for t in toks[2:]:
        canon = _CHANNEL_CANON.get(t.lower())
        if canon is None:
            raise BvhError(f"{source}:{line}: unknown channel {t!r} for joint {joint!r}")
        out.append(canon)
    if len(set(out)) != len(out):
        raise BvhError(f"{source}:{line}: repeated channel for joint {joint!r}: {' '.join(toks[2:])}")
    return tuple(out)


_FRAMES_RE = re.compile(r"^\s*frames\s*:\s*(\S*)\s*$", re.IGNORECASE)
_FTIME_RE = re.compile(r"^\s*frame\s+time\s*:\s*(\S*)\s*$", re.IGNORECASE)


def parse_motion(
    lines: Iterable[str], first: int, n_channels: int, source: str
) -> tuple[int, float, np.ndarray]:
    """Parse the lines after ``MOTION``, one at a time (``first`` = 1-based number of the first line).

    The frame count and frame time are checked against :mod:`backend.motion.limits` before any motion
    line is read, and reading stops at the first line beyond the declared count, so a hostile file costs
    at most its declared (and accepted) size.

    Returns:
        ``(frames, frame_time, motion (F, C) float64)``.

    Raises:
        BvhError: bad ``Frames:`` / ``Frame Time:`` lines, too long a clip, a truncated file, wrong value
            counts, malformed or non-finite numbers (naming the line).
    """
    numbered = enumerate(lines, start=first)
    last_no = first - 1

    def header(regex: re.Pattern, what: str) -> str:
        nonlocal last_no
        for last_no, ln in numbered:
            if ln.strip():
                m = regex.match(ln)
                if not m:
                    raise BvhError(f"{source}:{last_no}: expected '{what} ...', got {ln.strip()[:60]!r}")
                return m.group(1)
        raise BvhError(f"{source}:{last_no + 1}: file ends before '{what}' (truncated file?)")

    raw_frames = header(_FRAMES_RE, "Frames:")
    idx = last_no
    try:
        n_frames = int(raw_frames)
    except ValueError:
        raise BvhError(f"{source}:{idx}: malformed frame count {raw_frames!r}") from None
    if n_frames <= 0:
        raise BvhError(f"{source}:{idx}: the file has zero frames (Frames: {raw_frames})")
    raw_ft = header(_FTIME_RE, "Frame Time:")
    idx = last_no
    try:
        frame_time = float(raw_ft)
    except ValueError:
        raise BvhError(f"{source}:{idx}: malformed Frame Time {raw_ft!r}") from None
    if not np.isfinite(frame_time) or frame_time <= 0.0:
        raise BvhError(f"{source}:{idx}: absurd Frame Time {raw_ft} (must be > 0)")
    fps = 1.0 / frame_time
    if fps > MAX_FPS or fps < MIN_FPS:
        raise BvhError(
            f"{source}:{idx}: absurd Frame Time {raw_ft} ({fps:.4g} fps; "
            f"accepted {MIN_FPS:g}..{MAX_FPS:g} fps)"
        )
    check_motion_size(n_frames, fps, n_channels, f"{source}:{idx - 1}")
    motion = np.empty((n_frames, n_channels), dtype=np.float64)
    line_of = np.empty(n_frames, dtype=np.int64)
    count, last_len = 0, 0
    wrong_count: tuple[int, int] | None = None  # first line with another number of values
    malformed: tuple[int, str] | None = None  # first malformed number
    for line_no, ln in numbered:
        toks = ln.split()
        if not toks:
            continue
        if count == n_frames:
            extra = 1 + sum(1 for _, rest in numbered if rest.strip())
            raise BvhError(
                f"{source}:{line_no}: Frames: {n_frames} declared but {n_frames + extra} motion lines follow"
            )
        line_of[count], last_len = line_no, len(toks)
        if len(toks) != n_channels:
            wrong_count = wrong_count or (line_no, len(toks))
        elif wrong_count is None and malformed is None:
            try:
                motion[count] = [float(t) for t in toks]
            except ValueError:
                bad = next(t for t in toks if not _is_number(t))
                malformed = (line_no, bad)
        count += 1
    if count < n_frames:
        last = int(line_of[count - 1]) if count else idx
        partial = (
            f"; the last line has {last_len} of {n_channels} values"
            if count and last_len < n_channels
            else ""
        )
        raise BvhError(
            f"{source}:{last}: truncated file: Frames: {n_frames} declared but only {count} motion "
            f"line(s){partial}"
        )
    if wrong_count is not None:
        line_no, n = wrong_count
        hint = " (truncated file?)" if line_no == int(line_of[-1]) and n < n_channels else ""
        raise BvhError(
            f"{source}:{line_no}: motion line has {n} values, the hierarchy declares {n_channels} channels{hint}"
        )
    if malformed is not None:
        raise BvhError(f"{source}:{malformed[0]}: malformed number {malformed[1]!r} in motion data")
    nonfinite = ~np.isfinite(motion)
    if nonfinite.any():
        frame, col = (int(v) for v in np.argwhere(nonfinite)[0])
        raise BvhError(
            f"{source}:{int(line_of[frame])}: non-finite value {motion[frame, col]} in motion column {col}"
        )
    return n_frames, frame_time, motion


def _is_number(token: str) -> bool:
    try:
        float(token)
    except ValueError:
        return False
    return True


def check_motion_size(n_frames: int, fps: float, n_channels: int, where: str) -> None:
    """Refuse a motion table from its header, before anything is allocated.

    Args:
        n_frames: declared frame count.
        fps: declared frame rate.
        n_channels: channels per frame.
        where: ``file:line`` for the message.

    Raises:
        BvhError: longer than :data:`~backend.motion.limits.MAX_CLIP_SECONDS`, more than
            :data:`~backend.motion.limits.MAX_SOURCE_FRAMES` frames or more than
            :data:`~backend.motion.limits.MAX_MOTION_VALUES` numbers.
    """
    problem = clip_length_problem(n_frames, fps)
    if problem is not None:
        raise BvhError(f"{where}: clip too long: {problem}")
    if n_frames * n_channels > MAX_MOTION_VALUES:
        raise BvhError(
            f"{where}: motion too large: {n_frames} frames x {n_channels} channels = "
            f"{n_frames * n_channels} values (at most {MAX_MOTION_VALUES})"
        )


def depth_first(parents: list[int]) -> list[int]:
    """Joint indices in the depth-first order a BVH file lists them (children in index order)."""
    kids: dict[int, list[int]] = {i: [] for i in range(-1, len(parents))}
    for i, p in enumerate(parents):
        kids[p].append(i)
    order: list[int] = []
    stack = list(reversed(kids[-1]))
    while stack:
        j = stack.pop()
        order.append(j)
        stack.extend(reversed(kids[j]))
    return order


def hierarchy_text(
    names: list[str],
    parents: list[int],
    offsets: np.ndarray,
    channels: list[tuple[str, ...]],
    end_sites: dict,
) -> str:
    """HIERARCHY section for joints listed parent-first (written depth-first)."""
    out = io.StringIO()
    out.write("HIERARCHY\n")
    kids: dict[int, list[int]] = {i: [] for i in range(-1, len(names))}
    for i, p in enumerate(parents):
        kids[p].append(i)

    def emit(j: int, depth: int) -> None:
        ind = "\t" * depth
        kw = "ROOT" if parents[j] < 0 else "JOINT"
        out.write(f"{ind}{kw} {names[j]}\n{ind}{{\n")
        ox, oy, oz = offsets[j]
        out.write(f"{ind}\tOFFSET {ox:.6f} {oy:.6f} {oz:.6f}\n")
        if channels[j]:
            out.write(f"{ind}\tCHANNELS {len(channels[j])} {' '.join(channels[j])}\n")
        for c in kids[j]:
            emit(c, depth + 1)
        if j in end_sites:
            ex, ey, ez = end_sites[j]
            out.write(f"{ind}\tEnd Site\n{ind}\t{{\n{ind}\t\tOFFSET {ex:.6f} {ey:.6f} {ez:.6f}\n{ind}\t}}\n")
        out.write(f"{ind}}}\n")

    for root in kids[-1]:
        emit(root, 0)
    return out.getvalue()
