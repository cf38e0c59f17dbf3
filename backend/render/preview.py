"""Stick-figure filmstrip of a clip (side view), rendered with matplotlib's Agg canvas into PNG bytes.

The pyplot state machine is never used (it is not thread-safe); every figure is a private
:class:`matplotlib.figure.Figure` on its own :class:`FigureCanvasAgg`, so the server may render from
several worker threads at once.

Side view of a canonical clip: the horizontal axis is the forward direction ``+Z`` (the figure faces
right at frame 0), the vertical axis is ``+Y``; the camera sits on the character's right (``-X``), so
right limbs are drawn in front of left ones. Left limbs are blue, right limbs red, the spine dark grey.
"""

from __future__ import annotations

import io
import itertools
from collections.abc import Sequence
from typing import Any

import numpy as np

from backend.errors import MotionDataError
from backend.motion.clip import CANONICAL_FPS
from backend.motion.kinematics.skeleton import NUM_JOINTS, SMPL_CHAINS, SMPL_JOINT_NAMES

__all__ = [
    "CENTRE_COLOUR",
    "LEFT_COLOUR",
    "RIGHT_COLOUR",
    "chain_side",
    "check_joints",
    "draw_filmstrip",
    "draw_pose",
    "figure_to_png",
    "new_figure",
    "pose_frames",
    "render_filmstrip",
]

LEFT_COLOUR = "#1f6fd1"
RIGHT_COLOUR = "#d1342f"
CENTRE_COLOUR = "#3a3a3a"
HEAD_JOINT = SMPL_JOINT_NAMES.index("head")
ROOT_JOINT = 0


def chain_side(chain: Sequence[int]) -> str:
    """``"left"``, ``"right"`` or ``"centre"`` for a kinematic chain (by its last joint's name).

    >>> [chain_side(c) for c in SMPL_CHAINS]
    ['right', 'left', 'centre', 'right', 'left']
    """
    name = SMPL_JOINT_NAMES[chain[-1]]
    if name.startswith("left_"):
        return "left"
    if name.startswith("right_"):
        return "right"
    return "centre"


def check_joints(joints: np.ndarray, name: str = "joints") -> np.ndarray:
    """Validate a ``(T, 22, 3)`` joint array for drawing.

    Args:
        joints: ``(T, 22, 3)`` positions in metres, Y up.
        name: name used in error messages.

    Returns:
        The array as float64.

    Raises:
        MotionDataError: wrong shape, no frames or non-finite values.
    """
    arr = np.asarray(joints, dtype=np.float64)
    if arr.ndim != 3 or arr.shape[1:] != (NUM_JOINTS, 3):
        raise MotionDataError(f"{name} must have shape (T, {NUM_JOINTS}, 3); got {arr.shape}")
    if arr.shape[0] == 0:
        raise MotionDataError(f"{name} has no frames")
    if not np.isfinite(arr).all():
        raise MotionDataError(f"{name} contains NaN or inf values")
    return arr


def new_figure(size: tuple[int, int], dpi: int = 100):  # -> matplotlib.figure.Figure
    """A white figure of exactly ``size = (width, height)`` pixels on a private Agg canvas.

    Args:
        size: ``(width, height)`` in pixels (each at least 16).
        dpi: dots per inch used to convert ``size`` to inches.

    Returns:
        The :class:`matplotlib.figure.Figure`.

    Raises:
        MotionDataError: a size below 16 pixels.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    width, height = int(size[0]), int(size[1])
    if width < 16 or height < 16:
        raise MotionDataError(f"image size must be at least 16x16 pixels; got {width}x{height}")
    fig = Figure(figsize=(width / dpi, height / dpi), dpi=dpi, facecolor="white")
    FigureCanvasAgg(fig)
    return fig


def figure_to_png(fig) -> bytes:  # fig: matplotlib.figure.Figure
    """Render ``fig`` to PNG bytes at its own size and dpi (no tight bbox, so the size is exact)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=fig.dpi, facecolor=fig.get_facecolor())
    return buf.getvalue()


def pose_frames(num_frames: int, n_poses: int, start: int = 0, stop: int | None = None) -> np.ndarray:
    """Evenly spaced frame indices (first and last included) within ``[start, stop)``.

    >>> pose_frames(100, 5).tolist()
    [0, 25, 50, 74, 99]
    """
    stop = num_frames if stop is None else max(start + 1, min(stop, num_frames))
    n = max(1, min(int(n_poses), stop - start))
    return np.round(np.linspace(start, stop - 1, n)).astype(int)


def draw_pose(
    ax,
    pose: np.ndarray,
    *,
    offset: float = 0.0,
    linewidth: float = 2.2,
    alpha: float = 1.0,
    joint_colours: Sequence[str | tuple[float, float, float, float]] | None = None,
) -> None:
    """Draw one pose in side view (horizontal = Z + ``offset``, vertical = Y).

    Args:
        ax: a matplotlib ``Axes``.
        pose: ``(22, 3)`` positions.
        offset: added to the horizontal coordinate.
        linewidth: bone line width in points.
        alpha: opacity.
        joint_colours: optional colour per joint; a bone takes its child joint's colour (overrides the
            left/right/centre colours).
    """
    z = pose[:, 2] + offset
    y = pose[:, 1]
    order = {"left": 0, "centre": 1, "right": 2}  # far side first
    for chain in sorted(SMPL_CHAINS, key=lambda c: order[chain_side(c)]):
        side = chain_side(chain)
        base = {"left": LEFT_COLOUR, "right": RIGHT_COLOUR, "centre": CENTRE_COLOUR}[side]
        if joint_colours is None:  # one polyline per chain
            ax.plot(
                z[list(chain)],
                y[list(chain)],
                color=base,
                lw=linewidth,
                alpha=alpha,
                solid_capstyle="round",
                solid_joinstyle="round",
                zorder=2 + order[side],
            )
            continue
        for a, b in itertools.pairwise(chain):
            ax.plot(
                [z[a], z[b]],
                [y[a], y[b]],
                color=joint_colours[b],
                lw=linewidth,
                alpha=alpha,
                solid_capstyle="round",
                zorder=2 + order[side],
            )
    head_colour = joint_colours[HEAD_JOINT] if joint_colours is not None else CENTRE_COLOUR
    ax.scatter(
        [z[HEAD_JOINT]],
        [y[HEAD_JOINT]],
        s=(linewidth * 4.5) ** 2,
        color=head_colour,
        alpha=alpha,
        zorder=5,
        linewidths=0,
    )


def _pose_extent(joints: np.ndarray, frames: np.ndarray) -> tuple[float, float]:
    """(half width around the root, height) that fits every selected pose, in metres."""
    rel = joints[frames, :, 2] - joints[frames, ROOT_JOINT : ROOT_JOINT + 1, 2]
    half = max(0.55, float(np.abs(rel).max()) + 0.15)
    top = max(1.0, float(joints[frames, :, 1].max()) + 0.12)
    return half, top


def draw_filmstrip(
    fig,
    rect: tuple[float, float, float, float],
    joints: np.ndarray,
    frames: np.ndarray,
    *,
    fps: float = CANONICAL_FPS,
    label_times: bool = True,
    linewidth: float = 2.2,
) -> Any:
    """Draw one panel per frame in ``frames`` side by side inside ``rect`` of ``fig`` (figure coordinates).

    Every panel uses the same scale (metres per pixel, equal on both axes) and is centred on that
    frame's root, so poses can be compared; the floor (y = 0) is a grey line. All panels share one
    ``Axes`` (poses are offset horizontally), which keeps rendering fast.

    Args:
        fig: the figure.
        rect: ``(left, bottom, width, height)`` in figure fractions.
        joints: ``(T, 22, 3)`` canonical joints.
        frames: frame indices to draw, in order.
        fps: frame rate (for the time labels).
        label_times: write ``"1.5 s"`` in each panel.
        linewidth: bone line width.

    Returns:
        The axes.
    """
    width, height = rect[2], rect[3]
    n = len(frames)
    half, top = _pose_extent(joints, frames)
    floor = min(0.0, float(joints[frames, :, 1].min())) - 0.06
    fig_w, fig_h = fig.get_size_inches()
    # equal metres per pixel along both axes: grow the short side of the data box to the panel's shape
    box_ratio = (width / n * fig_w) / (height * fig_h)
    x_range, y_range = 2.0 * half, top - floor
    if x_range / y_range < box_ratio:
        half = box_ratio * y_range / 2.0
    else:
        extra = x_range / box_ratio - y_range
        top += extra * 0.85
        floor -= extra * 0.15
    ax = fig.add_axes(rect)
    ax.set_xlim(0.0, 2 * n * half)
    ax.set_ylim(floor, top)
    ax.set_autoscale_on(False)
    ax.axhline(0.0, color="#b0b0b0", lw=1.0, zorder=1)
    for i, f in enumerate(frames):
        centre = (2 * i + 1) * half
        draw_pose(ax, joints[f], offset=centre - float(joints[f, ROOT_JOINT, 2]), linewidth=linewidth)
        if i:
            ax.axvline(2 * i * half, color="#dddddd", lw=1.0, zorder=1)
        if label_times:
            ax.text(
                2 * i * half + 0.08 * half,
                top - 0.04 * (top - floor),
                f"{f / fps:.1f} s",
                ha="left",
                va="top",
                fontsize=8,
                color="#555555",
            )
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_color("#dddddd")
    return ax


def render_filmstrip(
    joints: np.ndarray,
    n_poses: int = 6,
    size: tuple[int, int] = (960, 220),
    fps: float = CANONICAL_FPS,
    title: str | None = None,
) -> bytes:
    """Render a clip as a row of stick-figure poses over time (side view).

    Args:
        joints: ``(T, 22, 3)`` canonical joints (metres, Y up, facing +Z at frame 0).
        n_poses: number of poses, evenly spaced from the first to the last frame (fewer if ``T`` is
            smaller).
        size: ``(width, height)`` of the PNG in pixels.
        fps: frame rate of ``joints`` (time labels).
        title: optional caption drawn above the strip.

    Returns:
        PNG bytes of exactly ``size`` pixels.

    Raises:
        MotionDataError: invalid joints, ``n_poses < 1`` or a too small size.
    """
    arr = check_joints(joints)
    if int(n_poses) < 1:
        raise MotionDataError(f"n_poses must be at least 1; got {n_poses}")
    fig = new_figure(size)
    top = 1.0
    if title:
        title_h = min(0.2, 18.0 / size[1])
        fig.text(0.01, 1.0 - title_h / 2, title, ha="left", va="center", fontsize=9, color="#333333")
        top -= title_h
    frames = pose_frames(arr.shape[0], n_poses)
    draw_filmstrip(fig, (0.0, 0.0, 1.0, top), arr, frames, fps=fps)
    return figure_to_png(fig)
