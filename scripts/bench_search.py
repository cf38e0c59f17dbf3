"""Search benchmark: latency, bytes per clip and recall -> the "Search" section of docs/benchmarks.md.

    python scripts/bench_search.py                       # 1k and 10k clips, reduced 100k run
    python scripts/bench_search.py --sizes 1000 10000 100000 --queries 50 --full-100k

Synthetic embeddings ("motion types", see ``bench_search_synth``): one 128-frame window per clip (P = 14 x 8
= 112 patches, D = 256, every patch valid) built from 500 motion types over per-band movement primitives; a
token query describes one type. Recall@10 is measured against exact MaxSim for the pooled and the centroid
(token-level) first stages over a sweep of candidate counts and ``nprobe``. Latency of the full search uses
the real MiniLM text encoder (random-init projection) on real caption-like queries, through
``Searcher.search`` on an index written to disk with ``IndexWriter``; "repeated" is the same text again
(query-encoding cache). The naive baseline is an un-chunked einsum MaxSim over the whole in-memory float32
tensor (only where it fits in memory; above that the exact core streams from the memory-mapped index).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "scripts"))

from _docs_section import write_section
from bench_search_report import SECTION, fmt, report
from bench_search_synth import QUERY_LEN, TEXTS, WINDOW_FRAMES, D, token_queries, topics, write_index

from backend.model.text_onnx import OnnxTextEncoder
from backend.search.hits import best_per_clip
from backend.search.searcher import Searcher


def timed(fn, reps: int) -> tuple[float, float]:
    fn()  # warm-up
    ts = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t)
    return float(np.percentile(ts, 50) * 1e3), float(np.percentile(ts, 99) * 1e3)


def naive_maxsim(q: torch.Tensor, d: torch.Tensor, dm: torch.Tensor) -> torch.Tensor:
    """Straightforward un-chunked MaxSim (the baseline): ``(L, D)`` x ``(N, P, D)`` -> ``(N,)``."""
    sim = torch.einsum("ld,npd->nlp", q, d)
    sim = sim.masked_fill(~dm[:, None, :], float("-inf"))
    return sim.amax(dim=2).mean(dim=1)


def exact_topk(s: Searcher, q: torch.Tensor, k: int = 10) -> list[list[int]]:
    """Exact top-k clip positions of token queries ``(Nq, L, D)`` (one streaming pass for all queries)."""
    from backend.model.scoring import maxsim

    qm = torch.ones(q.shape[:2], dtype=torch.bool)
    scores = np.empty((len(q), s.index.num_windows), dtype=np.float32)
    step = 2048
    for a in range(0, s.index.num_windows, step):
        d, dm = s.window_patches(np.arange(a, min(a + step, s.index.num_windows)))
        scores[:, a : a + len(d)] = maxsim(q, qm, d, dm, chunk_size=256).numpy()
    return [s.window_clip[best_per_clip(row, s.window_clip, k)].tolist() for row in scores]


def recall(found: list[list[int]], truth: list[list[int]]) -> float:
    return float(np.mean([len(set(f) & set(t)) / len(t) for f, t in zip(found, truth, strict=True)]))


def top1(found: list[list[int]], truth: list[list[int]]) -> float:
    return float(np.mean([bool(f) and f[0] == t[0] for f, t in zip(found, truth, strict=True)]))


def hits_positions(s: Searcher, q: torch.Tensor, mode: str) -> list[list[int]]:
    qm = torch.ones(q.shape[1], dtype=torch.bool)
    return [[s.index.position(h.clip_id) for h in s.search_tokens(x, qm, 10, mode=mode)] for x in q]


def text_model(tmp: Path) -> object:
    """MiniLM text encoder + a random-init motion side, saved once so that ``checksum()`` is the file's."""
    from backend.model.config import RetrievalConfig
    from backend.model.retrieval import MotionTextRetrieval

    torch.manual_seed(0)
    cfg = RetrievalConfig(
        vit_kwargs={"depth": 1, "embed_dim": 32, "num_heads": 2},
        window_frames=WINDOW_FRAMES,
        embed_dim=D,
        text_trainable_layers=0,
    )
    model = MotionTextRetrieval.from_config(cfg).eval()
    model.save_pretrained(tmp / "model")
    return model


def bench_size(n: int, args: argparse.Namespace, model: object, tpl: object, tmp: Path) -> dict:
    codec = "fp16" if n <= 20_000 else "int8"
    t0 = time.perf_counter()
    index = write_index(tmp / f"idx{n}", n, codec, model.checksum(), tpl)
    build_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    s = Searcher(
        index, model, exact_threshold=args.exact_threshold, candidates=args.candidates, nprobe=args.nprobe
    )
    open_s = time.perf_counter() - t0
    nq = args.queries if n <= 20_000 else max(5, args.queries // 2)
    q = token_queries(nq, tpl)
    qm = torch.ones(QUERY_LEN, dtype=torch.bool)
    row: dict = {"n": n, "codec": codec, "build_s": build_s, "open_s": open_s, "windows": index.num_windows}
    row["queries"], row["stage"] = nq, s.first_stage
    if s._centroids is not None:
        from backend.search import candidate_cache

        c = s._centroids
        candidate_cache._MEMO.clear()  # as a new process would: codebook + assignments from the index folder
        t0 = time.perf_counter()
        cached = Searcher(index, model, exact_threshold=args.exact_threshold, nprobe=args.nprobe)
        reopen = time.perf_counter() - t0
        cached_build = cached._centroids.build_seconds if cached._centroids is not None else float("nan")
        del cached
        row["centroids"] = (int(c.centroids.shape[0]), c.build_seconds, c.nbytes / len(index), cached_build)
        row["reopen_s"] = reopen
        cache = index.path / candidate_cache.CACHE_DIR
        row["cache_disk"] = sum(f.stat().st_size for f in cache.rglob("*.npy")) / len(index)
    disk = index.disk_bytes()
    row["disk_per_clip"] = sum(v for k, v in disk.items() if k != "joints") / len(index)
    it = iter(range(10**9))
    pick = lambda: q[next(it) % nq]
    if s.patches is not None:
        full = s.patches.float()  # the naive baseline scores float32 (an fp16 index is cached as float16)
        row["naive"] = timed(lambda: torch.topk(naive_maxsim(pick(), full, s.masks), 10), nq)
        del full
        row["core_exact"] = timed(lambda: s.search_tokens(pick(), qm, 10, mode="exact"), nq)
    else:  # streamed from the memory-mapped codec arrays: a few queries only
        row["core_exact"] = timed(lambda: s.search_tokens(pick(), qm, 10, mode="exact"), 3)
    row["core_two_stage"] = timed(lambda: s.search_tokens(pick(), qm, 10, mode="two_stage"), nq)
    texts = iter(range(10**9))
    s.queries.size = 0  # every text encoded: the cold-query latency
    row["text_encoding"] = timed(lambda: s.encode_query(TEXTS[next(texts) % len(TEXTS)]), 20)
    encoder, s.query_encoder = s.query_encoder, model.encode_text  # the PyTorch baseline of the same encoder
    row["text_encoding_torch"] = timed(lambda: s.encode_query(TEXTS[next(texts) % len(TEXTS)]), 20)
    s.query_encoder = encoder
    row["text_runtime"] = "onnx" if isinstance(encoder, OnnxTextEncoder) else "torch"
    row["search_auto"] = timed(lambda: s.search(TEXTS[next(texts) % len(TEXTS)], 10), max(nq, 20))
    s.queries.size = 256
    row["search_repeat"] = timed(lambda: s.search(TEXTS[0], 10), max(nq, 20))
    row["mode"] = "exact" if index.num_windows <= s.exact_threshold else "two_stage"
    t0 = time.perf_counter()
    truth = exact_topk(s, q)
    row["exact_gt_s"] = time.perf_counter() - t0
    row["recall_two_stage"] = recall(hits_positions(s, q, "two_stage"), truth)
    default = (s.first_stage, s.candidates, s.nprobe)
    row["sweep"] = []
    for stage, nprobe in [("pooled", 0)] + [("centroids", p) for p in args.nprobe_sweep]:
        if stage == "centroids" and s._centroids is None:
            continue
        for n_cand in args.sweep:
            s.first_stage, s.candidates, s.nprobe = stage, n_cand, max(1, nprobe)
            lat = timed(lambda: s.search_tokens(pick(), qm, 10, mode="two_stage"), nq)
            found = hits_positions(s, q, "two_stage")
            row["sweep"].append((stage, nprobe, n_cand, lat, recall(found, truth), top1(found, truth)))
            print(row["sweep"][-1], flush=True)
    s.first_stage, s.candidates, s.nprobe = default
    shutil.rmtree(tmp / f"idx{n}", ignore_errors=True)
    return row


def bench_codecs(n: int, args: argparse.Namespace, model: object, tpl: torch.Tensor, tmp: Path) -> list[dict]:
    q = token_queries(args.queries, tpl, seed=7)
    out, truth = [], None
    for codec in ("fp16", "int8", "pq"):
        index = write_index(tmp / f"codec-{codec}", n, codec, model.checksum(), tpl)
        disk = index.disk_bytes()
        emb = sum(v for k, v in disk.items() if k != "joints")
        s = Searcher(index, model, exact_threshold=10**9, first_stage="pooled")
        found = hits_positions(s, q, "exact")
        truth = found if truth is None else truth
        out.append(
            {
                "codec": codec,
                "bytes_per_clip": emb / len(index),
                "patch_bytes": disk.get("patches", 0) + disk.get("scales", 0) + disk.get("codes", 0),
                "recall": recall(found, truth),
            }
        )
        out[-1]["patch_bytes"] /= len(index)
        shutil.rmtree(tmp / f"codec-{codec}", ignore_errors=True)
    return out


def reduced_note(n: int, args: argparse.Namespace, rows: list[dict]) -> str:
    """Reduced large-size run: time the pooled first stage over ``n`` windows only (seconds, no disk)."""
    from backend.model.scoring import pooled_scores

    pooled = F.normalize(torch.randn(n, D), dim=-1)
    qp = F.normalize(torch.randn(1, D), dim=-1)
    first = timed(lambda: torch.topk(pooled_scores(qp, pooled)[0], args.candidates), 20)
    ref = next((r for r in rows if r["mode"] == "two_stage"), None)
    rerank = ""
    if ref is not None:
        est = first[0] + ref["core_two_stage"][0] + ref["text_encoding"][0]
        rerank = (
            f" The rest of a two-stage query does not depend on the index size (re-rank of {args.candidates} "
            f"windows, measured above at {ref['n']:,} clips), so a full search at {n:,} clips is about "
            f"{est:.0f} ms p50 (first stage + {ref['n']:,}-clip two-stage core + text encoding)."
        )
    return (
        f"**{n:,} clips: reduced run** (the full run writes ~{n * 112 * 260 / 1e9:.1f} GB of int8 patches and computes "
        f"the exact ground truth for minutes; `--full-100k` runs it): the pooled first stage over {n:,} windows "
        f"takes {fmt(first)} ms (p50 / p99).{rerank} Recall@10 at this size is not measured in the reduced run."
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="*", default=[1000, 10000, 100000])
    ap.add_argument("--queries", type=int, default=40)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--exact-threshold", type=int, default=1024)
    ap.add_argument("--candidates", type=int, default=256)
    ap.add_argument("--codec-clips", type=int, default=1000)
    ap.add_argument("--nprobe", type=int, default=8, help="centroids probed per query token")
    ap.add_argument("--sweep", type=int, nargs="*", default=[64, 256, 1024], help="candidate counts to sweep")
    ap.add_argument("--nprobe-sweep", type=int, nargs="*", default=[4, 8, 16], help="nprobe values to sweep")
    ap.add_argument("--full-100k", action="store_true", help="run sizes above 20k (minutes, GBs of disk)")
    ap.add_argument("--real-index", type=Path, default=None, help="also measure R@k on a real index")
    ap.add_argument("--checkpoint", type=Path, default=None, help="the model of --real-index")
    ap.add_argument("--split", default="test", help="queries from this split of --real-index ('' = all)")
    ap.add_argument("--real-queries", type=int, default=200)
    ap.add_argument("--out", type=Path, default=REPO / "docs" / "benchmarks.md")
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.set_grad_enabled(False)
    tpl = topics()
    notes: list[str] = []
    rows, codecs = [], []
    with tempfile.TemporaryDirectory(prefix="bench-search-") as d:
        tmp = Path(d)
        model = text_model(tmp)
        for n in args.sizes:
            if n > 20_000 and not args.full_100k:
                notes.append(reduced_note(n, args, rows))
                continue
            print(f"size {n} ...", flush=True)
            rows.append(bench_size(n, args, model, tpl, tmp))
            print(rows[-1], flush=True)
        if args.codec_clips:
            codecs = bench_codecs(args.codec_clips, args, model, tpl, tmp)
            for c in codecs:
                c["n"] = args.codec_clips
            print(codecs, flush=True)
        if args.real_index is not None:
            if args.checkpoint is None:
                ap.error("--real-index needs --checkpoint")
            from bench_search_real import bench_real

            notes = bench_real(args, tmp) + [""] + notes
    section = report(rows, codecs, args, notes)
    print(section)
    if not args.no_write:
        write_section(args.out, section, SECTION)
    return 0


if __name__ == "__main__":
    sys.exit(main())
