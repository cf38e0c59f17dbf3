"""Symmetric InfoNCE with a learnable, capped temperature, and TMR-style caption filtering."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from backend.errors import ConfigError, InvalidInputError

__all__ = ["LogitScale", "caption_duplicate_mask", "info_nce", "normalise_caption"]


class LogitScale(nn.Module):
    """Learnable logit scale ``1 / temperature``, stored as its log and capped at ``max_scale``.

    Args:
        temperature_init: initial temperature (0.07: scale ~14.3).
        max_scale: cap on the scale (100: temperature >= 0.01). Gradients stop while the cap is active.
    """

    def __init__(self, temperature_init: float = 0.07, max_scale: float = 100.0) -> None:
        super().__init__()
        if not temperature_init > 0 or not max_scale >= 1:
            raise ConfigError(
                f"temperature_init={temperature_init} / max_logit_scale={max_scale} out of range"
            )
        self.max_log_scale = math.log(max_scale)
        self.log_scale = nn.Parameter(torch.tensor(math.log(1.0 / temperature_init)))

    def forward(self) -> torch.Tensor:
        """The current scale, a 0-dim tensor ``exp(min(log_scale, log(max_scale)))``."""
        return self.log_scale.clamp(max=self.max_log_scale).exp()


def info_nce(
    scores: torch.Tensor, logit_scale: torch.Tensor, exclude: torch.Tensor | None = None
) -> torch.Tensor:
    """Symmetric InfoNCE over a square score matrix whose diagonal holds the positives.

    Args:
        scores: ``(B, B)`` similarities, ``scores[i, j]`` = text ``i`` vs motion ``j``.
        logit_scale: 0-dim tensor multiplying the scores.
        exclude: optional ``(B, B)`` bool, True where an off-diagonal pair must not act as a negative
            (near-duplicate captions, the same clip twice). The diagonal is always kept.

    Returns:
        0-dim loss: mean of the text->motion and motion->text cross-entropies.

    >>> s = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    >>> round(info_nce(s, torch.tensor(1.0)).item(), 4)
    0.3133
    >>> info_nce(s, torch.tensor(1.0), torch.tensor([[False, True], [True, False]])).item()
    0.0
    """
    if scores.dim() != 2 or scores.shape[0] != scores.shape[1]:
        raise InvalidInputError(f"scores must be a square (B, B) matrix, got shape {tuple(scores.shape)}")
    n = scores.shape[0]
    logits = scores * logit_scale
    if exclude is not None:
        if exclude.shape != scores.shape or exclude.dtype != torch.bool:
            raise InvalidInputError(f"exclude must be a ({n}, {n}) bool tensor, got {tuple(exclude.shape)}")
        eye = torch.eye(n, dtype=torch.bool, device=scores.device)
        logits = logits.masked_fill(exclude & ~eye, float("-inf"))
    target = torch.arange(n, device=scores.device)
    return 0.5 * (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target))


_PUNCT = re.compile(r"[^\w\s]")
_SPACE = re.compile(r"\s+")


def normalise_caption(text: str) -> str:
    """Lower-case, drop punctuation, collapse whitespace (the duplicate test of caption filtering).

    >>> normalise_caption("  A person  WALKS forward. ")
    'a person walks forward'
    """
    return _SPACE.sub(" ", _PUNCT.sub(" ", text.lower())).strip()


def caption_duplicate_mask(
    texts: Sequence[str],
    embeddings: torch.Tensor | None = None,
    threshold: float | None = None,
    group_ids: torch.Tensor | None = None,
) -> torch.Tensor:
    """Pairs of captions that must not be negatives of each other.

    Args:
        texts: ``B`` captions; identical normalised texts are duplicates.
        embeddings: optional ``(B, E)`` L2-normalised sentence embeddings.
        threshold: with ``embeddings``, pairs with cosine >= threshold are duplicates.
        group_ids: optional ``(B,)`` integer ids; equal ids (e.g. the same clip twice) are duplicates.

    Returns:
        ``(B, B)`` bool, True = duplicate pair; the diagonal is False.

    >>> caption_duplicate_mask(["A man walks.", "a man walks", "jump"]).int().tolist()
    [[0, 1, 0], [1, 0, 0], [0, 0, 0]]
    """
    n = len(texts)
    device = embeddings.device if embeddings is not None else None
    keys = [normalise_caption(t) for t in texts]
    ids = {k: i for i, k in enumerate(dict.fromkeys(keys))}
    key_ids = torch.tensor([ids[k] for k in keys], device=device)
    dup = key_ids[:, None] == key_ids[None, :]
    if embeddings is not None and threshold is not None:
        if embeddings.dim() != 2 or embeddings.shape[0] != n:
            raise InvalidInputError(f"embeddings must be ({n}, E), got shape {tuple(embeddings.shape)}")
        e = embeddings.detach().float()
        dup |= (e @ e.T) >= threshold
    if group_ids is not None:
        if group_ids.shape != (n,):
            raise InvalidInputError(f"group_ids must be ({n},), got shape {tuple(group_ids.shape)}")
        g = group_ids.to(dup.device)
        dup |= g[:, None] == g[None, :]
    return dup & ~torch.eye(n, dtype=torch.bool, device=dup.device)
