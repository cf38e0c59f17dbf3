"""Text-level helpers of :mod:`backend.motion.io.bvh`: the HIERARCHY / MOTION parsers and the writer's
hierarchy text. They work on plain lists and arrays (no :class:`~backend.motion.io.bvh.BvhData`)."""

from __future__ import annotations

import io
import re

import numpy as np

from backend.errors import BvhError
from backend.motion.limits import MAX_FPS, MIN_FPS

__all__ = [
    "CHANNEL_NAMES",
    "MAX_FPS",
    "MIN_FPS",
    "Lines",
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


def parse_motion(lines: list[str], first: int, n_channels: int, source: str) -> tuple[int, float, np.ndarray]:
    """Parse the lines after ``MOTION`` (``first`` = 0-based index of the first of them).

    Returns:
        ``(frames, frame_time, motion (F, C) float64)``.

    Raises:
        BvhError: bad ``Frames:`` / ``Frame Time:`` lines, a truncated file, wrong value counts, malformed or
            non-finite numbers (naming the line).
    """

    def header(idx: int, regex: re.Pattern, what: str) -> tuple[str, int]:
        while idx < len(lines) and not lines[idx].strip():
            idx += 1
        if idx >= len(lines):
            raise BvhError(f"{source}:{idx + 1}: file ends before '{what}' (truncated file?)")
        m = regex.match(lines[idx])
        if not m:
            raise BvhError(f"{source}:{idx + 1}: expected '{what} ...', got {lines[idx].strip()[:60]!r}")
        return m.group(1), idx + 1

    raw_frames, idx = header(first, _FRAMES_RE, "Frames:")
    try:
        n_frames = int(raw_frames)
    except ValueError:
        raise BvhError(f"{source}:{idx}: malformed frame count {raw_frames!r}") from None
    if n_frames <= 0:
        raise BvhError(f"{source}:{idx}: the file has zero frames (Frames: {raw_frames})")
    raw_ft, idx = header(idx, _FTIME_RE, "Frame Time:")
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
    rows = [(i + 1, ln.split()) for i, ln in enumerate(lines[idx:], start=idx)]
    rows = [(n, t) for n, t in rows if t]
    if len(rows) < n_frames:
        last = rows[-1][0] if rows else idx
        partial = (
            f"; the last line has {len(rows[-1][1])} of {n_channels} values"
            if rows and len(rows[-1][1]) < n_channels
            else ""
        )
        raise BvhError(
            f"{source}:{last}: truncated file: Frames: {n_frames} declared but only {len(rows)} motion "
            f"line(s){partial}"
        )
    if len(rows) > n_frames:
        raise BvhError(
            f"{source}:{rows[n_frames][0]}: Frames: {n_frames} declared but {len(rows)} motion lines follow"
        )
    for line_no, toks in rows:
        if len(toks) != n_channels:
            hint = " (truncated file?)" if line_no == rows[-1][0] and len(toks) < n_channels else ""
            raise BvhError(
                f"{source}:{line_no}: motion line has {len(toks)} values, the hierarchy declares "
                f"{n_channels} channels{hint}"
            )
    try:
        motion = np.array([t for _, toks in rows for t in toks], dtype=np.float64)
    except ValueError:
        for line_no, toks in rows:
            for t in toks:
                try:
                    float(t)
                except ValueError:
                    raise BvhError(f"{source}:{line_no}: malformed number {t!r} in motion data") from None
        raise  # pragma: no cover - numpy rejected what float() accepts
    motion = motion.reshape(n_frames, n_channels)
    bad = ~np.isfinite(motion)
    if bad.any():
        f, c = np.argwhere(bad)[0]
        raise BvhError(f"{source}:{rows[f][0]}: non-finite value {motion[f, c]} in motion column {c}")
    return n_frames, frame_time, motion


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
