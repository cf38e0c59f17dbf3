"""A small thread-safe LRU cache of encoded query texts (``TextEncoding``, batch of 1) for
:class:`backend.index.search.Searcher`: a repeated query costs no text encoding. Entries are handed out as
fresh copies (callers may edit them in place; the cached tensors never change)."""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

__all__ = ["QueryCache", "copy_encoding"]


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
