"""Peers, side by side: our two-stage search against other late-interaction engines on the same token embeddings.

For each data set (the real library's index with the shipped model; synthetic clips of ``bench_search_synth``)
this script, in the main venv:

1. measures our search on token queries (``Searcher.search_tokens``, default two-stage): recall@10 vs exact
   MaxSim (clip level), latency p50 / p99, bytes per clip (index arrays on disk, joints excluded, plus the
   centroid stage in memory), build time (the centroid stage, built from scratch: the embeddings exist);
2. exports the same embeddings to a ``.npz`` (each window's valid patches, the window's clip, the queries'
   valid tokens, the exact top-10 clips);
3. runs each peer script in its own venv on that file (``--peer NAME=PYTHON:SCRIPT``; default Qdrant's
   multivector MaxSim in qdrant-client's local mode, ``.venv-peers-qdrant``) and reads its JSON.

Writes the "## Peers" section of ``docs/benchmarks.md`` (or ``--section``). Never part of ``.ci/run`` (the peer venvs are made by
hand: ``python3 -m venv .venv-peers-qdrant && .venv-peers-qdrant/bin/pip install qdrant-client numpy``).

    python scripts/bench_peers.py --real-index data/index --synthetic 10000
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "scripts"))

from _docs_section import write_section
from bench_search import exact_topk, text_model
from bench_search_synth import token_queries, topics, write_index

from backend.model.config import DEFAULT_MODEL_DIR
from backend.search.searcher import Searcher

SECTION = "## Peers"
DEFAULT_PEERS = [
    f"qdrant={REPO / '.venv-peers-qdrant' / 'bin' / 'python'}:{REPO / 'scripts' / 'bench_peers_qdrant.py'}"
]


def ours(s: Searcher, q: torch.Tensor, qm: torch.Tensor, truth: list[list[int]]) -> dict:
    times, found = [], []
    for x, m in zip(q, qm, strict=True):
        s.search_tokens(x, m, 10, mode="two_stage")  # first call of this query's shapes
    for x, m in zip(q, qm, strict=True):
        t = time.perf_counter()
        hits = s.search_tokens(x, m, 10, mode="two_stage")
        times.append(time.perf_counter() - t)
        found.append([s.index.position(h.clip_id) for h in hits])
    disk = s.index.disk_bytes()
    t0 = time.perf_counter()
    fresh = Searcher(s.index, s.model, cache_candidates=False, query_cache=0)
    build = fresh._centroids.build_seconds if fresh._centroids is not None else time.perf_counter() - t0
    stage = fresh._centroids.nbytes if fresh._centroids is not None else 0
    return {
        "engine": "ours: centroid candidates + exact MaxSim re-rank",
        "build_s": build,
        "p50_ms": float(np.percentile(times, 50) * 1e3),
        "p99_ms": float(np.percentile(times, 99) * 1e3),
        "recall": float(np.mean([len(set(f) & set(t)) / len(t) for f, t in zip(found, truth, strict=True)])),
        "bytes_per_clip": (sum(v for k, v in disk.items() if k != "joints") + stage) / len(s.index),
        "queries": len(found),
    }


def export(s: Searcher, q: torch.Tensor, qm: torch.Tensor, truth: list[list[int]], path: Path) -> None:
    """Write the token embeddings every engine gets (valid tokens / patches only).

    The patches go to ``<stem>-docs.npy`` beside the ``.npz`` (named in it as ``doc_vecs_file``), streamed window
    block by window block: float32 up to 2 GB, float16 above (the 100k set: 11.2 M patches; float16 holds an fp16
    index's values exactly and an int8 index's to 2^-11), so no copy of them all is ever in memory.
    """
    dim = s.index.header.embed_dim
    n_vec = int(s.masks.sum())
    dtype = np.float32 if n_vec * dim * 4 <= 2 << 30 else np.float16
    docs = path.with_name(f"{path.stem}-docs.npy")
    out = np.lib.format.open_memmap(docs, mode="w+", dtype=dtype, shape=(n_vec, dim))
    offs, at = [0], 0
    for a in range(0, s.index.num_windows, 2048):
        emb, mask = s.index.window_patches(np.arange(a, min(a + 2048, s.index.num_windows)))
        valid = emb[mask]
        out[at : at + len(valid)] = valid
        at += len(valid)
        offs += (offs[-1] + np.cumsum(mask.sum(axis=1))).tolist()
    out.flush()
    del out
    q_vecs = [x[m].numpy() for x, m in zip(q, qm, strict=True)]
    np.savez(
        path, doc_vecs_file=np.array(docs.name), doc_offsets=np.array(offs, dtype=np.int64),
        doc_clip=np.asarray(s.window_clip, dtype=np.int32), q_vecs=np.concatenate(q_vecs).astype(np.float32),
        q_offsets=np.cumsum([0] + [len(v) for v in q_vecs]).astype(np.int64), truth=np.array(truth, dtype=np.int32),
    )  # fmt: skip


def run_peers(peers: list[str], npz: Path, tmp: Path, timeout: float) -> dict[str, dict]:
    out = {}
    for spec in peers:
        name, rest = spec.split("=", 1)
        python, script = rest.rsplit(":", 1)
        if not Path(python).exists():
            out[name] = {"error": f"peer venv missing: {python}"}
            continue
        res = tmp / f"{name}-{npz.stem}.json"
        t0 = time.perf_counter()
        proc = subprocess.run([python, script, str(npz), str(res)], capture_output=True, text=True, timeout=timeout,
                              env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"}, check=False)  # fmt: skip
        if proc.returncode != 0:
            out[name] = {
                "error": proc.stderr.strip().splitlines()[-1] if proc.stderr else f"exit {proc.returncode}"
            }
        else:
            out[name] = json.loads(res.read_text()) | {"wall_s": time.perf_counter() - t0}
        print(name, out[name], flush=True)
    return out


def real_queries(s: Searcher, n: int) -> tuple[torch.Tensor, torch.Tensor]:
    texts = [r.meta.captions[0] for r in s.index.clips if r.meta.captions and r.meta.split == "test"][:n]
    enc = [s.encode_query(t) for t in texts]
    length = max(e.emb.shape[1] for e in enc)
    q = torch.zeros(len(enc), length, enc[0].emb.shape[2])
    qm = torch.zeros(len(enc), length, dtype=torch.bool)
    for i, e in enumerate(enc):
        q[i, : e.emb.shape[1]], qm[i, : e.emb.shape[1]] = e.emb[0].float(), e.mask[0].bool()
    return q, qm


def exact_truth(s: Searcher, q: torch.Tensor, qm: torch.Tensor) -> list[list[int]]:
    from bench_search_real import _exact_top

    return _exact_top(s, q, qm)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--real-index", type=Path, default=None)
    ap.add_argument("--checkpoint", type=Path, default=DEFAULT_MODEL_DIR)
    ap.add_argument("--synthetic", type=int, nargs="*", default=[10_000], help="synthetic clip counts")
    ap.add_argument("--queries", type=int, default=100)
    ap.add_argument("--peer", action="append", default=None, help="NAME=PYTHON:SCRIPT (default: qdrant)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--timeout", type=float, default=3600.0, help="seconds per peer run")
    ap.add_argument("--peer-max-clips", type=int, default=None,
                    help="synthetic sets above this many clips: ours only (peers that cannot hold them here)")  # fmt: skip
    ap.add_argument("--no-write", action="store_true")
    ap.add_argument("--doc", type=Path, default=REPO / "docs" / "benchmarks.md")
    ap.add_argument("--section", default=SECTION,
                    help="the '## ' section of --doc to write (e.g. one of its own for a run of one data set)")  # fmt: skip
    args = ap.parse_args()
    if not args.section.startswith("## "):
        ap.error(f"--section must start with '## ', got {args.section!r}")
    torch.set_num_threads(args.threads)
    torch.set_grad_enabled(False)
    peers = args.peer or DEFAULT_PEERS
    results: list[tuple[str, dict, dict]] = []
    with tempfile.TemporaryDirectory(prefix="bench-peers-") as d:
        tmp = Path(d)
        if args.real_index is not None:
            from backend.index.store import MotionIndex
            from backend.search.build import load_model

            model = load_model(args.checkpoint)
            s = Searcher(
                MotionIndex.open(args.real_index, expected_checksum=model.checksum()), model, query_cache=0
            )
            q, qm = real_queries(s, args.queries)
            truth = exact_truth(s, q, qm)
            name = f"real library ({len(s.index):,} clips, {s.index.num_windows:,} windows, {len(q)} test captions)"
            mine = ours(s, q, qm, truth)
            export(s, q, qm, truth, tmp / "real.npz")
            results.append((name, mine, run_peers(peers, tmp / "real.npz", tmp, args.timeout)))
        world = topics()
        for n in args.synthetic:
            model = text_model(tmp)
            index = write_index(
                tmp / f"syn{n}", n, "fp16" if n <= 20_000 else "int8", model.checksum(), world
            )
            s = Searcher(index, model, query_cache=0)
            q = token_queries(args.queries, world)
            qm = torch.ones(q.shape[:2], dtype=torch.bool)
            truth = exact_topk(s, q)
            mine = ours(s, q, qm, truth)
            if args.peer_max_clips is not None and n > args.peer_max_clips:
                skipped = f"not run above {args.peer_max_clips:,} clips (--peer-max-clips)"
                peer_res = {spec.split("=", 1)[0]: {"error": skipped} for spec in peers}
            else:
                export(s, q, qm, truth, tmp / f"syn{n}.npz")
                peer_res = run_peers(peers, tmp / f"syn{n}.npz", tmp, args.timeout)
            results.append((f"synthetic {n:,} clips ({len(q)} token queries)", mine, peer_res))
    cmd = " ".join(["python scripts/bench_peers.py", shlex.join(sys.argv[1:])])
    load = os.getloadavg()
    lines = [
        (f"`{cmd}` on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC: {os.cpu_count()} CPU cores ({platform.machine()}), "
         f"{args.threads} threads, load average at the end {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f}. Same "
         "token embeddings for every engine (exported to a file; each peer runs in a venv of its own). Recall@10 "
         "vs exact MaxSim at clip level (a clip = its best window), latency per token query (text encoding "
         "excluded), bytes per clip as each engine holds them, build = index structure from the embeddings."),
        "",
        "| data | engine | recall@10 vs exact | p50 / p99 ms | vs ours (p50) | bytes / clip | build |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]  # fmt: skip
    for name, mine, peer in results:
        lines.append(f"| {name} | {mine['engine']} | {mine['recall']:.3f} | {mine['p50_ms']:.1f} / {mine['p99_ms']:.1f} "
                     f"| 1.00x | {mine['bytes_per_clip']:,.0f} | {mine['build_s']:.1f} s |")  # fmt: skip
        for pname, r in peer.items():
            if "error" in r:
                lines.append(f"| {name} | {pname}: not run ({r['error']}) | | | | | |")
                continue
            lines.append(f"| {name} | {r['engine']} | {r['recall']:.3f} | {r['p50_ms']:.1f} / {r['p99_ms']:.1f} | "
                         f"{r['p50_ms'] / mine['p50_ms']:.1f}x | {r['bytes_per_clip']:,.0f} | {r['build_s']:.1f} s |")  # fmt: skip
    body = "\n".join(lines)
    print(body)
    if not args.no_write:
        write_section(args.doc, body, args.section)
    return 0


if __name__ == "__main__":
    sys.exit(main())
