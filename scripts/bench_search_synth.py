"""Synthetic embeddings and index writing for ``scripts/bench_search.py``.

Generator ("motion types", documented in docs/benchmarks.md). One 128-frame window per clip: P = 112 patches
= 14 bands x 8 time columns, D = 256, every patch valid. A fixed random *world* (seed 0) holds

* ``band`` ``(14, D)``: one unit direction per body band (what makes a patch "about the left arm");
* ``atoms`` ``(14, 48, D)``: 48 unit movement primitives per band (raise, swing, still, ...);
* ``plan`` ``(500, 14, 8)``: 500 motion types; a type is a primitive per (band, time column) that stays the
  same from one column to the next with probability 0.7 (movements last a while);
* ``function`` ``(4, D)``: 4 unit vectors for query tokens that describe no movement ("a", "person").

A clip draws a type uniformly; each of its patches takes its type's primitive (or, with probability 0.15, a
random primitive of that band: clips of a type differ) and is ``normalise(0.5 band + atom + 0.3 style +
0.6 noise)`` with a per-clip unit ``style`` vector and unit Gaussian noise per patch. So two patches of the same
band and primitive in different clips have cosine ~0.74, of the same band only ~0.15, of other bands ~0.

A token query describes one type: 8 content tokens, each ``normalise(0.5 band + atom + 0.7 noise)`` for the
primitive at a random (band, column) of the type's plan, plus 2 function tokens ``normalise(function + 0.3
noise)``. Its exact top-10 are clips of that type (~N / 500 of them) that happen to contain all its primitives
with the best noise, so recall@10 tests whether a candidate stage keeps the fine ranking, not just the type.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from backend.index.codecs import train_pq
from backend.index.format import IndexHeader
from backend.index.store import MotionIndex
from backend.index.writer import EncodedClip, IndexWriter, create_index
from backend.model.config import PATCH_FRAMES
from backend.motion.clip import ClipMeta

__all__ = [
    "BANDS",
    "N_TIME",
    "PRIMITIVES",
    "QUERY_LEN",
    "TEXTS",
    "TYPES",
    "WINDOW_FRAMES",
    "D",
    "P",
    "World",
    "synth",
    "token_queries",
    "topics",
    "write_index",
]

BANDS, D, TYPES, PRIMITIVES, WINDOW_FRAMES = 14, 256, 500, 48, 128
N_TIME = WINDOW_FRAMES // PATCH_FRAMES  # 8 windows of 16 frames
P = BANDS * N_TIME
QUERY_LEN, CONTENT_TOKENS = 10, 8
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


@dataclass
class World:
    """The fixed generator state (see the module docstring)."""

    band: torch.Tensor  # (BANDS, D)
    atoms: torch.Tensor  # (BANDS, PRIMITIVES, D)
    plan: torch.Tensor  # (TYPES, BANDS, N_TIME) long
    function: torch.Tensor  # (4, D)


def _unit(g: torch.Generator, *shape: int) -> torch.Tensor:
    return F.normalize(torch.randn(*shape, D, generator=g), dim=-1)


def topics(seed: int = 0) -> World:
    """The world of ``seed`` (name kept from the previous generator)."""
    g = torch.Generator().manual_seed(seed)
    band, atoms, function = _unit(g, BANDS), _unit(g, BANDS, PRIMITIVES), _unit(g, 4)
    plan = torch.empty(TYPES, BANDS, N_TIME, dtype=torch.long)
    plan[:, :, 0] = torch.randint(PRIMITIVES, (TYPES, BANDS), generator=g)
    for w in range(1, N_TIME):
        change = torch.rand(TYPES, BANDS, generator=g) < 0.3
        plan[:, :, w] = torch.where(
            change, torch.randint(PRIMITIVES, (TYPES, BANDS), generator=g), plan[:, :, w - 1]
        )
    return World(band, atoms, plan, function)


def synth(start: int, n: int, world: World, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Clips ``start .. start + n`` (one generator per call): ``(n, P, D)`` unit patches, ``(n,)`` types."""
    g = torch.Generator().manual_seed(seed * 1_000_003 + start)
    types = torch.randint(TYPES, (n,), generator=g)
    prim = world.plan[types]  # (n, BANDS, N_TIME)
    swap = torch.rand(n, BANDS, N_TIME, generator=g) < 0.15
    prim = torch.where(swap, torch.randint(PRIMITIVES, (n, BANDS, N_TIME), generator=g), prim)
    bands = torch.arange(BANDS)[None, :, None].expand_as(prim)
    x = world.atoms[bands, prim] + 0.5 * world.band[:, None, :]  # (n, BANDS, N_TIME, D)
    x = x + 0.3 * _unit(g, n)[:, None, None, :] + 0.6 * _unit(g, n, BANDS, N_TIME)
    return F.normalize(x.reshape(n, P, D), dim=-1), types


def token_queries(n: int, world: World, seed: int = 1) -> torch.Tensor:
    """``(n, QUERY_LEN, D)`` token queries, each describing one random motion type."""
    g = torch.Generator().manual_seed(seed)
    types = torch.randint(TYPES, (n,), generator=g)
    b = torch.randint(BANDS, (n, CONTENT_TOKENS), generator=g)
    w = torch.randint(N_TIME, (n, CONTENT_TOKENS), generator=g)
    prim = world.plan[types[:, None], b, w]
    content = world.atoms[b, prim] + 0.5 * world.band[b] + 0.7 * _unit(g, n, CONTENT_TOKENS)
    f = torch.randint(4, (n, QUERY_LEN - CONTENT_TOKENS), generator=g)
    func = world.function[f] + 0.3 * _unit(g, n, QUERY_LEN - CONTENT_TOKENS)
    return F.normalize(torch.cat([func[:, :1], content, func[:, 1:]], dim=1), dim=-1)


def write_index(
    path: Path, n: int, codec: str, checksum: str, world: World, chunk: int = 5000
) -> MotionIndex:
    """A synthetic index of ``n`` one-window clips (joints are a placeholder frame)."""
    codebook = None
    if codec == "pq":
        sample = synth(10**9, 1000, world)[0].reshape(-1, D).numpy()
        codebook = train_pq(sample[np.random.default_rng(0).permutation(len(sample))[:100_000]], D // 4)
    header = IndexHeader(
        checksum, D, codec, WINDOW_FRAMES, WINDOW_FRAMES // 2, N_TIME, pq_m=D // 4 if codec == "pq" else 0
    )
    create_index(path, header, codebook)
    mask = np.ones((1, P), dtype=bool)
    joints = np.zeros((1, 22, 3), dtype=np.float32)
    for a in range(0, n, chunk):
        x = synth(a, min(chunk, n - a), world)[0]
        pooled = F.normalize(x.mean(dim=1), dim=-1).numpy()
        xs = x.numpy()
        clips = [
            EncodedClip(
                ClipMeta(id=f"c{a + i:06d}", duration=6.4 if (a + i) % 2 else 3.2),
                joints,
                np.array([0]),
                np.array([WINDOW_FRAMES]),
                xs[i : i + 1],
                mask,
                pooled[i : i + 1],
            )
            for i in range(len(xs))
        ]
        with IndexWriter(path) as w:
            w.add(clips)
    return MotionIndex.open(path)
