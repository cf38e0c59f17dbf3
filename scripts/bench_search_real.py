"""Real-library part of ``scripts/bench_search.py --real-index DIR --checkpoint DIR``.

Queries are the first caption of each clip (of ``--split`` when given). For the index as stored and for int8 /
PQ copies (``backend.index.transcode``) it reports bytes per clip, text -> motion R@1/5/10 (the caption's own
clip in the exact top-k), the same with two-stage search, recall@10 of two-stage vs exact, and the full
search latency (text encoding included).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch

from backend.index.store import MotionIndex
from backend.index.transcode import transcode_index
from backend.model.scoring import maxsim
from backend.search.build import load_model
from backend.search.hits import best_per_clip
from backend.search.searcher import Searcher

__all__ = ["bench_real"]


def _encode(model: object, texts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
    embs, masks = [], []
    for a in range(0, len(texts), 64):
        enc = model.encode_text(texts[a : a + 64])
        embs += [e for e in enc.emb.float()]
        masks += [m for m in enc.mask.bool()]
    length = max(e.shape[0] for e in embs)
    q = torch.zeros(len(embs), length, embs[0].shape[1])
    qm = torch.zeros(len(embs), length, dtype=torch.bool)
    for i, (e, m) in enumerate(zip(embs, masks, strict=True)):
        q[i, : len(e)], qm[i, : len(m)] = e, m
    return q, qm


def _exact_top(s: Searcher, q: torch.Tensor, qm: torch.Tensor, k: int = 10) -> list[list[int]]:
    scores = np.empty((len(q), s.index.num_windows), dtype=np.float32)
    for a in range(0, s.index.num_windows, 512):
        d, dm = s.window_patches(np.arange(a, min(a + 512, s.index.num_windows)))
        scores[:, a : a + len(d)] = maxsim(q, qm, d, dm, chunk_size=128).numpy()
    return [s.window_clip[best_per_clip(row, s.window_clip, k)].tolist() for row in scores]


def _r_at(tops: list[list[int]], truth: list[int], k: int) -> float:
    return float(np.mean([t in top[:k] for top, t in zip(tops, truth, strict=True)]))


def bench_real(args: argparse.Namespace, tmp: Path) -> list[str]:
    """Markdown lines of the real-library table."""
    model = load_model(args.checkpoint)
    src = MotionIndex.open(args.real_index, expected_checksum=model.checksum())
    pairs = [
        (r.meta.captions[0], i)
        for i, r in enumerate(src.clips)
        if r.meta.captions and (not args.split or r.meta.split == args.split)
    ][: args.real_queries]
    texts, truth = [p[0] for p in pairs], [p[1] for p in pairs]
    q, qm = _encode(model, texts)
    lines = [
        "",
        f"Real library `{args.real_index}` ({len(src):,} clips, {src.num_windows:,} windows, model "
        f"`{Path(args.checkpoint).name}`), {len(pairs)} caption queries"
        + (f" of the {args.split} split" if args.split else "")
        + f"; two-stage with {args.candidates} candidates:",
        "",
        (
            "| storage | bytes / clip | R@1 / R@5 / R@10 exact | R@10 two-stage | recall@10 two-stage vs exact | "
            "full search p50 / p99 ms |"
        ),
        "|---|---:|---:|---:|---:|---:|",
    ]
    for codec in ("stored", "int8", "pq"):
        index = src if codec == "stored" else transcode_index(src.path, tmp / f"real-{codec}", codec)
        name = f"{index.header.codec} (as built)" if codec == "stored" else codec
        disk = index.disk_bytes()
        per_clip = sum(v for k, v in disk.items() if k != "joints") / len(index)
        s = Searcher(index, model, exact_threshold=0, candidates=args.candidates)
        exact = _exact_top(s, q, qm)
        two = [
            [index.position(h.clip_id) for h in s.search_tokens(q[i], qm[i], 10, mode="two_stage")]
            for i in range(len(q))
        ]
        rec = float(np.mean([len(set(a) & set(b)) / max(1, len(a)) for a, b in zip(exact, two, strict=True)]))
        ts = []
        for i in range(min(len(texts), 50)):
            t = time.perf_counter()
            s.search(texts[i], 10)
            ts.append(time.perf_counter() - t)
        p50, p99 = np.percentile(ts, 50) * 1e3, np.percentile(ts, 99) * 1e3
        r = [_r_at(exact, truth, k) for k in (1, 5, 10)]
        lines.append(
            f"| {name} | {per_clip:,.0f} | {r[0]:.3f} / {r[1]:.3f} / {r[2]:.3f} | {_r_at(two, truth, 10):.3f} | "
            f"{rec:.3f} | {p50:.1f} / {p99:.1f} |"
        )
        print(lines[-1], flush=True)
    return lines
