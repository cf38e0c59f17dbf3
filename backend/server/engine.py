"""SearchEngine: the model, the index, search / describe / alignment and rendering glued together (no HTTP).

The engine holds one :class:`~backend.search.searcher.Searcher` over one committed generation of the index.
Reads (search, describe, motions, previews, explain) take whatever searcher is current, so they never
block each other. Writes (add / remove) are serialised by a lock, committed atomically by
:class:`~backend.index.writer.IndexWriter`, and then a new searcher is swapped in. A change committed by
another process (``python -m backend index add``) is picked up on the next request: the manifest's
signature (mtime, inode, size) is checked (one ``stat``) before every read.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import threading
from collections import OrderedDict
from pathlib import Path
from typing import TYPE_CHECKING, Any, get_args

import numpy as np

from backend.atomic import atomic_write_bytes
from backend.errors import CheckpointError, IndexError_, InvalidInputError
from backend.index.filters import ClipFacets, clip_commercial_use, clip_tags
from backend.model.confidence import ConfidenceMap
from backend.motion.clip import Clip
from backend.search.query_cache import LruCache
from backend.server.engine_writes import CLIP_ID_PATTERN, LibraryWrites, safe_name
from backend.server.errors import UnavailableError
from backend.server.schemas import AlignmentMode

if TYPE_CHECKING:
    from backend.model.retrieval import MotionTextRetrieval
    from backend.model.text_onnx import QueryEncoder
    from backend.search.hits import Hit
    from backend.search.searcher import Searcher
    from backend.server.settings import ServerSettings

__all__ = ["ALIGNMENT_CACHE_SIZE", "CLIP_ID_PATTERN", "EXPLAIN_CACHE_SIZE", "PREVIEW_POSES", "PREVIEW_SIZE",
           "SearchEngine"]  # fmt: skip

log = logging.getLogger(__name__)

PREVIEW_SIZE = (720, 180)
PREVIEW_POSES = 6
#: explanation figures kept in memory
EXPLAIN_CACHE_SIZE = 32
#: ``POST /alignment`` answers kept in memory (the panel asks again when a hit is re-selected)
ALIGNMENT_CACHE_SIZE = 256
#: deepest rank ``/search`` pages reach (``offset + k``)
MAX_RANKED_HITS = 1000
_PREVIEW_VERSION = "1"  # bump when the drawing changes, so cached PNGs are re-rendered
_HEADER = "header.json"


class SearchEngine(LibraryWrites):
    """Index + model + search + alignment + rendering.

    Args:
        model: the retrieval model, in eval mode.
        index_dir: the index folder (built with this model).
        preview_cache_dir: folder for cached preview PNGs (created on first use).
        model_name: name reported by ``/health`` (default: the index header's ``model_name``, or the
            checkpoint checksum).
        search_options: keyword arguments of every :class:`~backend.search.searcher.Searcher` it opens.
        query_encoder: encodes query texts for every searcher it opens (default: made here from the model and
            ``search_options["text_runtime"]``, so the ONNX export and int8 quantisation (~3 s) happen before the
            first search).
        confidence: the checkpoint's hit confidence map (``confidence.json``; None: hits carry
            ``confidence: null``).

    Raises:
        IndexError_: missing / corrupt index folder.
        IndexMismatchError: the index was built by another checkpoint.
    """

    def __init__(
        self,
        model: MotionTextRetrieval,
        index_dir: Path | str,
        *,
        preview_cache_dir: Path | str,
        model_name: str | None = None,
        search_options: dict[str, Any] | None = None,
        query_encoder: QueryEncoder | None = None,
        confidence: ConfidenceMap | None = None,
    ) -> None:
        self.model = model
        self.confidence = confidence
        self.search_options = dict(search_options or {})
        if query_encoder is None:
            from backend.model.text_onnx import make_query_encoder

            runtime_name = self.search_options.get("text_runtime", "auto")
            query_encoder, runtime = make_query_encoder(model, runtime_name)
            log.info("query encoding runtime: %s", runtime)
        self.query_encoder: QueryEncoder = query_encoder
        self.index_dir = Path(index_dir)
        self.preview_cache_dir = Path(preview_cache_dir)
        self._write_lock = threading.Lock()
        self._explain_lock = threading.Lock()
        self._explain_cache: OrderedDict[tuple[int, str, str], bytes] = OrderedDict()
        self._alignments: LruCache[tuple[int, str, str], dict[str, Any]] = LruCache(ALIGNMENT_CACHE_SIZE)
        self._header_mtime: tuple[int, int, int] | None = None
        self._facets: tuple[int, ClipFacets] | None = None  # (index generation, facets of that index)
        self._searcher: Searcher = self._open()
        name = model_name or self._searcher.index.header.model_name or "model"
        self.model_name = f"{name}@{model.checksum()[:12]}"

    # ------------------------------------------------------------------ loading
    @classmethod
    def load(cls, settings: ServerSettings) -> SearchEngine:
        """Load the checkpoint and open the index named by ``settings``.

        Raises:
            CheckpointError: missing / invalid checkpoint folder (names it).
            IndexError_: missing / invalid index folder (names it and how to build one).
            IndexMismatchError: the index was built by a different checkpoint.
        """
        import torch

        from backend.model.retrieval import MotionTextRetrieval

        if settings.torch_threads:
            torch.set_num_threads(settings.torch_threads)
        ckpt = Path(settings.checkpoint_dir)
        if not ckpt.is_dir():
            raise CheckpointError(f"checkpoint folder not found: {ckpt} (pass --checkpoint DIR)")
        index_dir = Path(settings.index_dir)
        if not (index_dir / _HEADER).is_file():
            raise IndexError_(
                f"no index at {index_dir.resolve()} (pass --index DIR; build one with "
                "'python -m backend index build')"
            )
        model = MotionTextRetrieval.from_pretrained(ckpt)
        options = {
            "candidates": settings.search_candidates,
            "text_runtime": settings.text_runtime,
            "attribution_steps": settings.attribution_steps,
            "strengths": settings.strengths,
            "expansion": settings.expansion,
        }
        engine = cls(model, index_dir, preview_cache_dir=settings.resolved_preview_cache_dir(),
                     model_name=None, search_options=options,
                     confidence=ConfidenceMap.for_checkpoint(ckpt))  # fmt: skip
        if not engine._searcher.index.header.model_name:
            engine.model_name = f"{ckpt.name}@{model.checksum()[:12]}"
        return engine

    def _manifest_mtime(self) -> tuple[int, int, int] | None:
        """``(mtime_ns, inode, size)`` of the manifest: every commit replaces it (new inode)."""
        try:
            st = os.stat(self.index_dir / _HEADER)
        except OSError:
            return None
        return st.st_mtime_ns, st.st_ino, st.st_size

    def _open(self) -> Searcher:
        from backend.index.store import MotionIndex
        from backend.search.searcher import Searcher

        mtime = self._manifest_mtime()
        index = MotionIndex.open(self.index_dir, expected_checksum=self.model.checksum())
        searcher = Searcher(index, self.model, query_encoder=self.query_encoder, **self.search_options)
        self._header_mtime = mtime
        return searcher

    def _current(self) -> Searcher:
        """The current searcher, reopened first when another process committed a change."""
        if self._manifest_mtime() != self._header_mtime and self._write_lock.acquire(timeout=30):
            try:
                if self._manifest_mtime() != self._header_mtime:
                    log.info("index %s changed on disk; reloading", self.index_dir)
                    self._searcher = self._open()
            finally:
                self._write_lock.release()
        return self._searcher

    def close(self) -> None:
        """Release the index (memory maps are dropped with the searcher)."""
        self._searcher = None  # type: ignore[assignment]

    # ------------------------------------------------------------------ info
    @property
    def library_size(self) -> int:
        """Number of live clips."""
        return len(self._current().index)

    def problems(self) -> list[str]:
        """What is damaged in the served index (the caption bank is checked at open); empty when sound."""
        problem = self._current().index.caption_problem
        return [f"caption bank: {problem}"] if problem else []

    def facets(self, s: Searcher | None = None) -> ClipFacets:
        """Datasets, tags and commercial use of the served clips (computed once per index generation)."""
        s = s or self._current()
        generation = s.index.header.generation
        if self._facets is None or self._facets[0] != generation:
            self._facets = (generation, ClipFacets.from_records(s.index.clips))
        return self._facets[1]

    def library_summary(self) -> dict[str, Any]:
        """``GET /library``: ``{"size", "datasets": [...], "tags": [...]}`` (see :meth:`ClipFacets.summary`)."""
        return self.facets().summary()

    # ------------------------------------------------------------------ search
    def search(self, text: str, k: int = 10, **options: Any) -> list[dict[str, Any]]:
        """Text -> up to ``k`` ``SearchHit`` dicts (docs/api.md), best first (:meth:`search_page`'s results)."""
        return self.search_page(text, k, **options)["results"]

    def search_page(self, text: str, k: int = 10, *, min_duration: float | None = None,
                    max_duration: float | None = None, alignment: str = "none",
                    datasets: list[str] | None = None, tags: list[str] | None = None,
                    commercial_safe: bool = False, offset: int = 0) -> dict[str, Any]:  # fmt: skip
        """Text -> the ``SearchResponse`` dict (docs/api.md): ``results`` (up to ``k`` ``SearchHit`` dicts,
        best first, each with its calibrated ``confidence``), ``no_close_match`` and ``confidence_threshold``.

        Args:
            alignment: which hits get an ``alignment`` (one attribution pass for all of them): ``none``
                (``null`` everywhere; :meth:`alignment` explains a hit on demand), ``top`` (the best hit)
                or ``all``.
            datasets, tags, commercial_safe: only clips of these datasets / with all these tags / whose
                licence allows commercial use.
            offset: skip the first ``offset`` hits of the ranking (paging; ``offset + k <= 1000``).
        """
        n_aligned = {"none": 0, "top": 1, "all": k}.get(alignment)
        if n_aligned is None:
            modes = ", ".join(get_args(AlignmentMode))
            raise InvalidInputError(f"alignment must be one of {modes}, got {alignment!r}")
        if offset < 0 or offset + k > MAX_RANKED_HITS:
            raise InvalidInputError(f"offset + k must be at most {MAX_RANKED_HITS}, got {offset} + {k}")
        s = self._current()
        mask = self.facets(s).mask(datasets, tags, commercial_safe)
        enc = s.encode_query(text)
        senc, ex = s.expand(enc)  # searched with its closest bank caption; aligned with the query's own words
        hits = s.search_encoded(
            senc, offset + k, min_duration=min_duration, max_duration=max_duration, clip_mask=mask
        )[offset:]
        aligned: list[dict[str, Any] | None] = [None] * len(hits)
        if n_aligned and hits:
            from backend.search.attribution import align_many

            first = align_many(s, enc, hits[:n_aligned])
            aligned[:n_aligned] = first
            for h, a in zip(hits, first):
                self._remember(s, text, h, a)
        results = [self._hit_dict(h, a) for h, a in zip(hits, aligned)]
        cal, no_close = self.confidence, None
        if cal is not None:
            for r, h in zip(results, hits):
                r["confidence"] = round(
                    float(cal.confidence(np.array([h.score]), h.reference, ex.coverage)[0]), 4
                )
            # the query's best hit decides (on a later page, the page's first hit is not it)
            top = s.search_encoded(senc, 1, min_duration=min_duration, max_duration=max_duration,
                                   clip_mask=mask) if offset else hits[:1]  # fmt: skip
            best = (
                float(cal.confidence(np.array([top[0].score]), top[0].reference, ex.coverage)[0])
                if top
                else 0.0
            )
            no_close = best < cal.threshold
        return {
            "results": results,
            "no_close_match": no_close,
            "confidence_threshold": None if cal is None else cal.threshold,
            "expanded_with": list(ex.captions),
        }

    def alignment(self, text: str, clip_id: str) -> dict[str, Any]:
        """Explain one clip for a text: ``{"id", "score", "segment", "alignment"}`` (``POST /alignment``).

        The clip's best window for the text is found by exact MaxSim over the clip's windows (the window a
        search hit reports, unless the two-stage search missed it), then attributed as ``/search`` does.
        The last :data:`ALIGNMENT_CACHE_SIZE` answers are kept, keyed by index generation (a re-selected hit
        costs nothing; alignments computed by ``/search`` are remembered too).

        Raises:
            NotFoundError: unknown clip id.
            InvalidInputError: empty text or no usable token.
        """
        s = self._current()
        cached = self._alignments.get((s.index.header.generation, text, clip_id))
        if cached is not None:
            return cached
        from backend.render.match import best_clip_window
        from backend.search.attribution import align_many

        enc = s.encode_query(text)
        hit = best_clip_window(s, s.expand(enc)[0], clip_id)  # the window /search reports
        return self._remember(s, text, hit, align_many(s, enc, [hit])[0])

    def _remember(self, s: Searcher, text: str, hit: Hit, alignment: dict[str, Any]) -> dict[str, Any]:
        """Cache and return the ``/alignment`` answer of a hit."""
        out = {"id": hit.clip_id, "score": float(hit.score),
               "segment": {"start": float(hit.start), "end": float(hit.end)}, "alignment": alignment}  # fmt: skip
        self._alignments.put((s.index.header.generation, text, hit.clip_id), out)
        return out

    @staticmethod
    def _hit_dict(hit: Hit, alignment: dict[str, Any] | None) -> dict[str, Any]:
        meta = hit.record.meta
        return {
            "id": hit.clip_id,
            "score": float(hit.score),
            "caption": hit.record.caption,
            "source": meta.source,
            "dataset": meta.dataset,
            "licence": meta.licence,
            "commercial_use": clip_commercial_use(meta),
            "tags": clip_tags(meta.labels),
            "duration": float(meta.duration),
            "segment": {"start": float(hit.start), "end": float(hit.end)},
            "alignment": alignment,
            "confidence": None,
        }

    # ------------------------------------------------------------------ describe
    def describe(self, joints: np.ndarray, fps: float, k: int = 5) -> dict[str, Any]:
        """Motion -> ``{"captions": [Caption], "similar_motions": [SearchHit]}``.

        ``similar_motions[i].alignment`` explains the similar clip with the best caption's words (it is
        empty when the caption bank is empty).
        """
        from backend.search.alignment import empty_alignment
        from backend.search.attribution import align_many
        from backend.search.description import caption_alignment, describe

        s = self._current()
        if s.index.caption_problem:
            raise UnavailableError(
                f"/describe is unavailable: the caption bank is damaged ({s.index.caption_problem}); "
                "rebuild the index or restore it from a backup"
            )
        d = describe(s, joints, float(fps), k)
        captions = [{"text": c.text, "score": float(c.score), "alignment": caption_alignment(s, d, c)}
                    for c in d.captions]  # fmt: skip
        enc = s.encode_query(d.captions[0].text) if d.captions else None
        if enc is not None:
            aligned = align_many(s, enc, d.similar)
        else:
            aligned = [empty_alignment(h.n_windows, h.start) for h in d.similar]
        similar = [self._hit_dict(h, a) for h, a in zip(d.similar, aligned)]
        return {"captions": captions, "similar_motions": similar}

    # ------------------------------------------------------------------ motions
    def clip(self, clip_id: str) -> Clip:
        """The canonical clip (joints + metadata); raises :class:`NotFoundError`."""
        index = self._current().index
        rec = index.record(clip_id)
        return Clip(joints=index.joints(clip_id), meta=rec.meta)

    @staticmethod
    def joints_to_list(joints: np.ndarray) -> list:
        """``(T, 22, 3)`` -> nested lists rounded to 0.01 mm (compact JSON)."""
        return np.round(np.asarray(joints, dtype=np.float64), 5).tolist()

    def clip_bvh(self, clip_id: str) -> str:
        """The clip as BVH text (SMPL-22 hierarchy, 20 fps, metres)."""
        from backend.motion.convert import clip_to_bvh

        clip = self.clip(clip_id)
        with tempfile.TemporaryDirectory(prefix="motion-search-bvh-") as tmp:
            path = Path(tmp) / f"{safe_name(clip_id)}.bvh"
            clip_to_bvh(clip, path)
            return path.read_text(encoding="utf-8")

    def preview_png(self, clip_id: str) -> bytes:
        """Filmstrip PNG of a clip, rendered once and cached on disk (atomic write)."""
        from backend.render.preview import render_filmstrip

        joints = self._current().index.joints(clip_id)
        digest = hashlib.sha256(f"{_PREVIEW_VERSION}\0{clip_id}\0".encode() + joints.tobytes()).hexdigest()[
            :24
        ]
        path = self.preview_cache_dir / f"{safe_name(clip_id)}-{digest}.png"
        try:
            return path.read_bytes()
        except OSError:
            pass
        png = render_filmstrip(joints, n_poses=PREVIEW_POSES, size=PREVIEW_SIZE)
        try:
            atomic_write_bytes(path, png)
        except OSError as exc:  # a read-only cache folder must not break previews
            log.warning("cannot cache preview %s: %s", path, exc)
        return png

    def explain_png(self, text: str, clip_id: str) -> bytes:
        """The explanation figure of ``text`` against clip ``clip_id`` (its best window).

        The last :data:`EXPLAIN_CACHE_SIZE` figures are kept in memory (the add-on asks again when a user
        re-selects a hit); the key includes the index generation, so a changed library re-renders.
        """
        from backend.render.match import explain_clip

        searcher = self._current()
        key = (searcher.index.header.generation, text, clip_id)
        with self._explain_lock:
            png = self._explain_cache.get(key)
            if png is not None:
                self._explain_cache.move_to_end(key)
                return png
        png = explain_clip(searcher, text, clip_id)
        with self._explain_lock:
            self._explain_cache[key] = png
            while len(self._explain_cache) > EXPLAIN_CACHE_SIZE:
                self._explain_cache.popitem(last=False)
        return png
