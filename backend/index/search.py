"""Text -> motion search (exact or two-stage MaxSim) over a :class:`MotionIndex`.

All scores come from :func:`backend.model.scoring.maxsim` (query tokens vs window patches). Modes:

* ``exact``: MaxSim of the query against every live window (chunked), used while the index (or the
  part left by duration filters) has at most ``exact_threshold`` windows;
* ``two_stage``: the ``candidates`` windows with the best pooled cosine (the query's
  ``TextEncoding.pooled`` vs each window's ``MotionEncoding.pooled``; both are L2-normalised means of their
  valid tokens, ``model.scoring.pooled_scores``) are re-scored exactly with MaxSim.

A clip's score is its best window's score (windows are de-duplicated per clip) and a hit reports that
window as a time segment of the clip. Decoded patches are kept in memory as one padded tensor
``(N_windows, P, D)`` (float32, or float16 when float32 would exceed ``cache_bytes``; beyond twice that,
patches are decoded from the memory-mapped codec arrays per query), plus ``(N_windows, P)`` masks.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch

from backend.errors import InvalidInputError
from backend.index.metadata import ClipRecord
from backend.index.store import MotionIndex
from backend.model.scoring import maxsim, pooled_scores

__all__ = ["Hit", "SearchMode", "Searcher", "best_per_clip"]

SearchMode = Literal["auto", "exact", "two_stage"]


@dataclass
class Hit:
    """One search result (a clip and its best window).

    Attributes:
        clip_id: the clip's id.
        score: MaxSim of the query and the best window.
        start: segment start in seconds (the best window's first frame / 20).
        end: segment end in seconds (exclusive, clamped to the clip).
        record: the clip's metadata.
        window_row: row of the window in the index's window arrays.
        window_start_frame: first frame of the window in the clip.
        window_length: real frames of the window.
        patches: ``(P, D)`` float32 patch embeddings of the window (for alignment).
        patch_mask: ``(P,)`` bool patches used by scoring.
        n_windows: time columns per window.
    """

    clip_id: str
    score: float
    start: float
    end: float
    record: ClipRecord
    window_row: int
    window_start_frame: int
    window_length: int
    patches: torch.Tensor
    patch_mask: torch.Tensor
    n_windows: int


def best_per_clip(scores: np.ndarray, clips: np.ndarray, k: int) -> np.ndarray:
    """Positions of the best-scoring entry of each clip, best first, at most ``k``.

    Args:
        scores: ``(n,)`` scores (``-inf`` = excluded).
        clips: ``(n,)`` clip of each entry.
        k: how many clips.

    Returns:
        ``(<= k,)`` positions into ``scores``.

    >>> best_per_clip(np.array([0.1, 0.9, 0.5, 0.8]), np.array([0, 0, 1, 1]), 5).tolist()
    [1, 3]
    """
    order = np.argsort(-scores, kind="stable")
    order = order[np.isfinite(scores[order])]
    _, first = np.unique(clips[order], return_index=True)
    return order[np.sort(first)][:k]


class Searcher:
    """Search an index with a model (thread-safe for concurrent queries).

    Args:
        index: an opened index.
        model: the ``MotionTextRetrieval`` that built it (checked against the index checksum), or None for
            embedding-level use only (:meth:`search_tokens`).
        exact_threshold: largest number of windows scored exhaustively in ``auto`` mode.
        candidates: windows kept by the pooled first stage of ``two_stage``.
        cache_bytes: memory budget of the float32 patch cache (see module docstring).
        chunk_size: windows per MaxSim block over the whole cache (exact search).
        gather_block: windows gathered and scored at a time when re-ranking candidates.
    """

    def __init__(
        self,
        index: MotionIndex,
        model: Any | None = None,
        *,
        exact_threshold: int = 1024,
        candidates: int = 256,
        cache_bytes: int = 2 << 30,
        chunk_size: int = 256,
        gather_block: int = 64,
    ) -> None:
        if model is not None:
            index.check_model(model.checksum())
        if exact_threshold < 0 or candidates < 1 or chunk_size < 1 or gather_block < 1:
            raise InvalidInputError("exact_threshold must be >= 0; candidates, chunk_size, gather_block >= 1")
        self.gather_block = gather_block
        self.index, self.model = index, model
        self.exact_threshold, self.candidates, self.chunk_size = exact_threshold, candidates, chunk_size
        h = index.header
        self.n_windows = h.n_time
        self.window_clip = index.window_clip
        self.durations = np.array([r.duration for r in index.clips], dtype=np.float64)
        self.pooled = torch.from_numpy(index.pooled())
        nbytes = index.num_windows * h.num_patches * h.embed_dim * 4
        self.patches: torch.Tensor | None = None
        self.masks = torch.from_numpy(index.masks())
        dtype = (
            torch.float32 if nbytes <= cache_bytes else torch.float16 if nbytes <= 2 * cache_bytes else None
        )
        if dtype is not None:
            self.patches = torch.empty((index.num_windows, h.num_patches, h.embed_dim), dtype=dtype)
            for a, emb, _ in index.iter_decoded():
                self.patches[a : a + len(emb)] = torch.from_numpy(emb).to(dtype)
        self._lock = threading.Lock()
        self._bank: tuple[list[str], torch.Tensor, torch.Tensor] | None = None

    # ------------------------------------------------------------------ embeddings
    def window_patches(self, rows: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        """``(n, P, D)`` patches (cache dtype) and ``(n, P)`` masks of some windows."""
        idx = torch.from_numpy(np.asarray(rows, dtype=np.int64))
        if self.patches is not None:
            return self.patches.index_select(0, idx), self.masks.index_select(0, idx)
        emb, mask = self.index.window_patches(np.asarray(rows))
        return torch.from_numpy(emb), torch.from_numpy(mask)

    def _require_model(self) -> Any:
        if self.model is None:
            raise InvalidInputError("this Searcher has no model; pass one to encode text or motion")
        return self.model

    def encode_query(self, text: str) -> Any:
        """Encode one query text -> ``TextEncoding`` (batch of 1).

        Raises:
            InvalidInputError: empty text or no valid token.
        """
        if not isinstance(text, str) or not text.strip():
            raise InvalidInputError("text must be a non-empty string")
        with torch.no_grad():  # not inference_mode: callers may edit the returned tensors
            enc = self._require_model().encode_text([text])
        if not bool(enc.mask[0].any()):
            raise InvalidInputError(f"text {text[:50]!r} has no token the model can use")
        return enc

    # ------------------------------------------------------------------ scoring
    def _allowed(self, min_duration: float | None, max_duration: float | None) -> np.ndarray | None:
        """Window rows passing the duration filter (None = all)."""
        if min_duration is None and max_duration is None:
            return None
        for name, v in (("min_duration", min_duration), ("max_duration", max_duration)):
            if v is not None and (not np.isfinite(v) or v < 0):
                raise InvalidInputError(f"{name} must be a finite number >= 0, got {v}")
        if min_duration is not None and max_duration is not None and min_duration > max_duration:
            raise InvalidInputError(
                f"min_duration {min_duration} is greater than max_duration {max_duration}"
            )
        ok = np.ones(len(self.durations), dtype=bool)
        if min_duration is not None:
            ok &= self.durations >= min_duration
        if max_duration is not None:
            ok &= self.durations <= max_duration
        return np.nonzero(ok[self.window_clip])[0]

    def score_rows(self, q: torch.Tensor, q_mask: torch.Tensor, rows: np.ndarray | None) -> np.ndarray:
        """Exact MaxSim of one query ``(L, D)`` against windows ``rows`` (None = all) -> ``(n,)``."""
        q, q_mask = q.float()[None], q_mask.bool()[None]
        if rows is None and self.patches is not None and self.patches.dtype == torch.float32:
            return maxsim(q, q_mask, self.patches, self.masks, chunk_size=self.chunk_size)[0].numpy()
        n = self.index.num_windows if rows is None else len(rows)
        out = np.empty(n, dtype=np.float32)
        # small blocks, so that maxsim reads a gathered (or converted) block back from the CPU cache
        step = self.gather_block if self.patches is not None else self.chunk_size * 8
        for a in range(0, n, step):
            if rows is None and self.patches is not None:  # float16 cache: convert block by block
                d, dm = self.patches[a : a + step], self.masks[a : a + step]
            else:
                d, dm = self.window_patches(
                    np.arange(a, min(a + step, n)) if rows is None else rows[a : a + step]
                )
            out[a : a + step] = maxsim(q, q_mask, d, dm, chunk_size=step)[0].numpy()
        return out

    def search_tokens(
        self,
        q: torch.Tensor,
        q_mask: torch.Tensor,
        k: int = 10,
        *,
        q_pooled: torch.Tensor | None = None,
        min_duration: float | None = None,
        max_duration: float | None = None,
        mode: SearchMode = "auto",
    ) -> list[Hit]:
        """Search with query token embeddings.

        Args:
            q: ``(L, D)`` query embeddings (text tokens, or motion patches for motion -> motion).
            q_mask: ``(L,)`` bool valid query tokens.
            k: number of clips (1..1000).
            q_pooled: ``(D,)`` pooled query for the first stage (default: normalised mean of valid tokens).
            min_duration: keep clips at least this long (seconds).
            max_duration: keep clips at most this long (seconds).
            mode: ``auto`` | ``exact`` | ``two_stage``.

        Returns:
            Up to ``k`` hits sorted by descending score.
        """
        if not isinstance(k, int | np.integer) or not 1 <= k <= 1000:
            raise InvalidInputError(f"k must be an integer in 1..1000, got {k!r}")
        if mode not in ("auto", "exact", "two_stage"):
            raise InvalidInputError(f"mode must be auto, exact or two_stage, got {mode!r}")
        allowed = self._allowed(min_duration, max_duration)
        n_allowed = self.index.num_windows if allowed is None else len(allowed)
        if n_allowed == 0:
            return []
        if mode == "auto":
            mode = "exact" if n_allowed <= self.exact_threshold else "two_stage"
        if mode == "exact":
            rows = allowed
            scores = self.score_rows(q, q_mask, rows)
            rows = np.arange(self.index.num_windows) if rows is None else rows
        else:
            if q_pooled is None:
                m = q_mask.bool()
                q_pooled = torch.nn.functional.normalize(q[m].float().mean(dim=0), dim=0)
            coarse = pooled_scores(q_pooled.float()[None], self.pooled)[0].numpy()
            if allowed is not None:
                keep = np.full(coarse.shape, -np.inf, dtype=np.float32)
                keep[allowed] = coarse[allowed]
                coarse = keep
            n = min(self.candidates, n_allowed)
            rows = np.argpartition(-coarse, n - 1)[:n]
            rows = rows[np.isfinite(coarse[rows])]
            scores = self.score_rows(q, q_mask, rows)
        best = best_per_clip(scores, self.window_clip[rows], k)
        return self._hits(rows[best], scores[best])

    def _hits(self, rows: np.ndarray, scores: np.ndarray) -> list[Hit]:
        if not len(rows):
            return []
        emb, mask = self.window_patches(rows)
        out = []
        for i, (r, s) in enumerate(zip(rows, scores)):
            rec = self.index.clips[int(self.window_clip[r])]
            start_f, length = int(self.index.window_start[r]), int(self.index.window_length[r])
            out.append(
                Hit(
                    rec.id,
                    float(s),
                    start_f / 20.0,
                    min(start_f + length, rec.num_frames) / 20.0,
                    rec,
                    int(r),
                    start_f,
                    length,
                    emb[i].float(),
                    mask[i],
                    self.n_windows,
                )
            )
        return out

    def search_encoded(
        self,
        enc: Any,
        k: int = 10,
        *,
        row: int = 0,
        min_duration: float | None = None,
        max_duration: float | None = None,
        mode: SearchMode = "auto",
    ) -> list[Hit]:
        """Search with an encoded query (``TextEncoding``; ``row`` selects the text)."""
        return self.search_tokens(
            enc.emb[row].float(),
            enc.mask[row].bool(),
            k,
            q_pooled=enc.pooled[row].float(),
            min_duration=min_duration,
            max_duration=max_duration,
            mode=mode,
        )

    def search(
        self,
        text: str,
        k: int = 10,
        min_duration: float | None = None,
        max_duration: float | None = None,
        mode: SearchMode = "auto",
    ) -> list[Hit]:
        """Text -> the ``k`` best clips (encodes the text with the model)."""
        return self.search_encoded(
            self.encode_query(text), k, min_duration=min_duration, max_duration=max_duration, mode=mode
        )

    def align(self, enc: Any, hit: Hit, row: int = 0) -> dict[str, Any]:
        """The ``Alignment`` dict (docs/api.md) of an encoded query and a hit."""
        from backend.index.alignment import compute_alignment

        return compute_alignment(
            enc,
            hit.patches,
            hit.patch_mask,
            hit.n_windows,
            hit.start,
            row=row,
            valid_frames=hit.window_length,
        )

    # ------------------------------------------------------------------ caption bank
    def caption_bank(self) -> tuple[list[str], torch.Tensor, torch.Tensor]:
        """``(texts, emb (Nc, L, D) float32, mask (Nc, L))`` of the caption bank (loaded once)."""
        with self._lock:
            if self._bank is None:
                bank = self.index.caption_bank()
                emb, mask = bank.padded()
                self._bank = (bank.texts, emb, mask)
            return self._bank
