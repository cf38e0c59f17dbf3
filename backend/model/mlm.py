"""Masked-language-model auxiliary task: BERT masking (15 %, 80/10/10) and a head tied to the embeddings."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from backend.errors import InvalidInputError

__all__ = ["IGNORE_INDEX", "MLMHead", "mask_tokens"]

#: label of positions that do not count in the MLM loss (PyTorch's cross-entropy default)
IGNORE_INDEX = -100


def mask_tokens(
    input_ids: torch.Tensor,
    valid: torch.Tensor,
    mask_token_id: int,
    replacement_ids: torch.Tensor,
    probability: float = 0.15,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """BERT-style masking of the valid tokens.

    Each valid token is selected with ``probability``; a selected token becomes ``[MASK]`` with
    probability 0.8, a random token from ``replacement_ids`` with 0.1, and stays unchanged with 0.1.
    Special tokens and padding (``valid`` False) are never selected. If a batch would get no selected
    token at all, its first valid token is selected, so the loss is always defined.

    Args:
        input_ids: ``(B, L)`` token ids.
        valid: ``(B, L)`` bool, True = maskable (not special, not padding).
        mask_token_id: id of ``[MASK]``.
        replacement_ids: ``(V',)`` ids random replacements are drawn from (normal tokens only).
        probability: selection probability in (0, 1).
        generator: optional RNG for reproducible masks (any device; draws move to ``input_ids``'s device).

    Returns:
        ``(masked_ids (B, L), labels (B, L))``: labels hold the original id at selected positions and
        :data:`IGNORE_INDEX` elsewhere.

    >>> ids = torch.tensor([[101, 7, 8, 9, 102, 0]])
    >>> valid = torch.tensor([[False, True, True, True, False, False]])
    >>> g = torch.Generator().manual_seed(0)
    >>> masked, labels = mask_tokens(ids, valid, 103, torch.arange(1000, 1010), 0.5, g)
    >>> bool(((labels != -100) <= valid).all()), bool((masked[~valid] == ids[~valid]).all())
    (True, True)
    """
    if input_ids.shape != valid.shape or valid.dtype != torch.bool:
        raise InvalidInputError(f"valid must be a bool tensor shaped like input_ids {tuple(input_ids.shape)}")
    if not 0.0 < probability < 1.0:
        raise InvalidInputError(f"mlm probability must be in (0, 1), got {probability}")
    if replacement_ids.numel() == 0:
        raise InvalidInputError("replacement_ids is empty")
    device = input_ids.device
    gen_device = generator.device if generator is not None else device  # a CPU generator works for CUDA ids

    def rand(shape: torch.Size) -> torch.Tensor:
        return torch.rand(shape, generator=generator, device=gen_device).to(device)

    selected = (rand(input_ids.shape) < probability) & valid
    if not selected.any() and valid.any():
        first = valid.flatten().nonzero()[0, 0]
        selected.view(-1)[first] = True
    labels = torch.where(selected, input_ids, torch.full_like(input_ids, IGNORE_INDEX))
    u = rand(input_ids.shape)
    to_mask = selected & (u < 0.8)
    to_random = selected & (u >= 0.8) & (u < 0.9)
    pick = torch.randint(
        0, replacement_ids.numel(), input_ids.shape, generator=generator, device=gen_device
    ).to(device)
    random_ids = replacement_ids.to(device)[pick]
    masked = torch.where(to_mask, torch.full_like(input_ids, mask_token_id), input_ids)
    masked = torch.where(to_random, random_ids, masked)
    return masked, labels


class MLMHead(nn.Module):
    """Fresh MLM head (dense -> GELU -> LayerNorm -> decoder) whose decoder weight is the word embedding.

    Args:
        word_embeddings: the text encoder's input embedding (``(V, H)`` weight); tied, not copied.
        layer_norm_eps: LayerNorm epsilon.
    """

    def __init__(self, word_embeddings: nn.Embedding, layer_norm_eps: float = 1e-12) -> None:
        super().__init__()
        vocab, hidden = word_embeddings.weight.shape
        self.dense = nn.Linear(hidden, hidden)
        self.norm = nn.LayerNorm(hidden, eps=layer_norm_eps)
        self.decoder = nn.Linear(hidden, vocab)
        self.decoder.weight = word_embeddings.weight  # tied
        nn.init.zeros_(self.decoder.bias)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        """Vocabulary logits.

        Args:
            hidden: ``(..., H)`` token states.

        Returns:
            ``(..., V)`` logits.
        """
        return self.decoder(self.norm(F.gelu(self.dense(hidden))))
