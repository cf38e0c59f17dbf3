"""Turn motions and captions into stored embeddings: joints -> index windows -> model -> :class:`EncodedClip`;
captions -> their valid token embeddings (:func:`encode_captions`, the caption bank).

The whole clip is featurised once (``model.featurize(joints)``) and each index window is a slice of those
features, exactly as training crops long clips (``training.datasets``: featurize the clip, then crop), so
a window of a long clip looks like a training crop. Windows shorter than ``window_frames`` are
zero-padded with a frame mask (``model.prepare_motion_batch``; the model masks the padding patches when
its config says so).

Inputs accepted by :func:`load_motion_files`: a BVH file, an Acclaim AMC file (its ASF beside it or named), a
folder of them (recursive; files that cannot be read are skipped with their reason), or a canonical clip ``.npy`` (``(T, 22, 3)`` float32, 20 fps, metres, Y up; an optional sidecar
``<stem>.json`` holds ``ClipMeta`` fields).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from backend.errors import InvalidInputError, MotionSearchError
from backend.index.windows import WindowSpan, default_stride, plan_windows
from backend.index.writer import EncodedClip
from backend.motion.clip import CANONICAL_FPS, Clip, ClipMeta

if TYPE_CHECKING:
    from backend.model.retrieval import MotionTextRetrieval

__all__ = [
    "MOTION_SUFFIXES",
    "WindowEncoding",
    "encode_captions",
    "encode_clips",
    "encode_joints",
    "load_motion_files",
    "model_window",
]


@dataclass
class WindowEncoding:
    """The index windows of one motion and their embeddings.

    Attributes:
        spans: the windows (start frame, real length).
        emb: ``(Nw, P, D)`` float32 patch embeddings.
        mask: ``(Nw, P)`` bool patches used by scoring.
        pooled: ``(Nw, D)`` float32 pooled vectors.
        n_windows: time columns per window (``window_frames / PATCH_FRAMES``).
    """

    spans: list[WindowSpan]
    emb: np.ndarray
    mask: np.ndarray
    pooled: np.ndarray
    n_windows: int


def model_window(model: MotionTextRetrieval) -> int:
    """``window_frames`` of a retrieval model."""
    return int(model.config.window_frames)


def _encode_windows(
    model: MotionTextRetrieval, feats: list[np.ndarray]
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    import torch

    with torch.inference_mode():
        x, fm = model.prepare_motion_batch(feats)
        out = model.encode_motion(x, fm)
    return (
        out.emb.float().cpu().numpy(),
        out.mask.bool().cpu().numpy(),
        out.pooled.float().cpu().numpy(),
        int(out.n_windows),
    )


def encode_joints(
    model: MotionTextRetrieval, joints: np.ndarray, *, stride: int | None = None, batch_size: int = 32
) -> WindowEncoding:
    """Encode every index window of one canonical motion.

    Args:
        model: a ``MotionTextRetrieval`` in eval mode.
        joints: ``(T, 22, 3)`` canonical joints (20 fps).
        stride: window stride in frames (default half a window, multiple of 16).
        batch_size: windows per forward pass.

    Returns:
        :class:`WindowEncoding`.
    """
    joints = np.asarray(joints, dtype=np.float32)
    if joints.ndim != 3 or joints.shape[1:] != (22, 3) or joints.shape[0] < 1:
        raise InvalidInputError(f"joints must be (T, 22, 3) with T >= 1, got {joints.shape}")
    w = model_window(model)
    spans = plan_windows(joints.shape[0], w, stride if stride is not None else default_stride(w))
    embs, masks, pooled, n_time = [], [], [], model.config.n_windows
    full = np.asarray(model.featurize(joints), dtype=np.float32)
    for s in range(0, len(spans), batch_size):
        e, m, p, n_time = _encode_windows(
            model, [full[sp.start : sp.end] for sp in spans[s : s + batch_size]]
        )
        embs.append(e)
        masks.append(m)
        pooled.append(p)
    return WindowEncoding(spans, np.concatenate(embs), np.concatenate(masks), np.concatenate(pooled), n_time)


def encode_clips(
    model: MotionTextRetrieval,
    clips: Iterable[Clip],
    *,
    stride: int | None = None,
    batch_size: int = 32,
    progress: bool = False,
    total: int | None = None,
) -> Iterator[EncodedClip]:
    """Encode clips one by one (lazily) into :class:`EncodedClip` records.

    Args:
        model: a ``MotionTextRetrieval`` in eval mode.
        clips: canonical clips.
        stride: window stride (frames).
        batch_size: windows per forward pass.
        progress: show a tqdm bar.
        total: number of clips for the bar.
    """
    from tqdm.auto import tqdm

    for clip in tqdm(clips, desc="encoding clips", unit="clip", total=total, disable=not progress):
        enc = encode_joints(model, clip.joints, stride=stride, batch_size=batch_size)
        yield EncodedClip(
            meta=clip.meta,
            joints=np.asarray(clip.joints, dtype=np.float32),
            starts=np.array([s.start for s in enc.spans], dtype=np.int64),
            lengths=np.array([s.length for s in enc.spans], dtype=np.int64),
            emb=enc.emb,
            mask=enc.mask,
            pooled=enc.pooled,
        )


def encode_captions(
    model: MotionTextRetrieval, texts: list[str], batch_size: int = 64, progress: bool = False
) -> list[np.ndarray]:
    """Valid token embeddings of each caption.

    Args:
        model: the retrieval model (``encode_text(list[str]) -> TextEncoding``).
        texts: captions.
        batch_size: captions per forward pass.
        progress: show a tqdm bar.

    Returns:
        One ``(L_i, D)`` float32 array per caption.
    """
    import torch
    from tqdm.auto import tqdm

    out: list[np.ndarray] = []
    starts = range(0, len(texts), batch_size)
    with torch.inference_mode():
        for s in tqdm(starts, desc="captions", unit="batch", disable=not progress):
            enc = model.encode_text(texts[s : s + batch_size])
            emb, mask = enc.emb.float().cpu(), enc.mask.bool().cpu()
            out.extend(emb[i][mask[i]].numpy().copy() for i in range(emb.shape[0]))
    return out


def _npy_clip(path: Path) -> Clip:
    try:
        joints = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise InvalidInputError(f"{path}: not a readable .npy array ({exc})") from exc
    if joints.ndim != 3 or joints.shape[1:] != (22, 3) or joints.shape[0] < 1:
        raise InvalidInputError(f"{path}: a canonical clip must be (T, 22, 3), got {joints.shape}")
    if not np.isfinite(joints).all():
        raise InvalidInputError(f"{path}: joints contain NaN or inf")
    meta: dict[str, Any] = {"id": path.stem, "source": path.name, "dataset": "user"}
    side = path.with_suffix(".json")
    if side.is_file():
        try:
            meta.update(json.loads(side.read_text(encoding="utf-8")))
        except ValueError as exc:
            raise InvalidInputError(f"{side}: invalid JSON ({exc})") from exc
    meta["duration"] = joints.shape[0] / CANONICAL_FPS
    return Clip(np.asarray(joints, dtype=np.float32), ClipMeta.from_dict(meta))


#: motion file suffixes a folder is searched for (``.asf`` skeletons are read with their ``.amc``)
MOTION_SUFFIXES = (".bvh", ".amc")


def load_motion_files(
    paths: Iterable[Path | str],
    *,
    dataset: str = "user",
    licence: str = "",
    skip_errors: bool = False,
    asf: Path | str | None = None,
) -> tuple[list[Clip], list[dict[str, str]]]:
    """Read BVH files, AMC files (with their ASF), folders of them and canonical ``.npy`` clips.

    A file found inside a folder that cannot be read or mapped is skipped with its reason and the rest goes on;
    a file named directly raises unless ``skip_errors``.

    Args:
        paths: files or folders.
        dataset: dataset key stored for converted clips.
        licence: licence stored for converted clips.
        skip_errors: also skip (instead of raising) unreadable files named directly.
        asf: the ASF skeleton of the AMC files (default: the ``.asf`` beside each AMC).

    Returns:
        ``(clips, skipped)`` where ``skipped`` is ``[{"file", "reason"}]``.

    Raises:
        InvalidInputError: a path does not exist or has an unsupported type, a folder holds no motion file,
            or nothing at all could be read (every skipped file is named).
        MotionSearchError: an unreadable file named directly (unless ``skip_errors``).
    """
    from backend.motion.convert import file_to_clip

    files: list[tuple[Path, Path, bool]] = []  # (file, root for the relative source, found in a folder)
    for p in map(Path, paths):
        if p.is_dir():
            found = sorted(f for f in p.rglob("*") if f.suffix.lower() in MOTION_SUFFIXES and f.is_file())
            if not found:
                raise InvalidInputError(f"no motion files (.bvh, .amc) under folder {p}")
            files += [(f, p, True) for f in found]
        elif p.is_file() and p.suffix.lower() in (*MOTION_SUFFIXES, ".npy"):
            files.append((p, p.parent, False))
        elif p.exists():
            raise InvalidInputError(
                f"unsupported file type {p.suffix!r}: {p} (use .bvh, .amc with its .asf, or a canonical .npy)"
            )
        else:
            raise InvalidInputError(f"path not found: {p}")
    clips: list[Clip] = []
    skipped: list[dict[str, str]] = []
    for f, root, in_folder in files:
        try:
            if f.suffix.lower() == ".npy":
                clips.append(_npy_clip(f))
                continue
            kwargs: dict[str, Any] = {
                "dataset": dataset,
                "source": str(f.relative_to(root)),
                "licence": licence,
            }
            if f.suffix.lower() == ".amc":
                kwargs["asf"] = asf
            else:
                kwargs["up_axis"] = "auto"
            clips.append(file_to_clip(f, **kwargs))
        except MotionSearchError as exc:
            if not (skip_errors or in_folder):
                raise
            skipped.append({"file": str(f), "reason": str(exc)})
    if not clips and skipped:
        listing = "; ".join(f"{s['file']}: {s['reason']}" for s in skipped[:10])
        more = f" (+{len(skipped) - 10} more)" if len(skipped) > 10 else ""
        raise InvalidInputError(f"no motion could be read; skipped {len(skipped)} file(s): {listing}{more}")
    return clips, skipped
