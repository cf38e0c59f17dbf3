"""Small thread-safe LRU caches of :class:`backend.index.search.Searcher`.

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
from typing import Any

import numpy as np

__all__ = ["FeatureCache", "QueryCache", "copy_encoding"]


def copy_encoding(enc: Any) -> Any:
    """A copy of a ``TextEncoding`` whose tensors are new ordinary (not inference-mode) tensors."""
    return type(enc)(
        enc.emb.clone(),
        enc.mask.clone(),
        enc.input_ids.clone(),
        [list(w) for w in enc.words],
        enc.word_index.clone(),
        enc.pooled.clone(),
    )


class QueryCache:
    """LRU of ``text -> TextEncoding``.

    Args:
        size: most entries kept (0 = cache nothing); may be changed later through :attr:`size`.
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[str, Any] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._items)

    def texts(self) -> list[str]:
        """Cached texts, least recently used first."""
        with self._lock:
            return list(self._items)

    def get(self, text: str) -> Any | None:
        """A copy of the cached encoding of ``text``, or None."""
        with self._lock:
            enc = self._items.get(text)
            if enc is None:
                return None
            self._items.move_to_end(text)
        return copy_encoding(enc)

    def put(self, text: str, enc: Any) -> None:
        """Remember ``enc`` (not copied: the caller must not edit it afterwards)."""
        with self._lock:
            if self.size <= 0:
                self._items.clear()
                return
            self._items[text] = enc
            self._items.move_to_end(text)
            while len(self._items) > self.size:
                self._items.popitem(last=False)


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
