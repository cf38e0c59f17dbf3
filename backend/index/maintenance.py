"""Model-free index operations: remove clips, compact the segments, summarise an index.

Adding clips needs the model that built the index (:mod:`backend.search.build`); these do not.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from backend.index.store import MotionIndex
from backend.index.writer import IndexWriter

__all__ = ["compact_index", "index_info", "remove_from_index"]


def remove_from_index(index_dir: Path | str, ids: Iterable[str]) -> list[str]:
    """Remove clips by id (atomic; raises ``NotFoundError`` naming unknown ids)."""
    with IndexWriter(index_dir) as writer:
        return writer.remove(list(ids))


def compact_index(index_dir: Path | str) -> None:
    """Rewrite all live clips into one segment (drops tombstoned data)."""
    with IndexWriter(index_dir) as writer:
        writer.compact()


def index_info(index_dir: Path | str) -> dict[str, Any]:
    """Summary of an index: header fields, counts and storage bytes per clip."""
    index = MotionIndex.open(index_dir)
    h = index.header
    disk = index.disk_bytes()
    n = max(len(index), 1)
    emb_bytes = sum(v for k, v in disk.items() if k != "joints")
    return {
        "path": str(index.path),
        "format": h.format,
        "version": h.version,
        "generation": h.generation,
        "model_checksum": h.model_checksum,
        "model_name": h.model_name,
        "checkpoint_path": h.checkpoint_path,
        "codec": h.codec,
        "pq_m": h.pq_m,
        "embed_dim": h.embed_dim,
        "window_frames": h.window_frames,
        "stride": h.stride,
        "patches_per_window": h.num_patches,
        "clips": len(index),
        "windows": index.num_windows,
        "segments": len(h.segments),
        "tombstone_files": len(h.tombstones),
        "captions": len(index.caption_bank()),
        "bytes_per_clip_embeddings": emb_bytes / n,
        "bytes_per_clip_joints": disk.get("joints", 0) / n,
        "bytes_by_array": disk,
    }
