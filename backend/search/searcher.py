"""Text -> motion search (exact or two-stage MaxSim) over a :class:`MotionIndex`.

All scores come from :func:`backend.model.scoring.maxsim` (query tokens vs window patches). Modes:

* ``exact``: MaxSim of the query against every live window (chunked), used while the index (or the
  part left by duration filters) has at most ``exact_threshold`` windows;
* ``two_stage``: ``candidates`` windows from a first stage are re-scored exactly with MaxSim. First stages:

  - ``centroids`` (default from ``centroid_min_windows`` windows on): token-level centroid interaction
    (:mod:`backend.search.candidates`): every query token probes its ``nprobe`` nearest patch centroids, the
    windows reached are ranked by MaxSim with patches replaced by their centroids; built in memory when the
    searcher is created (seconds per million patches);
  - ``pooled``: the windows with the best pooled cosine (the query's ``TextEncoding.pooled`` vs each
    window's ``MotionEncoding.pooled``; both are L2-normalised means of their valid tokens,
    ``model.scoring.pooled_scores``); it also tops up the centroid stage when that reaches fewer windows.

A clip's score is its best window's score (windows are de-duplicated per clip) and a hit reports that
window as a time segment of the clip. Decoded patches are kept in memory as one padded tensor
``(N_windows, P, D)`` and ``(N_windows, P)`` masks, with an int8 copy for the re-rank's first pass; beyond
twice ``cache_bytes`` the re-rank reads the memory-mapped codes (int8) or decodes them, or reads an in-memory
int8 copy (``int8_rerank``): :func:`backend.search.rerank.patch_caches` says which, and when it is exact.
Query encodings are kept in a small LRU cache keyed by the text (a repeated query costs no encoding); new
queries are encoded with ONNX Runtime on CPU when available (``text_runtime``, :mod:`backend.model.text_onnx`).
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import threading
from typing import TYPE_CHECKING, Literal, get_args

import numpy as np
import torch

from backend.errors import InvalidInputError
from backend.index.store import MotionIndex
from backend.model.confidence import REFERENCE_RANKS, reference_score
from backend.model.expansion import EXPANSION_CAPTIONS, Expansion, expand_encoding
from backend.model.outputs import TextEncoding
from backend.model.scoring import maxsim, maxsim_one_query
from backend.model.text_onnx import TEXT_RUNTIMES, QueryEncoder, TextRuntime, make_query_encoder
from backend.search.bank import IndexExpansions
from backend.search.candidate_cache import CACHE_DIR
from backend.search.candidates import CentroidCandidates
from backend.search.hits import Hit, best_per_clip, window_hits
from backend.search.query_cache import FeatureCache, QueryCache, copy_encoding
from backend.search.rerank import ApproxRerank, index_int8_scores, near_top, patch_caches
from backend.search.selection import allowed_rows, pooled_candidates

if TYPE_CHECKING:
    from backend.model.retrieval import MotionTextRetrieval

__all__ = ["FirstStage", "SearchMode", "Searcher", "Strengths"]

log = logging.getLogger(__name__)

SearchMode = Literal["auto", "exact", "two_stage"]
FirstStage = Literal["auto", "centroids", "pooled"]
#: where alignment strengths come from (docs/api.md, "Strength normalisation")
Strengths = Literal["attention", "gradient"]


def _clip_features(model: MotionTextRetrieval | None, index: MotionIndex, clip_id: str) -> np.ndarray:
    """``(T, C)`` model features of a clip (the :class:`FeatureCache` compute function)."""
    if model is None:
        raise InvalidInputError("this Searcher has no model; pass one to encode text or motion")
    return model.featurize(index.joints(clip_id))


class Searcher:
    """Search an index with a model (thread-safe for concurrent queries).

    Args:
        index: an opened index.
        model: the retrieval model that built it (checked against the index checksum), or None for
            embedding-level use only (:meth:`search_tokens`).
        query_encoder: encodes query texts (``texts -> TextEncoding``, e.g. one
            :func:`backend.model.text_onnx.make_query_encoder` result shared by the searchers of a server);
            None = made from ``model`` and ``text_runtime`` at the first text query (an ONNX export, ~1 s).
        exact_threshold: largest number of windows scored exhaustively in ``auto`` mode.
        candidates: windows kept by the first stage of ``two_stage`` (re-scored exactly).
        first_stage: ``centroids`` | ``pooled`` | ``auto`` (``centroids`` when the index has at least
            ``centroid_min_windows`` windows, else ``pooled``).
        nprobe: centroids probed per query token by the ``centroids`` stage.
        n_centroids: centroids of that stage (default ``auto_num_centroids``: ~sqrt(valid patches)).
        centroid_min_windows: see ``first_stage``.
        query_cache: encodings of this many recent query texts kept (0 = none).
        cache_candidates: remember / cache the centroid stage's codebook and assignments (in the process
            and in ``INDEX/candidates``, see :mod:`backend.search.candidate_cache`); False = build afresh.
        cache_bytes: memory budget of the float32 patch cache (see module docstring).
        chunk_size: windows per MaxSim block over the whole cache (exact search).
        gather_block: windows gathered and scored at a time when re-ranking candidates.
        text_runtime: how query texts are encoded when no ``query_encoder`` is given: ``auto`` (ONNX Runtime
            on CPU if available), ``onnx``, ``onnx-int8``, ``torch`` (see
            :func:`backend.model.text_onnx.make_query_encoder`).
        strengths: where alignment strengths come from: ``attention`` (the score's own token x patch
            cosines, softmax attention; no extra pass) or ``gradient`` (gradient x input of the score, one
            forward + backward pass per explained hit; :mod:`backend.search.attribution`).
        attribution_steps: with ``gradient``: 1 = gradient x input; ``n > 1`` = integrated gradients with
            ``n`` steps (``n`` times the cost).
        int8_rerank: above twice ``cache_bytes`` of float32, re-rank from an in-memory int8 copy (if it fits
            in twice ``cache_bytes``; False = read the memory-mapped codes); opt-in: full searches were slower
            with it on the shared benchmark machine (docs/benchmarks.md).
        approx_rerank: score the re-rank's candidates from a compact copy of the float cache first and
            re-score exactly only those that can still reach the top (exact hits; :mod:`backend.search.rerank`):
            ``int8`` (an int8 copy, a quarter of the float32 bytes), ``auto`` (``int8`` where the CPU
            multiplies int8 fast, else ``off``), ``bf16`` (a bfloat16 copy) or ``off``.
        rescore: with an int8 copy of a non-int8 index, the candidate windows of this many best clips (at
            least ``2 k``) are re-scored exactly.
        expansion: caption-bank captions searched with each text query (:mod:`backend.model.expansion`;
            0 = the query alone).
    """

    def __init__(
        self,
        index: MotionIndex,
        model: MotionTextRetrieval | None = None,
        *,
        query_encoder: QueryEncoder | None = None,
        exact_threshold: int = 1024,
        candidates: int = 256,
        cache_bytes: int = 2 << 30,
        chunk_size: int = 256,
        gather_block: int = 32,
        first_stage: FirstStage = "auto",
        nprobe: int = 8,
        n_centroids: int | None = None,
        centroid_min_windows: int = 1024,
        query_cache: int = 256,
        cache_candidates: bool = True,
        text_runtime: TextRuntime = "auto",
        strengths: Strengths = "attention",
        attribution_steps: int = 1,
        int8_rerank: bool = False,
        approx_rerank: ApproxRerank = "auto",
        rescore: int = 64,
        expansion: int = EXPANSION_CAPTIONS,
    ) -> None:
        if model is not None:
            index.check_model(model.checksum())
        if exact_threshold < 0 or candidates < 1 or chunk_size < 1 or gather_block < 1:
            raise InvalidInputError("exact_threshold must be >= 0; candidates, chunk_size, gather_block >= 1")
        if first_stage not in ("auto", "centroids", "pooled"):
            raise InvalidInputError(f"first_stage must be auto, centroids or pooled, got {first_stage!r}")
        if nprobe < 1 or query_cache < 0 or (n_centroids is not None and n_centroids < 1):
            raise InvalidInputError("nprobe and n_centroids must be >= 1, query_cache >= 0")
        if text_runtime not in TEXT_RUNTIMES:
            raise InvalidInputError(f"text_runtime must be one of {', '.join(TEXT_RUNTIMES)}, got {text_runtime!r}")  # fmt: skip
        if rescore < 1:
            raise InvalidInputError(f"rescore must be >= 1, got {rescore}")
        self.rescore = rescore
        self.text_runtime = text_runtime
        if not isinstance(attribution_steps, int) or not 1 <= attribution_steps <= 64:
            raise InvalidInputError(f"attribution_steps must be an integer in 1..64, got {attribution_steps!r}")  # fmt: skip
        self.attribution_steps = attribution_steps
        if strengths not in get_args(Strengths):
            raise InvalidInputError(f"strengths must be one of {', '.join(get_args(Strengths))}, got {strengths!r}")  # fmt: skip
        self.strengths: Strengths = strengths
        if first_stage == "auto":
            first_stage = "centroids" if index.num_windows >= centroid_min_windows else "pooled"
        self.first_stage, self.nprobe, self.n_centroids = first_stage, nprobe, n_centroids
        self.queries, self.cache_candidates = QueryCache(query_cache), cache_candidates
        # no reference back to self: a cycle would keep every replaced searcher (and its patch cache, 0.7 GB on
        # the real library) alive until a full garbage collection, after each add / remove
        self.features = FeatureCache(functools.partial(_clip_features, model, index))
        self.gather_block = gather_block
        self.index = index
        self.model: MotionTextRetrieval | None = model
        self._query_encoder = query_encoder
        self.exact_threshold, self.candidates, self.chunk_size = exact_threshold, candidates, chunk_size
        self.n_windows = index.header.n_time
        self.window_clip = index.window_clip
        self.durations = np.array([r.duration for r in index.clips], dtype=np.float64)
        self.pooled = torch.from_numpy(index.pooled())
        self.masks = torch.from_numpy(index.masks())
        self.patches, self.codes, self.approx = patch_caches(index, self.masks, cache_bytes, int8=int8_rerank,
                                                             approx=approx_rerank)  # fmt: skip
        self._lock, self._build_lock, self._encoder_lock = (threading.Lock() for _ in range(3))
        self._bank: tuple[list[str], torch.Tensor, torch.Tensor] | None = None
        self.expansion, self.expansions = expansion, IndexExpansions(index, expansion, query_cache)
        self._centroids: CentroidCandidates | None = None
        if self.first_stage == "centroids" and index.num_windows:
            self.centroid_stage()

    def centroid_stage(self) -> CentroidCandidates:
        """The token-level first stage of this index generation (built on first use, once)."""
        with self._build_lock:
            if self._centroids is None:
                if not self.index.num_windows:
                    raise InvalidInputError(f"index {self.index.path} has no windows to build centroids on")
                n_patches = int(self.masks.sum())
                self._centroids = CentroidCandidates.build(
                    self.window_patches,
                    self.index.num_windows,
                    n_patches,
                    segments=self.index.segment_windows(),
                    cache_dir=self.index.path / CACHE_DIR if self.cache_candidates else None,
                    tag=self.index.header.model_checksum,
                    k=self.n_centroids,
                )
            return self._centroids

    # ------------------------------------------------------------------ embeddings
    def window_patches(self, rows: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        """``(n, P, D)`` patches (cache dtype) and ``(n, P)`` masks of some windows."""
        idx = torch.from_numpy(np.asarray(rows, dtype=np.int64))
        if self.patches is not None:
            return self.patches.index_select(0, idx), self.masks.index_select(0, idx)
        emb, mask = self.index.window_patches(np.asarray(rows))
        return torch.from_numpy(emb), torch.from_numpy(mask)

    def require_model(self) -> MotionTextRetrieval:
        """The searcher's model (raises :class:`InvalidInputError` if made without one: embeddings only)."""
        if self.model is None:
            raise InvalidInputError("this Searcher has no model; pass one to encode text or motion")
        return self.model

    @property
    def query_encoder(self) -> QueryEncoder:
        """The function that encodes query texts: the one given, else made from the model once, at first use."""
        with self._encoder_lock:
            if self._query_encoder is None:
                self._query_encoder, runtime = make_query_encoder(self.require_model(), self.text_runtime)
                log.info("query encoding runtime: %s", runtime)
            return self._query_encoder

    @query_encoder.setter
    def query_encoder(self, encode: QueryEncoder) -> None:
        with self._encoder_lock:
            self._query_encoder = encode

    def encode_query(self, text: str) -> TextEncoding:
        """Encode one query text -> ``TextEncoding`` (batch of 1).

        Raises:
            InvalidInputError: empty text or no valid token.
        """
        if not isinstance(text, str) or not text.strip():
            raise InvalidInputError("text must be a non-empty string")
        enc = self.queries.get(text)
        if enc is not None:
            return enc
        encode = self.query_encoder
        with torch.inference_mode():
            enc = encode([text])
        if not bool(enc.mask[0].any()):
            raise InvalidInputError(f"text {text[:50]!r} has no token the model can use")
        self.queries.put(text, enc)
        return copy_encoding(enc)  # ordinary tensors: callers may edit them, the cached ones stay

    # ------------------------------------------------------------------ scoring
    def score_rows(self, q: torch.Tensor, q_mask: torch.Tensor, rows: np.ndarray | None) -> np.ndarray:
        """Exact MaxSim of one query ``(L, D)`` against windows ``rows`` (None = all) -> ``(n,)``."""
        q, q_mask = q.float()[None], q_mask.bool()[None]
        if rows is None and self.patches is not None and self.patches.dtype == torch.float32:
            return maxsim(q, q_mask, self.patches, self.masks, chunk_size=self.chunk_size)[0].numpy()
        n = self.index.num_windows if rows is None else len(rows)
        out = np.empty(n, dtype=np.float32)
        q_valid = q[0][q_mask[0]]
        if not len(q_valid):  # as maxsim scores a query without a valid token: 0 everywhere
            out[:] = 0.0
            return out
        # small blocks, so that maxsim reads a gathered (or converted) block back from the CPU cache
        step = self.gather_block if self.patches is not None else self.chunk_size * 8
        for a in range(0, n, step):
            if rows is None and self.patches is not None:  # float16 cache: convert block by block
                d, dm = self.patches[a : a + step], self.masks[a : a + step]
            else:
                d, dm = self.window_patches(
                    np.arange(a, min(a + step, n)) if rows is None else rows[a : a + step]
                )
            out[a : a + step] = maxsim_one_query(q_valid, d, dm).numpy()
        return out

    def _rerank(self, q: torch.Tensor, q_mask: torch.Tensor, rows: np.ndarray, k: int) -> np.ndarray:
        """Scores of candidate windows ``rows``: exact MaxSim (at least for the best ``max(k, 11)`` clips),
        through the bfloat16 or the int8 copy when there is one."""
        if not bool(q_mask.any()):
            return self.score_rows(q, q_mask, rows)
        if self.approx is not None:  # every window that can reach the top is re-scored exactly
            q_valid = q.float()[q_mask.bool()]
            scores = self.approx.score(q_valid, rows)
            near = near_top(
                scores, self.window_clip[rows], max(k, REFERENCE_RANKS[1]), self.approx.bound(q_valid, rows)
            )
            scores[near] = self.score_rows(q, q_mask, rows[near])
            return scores
        if self.codes is None:  # an int8 index without a cache is scored on its stored codes, not decoded
            if self.patches is None and self.index.header.codec == "int8":
                return index_int8_scores(self.index, q.float()[q_mask.bool()], rows)
            return self.score_rows(q, q_mask, rows)
        scores = self.codes.score(q.float()[q_mask.bool()], rows, self.gather_block)
        if not self.codes.exact:  # int8 rounding of fp16 / pq patches: every window of the best clips is
            clips = self.window_clip[rows]  # re-scored exactly, so reported hits carry exact scores
            best = clips[best_per_clip(scores, clips, max(self.rescore, 2 * k))]
            top = np.nonzero(np.isin(clips, best))[0]
            scores[top] = self.score_rows(q, q_mask, rows[top])
        return scores

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
        clip_mask: np.ndarray | None = None,
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
            clip_mask: ``(N,)`` bool per clip (index order): only these clips (see
                :meth:`backend.index.filters.ClipFacets.mask`).

        Returns:
            Up to ``k`` hits sorted by descending score.
        """
        if not isinstance(k, int | np.integer) or not 1 <= k <= 1000:
            raise InvalidInputError(f"k must be an integer in 1..1000, got {k!r}")
        if mode not in ("auto", "exact", "two_stage"):
            raise InvalidInputError(f"mode must be auto, exact or two_stage, got {mode!r}")
        allowed = allowed_rows(self.durations, self.window_clip, min_duration, max_duration, clip_mask)
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
            rows = self._first_stage(q, q_mask, q_pooled, allowed, min(self.candidates, n_allowed))
            scores = self._rerank(q, q_mask, rows, k)
        n_ref = max(k, REFERENCE_RANKS[1])  # at least 11 clips: the confidence reference
        best = best_per_clip(scores, self.window_clip[rows], n_ref)
        ref = reference_score(scores[best]) if len(best) else float("nan")
        return [dataclasses.replace(h, reference=ref) for h in self.hits(rows[best[:k]], scores[best[:k]])]

    def _first_stage(self, q: torch.Tensor, q_mask: torch.Tensor, q_pooled: torch.Tensor | None,
                     allowed: np.ndarray | None, n: int) -> np.ndarray:  # fmt: skip
        """``(<= n,)`` candidate window rows of a query (``allowed``: rows passing the filters or None)."""
        rows = np.zeros(0, dtype=np.int64)
        if self.first_stage == "centroids":
            ok = None
            if allowed is not None:
                ok = np.zeros(self.index.num_windows, dtype=bool)
                ok[allowed] = True
            rows = self.centroid_stage().candidates(q[q_mask.bool()], n, self.nprobe, ok)
            if len(rows) >= n:
                return np.sort(rows)  # sorted rows read the memory-mapped segments in order
        return pooled_candidates(q, q_mask, q_pooled, self.pooled, allowed, rows, n)

    def hits(self, rows: np.ndarray, scores: np.ndarray) -> list[Hit]:
        """:class:`Hit` objects of window rows and their scores (in the given order)."""
        if not len(rows):
            return []
        emb, mask = self.window_patches(rows)
        return window_hits(self.index, rows, scores, emb, mask)

    def search_encoded(
        self,
        enc: TextEncoding,
        k: int = 10,
        *,
        row: int = 0,
        min_duration: float | None = None,
        max_duration: float | None = None,
        mode: SearchMode = "auto",
        clip_mask: np.ndarray | None = None,
    ) -> list[Hit]:
        """Search with an encoded query (``TextEncoding``; ``row`` selects the text)."""
        return self.search_tokens(enc.emb[row].float(), enc.mask[row].bool(), k, q_pooled=enc.pooled[row].float(),
                                  min_duration=min_duration, max_duration=max_duration, mode=mode,
                                  clip_mask=clip_mask)  # fmt: skip

    def search(self, text: str, k: int = 10, min_duration: float | None = None, max_duration: float | None = None,
               mode: SearchMode = "auto") -> list[Hit]:  # fmt: skip
        """Text -> the ``k`` best clips (encodes the text with the model, searches it expanded)."""
        enc, _ = self.expand(self.encode_query(text))
        return self.search_encoded(enc, k, min_duration=min_duration, max_duration=max_duration, mode=mode)

    def expand(self, enc: TextEncoding, row: int = 0) -> tuple[TextEncoding, Expansion]:
        """A query encoding expanded with its closest caption-bank captions (:mod:`backend.model.expansion`)
        and what it was expanded with; search with the first, align with ``enc``."""
        ex = self.expansions.expand(enc.emb[row][enc.mask[row].bool()])
        return (expand_encoding(enc, ex) if ex.captions else enc), ex

    # ------------------------------------------------------------------ caption bank
    def caption_bank(self) -> tuple[list[str], torch.Tensor, torch.Tensor]:
        """``(texts, emb (Nc, L, D) float32, mask (Nc, L))`` of the caption bank (loaded once)."""
        with self._lock:
            if self._bank is None:
                bank = self.index.caption_bank()
                emb, mask = bank.padded()
                self._bank = (bank.texts, emb, mask)
            return self._bank
