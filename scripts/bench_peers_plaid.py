"""Peer engine of ``scripts/bench_peers.py``: PyLate's PLAID index, its engine ``fast-plaid``, on the CPU.

Runs in a venv of its own (``.venv-peers-plaid``: ``pip install fast-plaid``, which pins its torch build;
nothing of this repository is imported). Reads the token embeddings ``bench_peers.py`` exported (``.npz``:
valid patches of each window, the window's clip, the queries' valid tokens, the exact top-10 clips), builds a
fast-plaid index in a temporary folder (one document per window, its valid patches as the document's tokens),
asks every query (one at a time) for its best windows, keeps the first ``k`` distinct clips, and writes the
same JSON as ``bench_peers_qdrant.py``: build seconds, latency p50 / p99 (ms), recall@10 vs exact, bytes per
clip held.

fast-plaid's documented defaults throughout: ``create(nbits=4, kmeans_niters=4, max_points_per_centroid=256)``,
``search(n_ivf_probe=8, n_full_scores=4096)``; only ``top_k`` (windows asked for, as many as the Qdrant peer
asks) is set. Every query is run once before the timed pass (as ours is in ``bench_peers.py``).

    .venv-peers-plaid/bin/python scripts/bench_peers_plaid.py EXPORT.npz OUT.json
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from fast_plaid import search


def folder_bytes(path: Path) -> int:
    """Bytes of the index files: codes, residuals, IVF, centroids (the raw-embedding copy excluded)."""
    return sum(
        f.stat().st_size
        for f in path.rglob("*")
        if f.is_file() and f.name not in {"embeddings.npy", "plaid.lock"}
    )


def main() -> int:
    torch.set_num_threads(int(os.environ.get("PEER_THREADS", "2")))
    data = np.load(sys.argv[1])
    vecs = np.load(Path(sys.argv[1]).with_name(str(data["doc_vecs_file"]))).astype(np.float32)
    offs, clip = data["doc_offsets"], data["doc_clip"]
    q_vecs, q_offs, truth = data["q_vecs"].astype(np.float32), data["q_offsets"], data["truth"]
    k, n_docs, n_clips = truth.shape[1], len(offs) - 1, int(clip.max()) + 1
    docs = [torch.from_numpy(vecs[offs[i] : offs[i + 1]]) for i in range(n_docs)]
    queries = [torch.from_numpy(q_vecs[q_offs[i] : q_offs[i + 1]]) for i in range(len(q_offs) - 1)]
    limit = min(n_docs, 4 * k * max(1, round(n_docs / n_clips)))
    with tempfile.TemporaryDirectory(prefix="bench-plaid-") as d:
        index = Path(d) / "index"
        t0 = time.perf_counter()
        plaid = search.FastPlaid(index=str(index), device="cpu")
        plaid.create(documents_embeddings=docs)
        build_s = time.perf_counter() - t0

        def ask(q: torch.Tensor) -> list[tuple[int, float]]:
            return plaid.search(queries_embeddings=[q], top_k=limit, show_progress=False, n_processes=1)[0]

        for q in queries:
            ask(q)  # first call of this query's shapes; loads the index tensors
        times, found = [], []
        for q in queries:
            t = time.perf_counter()
            res = ask(q)
            clips: list[int] = []
            for doc, _score in res:
                c = int(clip[doc])
                if c not in clips:
                    clips.append(c)
                if len(clips) == k:
                    break
            times.append(time.perf_counter() - t)
            found.append(clips)
        held = folder_bytes(index)
    rec = float(np.mean([len(set(f) & set(t.tolist())) / k for f, t in zip(found, truth, strict=True)]))
    version = importlib.metadata.version("fast-plaid")
    out = {
        "engine": f"fast-plaid {version} CPU (PLAID: IVF probe 8, 4-bit residuals, 4096 full scores)",
        "build_s": build_s,
        "p50_ms": float(np.percentile(times, 50) * 1e3),
        "p99_ms": float(np.percentile(times, 99) * 1e3),
        "recall": rec,
        "bytes_per_clip": float(held / n_clips),  # the index files on disk
        "queries": len(found),
        "windows_asked": limit,
        "torch": torch.__version__,
    }
    with open(sys.argv[2], "w") as f:
        json.dump(out, f)
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
