"""Caption-caption similarity for the threshold protocol (a frozen sentence encoder, no training).

Sentence embedding = mean of the encoder's last hidden states over the attention mask (the pooling of
sentence-transformers' all-MiniLM-L6-v2), L2-normalised; similarity = cosine. The encoder is the *pretrained*
text model named by the checkpoint's config (``RetrievalConfig.text_model``), loaded afresh with
``transformers.AutoModel``, so fine-tuning never changes which captions count as near-identical.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from backend.errors import CheckpointError

__all__ = ["caption_similarity", "sentence_embeddings"]


def sentence_embeddings(
    texts: Sequence[str], text_model: str | Path, batch_size: int = 64, device: str = "cpu"
) -> np.ndarray:
    """Mean-pooled, L2-normalised sentence embeddings.

    Args:
        texts: ``N`` sentences.
        text_model: Hugging Face model name or local folder (``AutoModel``/``AutoTokenizer``).
        batch_size: sentences per forward pass.
        device: torch device string.

    Returns:
        ``(N, H)`` float32 unit vectors.

    Raises:
        CheckpointError: the text model cannot be loaded (names the path).
    """
    import torch
    from transformers import AutoModel, AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(str(text_model))
        model = AutoModel.from_pretrained(str(text_model)).to(device).eval()
    except (OSError, ValueError) as exc:
        raise CheckpointError(f"cannot load text model {text_model!s} for caption similarity: {exc}") from exc
    chunks: list[np.ndarray] = []
    with torch.inference_mode():
        for start in range(0, len(texts), batch_size):
            batch = tokenizer(
                list(texts[start : start + batch_size]), padding=True, truncation=True, return_tensors="pt"
            ).to(device)
            hidden = model(**batch).last_hidden_state  # (B, L, H)
            mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)  # (B, L, 1)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp_min(1.0)
            chunks.append(torch.nn.functional.normalize(pooled.float(), dim=-1).cpu().numpy())
    if not chunks:
        return np.zeros((0, int(model.config.hidden_size)), dtype=np.float32)
    return np.concatenate(chunks).astype(np.float32)


def caption_similarity(
    texts: Sequence[str], text_model: str | Path, batch_size: int = 64, device: str = "cpu"
) -> np.ndarray:
    """Cosine similarity of every pair of captions.

    Args:
        texts: ``N`` captions.
        text_model: see :func:`sentence_embeddings`.
        batch_size: sentences per forward pass.
        device: torch device string.

    Returns:
        ``(N, N)`` float32, ``1`` on the diagonal (up to rounding).
    """
    emb = sentence_embeddings(texts, text_model, batch_size=batch_size, device=device)
    return emb @ emb.T
