"""Token-level candidate generation for two-stage search (centroid interaction, after ColBERTv2 / PLAID).

The pooled first stage (one vector per window) loses what MaxSim is about: a window scores high when
*each* query token finds *some* patch that matches it. This stage keeps that structure at a fraction of
the cost, with a small structure built in memory from the decoded patches of one opened index generation
(an opened index is immutable; a new :class:`~backend.search.searcher.Searcher` rebuilds it, re-using the
centroids and the assignments of unchanged segments remembered in the process or cached in the index
folder by :mod:`backend.search.candidate_cache`, so a restart or an add / remove costs only new patches):

1. **Centroids.** Spherical k-means in two levels over a sample of valid patches: ``n_coarse`` cells,
   then ``n_fine`` centroids inside each cell, ``K = n_coarse * n_fine`` unit vectors in all. Every valid
   patch is assigned to its best coarse cell and then to the best fine centroid of that cell, so assigning
   costs ``n_coarse + n_fine`` dot products per patch instead of ``K`` (measured in docs/benchmarks.md).
   Deterministic for a given ``seed``.
2. **Inverted file.** For every centroid, the windows that have at least one patch assigned to it (CSR:
   ``offsets (K + 1,)``, ``windows (nnz,)`` int32, each window at most once per centroid).

Query (``L`` valid tokens): ``S = q C^T`` ``(L, K)``. Each token probes its ``nprobe`` best centroids.
A window gets, per token, the best score among the probed centroids it contains, or -- when the token
reached none of them -- the token's ``(nprobe + 1)``-th best centroid score (an upper bound of the
centroid score of every patch the token did not reach). The approximate window score is the mean over
tokens (MaxSim with each patch replaced by its centroid); the best ``n`` windows reached by at least one
token are the candidates, which the caller re-scores exactly with :func:`backend.model.scoring.maxsim`.

Memory: ``4 K D`` bytes of centroids plus at most 4 bytes per valid patch for the inverted file (and 8
bytes per (window, centroid) pair in the process-wide memo, the same on disk in the index's cache folder).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from backend.errors import InvalidInputError
from backend.search.candidate_cache import Codebook, PatchSource, open_codebook

__all__ = ["CentroidCandidates", "PatchSource", "auto_num_centroids", "spherical_kmeans"]


def auto_num_centroids(num_patches: int) -> int:
    """Default ``K``: the power of two nearest ``sqrt(num_patches)``, clamped to ``[16, 4096]``.

    >>> auto_num_centroids(1_120_000), auto_num_centroids(11_200_000), auto_num_centroids(100)
    (1024, 4096, 16)
    """
    k = 2 ** int(np.rint(np.log2(max(num_patches, 1)) / 2))
    return int(min(4096, max(16, k)))


def spherical_kmeans(x: torch.Tensor, k: int, iters: int = 10, seed: int = 0) -> torch.Tensor:
    """K-means on the unit sphere (cosine): ``(N, D)`` unit vectors -> ``(min(k, N), D)`` unit centroids.

    Starts from ``k`` distinct random points; an empty cluster is re-seeded with the point worst served
    by its centroid. Kept instead of ``faiss.Kmeans(spherical=True)``, measured on the real library (default
    model, 300 test captions, 5 seeds, docs/benchmarks.md "Search"): with faiss the default two-stage search
    had recall@10 0.988 (8 iterations) / 0.993 (16) against exact search instead of 0.995, and training the
    codebook on the 131k-patch sample took 2.5-3x (8) / 5x (16) as long on 2 CPU cores.
    """
    n = x.shape[0]
    k = min(k, n)
    g = torch.Generator().manual_seed(seed)
    c = x[torch.randperm(n, generator=g)[:k]].clone()
    for _ in range(iters):
        sim = x @ c.T
        best, assign = sim.max(dim=1)
        sums = torch.zeros_like(c).index_add_(0, assign, x)
        counts = torch.bincount(assign, minlength=k)
        empty = torch.nonzero(counts == 0).flatten()
        if len(empty):
            sums[empty] = x[torch.argsort(best)[: len(empty)]]
        c = F.normalize(sums, dim=1)
    return c


def _hierarchical(
    sample: torch.Tensor, k: int, iters: int, seed: int
) -> tuple[torch.Tensor, torch.Tensor, list[torch.Tensor]]:
    """Train the two-level codebook.

    Returns:
        ``coarse (Kc, D)``, ``fine (K, D)`` (cell ``c`` owns ``fine[first[c]:first[c+1]]``) and
        ``cells``: per coarse cell, the ids of its fine centroids.
    """
    n_coarse = 2 ** int(np.log2(max(k, 1)) // 2)
    n_fine = max(1, k // n_coarse)
    coarse = spherical_kmeans(sample, n_coarse, iters, seed)
    assign = (sample @ coarse.T).argmax(dim=1)
    fine, cells, start = [], [], 0
    for c in range(len(coarse)):
        members = sample[assign == c]
        f = coarse[c : c + 1] if len(members) == 0 else spherical_kmeans(members, n_fine, iters, seed + 1 + c)
        fine.append(f)
        cells.append(torch.arange(start, start + len(f)))
        start += len(f)
    return coarse, torch.cat(fine), cells


@dataclass
class CentroidCandidates:
    """Centroids and inverted file of one index generation (build with :meth:`build`).

    Attributes:
        centroids: ``(K, D)`` float32 unit centroids.
        offsets: ``(K + 1,)`` int64 CSR offsets into :attr:`windows`.
        windows: ``(nnz,)`` int32 window rows, grouped by centroid.
        num_windows: windows of the index (rows are ``0 .. num_windows - 1``).
        build_seconds: wall time of :meth:`build`.
    """

    centroids: torch.Tensor
    offsets: np.ndarray
    windows: np.ndarray
    num_windows: int
    build_seconds: float = 0.0

    @property
    def nbytes(self) -> int:
        """Bytes held in memory (centroids + inverted file)."""
        return int(self.centroids.numel() * 4 + self.offsets.nbytes + self.windows.nbytes)

    @classmethod
    def build(
        cls,
        patches: PatchSource,
        num_windows: int,
        num_patches: int,
        *,
        segments: list[tuple[str, np.ndarray, np.ndarray]] | None = None,
        cache_dir: Path | None = None,
        tag: str = "",
        k: int | None = None,
        sample_size: int = 131_072,
        iters: int = 8,
        block: int = 2048,
        seed: int = 0,
    ) -> CentroidCandidates:
        """Train centroids on a sample of valid patches (or re-use cached ones) and assign every patch.

        With ``cache_dir`` the codebook and the per-segment assignments are remembered in this process and
        cached in that folder (:mod:`backend.search.candidate_cache`): a later generation of the same index,
        or another process, re-uses them and assigns only the windows of segments it has not seen.

        Args:
            patches: reads the patches of window rows (see :data:`PatchSource`).
            num_windows: windows of the index (>= 1).
            num_patches: valid patches of the index (chooses the default ``k``).
            segments: ``(name, rows, local)`` per segment (``MotionIndex.segment_windows``); default one
                anonymous segment (nothing cached).
            cache_dir: the index's cache folder (``INDEX/candidates``); None = build from scratch.
            tag: names the embedding space (the model checksum): cached codebooks of another tag are ignored.
            k: centroids (default :func:`auto_num_centroids`).
            sample_size: training patches (drawn from random windows).
            iters: k-means iterations per level.
            block: windows read at a time while assigning.
            seed: sampling / k-means seed.

        Raises:
            InvalidInputError: ``num_windows < 1`` or ``k < 1``.
        """
        t0 = time.perf_counter()
        if num_windows < 1:
            raise InvalidInputError(f"centroid candidates need at least one window, got {num_windows}")
        k = auto_num_centroids(num_patches) if k is None else int(k)
        if k < 1:
            raise InvalidInputError(f"number of centroids must be >= 1, got {k}")

        def train() -> tuple[torch.Tensor, torch.Tensor, list[torch.Tensor]]:
            rng = np.random.default_rng(seed)
            per_window = max(1, num_patches // num_windows)
            n_win = min(num_windows, max(1, sample_size // per_window))
            emb, mask = patches(np.sort(rng.choice(num_windows, n_win, replace=False)))
            sample = F.normalize(emb[mask].float(), dim=1)
            if len(sample) > sample_size:
                sample = sample[torch.from_numpy(rng.choice(len(sample), sample_size, replace=False))]
            return _hierarchical(sample, k, iters, seed)

        if cache_dir is None:
            book = Codebook(*train())
        else:
            key = (str(Path(cache_dir).resolve()), tag, k, seed)
            book = open_codebook(key, Path(cache_dir) / f"c-{tag[:16]}-k{k}-s{seed}", train)
        if segments is None:
            rows = np.arange(num_windows)
            segments = [("", rows, rows)]
        live = {name for name, _, _ in segments}
        keys = []
        for name, rows, local in segments:
            if not len(rows):
                continue
            n_local = int(local.max()) + 1
            known = book.segment(name, n_local) if cache_dir is not None else None
            todo = local if known is None else local[~np.isin(local, known[0])]
            if len(todo):
                new = book.assign(patches, local, rows, todo, block)
                if known is not None:
                    new = (np.concatenate([known[0], new[0]]), np.concatenate([known[1], new[1]]))
                known = new
                if cache_dir is not None and name:
                    book.remember(name, known, live)
            if known is None:
                continue
            # local window -> live row (-1: removed since the assignment)
            to_row = np.full(max(n_local, int(known[0].max(initial=-1)) + 1), -1, np.int64)
            to_row[local] = rows
            g = to_row[known[0]]
            keep = g >= 0
            keys.append(known[1][keep].astype(np.int64) * num_windows + g[keep])
        key_all = np.concatenate(keys) if keys else np.zeros(0, dtype=np.int64)
        key_all.sort()
        n_cent = book.fine.shape[0]
        offsets = np.searchsorted(key_all // num_windows, np.arange(n_cent + 1)).astype(np.int64)
        windows = (key_all % num_windows).astype(np.int32)
        return cls(book.fine.contiguous(), offsets, windows, num_windows, time.perf_counter() - t0)

    def approximate(
        self, q: torch.Tensor, nprobe: int, allowed: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Approximate MaxSim of the windows reached by a query.

        Args:
            q: ``(L, D)`` valid query tokens (unit vectors).
            nprobe: centroids probed per token (>= 1).
            allowed: optional ``(num_windows,)`` bool; other windows are never returned.

        Returns:
            ``rows (n,)`` int64 reached windows (ascending) and ``scores (n,)`` float32 their
            approximate scores.
        """
        scores = self._scores(q, nprobe, allowed)
        rows = torch.nonzero(scores > -np.inf).flatten()
        return rows.numpy(), scores[rows].numpy()

    def _scores(self, q: torch.Tensor, nprobe: int, allowed: np.ndarray | None) -> torch.Tensor:
        """``(num_windows,)`` approximate scores, ``-inf`` for windows not reached (or not allowed)."""
        if nprobe < 1:
            raise InvalidInputError(f"nprobe must be >= 1, got {nprobe}")
        q = q.float()
        n_tok, k = q.shape[0], self.centroids.shape[0]
        out = torch.full((self.num_windows,), -np.inf)
        if n_tok == 0:
            return out
        sim = q @ self.centroids.T  # (L, K)
        top_v, top_i = sim.topk(min(nprobe + 1, k), dim=1)
        if nprobe < k:
            floor, top_v, top_i = top_v[:, nprobe], top_v[:, :nprobe], top_i[:, :nprobe]
        else:  # every centroid probed: every window is reached by every token
            floor = torch.full((n_tok,), -1.0)
        # per (token, window): the best probed centroid's gain over the token's floor (0 = not reached); the
        # window's score is the mean floor plus the mean gain (one zero-filled buffer, no floor broadcast)
        probe = top_i.numpy().ravel()
        starts = self.offsets[probe]
        lens = self.offsets[probe + 1] - starts
        total = int(lens.sum())
        if total == 0:
            return out
        pos = np.repeat(starts - (np.cumsum(lens) - lens), lens) + np.arange(total)
        win = self.windows[pos]
        gain = np.repeat((top_v - floor[:, None]).numpy().ravel(), lens)
        key = (
            np.repeat(np.repeat(np.arange(n_tok, dtype=np.int64) * self.num_windows, top_i.shape[1]), lens)
            + win
        )
        buf = torch.zeros(n_tok * self.num_windows)
        buf.scatter_reduce_(0, torch.from_numpy(key), torch.from_numpy(gain), reduce="amax")
        reached = np.zeros(self.num_windows, dtype=bool)
        reached[win] = True
        if allowed is not None:
            reached &= np.asarray(allowed, dtype=bool)
        score = buf.view(n_tok, self.num_windows).sum(dim=0).div_(n_tok).add_(floor.mean())
        return torch.where(torch.from_numpy(reached), score, out)

    def candidates(
        self, q: torch.Tensor, n: int, nprobe: int, allowed: np.ndarray | None = None
    ) -> np.ndarray:
        """The ``n`` reached windows with the best approximate score (best first).

        Args:
            q: ``(L, D)`` valid query tokens; n: how many (>= 1); nprobe: see :meth:`approximate`;
            allowed: optional ``(num_windows,)`` bool filter.

        Returns:
            ``(<= n,)`` int64 window rows.
        """
        scores = self._scores(q, nprobe, allowed)
        top_v, top_i = scores.topk(min(n, self.num_windows))
        return top_i[top_v > -np.inf].numpy()
