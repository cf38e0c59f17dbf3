"""Batched, gradient-free encoding for evaluation: every clip's motion encoding, every text's scores.

Clips longer than the model's ``window_frames`` are centre-cropped (``prepare_motion_batch(crop="center")``);
scores are the model's own (:meth:`MotionTextRetrieval.score`). Used by :mod:`backend.evaluation.run` and
:mod:`backend.evaluation.suite`.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING

import numpy as np

from backend.errors import InvalidInputError

if TYPE_CHECKING:
    from backend.model.expansion import CaptionExpander
    from backend.model.outputs import MotionEncoding
    from backend.model.retrieval import MotionTextRetrieval

__all__ = ["encode_motions", "score_texts", "score_texts_expanded"]


def _autocast(model: MotionTextRetrieval, amp: bool) -> AbstractContextManager[object]:
    import contextlib

    import torch

    if amp and model.device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def encode_motions(
    model: MotionTextRetrieval, features: Sequence[np.ndarray], batch_size: int = 128, amp: bool = True
) -> MotionEncoding:
    """Encode every clip (centre crop, padding masked) and concatenate.

    Args:
        model: a :class:`~backend.model.retrieval.MotionTextRetrieval`.
        features: ``Nc`` arrays ``(T_i, C)``.
        batch_size: clips per forward pass.
        amp: bf16 autocast on CUDA.

    Returns:
        :class:`~backend.model.outputs.MotionEncoding` with ``emb (Nc, P, D)`` (float32).
    """
    import torch

    from backend.model.outputs import MotionEncoding

    if not features:
        raise InvalidInputError("no clips to encode")
    parts = []
    with torch.inference_mode(), _autocast(model, amp):
        for start in range(0, len(features), batch_size):
            x, mask = model.prepare_motion_batch(list(features[start : start + batch_size]), crop="center")
            parts.append(model.encode_motion(x, mask))
    return MotionEncoding(
        emb=torch.cat([p.emb.float() for p in parts]),
        mask=torch.cat([p.mask for p in parts]),
        pooled=torch.cat([p.pooled.float() for p in parts]),
        n_windows=parts[0].n_windows,
        valid=torch.cat([p.valid for p in parts]),
    )


def score_texts(
    model: MotionTextRetrieval,
    texts: Sequence[str],
    motion: MotionEncoding,
    batch_size: int = 128,
    amp: bool = True,
) -> np.ndarray:
    """Score every text against every encoded clip.

    Args:
        model: the retrieval model.
        texts: ``Nt`` queries.
        motion: :class:`MotionEncoding` of ``Nc`` clips (from :func:`encode_motions`).
        batch_size: texts per forward pass.
        amp: bf16 autocast on CUDA (encoding only; scores are computed in float32).

    Returns:
        ``(Nt, Nc)`` float32 scores (``model.score``).
    """
    import torch

    rows = []
    with torch.inference_mode():
        for start in range(0, len(texts), batch_size):
            with _autocast(model, amp):
                enc = model.encode_text(list(texts[start : start + batch_size]))
            enc.emb, enc.pooled = enc.emb.float(), enc.pooled.float()
            rows.append(model.score(enc, motion).float().cpu().numpy())
    return np.concatenate(rows).astype(np.float32)


def score_texts_expanded(
    model: MotionTextRetrieval,
    texts: Sequence[str],
    motion: MotionEncoding,
    expander: CaptionExpander,
    batch_size: int = 128,
) -> tuple[np.ndarray, np.ndarray]:
    """Score every text, searched as a search does (expanded with its closest bank caption,
    :mod:`backend.model.expansion`), against every encoded clip.

    Returns:
        ``(Nt, Nc)`` float32 scores (``model.score`` of the expanded token sets) and ``(Nt,)`` coverages.
    """
    import torch

    from backend.model.outputs import TextEncoding

    rows, cov = [], []
    with torch.inference_mode():
        for start in range(0, len(texts), batch_size):
            enc = model.encode_text(list(texts[start : start + batch_size]))
            exps = [expander.expand(enc.emb[i][enc.mask[i]].float().cpu()) for i in range(len(enc))]
            n = max(1, max(len(e.tokens) for e in exps))
            emb = torch.zeros((len(exps), n, enc.emb.shape[-1]))
            mask = torch.zeros((len(exps), n), dtype=torch.bool)
            for i, e in enumerate(exps):
                emb[i, : len(e.tokens)], mask[i, : len(e.tokens)] = e.tokens, True
            pooled = torch.nn.functional.normalize((emb * mask[..., None]).sum(1), dim=-1)
            x = TextEncoding(emb.to(model.device), mask.to(model.device), torch.zeros_like(mask, dtype=torch.long),
                             enc.words, torch.full_like(mask, -1, dtype=torch.long), pooled.to(model.device))  # fmt: skip
            rows.append(model.score(x, motion).float().cpu().numpy())
            cov += [e.coverage for e in exps]
    return np.concatenate(rows).astype(np.float32), np.asarray(cov, dtype=np.float64)
