"""Synthetic embeddings and index writing for ``scripts/bench_search.py``.

One 160-frame window per clip (P = 140 patches = 14 bands x 10 columns, D = 256, every patch valid); a patch is
``normalise(topic template[patch] + 0.7 * clip vector + noise)`` with 64 topics, each clip generated from its own
seed (so any clip can be regenerated alone); a token query is 10 noisy patches of one clip.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from backend.index.codecs import train_pq
from backend.index.format import IndexHeader
from backend.index.store import MotionIndex
from backend.index.writer import EncodedClip, IndexWriter, create_index
from backend.motion.clip import ClipMeta

__all__ = [
    "N_TIME",
    "QUERY_LEN",
    "TEXTS",
    "TOPICS",
    "D",
    "P",
    "synth",
    "token_queries",
    "topics",
    "write_index",
]

P, D, N_TIME, TOPICS, QUERY_LEN = 140, 256, 10, 64, 10
TEXTS = [
    "a person walks forward",
    "someone waves goodbye with the left hand",
    "a man kicks with his right leg",
    "a person bows politely",
    "a woman dances happily",
    "a person runs and then stops",
    "someone jumps in place",
    "an old man walks slowly with a cane",
    "a person raises both arms above the head",
    "a person punches twice",
    "a tired person sits down",
    "someone turns around to the left",
    "a child skips forward",
    "a person crouches",
    "a person throws a ball overhand",
    "someone climbs up stairs",
    "a person stretches the arms",
    "a person claps",
    "a proud man walks with his chest out",
    "a person picks something up from the floor",
]


# ---------------------------------------------------------------------- synthetic data
def topics(seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(TOPICS, P, D, generator=g)


def synth(start: int, n: int, tpl: torch.Tensor, seed: int = 0) -> torch.Tensor:
    """Patches of clips ``start .. start + n`` (each clip from its own seed): ``(n, P, D)`` unit vectors."""
    out = torch.empty(n, P, D)
    for i in range(n):
        g = torch.Generator().manual_seed(seed * 1_000_003 + start + i)
        topic = int(torch.randint(TOPICS, (1,), generator=g))
        out[i] = tpl[topic] + 0.7 * torch.randn(1, D, generator=g) + torch.randn(P, D, generator=g)
    return F.normalize(out, dim=-1)


def token_queries(n: int, n_clips: int, tpl: torch.Tensor, seed: int = 1) -> torch.Tensor:
    """``(n, QUERY_LEN, D)`` queries, each 10 noisy patches of one random clip."""
    g = torch.Generator().manual_seed(seed)
    out = []
    for _ in range(n):
        c = int(torch.randint(n_clips, (1,), generator=g))
        pos = torch.randperm(P, generator=g)[:QUERY_LEN]
        x = synth(c, 1, tpl)[0, pos]
        out.append(F.normalize(x + 0.05 * torch.randn(QUERY_LEN, D, generator=g), dim=-1))
    return torch.stack(out)


def write_index(
    path: Path, n: int, codec: str, checksum: str, tpl: torch.Tensor, chunk: int = 5000
) -> MotionIndex:
    """A synthetic index of ``n`` one-window clips (joints are a placeholder frame)."""
    codebook = None
    if codec == "pq":
        sample = synth(0, 800, tpl).reshape(-1, D).numpy()
        codebook = train_pq(sample[np.random.default_rng(0).permutation(len(sample))[:100_000]], D // 4)
    create_index(
        path, IndexHeader(checksum, D, codec, 160, 80, N_TIME, pq_m=D // 4 if codec == "pq" else 0), codebook
    )
    mask = np.ones((1, P), dtype=bool)
    joints = np.zeros((1, 22, 3), dtype=np.float32)
    for a in range(0, n, chunk):
        x = synth(a, min(chunk, n - a), tpl)
        pooled = F.normalize(x.mean(dim=1), dim=-1).numpy()
        xs = x.numpy()
        clips = [
            EncodedClip(
                ClipMeta(id=f"c{a + i:06d}", duration=8.0 if (a + i) % 2 else 4.0),
                joints,
                np.array([0]),
                np.array([160]),
                xs[i : i + 1],
                mask,
                pooled[i : i + 1],
            )
            for i in range(len(xs))
        ]
        with IndexWriter(path) as w:
            w.add(clips)
    return MotionIndex.open(path)


# ---------------------------------------------------------------------- measurements
