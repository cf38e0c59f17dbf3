"""Output dataclasses of the retrieval model (shapes documented; one return type per function)."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

__all__ = ["MotionEncoding", "RetrievalOutput", "TextEncoding"]


@dataclass
class TextEncoding:
    """Encoded captions / queries.

    Attributes:
        emb: ``(B, L, D)`` L2-normalised token embeddings (padding rows are present but masked).
        mask: ``(B, L)`` bool, True = valid token (attention mask and not a special token: [CLS], [SEP]
            and [PAD] are False, identically for every batch size).
        input_ids: ``(B, L)`` long token ids.
        words: per text, its words (original spelling, split as the tokenizer's pre-tokenizer splits:
            punctuation is its own word) that have at least one token after truncation.
        word_index: ``(B, L)`` long, index into ``words[b]`` of the word each token belongs to (word
            pieces of one word share it); -1 for special and padding tokens.
        pooled: ``(B, D)`` L2-normalised mean of the valid token embeddings (global-pooling baseline).
    """

    emb: torch.Tensor
    mask: torch.Tensor
    input_ids: torch.Tensor
    words: list[list[str]]
    word_index: torch.Tensor
    pooled: torch.Tensor

    def __len__(self) -> int:
        return int(self.emb.shape[0])

    def to(self, device: torch.device | str) -> TextEncoding:
        """A copy with every tensor on ``device``."""
        return TextEncoding(
            self.emb.to(device),
            self.mask.to(device),
            self.input_ids.to(device),
            self.words,
            self.word_index.to(device),
            self.pooled.to(device),
        )


@dataclass
class MotionEncoding:
    """Encoded motion windows.

    Attributes:
        emb: ``(B, P, D)`` L2-normalised patch embeddings, ``P = 14 * n_windows``; patch ``p`` is
            (band ``p // n_windows``, window ``p % n_windows``).
        mask: ``(B, P)`` bool, the patches scoring uses: ``valid`` when the config masks padding patches,
            all True otherwise (the paper's behaviour).
        pooled: ``(B, D)`` L2-normalised mean of the ``mask``-ed patches (global-pooling baseline).
        n_windows: time windows per clip (``window_frames // 16``).
        valid: ``(B, P)`` bool, True = the patch's window holds at least one real frame.
    """

    emb: torch.Tensor
    mask: torch.Tensor
    pooled: torch.Tensor
    n_windows: int
    valid: torch.Tensor = field(default=None)  # type: ignore[assignment]

    def __post_init__(self) -> None:
        if self.valid is None:
            self.valid = self.mask

    def __len__(self) -> int:
        return int(self.emb.shape[0])

    def to(self, device: torch.device | str) -> MotionEncoding:
        """A copy with every tensor on ``device``."""
        return MotionEncoding(
            self.emb.to(device),
            self.mask.to(device),
            self.pooled.to(device),
            self.n_windows,
            self.valid.to(device),
        )


@dataclass
class RetrievalOutput:
    """Result of one training forward pass.

    Attributes:
        loss: 0-dim total loss ``contrastive_loss + mlm_weight * mlm_loss`` + the weighted ``aux_losses``.
        contrastive_loss: 0-dim symmetric InfoNCE.
        mlm_loss: 0-dim masked-LM loss (0 when ``mlm_weight == 0``).
        scores: ``(B, B)`` similarity matrix, ``scores[i, j]`` = text ``i`` vs motion ``j``.
        logit_scale: 0-dim current ``1 / temperature`` (capped).
        aux_losses: the enabled grounding terms by name (``part``, ``patch_share``), unweighted 0-dim
            tensors (already added to ``loss`` with their config weights).
    """

    loss: torch.Tensor
    contrastive_loss: torch.Tensor
    mlm_loss: torch.Tensor
    scores: torch.Tensor
    logit_scale: torch.Tensor
    aux_losses: dict[str, torch.Tensor] = field(default_factory=dict)
