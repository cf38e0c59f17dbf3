"""Codebooks of the centroid first stage (:mod:`backend.search.candidates`): trained once, remembered in the
process and cached in the index folder, so re-opening an index (a server restart, a new generation after an
add / remove) assigns only the patches of segments never seen before.

Cache layout (written by readers, best effort: never needed for correctness, a read-only index folder is
simply not cached; the writer neither reads nor removes it)::

    INDEX/candidates/c-<checksum[:16]>-k<K>-s<seed>/   a codebook folder, renamed into place whole:
        coarse.npy   (Kc, D) float32 coarse centroids
        fine.npy     (K, D) float32 fine centroids (the ones queries probe)
        cells.npy    (Kc,) int64 number of fine centroids of each coarse cell (in order)
        <segment>.npy  (nnz, 2) int32 [local window, centroid]: the distinct centroids of each window of
                     one segment (written atomically, :mod:`backend.atomic`); files of segments that are no longer live
                     are deleted by the next reader that saves one.

When two processes train a codebook for the same folder at once, the first rename wins and the other
process loads the winner, so segment files always match the codebook of their folder.
"""

from __future__ import annotations

import itertools
import os
import secrets
import shutil
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from backend.atomic import atomic_write
from backend.index.format import fsync_dir, save_npy

__all__ = ["CACHE_DIR", "Codebook", "PatchSource", "open_codebook"]

CACHE_DIR = "candidates"
PatchSource = Callable[[np.ndarray], tuple[torch.Tensor, torch.Tensor]]
"""``rows (n,) -> (emb (n, P, D), mask (n, P) bool)``, e.g. :meth:`Searcher.window_patches`."""

_MEMO: OrderedDict[Hashable, Codebook] = OrderedDict()
_MEMO_LOCK = threading.Lock()
_MEMO_SIZE = 2


@dataclass
class Codebook:
    """Two-level centroids and, per segment, the ``(local window, centroid)`` pairs of its windows.

    Attributes:
        coarse: ``(Kc, D)`` coarse centroids.
        fine: ``(K, D)`` fine centroids.
        cells: per coarse cell, the ids of its fine centroids.
        folder: its cache folder (None = not cached on disk).
        segments: segment name -> ``(local (nnz,) int32, centroid (nnz,) int32)``.
    """

    coarse: torch.Tensor
    fine: torch.Tensor
    cells: list[torch.Tensor]
    folder: Path | None = None
    segments: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)

    def assign(
        self, patches: PatchSource, local: np.ndarray, rows: np.ndarray, todo: np.ndarray, block: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """Distinct ``(local window, centroid)`` pairs of the windows ``todo`` (local ids of one segment
        whose live windows are ``local`` at rows ``rows``)."""
        span = int(local.max()) + 1
        row_of = np.full(span, -1, np.int64)
        row_of[local] = rows
        out_l, out_c = [], []
        for a in range(0, len(todo), block):
            loc = todo[a : a + block]
            emb, mask = patches(row_of[loc])
            x = emb[mask].float()
            win = torch.from_numpy(np.ascontiguousarray(loc, dtype=np.int64)).repeat_interleave(
                mask.sum(dim=1)
            )
            cell = (x @ self.coarse.T).argmax(dim=1)
            cid = torch.empty(len(x), dtype=torch.int64)
            for c, ids in enumerate(self.cells):
                sel = torch.nonzero(cell == c).flatten()
                if len(sel):
                    cid[sel] = ids[(x[sel] @ self.fine[ids].T).argmax(dim=1)]
            pairs = np.unique(cid.numpy() * span + win.numpy())
            out_l.append(pairs % span)
            out_c.append(pairs // span)
        if not out_l:
            return np.zeros(0, np.int32), np.zeros(0, np.int32)
        return np.concatenate(out_l).astype(np.int32), np.concatenate(out_c).astype(np.int32)

    def segment(self, name: str, n_local: int) -> tuple[np.ndarray, np.ndarray] | None:
        """Known pairs of a segment (memory, then the cache folder), or None."""
        got = self.segments.get(name)
        if got is None and self.folder is not None and name:
            try:
                arr = np.load(self.folder / f"{name}.npy", allow_pickle=False)
            except (OSError, ValueError):
                return None
            k = self.fine.shape[0]
            ok = arr.ndim == 2 and arr.shape[1] == 2 and arr.dtype == np.int32
            if not ok or (len(arr) and (arr.min() < 0 or arr[:, 0].max() >= n_local or arr[:, 1].max() >= k)):
                return None  # foreign or damaged file: recompute
            got = (np.ascontiguousarray(arr[:, 0]), np.ascontiguousarray(arr[:, 1]))
            self.segments[name] = got
        return got

    def remember(self, name: str, pairs: tuple[np.ndarray, np.ndarray], live: set[str]) -> None:
        """Keep a segment's pairs (and save them); forget segments that are no longer ``live``."""
        self.segments[name] = pairs
        for old in [n for n in self.segments if n not in live]:
            self.segments.pop(old, None)
        if self.folder is None or not name:
            return
        arr = np.stack(pairs, axis=1).astype(np.int32)
        try:
            atomic_write(
                self.folder / f"{name}.npy", lambda f: np.save(f, arr, allow_pickle=False), mkdir=False
            )
            for f in self.folder.glob("*.npy"):
                if f.stem not in live and f.stem not in ("coarse", "fine", "cells"):
                    f.unlink(missing_ok=True)
        except OSError:
            pass  # a read-only or full cache folder: the pairs are recomputed next time


def _load_folder(folder: Path) -> Codebook | None:
    try:
        coarse = torch.from_numpy(np.load(folder / "coarse.npy", allow_pickle=False))
        fine = torch.from_numpy(np.load(folder / "fine.npy", allow_pickle=False))
        sizes = np.load(folder / "cells.npy", allow_pickle=False)
    except (OSError, ValueError):
        return None
    if sizes.ndim != 1 or len(sizes) != len(coarse) or int(sizes.sum()) != len(fine) or (sizes < 1).any():
        return None
    starts = np.concatenate([[0], np.cumsum(sizes)])
    cells = [torch.arange(int(a), int(b)) for a, b in itertools.pairwise(starts)]
    return Codebook(coarse.float(), fine.float(), cells, folder)


def _save_folder(book: Codebook, folder: Path) -> Codebook:
    """Rename a new codebook folder into place; if another process won, use (load) its codebook."""
    tmp = folder.parent / f".{folder.name}.{secrets.token_hex(4)}.tmp"
    try:
        tmp.mkdir(parents=True)
        save_npy(tmp / "coarse.npy", book.coarse.numpy())
        save_npy(tmp / "fine.npy", book.fine.numpy())
        save_npy(tmp / "cells.npy", np.array([len(c) for c in book.cells], dtype=np.int64))
        os.rename(tmp, folder)
        fsync_dir(folder.parent)
        book.folder = folder
        return book
    except OSError:
        shutil.rmtree(tmp, ignore_errors=True)
        other = _load_folder(folder) if folder.is_dir() else None
        return other if other is not None else book


def open_codebook(
    key: Hashable,
    folder: Path | None,
    train: Callable[[], tuple[torch.Tensor, torch.Tensor, list[torch.Tensor]]],
) -> Codebook:
    """The codebook of ``key``: from this process's memo, else the cache ``folder``, else ``train()``.

    Args:
        key: memo key (index folder, model checksum, K, seed).
        folder: cache folder of this codebook in the index (None = no disk cache).
        train: returns ``(coarse, fine, cells)`` when nothing is cached.
    """
    with _MEMO_LOCK:
        book = _MEMO.get(key)
        if book is not None:
            _MEMO.move_to_end(key)
            return book
    book = _load_folder(folder) if folder is not None and folder.is_dir() else None
    if book is None:
        book = Codebook(*train())
        if folder is not None:
            book = _save_folder(book, folder)
    with _MEMO_LOCK:
        _MEMO[key] = book
        _MEMO.move_to_end(key)
        while len(_MEMO) > _MEMO_SIZE:
            _MEMO.popitem(last=False)
    return book
