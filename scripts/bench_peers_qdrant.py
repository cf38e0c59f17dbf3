"""Peer engine of ``scripts/bench_peers.py``: Qdrant's multivector MaxSim in qdrant-client's local mode.

Runs in a venv of its own (``.venv-peers-qdrant``: ``pip install qdrant-client numpy``; nothing of this
repository is imported). Reads the token embeddings ``bench_peers.py`` exported (``.npz``: valid patches of each
window, the window's clip, the queries' valid tokens, the exact top-10 clips), builds an in-memory collection
(one point per window, its patches as a multivector, ``comparator=MAX_SIM``, dot product on unit vectors =
cosine), asks every query for its best windows, keeps the first ``k`` distinct clips, and writes JSON:
build seconds, latency p50 / p99 (ms), recall@10 vs exact, bytes per clip held.

    .venv-peers-qdrant/bin/python scripts/bench_peers_qdrant.py EXPORT.npz OUT.json
"""

from __future__ import annotations

import json
import resource
import sys
import time
from pathlib import Path

import numpy as np
from qdrant_client import QdrantClient, models


def main() -> int:
    data = np.load(sys.argv[1])
    # the patches: memory-mapped beside the export (float32, or float16 for the 100k set), read batch by batch
    vecs = np.load(Path(sys.argv[1]).with_name(str(data["doc_vecs_file"])), mmap_mode="r")
    offs, clip = data["doc_offsets"], data["doc_clip"]
    q_vecs, q_offs, truth = data["q_vecs"].astype(np.float32), data["q_offsets"], data["truth"]
    k, n_docs, n_clips = truth.shape[1], len(offs) - 1, int(clip.max()) + 1
    client = QdrantClient(location=":memory:")
    client.create_collection(
        "windows",
        vectors_config=models.VectorParams(
            size=vecs.shape[1],
            distance=models.Distance.DOT,
            multivector_config=models.MultiVectorConfig(comparator=models.MultiVectorComparator.MAX_SIM),
        ),
    )
    t0 = time.perf_counter()
    # small batches: every upsert goes through Python lists of floats (the client's point model), whose
    # transient objects at 256 windows a batch held several GB at 100k windows
    batch = 256 if n_docs <= 20_000 else 16
    for a in range(0, n_docs, batch):
        points = [
            models.PointStruct(
                id=i,
                vector=np.asarray(vecs[offs[i] : offs[i + 1]], dtype=np.float32).tolist(),
                payload={"clip": int(clip[i])},
            )
            for i in range(a, min(a + batch, n_docs))
        ]
        client.upsert("windows", points)
    build_s = time.perf_counter() - t0
    limit = min(n_docs, 4 * k * max(1, round(n_docs / n_clips)))
    times, found = [], []
    for i in range(len(q_offs) - 1):
        q = q_vecs[q_offs[i] : q_offs[i + 1]].tolist()
        t = time.perf_counter()
        res = client.query_points("windows", query=q, limit=limit, with_payload=True).points
        clips: list[int] = []
        for p in res:
            c = int(p.payload["clip"])
            if c not in clips:
                clips.append(c)
            if len(clips) == k:
                break
        times.append(time.perf_counter() - t)
        found.append(clips)
    rec = float(np.mean([len(set(f) & set(t.tolist())) / k for f, t in zip(found, truth, strict=True)]))
    out = {
        "engine": "qdrant-client local mode (multivector MAX_SIM, exhaustive)",
        "build_s": build_s,
        "p50_ms": float(np.percentile(times, 50) * 1e3),
        "p99_ms": float(np.percentile(times, 99) * 1e3),
        "recall": rec,
        "bytes_per_clip": float(vecs.shape[0] * vecs.shape[1] * 4 / n_clips),  # float32 multivectors held
        "queries": len(found),
        "peak_rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e9,
    }
    with open(sys.argv[2], "w") as f:
        json.dump(out, f)
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
