"""Explain a text-motion match: the token x body part x time-window grid and normalised strengths.

Produces the ``Alignment`` object of ``docs/api.md``:

* **Words, not word pieces.** The query's valid tokens (specials and padding excluded by the text mask)
  are grouped by ``TextEncoding.word_index``; a word's cosine row over the patches is the **mean** of its
  pieces' rows (so a word split into pieces is neither favoured nor penalised against a one-piece word).
  Punctuation the tokenizer splits off is a word of its own, since it takes part in MaxSim too.
* ``grid[t][p][w]``: that mean cosine for word ``t``, band ``p`` (``BANDS`` order), time column ``w``;
  ``None`` where the patch is not valid (padding columns, or patches the scoring mask drops).
* ``token_scores[t]``: max of word ``t``'s row over valid patches (its MaxSim contribution);
  ``token_best[t]``: the argmax patch as ``{part, window, start, end}``.
* **Strengths** (exactly as documented in ``docs/api.md``): relevance ``r[p, w]`` is the given
  ``cell_relevance`` (gradient x input attribution of the MaxSim score, :mod:`backend.search.attribution`;
  what :func:`backend.search.attribution.align_many` passes) or, without it, the cosine attention
  ``r[p, w] = sum_t softmax_over_valid_patches(cos(t, .) / 0.1)[p, w]``; then ``part_strength[p] = max_w r``,
  ``window_strength[w] = max_p r``, ``joint_strength[j] = max over bands driving j of part_strength``,
  ``joint_window_strength[j][w] = max over bands driving j of r[p, w]``, each divided by its own maximum
  (the strongest entry is 1, all in [0, 1]); invalid windows get 0. With no word, every strength is 0.
  Bands drive joints as listed in ``skeleton.BANDS[*].joints`` (all 22 SMPL joints are covered), except the
  ``root_position`` band: it is the global trajectory (where the body travels, 3 position channels), not a
  body part, and with the trained model it usually holds the largest attribution (staying in place is
  evidence for "waves", travelling for "walks"); letting it light the pelvis would scale every limb towards
  0. So the joint maps come from the 13 body-part bands, and ``trajectory_strength`` = ``part_strength`` of
  ``root_position`` (normalised with the other 13 parts) says how much the trajectory itself mattered.
* Time columns are reported in seconds relative to the clip start: ``window_offset_seconds`` (the index
  window's start) plus ``model.motion_image.window_seconds``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from backend.errors import InvalidInputError
from backend.model.config import PATCH_FRAMES
from backend.model.motion_image import patch_to_part_window, window_seconds
from backend.model.outputs import TextEncoding
from backend.model.scoring import token_patch_similarity
from backend.motion.clip import CANONICAL_FPS
from backend.motion.kinematics.skeleton import BAND_NAMES, BANDS, NUM_BANDS, SMPL_JOINT_NAMES

__all__ = ["STRENGTH_TEMPERATURE", "TRAJECTORY_BAND", "compute_alignment", "empty_alignment", "relevance",
           "word_similarity"]  # fmt: skip

#: softmax temperature of the relevance map (docs/api.md)
STRENGTH_TEMPERATURE = 0.1

#: the band of the global root trajectory (where the body travels): a band of the image, not a body part
TRAJECTORY_BAND = "root_position"
_TRAJ = BAND_NAMES.index(TRAJECTORY_BAND)

#: for each SMPL joint, the body-part bands that drive it (the trajectory band drives none: see module doc)
_JOINT_BANDS: dict[str, list[int]] = {
    j: [b for b, band in enumerate(BANDS) if j in band.joints and b != _TRAJ] for j in SMPL_JOINT_NAMES
}


def word_similarity(text: TextEncoding, row: int, patches: torch.Tensor) -> tuple[list[str], torch.Tensor]:
    """Per-word cosine rows (word pieces averaged).

    Args:
        text: encoded query (batch); ``row`` selects the text.
        row: which text of the batch.
        patches: ``(P, D)`` motion patch embeddings.

    Returns:
        ``(words, sim)`` with ``sim (n_words, P)`` float32; words without a valid token are dropped.
    """
    emb, mask, widx = text.emb[row].detach().cpu(), text.mask[row].bool().cpu(), text.word_index[row].cpu()
    sim = token_patch_similarity(emb[mask].float(), patches.detach().cpu().float())  # (Lv, P)
    widx = widx[mask]
    words = text.words[row]
    out_words, rows = [], []
    for w, word in enumerate(words):
        sel = widx == w
        if bool(sel.any()):
            out_words.append(word)
            rows.append(sim[sel].mean(dim=0))
    if not rows:
        return [], sim.new_zeros((0, patches.shape[0]))
    return out_words, torch.stack(rows)


def relevance(
    sim: torch.Tensor, valid: torch.Tensor, temperature: float = STRENGTH_TEMPERATURE
) -> torch.Tensor:
    """Where each word's attention goes, summed over words.

    Args:
        sim: ``(n_words, P)`` cosines.
        valid: ``(P,)`` bool valid patches.
        temperature: softmax temperature.

    Returns:
        ``(P,)`` relevance, 0 at invalid patches.

    >>> r = relevance(torch.tensor([[1.0, 0.0, 5.0]]), torch.tensor([True, True, False]))
    >>> [round(v, 4) for v in r.tolist()]
    [1.0, 0.0, 0.0]
    """
    if sim.shape[0] == 0 or not bool(valid.any()):
        return sim.new_zeros(sim.shape[1])
    logits = torch.where(valid[None, :], sim / temperature, torch.tensor(float("-inf"), dtype=sim.dtype))
    return torch.softmax(logits, dim=1).sum(dim=0)


def _normalise(x: np.ndarray) -> np.ndarray:
    m = float(x.max()) if x.size else 0.0
    return x / m if m > 0 else np.zeros_like(x)


def compute_alignment(
    text: TextEncoding,
    motion_patches: torch.Tensor | np.ndarray,
    patch_mask: torch.Tensor | np.ndarray,
    n_windows: int,
    window_offset_seconds: float = 0.0,
    *,
    row: int = 0,
    valid_frames: int | None = None,
    fps: float = CANONICAL_FPS,
    cell_relevance: np.ndarray | None = None,
) -> dict[str, Any]:
    """The ``Alignment`` of one query and one motion window (schema in ``docs/api.md``).

    Args:
        text: encoded query batch (``emb``, ``mask``, ``words``, ``word_index``); ``row`` picks the text.
        motion_patches: ``(P, D)`` patch embeddings, ``P = 14 * n_windows``, row-major (band, column).
        patch_mask: ``(P,)`` bool patches that take part in scoring.
        n_windows: time columns of the motion image.
        window_offset_seconds: start of this index window within its clip (seconds).
        row: which text of ``text``.
        valid_frames: real frames of the window; columns starting at or after it are padding (None: all
            columns with a valid patch are real).
        fps: frame rate of the motion image columns.
        cell_relevance: ``(14, n_windows)`` relevance of each (band, window) cell, e.g. the gradient x
            input attribution of :func:`backend.search.attribution.cell_attribution`; when given, the
            strengths are reduced from it (negative values and invalid cells count as 0) instead of the
            cosine softmax attention. ``grid``, ``token_scores`` and ``token_best`` stay cosine-based.

    Returns:
        JSON-ready dict with ``tokens``, ``parts``, ``windows``, ``grid``, ``token_scores``,
        ``token_best``, ``part_strength``, ``joint_strength``, ``window_strength``, ``trajectory_strength``,
        ``joint_window_strength``.

    Raises:
        InvalidInputError: shapes disagree (names them).
    """
    patches = torch.as_tensor(motion_patches).detach().cpu().float()
    mask = torch.as_tensor(patch_mask).detach().cpu().bool()
    p = NUM_BANDS * int(n_windows)
    if patches.dim() != 2 or patches.shape[0] != p or mask.shape != (p,):
        raise InvalidInputError(
            f"motion_patches must be ({p}, D) and patch_mask ({p},) for n_windows={n_windows}, got "
            f"{tuple(patches.shape)} and {tuple(mask.shape)}"
        )
    if not 0 <= row < len(text):
        raise InvalidInputError(f"row {row} out of range for a text batch of {len(text)}")
    if valid_frames is not None:
        cols = torch.arange(n_windows) * PATCH_FRAMES < int(valid_frames)
        mask = mask & cols.repeat(NUM_BANDS)
    words, sim = word_similarity(text, row, patches)  # (n_words, P)
    valid2 = mask.numpy().reshape(NUM_BANDS, n_windows)
    if cell_relevance is None:
        r = relevance(sim, mask).numpy().reshape(NUM_BANDS, n_windows)
    else:
        r = np.asarray(cell_relevance, dtype=np.float64)
        if r.shape != (NUM_BANDS, n_windows):
            raise InvalidInputError(
                f"cell_relevance must be ({NUM_BANDS}, {n_windows}) for n_windows={n_windows}, got {r.shape}"
            )
        if not np.isfinite(r).all():
            raise InvalidInputError("cell_relevance contains NaN/inf")
        keep = valid2 & (len(words) > 0)
        r = np.where(keep, np.clip(r, 0.0, None), 0.0)
    sim_np = sim.numpy().reshape(len(words), NUM_BANDS, n_windows)

    spans = [window_seconds(w, fps=fps) for w in range(n_windows)]
    off = float(window_offset_seconds)
    windows = [{"start": off + a, "end": off + b} for a, b in spans]
    grid = [
        [
            [float(sim_np[t, b, w]) if valid2[b, w] else None for w in range(n_windows)]
            for b in range(NUM_BANDS)
        ]
        for t in range(len(words))
    ]
    token_scores, token_best = [], []
    masked = np.where(valid2[None], sim_np, -np.inf).reshape(len(words), NUM_BANDS * n_windows)
    for t in range(len(words)):
        if not valid2.any():
            token_scores.append(0.0)
            token_best.append({"part": BAND_NAMES[0], "window": 0, **windows[0]})
            continue
        best = int(masked[t].argmax())
        band, win = patch_to_part_window(best, n_windows)
        token_scores.append(float(masked[t, best]))
        token_best.append({"part": BAND_NAMES[band], "window": win, **windows[win]})

    part = _normalise(r.max(axis=1))
    window = _normalise(np.where(valid2.any(axis=0), r.max(axis=0), 0.0))
    joint = _normalise(np.array([max(part[b] for b in _JOINT_BANDS[j]) for j in SMPL_JOINT_NAMES]))
    joint_window = _normalise(np.stack([r[_JOINT_BANDS[j]].max(axis=0) for j in SMPL_JOINT_NAMES]))
    return {
        "tokens": words,
        "parts": list(BAND_NAMES),
        "windows": windows,
        "grid": grid,
        "token_scores": token_scores,
        "token_best": token_best,
        "part_strength": {n: float(v) for n, v in zip(BAND_NAMES, part)},
        "joint_strength": {n: float(v) for n, v in zip(SMPL_JOINT_NAMES, joint)},
        "window_strength": [float(v) for v in window],
        "trajectory_strength": float(part[_TRAJ]),
        "joint_window_strength": {
            n: [float(v) for v in joint_window[i]] for i, n in enumerate(SMPL_JOINT_NAMES)
        },
    }


def empty_alignment(
    n_windows: int, window_offset_seconds: float = 0.0, *, fps: float = CANONICAL_FPS
) -> dict[str, Any]:
    """The ``Alignment`` without words (every strength 0) over ``n_windows`` time columns: what
    :func:`compute_alignment` gives a query with no word, for a motion explained by no text."""
    n = int(n_windows)
    off = float(window_offset_seconds)
    windows = [{"start": off + a, "end": off + b} for a, b in (window_seconds(w, fps=fps) for w in range(n))]
    return {"tokens": [], "parts": list(BAND_NAMES), "windows": windows, "grid": [], "token_scores": [],
            "token_best": [], "part_strength": dict.fromkeys(BAND_NAMES, 0.0),
            "joint_strength": dict.fromkeys(SMPL_JOINT_NAMES, 0.0), "window_strength": [0.0] * n,
            "trajectory_strength": 0.0, "joint_window_strength": {j: [0.0] * n for j in SMPL_JOINT_NAMES}}  # fmt: skip
