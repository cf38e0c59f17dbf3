"""Late-interaction (MaxSim) and pooled scores: pure functions of tensors and boolean masks.

This is the project's only MaxSim. Masks are boolean with True = valid. Invalid document tokens are
excluded with ``-inf`` before the max (never by multiplying with 0), invalid query tokens are left out of
the mean. Embeddings are expected L2-normalised, so scores are cosines.

Edge cases (documented behaviour, never NaN):

* A document with no valid token: each valid query token's max is ``-inf``, so the score is ``-inf``
  (ranks last).
* A query with no valid token: the mean over zero tokens is defined as ``0.0``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from backend.errors import InvalidInputError

__all__ = [
    "maxsim",
    "maxsim_one_query",
    "maxsim_paired",
    "mean_pool",
    "pooled_scores",
    "token_patch_similarity",
]


def _check(name: str, x: torch.Tensor, mask: torch.Tensor) -> None:
    if x.dim() != 3:
        raise InvalidInputError(f"{name} must be (N, L, D), got shape {tuple(x.shape)}")
    if mask.shape != x.shape[:2]:
        raise InvalidInputError(
            f"{name}_mask must be {tuple(x.shape[:2])} to match {name}, got shape {tuple(mask.shape)}"
        )
    if mask.dtype != torch.bool:
        raise InvalidInputError(f"{name}_mask must be a bool tensor (True = valid), got {mask.dtype}")


def _reduce(token_max: torch.Tensor, q_mask: torch.Tensor) -> torch.Tensor:
    """Mean of ``token_max`` over valid query tokens.

    Args:
        token_max: ``(..., Lq)`` best document match per query token (``-inf`` for empty documents).
        q_mask: ``(..., Lq)`` bool, broadcastable to ``token_max``.

    Returns:
        ``(...)`` scores.
    """
    q_mask = q_mask.expand_as(token_max)
    total = torch.where(q_mask, token_max, torch.zeros((), dtype=token_max.dtype, device=token_max.device))
    count = q_mask.sum(dim=-1).clamp(min=1).to(token_max.dtype)
    return total.sum(dim=-1) / count


def maxsim(
    q: torch.Tensor,
    q_mask: torch.Tensor,
    d: torch.Tensor,
    d_mask: torch.Tensor,
    chunk_size: int = 64,
    query_chunk_size: int | None = None,
) -> torch.Tensor:
    """All-pairs MaxSim: mean over valid query tokens of the max cosine over valid document tokens.

    Computed block by block (``query_chunk_size`` queries x ``chunk_size`` documents), so the peak
    intermediate is ``(query_chunk_size, Lq, chunk_size, Ld)`` whatever ``Nq`` and ``Nd``.

    Args:
        q: ``(Nq, Lq, D)`` query token embeddings (e.g. text tokens).
        q_mask: ``(Nq, Lq)`` bool, True = valid query token.
        d: ``(Nd, Ld, D)`` document token embeddings (e.g. motion patches).
        d_mask: ``(Nd, Ld)`` bool, True = valid document token.
        chunk_size: documents per block (>= 1).
        query_chunk_size: queries per block; defaults to ``chunk_size``.

    Returns:
        ``(Nq, Nd)`` scores in the dtype of ``q``.

    >>> q = torch.tensor([[[1.0, 0.0], [0.0, 1.0]]])            # one query, two tokens
    >>> d = torch.tensor([[[1.0, 0.0], [0.6, 0.8]], [[0.0, 1.0], [9.0, 9.0]]])
    >>> maxsim(q, torch.tensor([[True, True]]), d, torch.tensor([[True, True], [True, False]]))
    tensor([[0.9000, 0.5000]])
    """
    _check("q", q, q_mask)
    _check("d", d, d_mask)
    if q.shape[-1] != d.shape[-1]:
        raise InvalidInputError(f"q and d embedding sizes differ: {q.shape[-1]} vs {d.shape[-1]}")
    qc = query_chunk_size if query_chunk_size is not None else chunk_size
    if chunk_size < 1 or qc < 1:
        raise InvalidInputError(f"chunk sizes must be >= 1, got {chunk_size} and {qc}")
    nq, lq, dim = q.shape
    nd, ld, _ = d.shape
    d = d.to(q.dtype)
    if nq == 0 or nd == 0:
        return q.new_zeros((nq, nd))
    neg_inf = torch.tensor(float("-inf"), dtype=q.dtype, device=q.device)
    rows = []
    for i in range(0, nq, qc):
        qb, qm = q[i : i + qc], q_mask[i : i + qc]
        a = qb.shape[0]
        blocks = []
        for j in range(0, nd, chunk_size):
            db, dm = d[j : j + chunk_size], d_mask[j : j + chunk_size]
            b = db.shape[0]
            sim = (qb.reshape(a * lq, dim) @ db.reshape(b * ld, dim).T).view(a, lq, b, ld)
            sim = torch.where(dm[None, None, :, :], sim, neg_inf)
            token_max = sim.amax(dim=-1).transpose(1, 2)  # (a, b, Lq)
            blocks.append(_reduce(token_max, qm[:, None, :]))
        rows.append(torch.cat(blocks, dim=1))
    return torch.cat(rows, dim=0)


def maxsim_one_query(q_valid: torch.Tensor, d: torch.Tensor, d_mask: torch.Tensor) -> torch.Tensor:
    """:func:`maxsim` of one query against a block of documents, the search re-rank's inner loop.

    Same score as ``maxsim(q[None], q_mask[None], d, d_mask)[0]`` (up to float rounding), with less work per
    block: the query arrives with only its valid tokens, so one matrix product, a max and a mean remain (the
    document mask is applied only when some patch is masked).

    Args:
        q_valid: ``(Lv, D)`` the query's valid token embeddings (``Lv >= 1``).
        d: ``(Nd, Ld, D)`` document token embeddings (converted to ``q_valid``'s dtype).
        d_mask: ``(Nd, Ld)`` bool valid document tokens.

    Returns:
        ``(Nd,)`` scores (``-inf`` for a document without a valid token).

    >>> q = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    >>> d = torch.tensor([[[1.0, 0.0], [0.6, 0.8]], [[0.0, 1.0], [9.0, 9.0]]])
    >>> maxsim_one_query(q, d, torch.tensor([[True, True], [True, False]]))
    tensor([0.9000, 0.5000])
    """
    if q_valid.dim() != 2 or q_valid.shape[0] < 1:
        raise InvalidInputError(f"q_valid must be (Lv >= 1, D), got {tuple(q_valid.shape)}")
    _check("d", d, d_mask)
    if q_valid.shape[-1] != d.shape[-1]:
        raise InvalidInputError(f"q and d embedding sizes differ: {q_valid.shape[-1]} vs {d.shape[-1]}")
    nd, ld, dim = d.shape
    # patches x tokens: the long side streams through one product against the small query (about 1.8x
    # faster than tokens x patches for a few hundred windows on 2 cores, docs/benchmarks.md)
    sim = (d.reshape(nd * ld, dim).to(q_valid.dtype) @ q_valid.T).view(nd, ld, len(q_valid))
    if not bool(d_mask.all()):
        sim.masked_fill_(~d_mask[:, :, None], float("-inf"))
    return sim.amax(dim=1).mean(dim=1)


def maxsim_paired(
    q: torch.Tensor, q_mask: torch.Tensor, d: torch.Tensor, d_mask: torch.Tensor
) -> torch.Tensor:
    """MaxSim of query ``i`` against document ``i`` only.

    Args:
        q: ``(N, Lq, D)``; q_mask: ``(N, Lq)`` bool.
        d: ``(N, Ld, D)``; d_mask: ``(N, Ld)`` bool.

    Returns:
        ``(N,)`` scores.

    >>> q = torch.tensor([[[1.0, 0.0]], [[0.0, 1.0]]])
    >>> d = torch.tensor([[[0.6, 0.8]], [[0.6, 0.8]]])
    >>> m = torch.ones(2, 1, dtype=torch.bool)
    >>> maxsim_paired(q, m, d, m)
    tensor([0.6000, 0.8000])
    """
    _check("q", q, q_mask)
    _check("d", d, d_mask)
    if q.shape[0] != d.shape[0] or q.shape[-1] != d.shape[-1]:
        raise InvalidInputError(
            f"paired q and d must share N and D, got {tuple(q.shape)} and {tuple(d.shape)}"
        )
    sim = torch.einsum("nqe,nde->nqd", q, d.to(q.dtype))
    sim = torch.where(
        d_mask[:, None, :], sim, torch.tensor(float("-inf"), dtype=sim.dtype, device=sim.device)
    )
    return _reduce(sim.amax(dim=-1), q_mask)


def mean_pool(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """L2-normalised mean of the valid tokens (an empty row gives the zero vector).

    Args:
        x: ``(N, L, D)`` token embeddings.
        mask: ``(N, L)`` bool, True = valid.

    Returns:
        ``(N, D)``.

    >>> x = torch.tensor([[[3.0, 0.0], [0.0, 4.0], [100.0, 100.0]]])
    >>> mean_pool(x, torch.tensor([[True, True, False]]))
    tensor([[0.6000, 0.8000]])
    """
    _check("x", x, mask)
    summed = x.masked_fill(~mask[..., None], 0.0).sum(dim=1)
    count = mask.sum(dim=1, keepdim=True).clamp(min=1).to(x.dtype)
    return F.normalize(summed / count, dim=-1)


def pooled_scores(q_pooled: torch.Tensor, d_pooled: torch.Tensor) -> torch.Tensor:
    """Cosine scores of pooled embeddings (the global-pooling baseline).

    Args:
        q_pooled: ``(Nq, D)``; d_pooled: ``(Nd, D)`` (L2-normalised).

    Returns:
        ``(Nq, Nd)``.

    >>> pooled_scores(torch.tensor([[1.0, 0.0]]), torch.tensor([[0.6, 0.8], [0.0, 1.0]]))
    tensor([[0.6000, 0.0000]])
    """
    if q_pooled.dim() != 2 or d_pooled.dim() != 2 or q_pooled.shape[1] != d_pooled.shape[1]:
        raise InvalidInputError(
            f"pooled embeddings must be (Nq, D) and (Nd, D), got {tuple(q_pooled.shape)} and {tuple(d_pooled.shape)}"
        )
    return q_pooled @ d_pooled.to(q_pooled.dtype).T


def token_patch_similarity(q: torch.Tensor, d: torch.Tensor) -> torch.Tensor:
    """Cosine of every query token with every document token (for alignment figures).

    Args:
        q: ``(Lq, D)`` query tokens; d: ``(Ld, D)`` document tokens.

    Returns:
        ``(Lq, Ld)``.

    >>> token_patch_similarity(torch.tensor([[1.0, 0.0]]), torch.tensor([[0.6, 0.8], [1.0, 0.0]]))
    tensor([[0.6000, 1.0000]])
    """
    if q.dim() != 2 or d.dim() != 2 or q.shape[1] != d.shape[1]:
        raise InvalidInputError(
            f"tokens must be (Lq, D) and (Ld, D), got {tuple(q.shape)} and {tuple(d.shape)}"
        )
    return q @ d.to(q.dtype).T
