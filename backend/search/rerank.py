"""The re-rank's in-memory int8 copy of an index's patches, for indexes too large for a float cache.

Two-stage search re-scores a few hundred candidate windows exactly, and what that costs is reading their
patches: ``P x D`` float32 = 114 KB per window of 112 patches. When the whole index fits the searcher's
float32 budget, the patches are kept as float32 and read from memory; above twice that budget the re-rank
used to decode every candidate from the memory-mapped codec arrays on each query (about 100 us per window at
100k clips, most of a query). :class:`Int8Patches` keeps instead ``D`` int8 codes plus one float32 scale per
patch (``D + 4`` bytes, a quarter of float32), laid out ``(N, P, D)`` so that a block of candidate windows is
one gather; a block is converted to float32 in the CPU cache and scored by one matrix product:

    ``score(q, w) = mean_t max_p scale[w, p] * (q_t . code[w, p])``

With an int8 index (``codec = "int8"``, symmetric with one scale per patch, :class:`~backend.index.codecs.
Int8Codec`) the codes are the stored ones, so these scores equal exact MaxSim up to float rounding
(:attr:`exact`). From an fp16 index they are within the int8 rounding of exact (``|error| <= max|q| * scale / 2``
per dot product); the searcher then re-scores its best windows exactly (``Searcher(rescore=...)``).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import torch

from backend.errors import InvalidInputError
from backend.index.codecs import Int8Codec

__all__ = ["Int8Patches"]


class Int8Patches:
    """``(N, P, D)`` int8 codes, ``(N, P)`` float32 scales (0 at padding patches) and ``(N, P)`` masks.

    Args:
        codes: ``(N, P, D)`` int8.
        scales: ``(N, P)`` float32.
        masks: ``(N, P)`` bool scoring mask.
        exact: whether the codes are the index's own (int8 codec): scores are then exact MaxSim.
    """

    def __init__(self, codes: torch.Tensor, scales: torch.Tensor, masks: torch.Tensor, exact: bool) -> None:
        if codes.dtype != torch.int8 or codes.dim() != 3 or scales.shape != codes.shape[:2]:
            raise InvalidInputError(f"codes must be (N, P, D) int8 and scales (N, P); got {tuple(codes.shape)} "
                                    f"{codes.dtype} and {tuple(scales.shape)}")  # fmt: skip
        self.codes, self.scales, self.masks, self.exact = codes, scales.float(), masks.bool(), exact
        self.all_valid = bool(self.masks.all())

    @classmethod
    def build(
        cls,
        blocks: Iterable[tuple[int, np.ndarray, np.ndarray]],
        num_windows: int,
        num_patches: int,
        dim: int,
        *,
        exact: bool,
    ) -> Int8Patches:
        """Quantise decoded blocks ``(first row, emb (n, P, D) float32, mask (n, P))`` (``iter_decoded``)."""
        codes = torch.zeros((num_windows, num_patches, dim), dtype=torch.int8)
        scales = torch.zeros((num_windows, num_patches), dtype=torch.float32)
        masks = torch.zeros((num_windows, num_patches), dtype=torch.bool)
        codec = Int8Codec()  # the index's own int8 scheme: its codes come back unchanged from an int8 index
        for a, emb, mask in blocks:
            enc = codec.encode(np.asarray(emb, dtype=np.float32).reshape(-1, dim))
            codes[a : a + len(emb)] = torch.from_numpy(enc["patches"].reshape(len(emb), num_patches, dim))
            s = enc["scales"].reshape(len(emb), num_patches)
            scales[a : a + len(emb)] = torch.from_numpy(np.where(mask, s, 0.0).astype(np.float32))
            masks[a : a + len(emb)] = torch.from_numpy(np.asarray(mask, dtype=bool))
        return cls(codes, scales, masks, exact)

    @property
    def nbytes(self) -> int:
        """Bytes held (codes + scales + masks)."""
        return int(self.codes.numel() + self.scales.numel() * 4 + self.masks.numel())

    def score(self, q_valid: torch.Tensor, rows: np.ndarray, block: int = 32) -> np.ndarray:
        """MaxSim of one query's valid tokens ``(Lv, D)`` against windows ``rows`` -> ``(n,)`` float32.

        A window without a valid patch scores ``-inf`` (as :func:`backend.model.scoring.maxsim_one_query`).
        """
        q = q_valid.float()
        if q.dim() != 2 or q.shape[0] < 1 or q.shape[1] != self.codes.shape[2]:
            raise InvalidInputError(f"q_valid must be (Lv >= 1, {self.codes.shape[2]}); got {tuple(q.shape)}")
        idx = torch.from_numpy(np.asarray(rows, dtype=np.int64))
        out = torch.empty(len(idx), dtype=torch.float32)
        p, d = self.codes.shape[1], self.codes.shape[2]
        for a in range(0, len(idx), block):
            r = idx[a : a + block]
            sim = (q @ self.codes.index_select(0, r).reshape(-1, d).float().T).view(len(q), len(r), p)
            sim.mul_(self.scales.index_select(0, r)[None])
            if not self.all_valid:
                sim.masked_fill_(~self.masks.index_select(0, r)[None], float("-inf"))
            out[a : a + block] = sim.amax(dim=2).mean(dim=0)
        return out.numpy()
