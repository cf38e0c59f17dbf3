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
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from backend.errors import InvalidInputError, MotionDataError
from backend.motion.clip import CANONICAL_FPS
from backend.motion.kinematics.skeleton import NUM_BANDS, SMPL_JOINT_NAMES
from backend.render.explain_panels import (
    band_layout,
    draw_strength_pose,
    panel_best_word,
    panel_motion_image,
    panel_token_grid,
    wrap_title,
)
from backend.render.preview import check_joints, draw_filmstrip, figure_to_png, new_figure, pose_frames

__all__ = ["alignment_arrays", "render_explain"]


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
    slices = band_layout(feats.shape[1], band_channels)
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
    head = f'"{wrap_title(text, 110)}"'
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
    draw_strength_pose(
        fig,
        (8 / width, y, left - 22 / width, h),
        arr_j[best_f],
        arr["joint_strength"],
        f"joint strength\n(at {best_f / fps:.1f} s)",
    )

    # 2. motion image
    y, h = frac("image")
    panel_motion_image(
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
    mesh = panel_best_word(fig, (left, y, span_w, h), arr, t0, t1)
    cax = fig.add_axes((right + 15 / width, y, 12 / width, h))
    fig.colorbar(mesh, cax=cax).ax.tick_params(labelsize=7)
    # 4. token x (part, window)
    y, h = frac("grid")
    if n_tok:
        mesh = panel_token_grid(fig, (left, y, span_w, h), arr)
        cax = fig.add_axes((right + 70 / width, y, 12 / width, h))
        fig.colorbar(mesh, cax=cax).ax.tick_params(labelsize=7)
    return figure_to_png(fig)
