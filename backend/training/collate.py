"""Batching of variable-length motions with their captions: zero padding + boolean frame masks."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from backend.errors import InvalidInputError

__all__ = ["MotionTextBatch", "collate_motion_text", "pad_motions"]


@dataclass
class MotionTextBatch:
    """A training / evaluation batch.

    Attributes:
        features: ``(B, T, C)`` float32 z-scored features, zero after each clip's end.
        frame_mask: ``(B, T)`` bool, True on real frames.
        texts: ``B`` captions (``texts[i]`` describes ``features[i]``).
        clip_ids: ``B`` clip ids.
        group_ids: ``(B,)`` long negatives group of each clip (pairs of one group are never negatives).
    """

    features: torch.Tensor
    frame_mask: torch.Tensor
    texts: list[str]
    clip_ids: list[str]
    group_ids: torch.Tensor

    def to(self, device: torch.device | str) -> MotionTextBatch:
        """Copy of the batch with its tensors on ``device``."""
        return MotionTextBatch(
            features=self.features.to(device, non_blocking=True),
            frame_mask=self.frame_mask.to(device, non_blocking=True),
            texts=self.texts,
            clip_ids=self.clip_ids,
            group_ids=self.group_ids.to(device, non_blocking=True),
        )

    def as_model_input(self) -> dict[str, Any]:
        """The mapping ``MotionTextRetrieval.forward`` takes (``features``, ``frame_mask``, ``texts``,
        ``group_ids``)."""
        return {
            "features": self.features,
            "frame_mask": self.frame_mask,
            "texts": self.texts,
            "group_ids": self.group_ids,
        }

    def __len__(self) -> int:
        return len(self.texts)


def pad_motions(
    motions: Sequence[np.ndarray | torch.Tensor], pad_to: int | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Stack ``(T_i, C)`` arrays into a zero-padded batch and its frame mask.

    Args:
        motions: ``B`` arrays of shape ``(T_i, C)`` with ``T_i >= 1``.
        pad_to: pad every clip to this many frames (must be ``>= max T_i``); None = the longest clip.

    Returns:
        ``motion (B, T, C)`` float32 and ``frame_mask (B, T)`` bool.

    Raises:
        InvalidInputError: empty batch, wrong rank, mismatched channels, empty clip or ``pad_to`` too small.

    >>> x, m = pad_motions([np.ones((2, 3)), np.ones((4, 3))])
    >>> tuple(x.shape), m.sum(1).tolist()
    ((2, 4, 3), [2, 4])
    """
    if not motions:
        raise InvalidInputError("cannot collate an empty batch")
    arrays = [torch.as_tensor(np.asarray(m), dtype=torch.float32) for m in motions]
    for i, a in enumerate(arrays):
        if a.ndim != 2 or a.shape[0] < 1:
            raise InvalidInputError(f"motion {i} must have shape (T >= 1, C), got {tuple(a.shape)}")
        if a.shape[1] != arrays[0].shape[1]:
            raise InvalidInputError(
                f"motion {i} has {a.shape[1]} channels, motion 0 has {arrays[0].shape[1]}"
            )
    longest = max(a.shape[0] for a in arrays)
    length = longest if pad_to is None else pad_to
    if length < longest:
        raise InvalidInputError(f"pad_to={pad_to} is shorter than the longest clip ({longest} frames)")
    out = torch.zeros(len(arrays), length, arrays[0].shape[1], dtype=torch.float32)
    mask = torch.zeros(len(arrays), length, dtype=torch.bool)
    for i, a in enumerate(arrays):
        out[i, : a.shape[0]] = a
        mask[i, : a.shape[0]] = True
    return out, mask


def collate_motion_text(samples: Sequence[dict[str, Any]], pad_to: int | None = None) -> MotionTextBatch:
    """``DataLoader`` collate function for :class:`~backend.training.datasets.TextMotionDataset` samples.

    Args:
        samples: dicts with ``motion`` ``(T, C)``, ``text`` str, ``clip_id`` str and optional ``group`` int
            (default: each sample its own group).
        pad_to: see :func:`pad_motions` (the model's ``window_frames`` keeps every batch one image size).

    Returns:
        :class:`MotionTextBatch`.

    >>> b = collate_motion_text([{"motion": np.zeros((3, 2)), "text": "a", "clip_id": "x"}], pad_to=4)
    >>> tuple(b.features.shape), b.frame_mask.tolist(), b.texts
    ((1, 4, 2), [[True, True, True, False]], ['a'])
    """
    motion, mask = pad_motions([s["motion"] for s in samples], pad_to=pad_to)
    return MotionTextBatch(
        features=motion,
        frame_mask=mask,
        texts=[str(s["text"]) for s in samples],
        clip_ids=[str(s["clip_id"]) for s in samples],
        group_ids=torch.tensor(
            [int(s.get("group", -1 - i)) for i, s in enumerate(samples)], dtype=torch.long
        ),
    )
