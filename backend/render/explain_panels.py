"""The panels of the "explain a match" figure (:func:`backend.render.explain.render_explain`).

Each function draws one panel into a rectangle ``(left, bottom, width, height)`` (figure fractions) of a
matplotlib figure: the motion image, the best word per (body part, time window), the token x patch cosine
map and the joint-strength pose (the figure comes from :func:`backend.render.preview.new_figure`).
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from typing import Any

import numpy as np

from backend.errors import MotionDataError
from backend.motion.kinematics.skeleton import BANDS, NUM_BANDS, band_slices
from backend.render.preview import draw_pose

__all__ = [
    "band_layout",
    "draw_strength_pose",
    "panel_best_word",
    "panel_motion_image",
    "panel_token_grid",
    "wrap_title",
]

_BAND_LABEL = {b.name: b.label for b in BANDS}
_CMAP_SCORE = "magma"
_CMAP_FEATURES = "RdBu_r"


def band_layout(num_channels: int, band_channels: Sequence[int] | None) -> list[slice]:
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


def wrap_title(text: str, width: int) -> str:
    short = text if len(text) <= 300 else text[:297] + "..."
    return "\n".join(textwrap.wrap(short, width=width)[:3])


def panel_motion_image(
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


def panel_best_word(fig, rect, arr: dict[str, Any], t0: float, t1: float) -> Any:
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


def panel_token_grid(fig, rect, arr: dict[str, Any]) -> Any:
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


def draw_strength_pose(fig, rect, pose: np.ndarray, strength: np.ndarray, title: str) -> None:
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
