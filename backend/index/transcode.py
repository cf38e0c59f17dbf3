"""Re-store an index with another codec (no model needed): decode every live clip, write a new index.

Used to compare storage options on the same embeddings (``scripts/bench_search.py --real-index``). The copy
keeps the header (model checksum, window, stride), metadata, joints and caption bank; only the patch
storage changes. Decoding a lossy index and re-encoding it compounds the losses, so transcode from fp16.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from backend.errors import IndexError_
from backend.index.codecs import CODEC_NAMES, train_pq
from backend.index.store import MotionIndex
from backend.index.writer import CaptionPart, EncodedClip, IndexWriter, create_index

__all__ = ["transcode_index"]


def transcode_index(src: Path | str, dst: Path | str, codec: str, *, pq_m: int | None = None,
                    segment_clips: int = 500) -> MotionIndex:  # fmt: skip
    """Copy the live clips of ``src`` into a new index ``dst`` stored with ``codec``.

    Args:
        src: an index folder.
        dst: a new (absent or empty) folder.
        codec: ``fp16`` | ``int8`` | ``pq``.
        pq_m: PQ bytes per patch (default ``embed_dim // 4``).
        segment_clips: clips per written segment.

    Returns:
        The new index, opened.
    """
    index = MotionIndex.open(src)
    if codec not in CODEC_NAMES:
        raise IndexError_(f"codec must be one of {', '.join(CODEC_NAMES)}, got {codec!r}")
    dst = Path(dst)
    h = index.header
    codebook = None
    m = 0
    if codec == "pq":
        rng = np.random.default_rng(0)
        rows = rng.permutation(index.num_windows)[: max(1, 100_000 // h.num_patches)]
        emb, mask = index.window_patches(np.sort(rows))
        m = pq_m if pq_m is not None else max(1, h.embed_dim // 4)
        codebook = train_pq(emb[mask], m)
    header = dataclasses.replace(
        h, codec=codec, pq_m=m, segments=[], tombstones=[], caption_parts=[], generation=0
    )
    create_index(dst, header, codebook)
    pooled = index.pooled()
    for a in range(0, len(index), segment_clips):
        batch = []
        for pos in range(a, min(a + segment_clips, len(index))):
            rec = index.clips[pos]
            rows = index.clip_windows(pos)
            emb, mask = index.window_patches(rows)
            batch.append(EncodedClip(rec.meta, index.joints(rec.id), index.window_start[rows],
                                     index.window_length[rows], emb, mask, pooled[rows]))  # fmt: skip
        with IndexWriter(dst) as w:
            w.add(batch)
    bank = index.caption_bank()
    if len(bank):
        tokens = [
            np.asarray(bank.tokens[bank.offsets[i] : bank.offsets[i + 1]], np.float32)
            for i in range(len(bank))
        ]
        with IndexWriter(dst) as w:
            w.add([], captions=CaptionPart(list(bank.texts), tokens))
    return MotionIndex.open(dst)
