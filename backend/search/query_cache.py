"""Small thread-safe LRU caches of :class:`backend.search.searcher.Searcher`.

* :class:`LruCache`: the generic thread-safe LRU map (also the server's ``/alignment`` answers).
* :class:`QueryCache`: encoded query texts (``TextEncoding``, batch of 1): a repeated query costs no text
  encoding. Entries are handed out as fresh copies (callers may edit them in place; the cached tensors never
  change).
* :class:`FeatureCache`: a clip's model features (z-scored joint angles, ``model.featurize`` of its index
  joints) for the alignment's attribution pass: computing joint angles took a third of a ``/search`` with
  alignments (about 12 ms per hit on the real library), and the same clips come back query after query. A
  searcher serves one index generation, whose clips never change, so entries never go stale.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import TYPE_CHECKING, Generic, TypeVar

import numpy as np

if TYPE_CHECKING:
    from backend.model.outputs import TextEncoding

__all__ = ["FeatureCache", "LruCache", "QueryCache", "copy_encoding"]

K = TypeVar("K")
V = TypeVar("V")


def copy_encoding(enc: TextEncoding) -> TextEncoding:
    """A copy of a ``TextEncoding`` whose tensors are new ordinary (not inference-mode) tensors."""
    return type(enc)(
        enc.emb.clone(),
        enc.mask.clone(),
        enc.input_ids.clone(),
        [list(w) for w in enc.words],
        enc.word_index.clone(),
        enc.pooled.clone(),
    )


class LruCache(Generic[K, V]):
    """A thread-safe least-recently-used ``key -> value`` map.

    Args:
        size: most entries kept (0 = keep nothing); may be changed later through :attr:`size`.

    >>> c = LruCache(2)
    >>> c.put("a", 1); c.put("b", 2); _ = c.get("a"); c.put("c", 3)
    >>> c.keys(), c.get("b")
    (['a', 'c'], None)
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[K, V] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._items)

    def keys(self) -> list[K]:
        """Cached keys, least recently used first."""
        with self._lock:
            return list(self._items)

    def get(self, key: K) -> V | None:
        """The value of ``key`` (now the most recently used), or None."""
        with self._lock:
            value = self._items.get(key)
            if value is not None:
                self._items.move_to_end(key)
            return value

    def put(self, key: K, value: V) -> None:
        """Remember ``value`` (dropping the least recently used entries beyond :attr:`size`)."""
        with self._lock:
            if self.size <= 0:
                self._items.clear()
                return
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)


class QueryCache(LruCache[str, "TextEncoding"]):
    """LRU of ``text -> TextEncoding`` that hands out copies (the cached tensors never change).

    Args:
        size: most entries kept (0 = cache nothing).
    """

    def texts(self) -> list[str]:
        """Cached texts, least recently used first."""
        return self.keys()

    def get(self, text: str) -> TextEncoding | None:
        """A copy of the cached encoding of ``text``, or None."""
        enc = super().get(text)
        return None if enc is None else copy_encoding(enc)

    def put(self, text: str, enc: TextEncoding) -> None:
        """Remember ``enc`` (not copied: the caller must not edit it afterwards)."""
        super().put(text, enc)


class FeatureCache:
    """LRU of ``clip id -> (T, C) float32 features``, computed on a miss by ``compute(clip_id)``.

    Args:
        compute: the features of a clip id (e.g. ``model.featurize(index.joints(clip_id))``).
        size: most clips kept (0 = cache nothing).

    >>> calls = []
    >>> cache = FeatureCache(lambda c: calls.append(c) or np.zeros((2, 3)), size=1)
    >>> _ = cache.get("a"), cache.get("a"), cache.get("b"), cache.get("a")
    >>> calls
    ['a', 'b', 'a']
    """

    def __init__(self, compute: Callable[[str], np.ndarray], size: int = 256) -> None:
        self.compute, self.size = compute, size
        self._items: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, clip_id: str) -> np.ndarray:
        """The clip's features (read-only array; computed outside the lock on a miss)."""
        with self._lock:
            hit = self._items.get(clip_id)
            if hit is not None:
                self._items.move_to_end(clip_id)
                return hit
        feats = np.asarray(self.compute(clip_id), dtype=np.float32)
        feats.setflags(write=False)
        with self._lock:
            if self.size > 0:
                self._items[clip_id] = feats
                while len(self._items) > self.size:
                    self._items.popitem(last=False)
        return feats
