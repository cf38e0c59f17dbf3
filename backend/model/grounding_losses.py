"""Training terms that keep each patch's body-part identity in MaxSim's alignment (issue 11, both off by default).

Both work on the positive pairs of a batch (caption ``i`` with its own clip ``i``), on the token x patch cosines
MaxSim scores, softened over the clip's valid patches with ``grounding_temperature``:

* **part supervision** (:func:`part_supervision_loss`): a caption word that names a side / limb / body part
  (:func:`backend.model.lexicon.word_band_targets`; we generate most captions, so those words are reliable)
  should put its soft attention on that part's bands: the loss is ``-log`` of the attention mass on the target
  bands, averaged over such tokens. Every other token is free.
* **patch sharing** (:func:`patch_share_loss`): the soft attention of a caption's scored tokens, averaged,
  is a distribution over patches; its collision probability ``sum_p load_p^2`` is 1 when every word settles on
  one patch and ``1 / P`` when they spread out. The loss is that, rescaled to [0, 1].
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from backend.errors import InvalidInputError
from backend.model.config import RetrievalConfig
from backend.model.lexicon import word_band_targets
from backend.model.outputs import MotionEncoding, TextEncoding

__all__ = ["grounding_terms", "part_supervision_loss", "part_targets", "patch_share_loss"]


def part_targets(words: Sequence[Sequence[str]], word_index: torch.Tensor, n_bands: int) -> torch.Tensor:
    """``(B, L, n_bands)`` bool: the bands each token's word names (all False for other tokens).

    Args:
        words: per caption, its words.
        word_index: ``(B, L)`` word of each token (-1 for special / padding tokens).
        n_bands: bands of the motion image.

    >>> t = part_targets([["waves", "left", "hand"]], torch.tensor([[-1, 0, 1, 2, -1]]), 14)
    >>> t[0].nonzero().tolist()
    [[2, 10], [2, 12], [3, 10], [3, 12]]
    """
    b, length = word_index.shape
    out = torch.zeros(b, length, n_bands, dtype=torch.bool)
    for i, ws in enumerate(words):
        for w, bands in enumerate(word_band_targets(ws)):
            if bands:
                rows = (word_index[i] == w).nonzero().flatten().cpu()
                out[i, rows.unsqueeze(1), torch.tensor(sorted(bands)).unsqueeze(0)] = True
    return out.to(word_index.device)


def _attention(
    text: torch.Tensor, motion: torch.Tensor, motion_mask: torch.Tensor, temperature: float
) -> torch.Tensor:
    """``(B, L, P)`` log-softmax over each positive pair's valid patches of the token x patch cosines."""
    if text.dim() != 3 or motion.dim() != 3 or text.shape[0] != motion.shape[0]:
        raise InvalidInputError(
            f"paired text (B, L, D) and motion (B, P, D) expected, got {tuple(text.shape)} and {tuple(motion.shape)}"
        )
    sim = torch.einsum("bld,bpd->blp", text.float(), motion.float()) / temperature
    sim = sim.masked_fill(~motion_mask[:, None, :], float("-inf"))
    return torch.log_softmax(sim, dim=-1)


def part_supervision_loss(
    text: torch.Tensor,
    targets: torch.Tensor,
    motion: torch.Tensor,
    motion_mask: torch.Tensor,
    n_windows: int,
    temperature: float = 0.05,
) -> torch.Tensor:
    """Mean ``-log`` attention mass of part-naming tokens on their target bands (0 when no token names a part).

    Args:
        text: ``(B, L, D)`` token embeddings of the captions.
        targets: ``(B, L, n_bands)`` bool from :func:`part_targets`.
        motion: ``(B, P, D)`` patch embeddings of their own clips; ``P = n_bands * n_windows``, row-major.
        motion_mask: ``(B, P)`` bool valid patches.
        n_windows: windows per band.
        temperature: softmax temperature.

    >>> m = torch.eye(4)[None, :2]                          # two patches (2 bands x 1 window)
    >>> q = torch.eye(4)[None, :1]                          # one token equal to patch 0
    >>> tgt = torch.tensor([[[True, False]]])
    >>> round(part_supervision_loss(q, tgt, m, torch.ones(1, 2, dtype=torch.bool), 1, 0.1).item(), 4)
    0.0
    """
    logp = _attention(text, motion, motion_mask, temperature)  # (B, L, P)
    band_of_patch = torch.arange(motion.shape[1], device=motion.device) // n_windows
    on_target = targets[:, :, band_of_patch] & motion_mask[:, None, :]  # (B, L, P)
    named = on_target.any(dim=-1)
    if not bool(named.any()):
        return text.new_zeros(()).float()
    mass = torch.logsumexp(logp.masked_fill(~on_target, float("-inf")), dim=-1)  # (B, L)
    return -mass[named].mean()


def patch_share_loss(
    text: torch.Tensor,
    text_mask: torch.Tensor,
    motion: torch.Tensor,
    motion_mask: torch.Tensor,
    temperature: float = 0.05,
) -> torch.Tensor:
    """Rescaled collision probability of the captions' mean soft attention over patches, in [0, 1].

    Args:
        text: ``(B, L, D)``; text_mask: ``(B, L)`` bool scored tokens.
        motion: ``(B, P, D)``; motion_mask: ``(B, P)`` bool valid patches.
        temperature: softmax temperature.

    >>> m = torch.eye(4)[None, :2]; ok = torch.ones(1, 2, dtype=torch.bool)
    >>> same = torch.stack([torch.eye(4)[0]] * 2)[None]       # both tokens on patch 0
    >>> spread = torch.eye(4)[None, :2]                        # one token per patch
    >>> round(patch_share_loss(same, ok, m, ok, 0.01).item(), 3), round(patch_share_loss(spread, ok, m, ok, 0.01).item(), 3)
    (1.0, 0.0)
    """
    attn = _attention(text, motion, motion_mask, temperature).exp()  # (B, L, P)
    attn = attn * text_mask[:, :, None].to(attn.dtype)
    n_tok = text_mask.sum(dim=1).clamp(min=1).to(attn.dtype)
    load = attn.sum(dim=1) / n_tok[:, None]  # (B, P)
    n_valid = motion_mask.sum(dim=1).clamp(min=1).to(attn.dtype)
    collision = (load**2).sum(dim=1)
    floor = 1.0 / n_valid
    return ((collision - floor) / (1.0 - floor).clamp(min=1e-6)).clamp(min=0.0).mean()


def grounding_terms(
    config: RetrievalConfig,
    text: TextEncoding,
    motion: MotionEncoding,
    words: Sequence[Sequence[str]],
    word_index: torch.Tensor,
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """The enabled terms for a batch of positive pairs (caption ``i`` with clip ``i``).

    Returns:
        ``(weighted sum, {"part": loss, "patch_share": loss})`` with only the terms whose config weight is > 0
        (the sum is a 0-dim zero when none is).
    """
    mask = motion.valid if config.mask_padding_patches else torch.ones_like(motion.valid)
    terms: dict[str, torch.Tensor] = {}
    total = text.emb.new_zeros(()).float()
    if config.part_loss_weight > 0:
        targets = part_targets(words, word_index, len(config.band_channels or ()))
        terms["part"] = part_supervision_loss(
            text.emb, targets, motion.emb, mask, motion.n_windows, config.grounding_temperature
        )
        total = total + config.part_loss_weight * terms["part"]
    if config.patch_share_weight > 0:
        terms["patch_share"] = patch_share_loss(
            text.emb, text.mask, motion.emb, mask, config.grounding_temperature
        )
        total = total + config.patch_share_weight * terms["patch_share"]
    return total, terms
