"""The index's caption bank as a query expander (:mod:`backend.model.expansion`), as a searcher uses it:

* built at the first text query (not at start-up), with the fallback a search needs: a bank that is damaged
  (reported by ``/health`` and ``index verify``) or cannot be read leaves queries unexpanded instead of
  failing every search;
* expansions are remembered per query (keyed by its valid token embeddings), like the query encodings: a
  repeated query finds its caption again without the bank scan (about 3 ms on the real library).
"""

from __future__ import annotations

import logging
import threading

import torch

from backend.errors import IndexError_, MotionSearchError
from backend.index.store import MotionIndex
from backend.model.expansion import CaptionExpander, Expansion
from backend.search.query_cache import LruCache

__all__ = ["IndexExpansions", "index_expander"]

log = logging.getLogger(__name__)


def index_expander(index: MotionIndex, captions: int) -> CaptionExpander:
    """A :class:`CaptionExpander` over ``index``'s caption bank adding ``captions`` captions (0 = none)."""
    if not captions:
        return CaptionExpander.empty()
    try:
        if index.caption_problem:
            raise IndexError_(index.caption_problem)
        bank = index.caption_bank()
        return CaptionExpander(bank.texts, bank.tokens, bank.offsets, captions)
    except MotionSearchError as exc:
        log.warning("caption bank unusable, queries are searched alone: %s", exc)
        return CaptionExpander.empty()


class IndexExpansions:
    """Expansions of query tokens with one index's caption bank (thread-safe).

    Args:
        index: the index whose caption bank expands the queries.
        captions: captions added to each query (0 = none).
        cache_size: expansions remembered (0 = none).
    """

    def __init__(self, index: MotionIndex, captions: int, cache_size: int) -> None:
        self.index, self.captions = index, captions
        self.cache: LruCache[bytes, Expansion] = LruCache(cache_size)
        self._expander: CaptionExpander | None = None
        self._lock = threading.Lock()

    def expander(self) -> CaptionExpander:
        """The bank's expander (read from the index once, at first use)."""
        with self._lock:
            if self._expander is None:
                self._expander = index_expander(self.index, self.captions)
            return self._expander

    def expand(self, q: torch.Tensor) -> Expansion:
        """The expansion of valid query tokens ``q (L, D)`` (remembered; the cached one is never edited)."""
        q = q.float()
        key = q.numpy().tobytes()
        ex = self.cache.get(key)
        if ex is None:
            ex = self.expander().expand(q)
            self.cache.put(key, ex)
        return ex
