"""The "explain a match" figure: which query words matched which body parts, when.

One PNG, top to bottom, all panels sharing the clip's time axis where they have one:

1. the clip's poses over time (side-view stick figures at the centre of each time window), and, at the
   right, the pose of the strongest window with each bone coloured by its joint strength;
2. the motion image: the model's input features (z-scored), one horizontal band per body part
   (14 bands x time);
3. "best word per body part and time window": for every (part, window) patch the query word with the
   highest cosine, its cosine as the cell colour and the word written in the cell;
4. the full token x (body part, time window) cosine map: one row per query word, the columns grouped
   by body part (14 groups of ``n_windows`` columns, part names on the axis), each word's best patch
   outlined, and the word's MaxSim contribution at the end of its row.

The alignment follows the ``Alignment`` schema of ``docs/api.md`` (a mapping, or an object with
``to_dict()``).
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from backend.errors import InvalidInputError, MotionDataError
from backend.motion.clip import CANONICAL_FPS
from backend.motion.kinematics.skeleton import BANDS, NUM_BANDS, SMPL_JOINT_NAMES, band_slices
from backend.render.preview import (
    check_joints,
    draw_filmstrip,
    draw_pose,
    figure_to_png,
    new_figure,
    pose_frames,
)

__all__ = ["alignment_arrays", "render_explain"]

_BAND_LABEL = {b.name: b.label for b in BANDS}
_CMAP_SCORE = "magma"
_CMAP_FEATURES = "RdBu_r"


def _as_mapping(alignment: Any) -> Mapping[str, Any]:
    if isinstance(alignment, Mapping):
        return alignment
    to_dict = getattr(alignment, "to_dict", None)
    if callable(to_dict):
        return to_dict()
    raise InvalidInputError(f"alignment must be a mapping or have to_dict(); got {type(alignment).__name__}")


def alignment_arrays(alignment: Any) -> dict[str, Any]:
    """Pull the arrays the figure needs out of an ``Alignment``.

    Args:
        alignment: mapping (or object with ``to_dict()``) with ``tokens``, ``parts``, ``windows``,
            ``grid``, ``token_scores``, ``token_best`` and ``joint_strength``.

    Returns:
        dict with ``tokens`` (list[str]), ``parts`` (list[str]), ``edges`` ((W+1,) seconds),
        ``grid`` ((L, P, W) float, NaN for padding), ``token_scores`` ((L,)), ``token_best``
        (list of (part index, window) or None), ``joint_strength`` ((22,) in [0, 1]).

    Raises:
        InvalidInputError: a missing key or inconsistent shapes (the key is named).
    """
    a = _as_mapping(alignment)
    for key in ("tokens", "parts", "windows", "grid"):
        if key not in a:
            raise InvalidInputError(f"alignment has no {key!r}")
    tokens = [str(t) for t in a["tokens"]]
    parts = [str(p) for p in a["parts"]]
    windows = [(float(w["start"]), float(w["end"])) for w in a["windows"]]
    if not windows:
        raise InvalidInputError("alignment has no windows")
    grid = np.array(
        [[[np.nan if v is None else float(v) for v in row] for row in part] for part in a["grid"]],
        dtype=np.float64,
    ).reshape(len(tokens), len(parts), len(windows))
    edges = np.array([windows[0][0]] + [w[1] for w in windows], dtype=np.float64)
    scores = np.asarray(
        a.get("token_scores") or np.nanmax(grid.reshape(len(tokens), -1), axis=1), dtype=np.float64
    )
    best: list[tuple[int, int] | None] = []
    for tb in a.get("token_best") or [None] * len(tokens):
        if tb is None or tb.get("part") not in parts:
            best.append(None)
        else:
            best.append((parts.index(tb["part"]), int(tb["window"])))
    js = a.get("joint_strength") or {}
    joint_strength = np.array([float(js.get(n, 0.0)) for n in SMPL_JOINT_NAMES])
    return {
        "tokens": tokens,
        "parts": parts,
        "edges": edges,
        "grid": grid,
        "token_scores": scores,
        "token_best": best,
        "joint_strength": joint_strength,
    }


def _band_layout(num_channels: int, band_channels: Sequence[int] | None) -> list[slice]:
    if band_channels is None:
        if num_channels == NUM_BANDS:
            band_channels = (1,) * NUM_BANDS
        elif num_channels == sum(b.channels for b in BANDS):
            band_channels = tuple(b.channels for b in BANDS)
        else:
            raise MotionDataError(
                f"motion_image has {num_channels} channels; pass band_channels (14 counts) to split it into bands"
            )
    if len(band_channels) != NUM_BANDS or sum(band_channels) != num_channels:
        raise MotionDataError(
            f"band_channels must be {NUM_BANDS} counts summing to {num_channels}; got {list(band_channels)}"
        )
    return band_slices(tuple(int(c) for c in band_channels))


def _wrap_title(text: str, width: int) -> str:
    short = text if len(text) <= 300 else text[:297] + "..."
    return "\n".join(textwrap.wrap(short, width=width)[:3])


def _panel_motion_image(
    fig,
    rect,
    feats: np.ndarray,
    slices: list[slice],
    parts: list[str],
    span: tuple[float, float],
    view: tuple[float, float],
    edges: np.ndarray,
) -> None:
    """Features as an image: every band gets the same height (its channels split it evenly), time in seconds.

    ``span`` is the time covered by ``feats``; ``view`` the x range shown (grey beyond the clip's end).
    """
    ax = fig.add_axes(rect)
    ax.set_facecolor("#d9d9d9")
    ax.set_xlim(*view)
    ax.set_ylim(len(slices), 0)
    ax.set_autoscale_on(False)
    n = feats.shape[0]
    x = np.linspace(span[0], span[1], n + 1)
    for b, sl in enumerate(slices):
        c = sl.stop - sl.start
        y = b + np.linspace(0.0, 1.0, c + 1)
        ax.pcolormesh(
            x, y, feats[:, sl].T, cmap=_CMAP_FEATURES, vmin=-3.0, vmax=3.0, shading="flat", rasterized=True
        )
    for b in range(1, len(slices)):
        ax.axhline(b, color="white", lw=1.5)
    for e in edges[1:-1]:
        ax.axvline(e, color="#333333", lw=0.6, ls=":")
    ax.set_ylim(len(slices), 0)
    ax.set_yticks(np.arange(len(slices)) + 0.5)
    ax.set_yticklabels([_BAND_LABEL.get(p, p) for p in parts], fontsize=7)
    ax.set_xlim(*view)
    ax.tick_params(axis="x", labelsize=7)
    ax.set_title(
        "motion image: the model's input, z-scored joint angles; one band per body part, one row per "
        "angle (blue < average < red)",
        fontsize=9,
        loc="left",
    )


def _panel_best_word(fig, rect, arr: dict[str, Any], t0: float, t1: float) -> Any:
    grid, tokens, edges = arr["grid"], arr["tokens"], arr["edges"]
    ax = fig.add_axes(rect)
    n_parts = grid.shape[1]
    valid = ~np.isnan(grid).all(axis=0)  # (P, W)
    filled = np.where(np.isnan(grid), -np.inf, grid)
    best_tok = filled.argmax(axis=0)  # (P, W)
    best_val = np.where(valid, filled.max(axis=0), np.nan)
    mesh = ax.pcolormesh(
        edges, np.arange(n_parts + 1), np.ma.masked_invalid(best_val), cmap=_CMAP_SCORE, shading="flat"
    )
    ax.set_facecolor("#d9d9d9")
    ax.set_ylim(n_parts, 0)
    ax.set_xlim(t0, t1)
    ax.set_yticks(np.arange(n_parts) + 0.5)
    ax.set_yticklabels([_BAND_LABEL.get(p, p) for p in arr["parts"]], fontsize=7)
    ax.tick_params(axis="x", labelsize=7)
    ax.set_xlabel("time (s)", fontsize=8)
    fig_w = fig.get_size_inches()[0] * fig.dpi
    cell_px = fig_w * rect[2] / max(1, grid.shape[2]) * (edges[-1] - edges[0]) / max(1e-9, t1 - t0)
    if cell_px >= 34 and tokens:
        lo, hi = np.nanmin(best_val), np.nanmax(best_val)
        for p in range(n_parts):
            for w in range(grid.shape[2]):
                if not valid[p, w]:
                    continue
                word = tokens[best_tok[p, w]]
                word = word if len(word) * 5.5 < cell_px else word[: max(1, int(cell_px / 5.5) - 1)] + "."
                light = (best_val[p, w] - lo) / max(1e-9, hi - lo) < 0.6
                ax.text(
                    (edges[w] + edges[w + 1]) / 2,
                    p + 0.5,
                    word,
                    ha="center",
                    va="center",
                    fontsize=6.5,
                    color="white" if light else "black",
                )
    ax.set_title(
        "best-matching word for each body part and time window (colour: its cosine)", fontsize=9, loc="left"
    )
    return mesh


def _panel_token_grid(fig, rect, arr: dict[str, Any]) -> Any:
    grid, tokens = arr["grid"], arr["tokens"]
    n_tok, n_parts, n_win = grid.shape
    ax = fig.add_axes(rect)
    flat = grid.reshape(n_tok, n_parts * n_win)
    mesh = ax.imshow(np.ma.masked_invalid(flat), aspect="auto", cmap=_CMAP_SCORE, interpolation="nearest")
    ax.set_facecolor("#d9d9d9")
    for p in range(1, n_parts):
        ax.axvline(p * n_win - 0.5, color="white", lw=1.5)
    for t, best in enumerate(arr["token_best"]):
        if best is not None:
            col = best[0] * n_win + best[1]
            ax.add_patch(_rect_patch(col - 0.5, t - 0.5))
    ax.set_yticks(np.arange(n_tok))
    ax.set_yticklabels(tokens, fontsize=8)
    ax.set_xticks([p * n_win + (n_win - 1) / 2 for p in range(n_parts)])
    ax.set_xticklabels([_BAND_LABEL.get(p, p) for p in arr["parts"]], fontsize=7, rotation=30, ha="right")
    ax.tick_params(axis="x", length=0)
    right = ax.secondary_yaxis("right")
    right.set_yticks(np.arange(n_tok))
    right.set_yticklabels([f"{s:.2f}" for s in arr["token_scores"]], fontsize=7)
    right.set_ylabel("word score (max cosine)", fontsize=7)
    ax.set_title(
        f"cosine of every word with every patch: columns = body part x {n_win} time windows (left to right "
        "= time); outlined = the word's best patch",
        fontsize=9,
        loc="left",
    )
    return mesh


def _rect_patch(x: float, y: float):  # -> matplotlib.patches.Rectangle
    from matplotlib.patches import Rectangle

    return Rectangle((x, y), 1.0, 1.0, fill=False, edgecolor="#00e5ff", lw=1.6, zorder=5)


def render_explain(
    joints: np.ndarray,
    motion_image: np.ndarray,
    alignment: Any,
    text: str,
    *,
    band_channels: Sequence[int] | None = None,
    fps: float = CANONICAL_FPS,
    clip_id: str | None = None,
    score: float | None = None,
    width: int = 1400,
) -> bytes:
    """Render the explanation of one (text, clip) match as a PNG.

    Args:
        joints: ``(T, 22, 3)`` canonical joints of the clip (20 fps, metres, Y up).
        motion_image: ``(T, C)`` model input features of the same frames (z-scored), or ``(T, 14)``
            one value per band.
        alignment: the ``Alignment`` of the match (``docs/api.md``); its windows are seconds from the
            clip start and decide the time span shown.
        text: the query text (shown as the title).
        band_channels: channels per band of ``motion_image`` (14 counts); default: the joint-angle
            layout for ``C == 29`` or one channel per band for ``C == 14``.
        fps: frame rate of ``joints`` and ``motion_image``.
        clip_id: shown in the title.
        score: match score shown in the title.
        width: image width in pixels (the height follows from the number of words).

    Returns:
        PNG bytes (``width`` pixels wide).

    Raises:
        MotionDataError: invalid joints / features or mismatched lengths.
        InvalidInputError: an alignment without the required keys.
    """
    arr_j = check_joints(joints)
    feats = np.asarray(motion_image, dtype=np.float64)
    if feats.ndim != 2 or feats.shape[0] != arr_j.shape[0]:
        raise MotionDataError(f"motion_image must have shape (T={arr_j.shape[0]}, C); got {feats.shape}")
    if not np.isfinite(feats).all():
        raise MotionDataError("motion_image contains NaN or inf values")
    slices = _band_layout(feats.shape[1], band_channels)
    arr = alignment_arrays(alignment)
    n_tok, n_parts, n_win = arr["grid"].shape
    if n_parts != NUM_BANDS:
        raise InvalidInputError(f"alignment has {n_parts} parts; expected {NUM_BANDS}")
    num_frames = arr_j.shape[0]
    duration = num_frames / fps
    # the time span shown is the alignment's windows; frames past the clip's end are left blank
    t0 = max(0.0, float(arr["edges"][0]))
    t1 = max(t0 + 1.0 / fps, float(arr["edges"][-1]))
    f0 = min(num_frames - 1, math.floor(t0 * fps))
    f1 = max(f0 + 1, min(num_frames, math.ceil(min(t1, duration) * fps)))

    # ---- layout in pixels, top to bottom
    row_h = 20 if n_tok <= 24 else 14
    heights = {
        "title": 62,
        "gap0": 40,
        "strip": 180,
        "gap1": 34,
        "image": 250,
        "gap2": 40,
        "best": 250,
        "gap3": 62,
        "grid": max(80, n_tok * row_h),
        "bottom": 95,
    }
    total = sum(heights.values())
    fig = new_figure((int(width), total))
    left, right = 150 / width, 1.0 - 120 / width
    span_w = right - left

    def frac(name: str) -> tuple[float, float]:
        above = 0
        for k, v in heights.items():
            if k == name:
                return 1.0 - (above + v) / total, v / total
            above += v
        raise KeyError(name)

    y, h = frac("title")
    head = f'"{_wrap_title(text, 110)}"'
    info = " / ".join(
        x
        for x in (
            f"clip {clip_id}" if clip_id else "",
            f"score {score:.3f}" if score is not None else "",
            f"matched segment {t0:.1f}-{min(t1, duration):.1f} s of {duration:.1f} s",
        )
        if x
    )
    fig.text(0.01, 1.0 - 8 / total, head, ha="left", va="top", fontsize=11, weight="bold")
    fig.text(0.01, y + 2 / total, info, ha="left", va="bottom", fontsize=8.5, color="#444444")

    # 1. poses at the window centres, aligned with the time axis below; at the left, the pose of the
    #    strongest window with every bone coloured by its joint strength
    y, h = frac("strip")
    centres = (arr["edges"][:-1] + arr["edges"][1:]) / 2
    frames = np.clip(np.round(centres * fps).astype(int), f0, f1 - 1)
    if len(frames) > 10:
        frames = frames[pose_frames(len(frames), 10)]
    draw_filmstrip(fig, (left, y, span_w, h), arr_j, frames, fps=fps, linewidth=1.8)
    fig.text(
        left,
        y + h + 4 / total,
        "poses at the centre of each time window (side view; blue = left, red = right)",
        fontsize=9,
        ha="left",
        va="bottom",
    )
    col_best = (
        np.where(np.isnan(arr["grid"]), -np.inf, arr["grid"]).max(axis=(0, 1)) if n_tok else np.zeros(n_win)
    )
    best_w = int(np.argmax(col_best))
    best_f = int(np.clip(round(centres[best_w] * fps), f0, f1 - 1))
    _draw_strength_pose(
        fig,
        (8 / width, y, left - 22 / width, h),
        arr_j[best_f],
        arr["joint_strength"],
        f"joint strength\n(at {best_f / fps:.1f} s)",
    )

    # 2. motion image
    y, h = frac("image")
    _panel_motion_image(
        fig,
        (left, y, span_w, h),
        feats[f0:f1],
        slices,
        arr["parts"],
        (f0 / fps, f1 / fps),
        (t0, t1),
        arr["edges"],
    )
    # 3. best word per (part, window)
    y, h = frac("best")
    mesh = _panel_best_word(fig, (left, y, span_w, h), arr, t0, t1)
    cax = fig.add_axes((right + 15 / width, y, 12 / width, h))
    fig.colorbar(mesh, cax=cax).ax.tick_params(labelsize=7)
    # 4. token x (part, window)
    y, h = frac("grid")
    if n_tok:
        mesh = _panel_token_grid(fig, (left, y, span_w, h), arr)
        cax = fig.add_axes((right + 70 / width, y, 12 / width, h))
        fig.colorbar(mesh, cax=cax).ax.tick_params(labelsize=7)
    return figure_to_png(fig)


def _draw_strength_pose(fig, rect, pose: np.ndarray, strength: np.ndarray, title: str) -> None:
    """One side-view pose with each bone coloured by its child joint's strength (0 grey .. 1 dark red)."""
    from matplotlib import colormaps

    cmap = colormaps["YlOrRd"]
    colours = [cmap(0.15 + 0.85 * float(s)) for s in np.clip(strength, 0.0, 1.0)]
    ax = fig.add_axes(rect)
    ax.set_autoscale_on(False)
    root = float(pose[0, 2])
    ax.axhline(0.0, color="#b0b0b0", lw=1.0)
    draw_pose(ax, pose, offset=-root, linewidth=3.0, joint_colours=colours)
    fig_w, fig_h = fig.get_size_inches()
    ratio = (rect[2] * fig_w) / (rect[3] * fig_h)
    top = max(1.0, float(pose[:, 1].max()) + 0.15)
    floor = min(0.0, float(pose[:, 1].min())) - 0.05
    half = max(ratio * (top - floor) / 2, float(np.abs(pose[:, 2] - root).max()) + 0.1)
    ax.set_xlim(-half, half)
    ax.set_ylim(floor, floor + 2 * half / ratio)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(title, fontsize=8)
