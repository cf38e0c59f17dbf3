"""Faster text and re-rank (issue 13): full search latency at 10k / 100k synthetic clips and the int8 text
encoder's effect on the real library, each change against the naive baseline in the same run.

Configurations, measured interleaved (query i runs in every configuration before query i + 1, so load
changes on the shared machine hit all of them alike):

* **baseline**: the search before issue 13: float ONNX text graph (``text_runtime="onnx"``), re-rank from the
  float cache or, where that does not fit, decoded from the memory-mapped codec arrays (``int8_rerank=False``);
* **+ int8 text**: the int8 text graph (``onnx-int8``), baseline re-rank;
* **new**: the int8 re-rank copy (``int8_rerank=True``: above twice ``cache_bytes`` of float32), float text
  (both int8 options are opt-in: see docs/benchmarks.md for why).

Full search = ``Searcher.search(text, k=10)``, every text new (query cache off), synthetic indexes as in
``scripts/bench_search.py`` (``bench_search_synth``; fp16 up to 20k clips, int8 above), 2 threads.
Recall@10 vs exact uses token queries (the generator's), against one exact streaming pass. The real-library
part encodes 300 test captions with the float and the int8 graph and compares their two-stage top-10
(and each with the exact top-10 of the float encoding). Writes the "## Faster text and re-rank" section of
``docs/benchmarks.md``.

Usage::

    python scripts/bench_search_speed.py --sizes 10000 100000 --real-index data/index
    python scripts/bench_search_speed.py --sizes 10000 --queries 20 --no-write        # a quick look
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
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
from bench_search import exact_topk, hits_positions, recall, text_model
from bench_search_synth import QUERY_LEN, TEXTS, token_queries, topics, write_index

from backend.model.config import DEFAULT_MODEL_DIR
from backend.search.searcher import Searcher

SECTION = "## Faster text and re-rank"
CONFIGS = {
    "baseline": {"text_runtime": "onnx", "int8_rerank": False},
    "+ int8 text": {"text_runtime": "onnx-int8", "int8_rerank": False},
    "new": {"int8_rerank": True},
}
ADVERBS = [
    "",
    "slowly",
    "quickly",
    "twice",
    "again",
    "carefully",
    "happily",
    "in a hurry",
    "proudly",
    "sadly",
]


def _texts(n: int) -> list[str]:
    return [f"{t} {a}".strip() for a in ADVERBS for t in TEXTS][:n]


def _pct(ts: list[float]) -> tuple[float, float]:
    return float(np.percentile(ts, 50) * 1e3), float(np.percentile(ts, 99) * 1e3)


def bench_size(n: int, args: argparse.Namespace, model, world, tmp: Path) -> dict:
    codec = "fp16" if n <= 20_000 else "int8"
    t0 = time.perf_counter()
    index = write_index(tmp / f"idx{n}", n, codec, model.checksum(), world)
    row: dict = {"n": n, "codec": codec, "write_s": time.perf_counter() - t0, "open_s": {}}
    searchers = {}
    for name, opts in CONFIGS.items():
        if name not in args.configs:
            continue
        t0 = time.perf_counter()
        searchers[name] = Searcher(index, model, query_cache=0, **opts)
        row["open_s"][name] = time.perf_counter() - t0
    s_new = searchers["new"]
    row["memory"] = {
        "float cache": 0 if s_new.patches is None else s_new.patches.numel() * s_new.patches.element_size(),
        "int8 copy": 0 if s_new.codes is None else s_new.codes.nbytes,
    }
    texts = _texts(args.queries + 5)
    for name, s in searchers.items():  # warm-up: sessions, first pages of the memory maps
        for t in texts[-5:]:
            s.search(t, 10)
    times: dict[str, list[float]] = {name: [] for name in searchers}
    for t in texts[: args.queries]:
        for name, s in searchers.items():
            a = time.perf_counter()
            s.search(t, 10)
            times[name].append(time.perf_counter() - a)
    row["search"] = {name: _pct(ts) for name, ts in times.items()}
    q = token_queries(args.recall_queries, world)
    qm = torch.ones(QUERY_LEN, dtype=torch.bool)
    t0 = time.perf_counter()
    truth = exact_topk(s_new, q)
    row["exact_s"] = time.perf_counter() - t0
    row["recall"] = {name: recall(hits_positions(s, q, "two_stage"), truth) for name, s in searchers.items()}
    core: dict[str, list[float]] = {name: [] for name in searchers}
    for x in q:
        for name, s in searchers.items():
            a = time.perf_counter()
            s.search_tokens(x, qm, 10, mode="two_stage")
            core[name].append(time.perf_counter() - a)
    row["core"] = {name: _pct(ts) for name, ts in core.items()}
    # the re-rank stage alone, on the same candidate rows: what the int8 copy changes
    s_base = searchers["baseline"]
    cands = [s_new._first_stage(x, qm, None, None, s_new.candidates) for x in q]
    rerank: dict[str, list[float]] = {"baseline": [], "new": []}
    for _ in range(3):
        for x, rows in zip(q, cands, strict=True):
            a = time.perf_counter()
            s_base.score_rows(x, qm, rows)
            rerank["baseline"].append(time.perf_counter() - a)
            a = time.perf_counter()
            s_new._rerank(x, qm, rows, 10)
            rerank["new"].append(time.perf_counter() - a)
    row["rerank"] = {name: _pct(ts) for name, ts in rerank.items()}
    print(row, flush=True)
    del searchers, s_new
    shutil.rmtree(tmp / f"idx{n}", ignore_errors=True)
    return row


def bench_real(args: argparse.Namespace) -> dict:
    """int8 vs float text graph on the real library: top-10 agreement and latency."""
    from backend.index.store import MotionIndex
    from backend.search.build import load_model

    model = load_model(args.checkpoint)
    index = MotionIndex.open(args.real_index, expected_checksum=model.checksum())
    texts = [r.meta.captions[1 if len(r.meta.captions) > 1 and i % 2 else 0]
             for i, r in enumerate(index.clips) if r.meta.captions and r.meta.split == "test"][: args.real_queries]  # fmt: skip
    s_float = Searcher(index, model, text_runtime="onnx", query_cache=0)
    s_int8 = Searcher(index, model, text_runtime="onnx-int8", query_cache=0)
    ids = lambda hits: [h.clip_id for h in hits]
    agree, vs_exact_f, vs_exact_i, top1 = [], [], [], []
    tf, ti = [], []
    for t in texts:
        a = time.perf_counter()
        f = ids(s_float.search(t, 10))
        tf.append(time.perf_counter() - a)
        a = time.perf_counter()
        i8 = ids(s_int8.search(t, 10))
        ti.append(time.perf_counter() - a)
        ex = ids(s_float.search(t, 10, mode="exact"))
        agree.append(len(set(f) & set(i8)) / len(f))
        vs_exact_f.append(len(set(f) & set(ex)) / len(ex))
        vs_exact_i.append(len(set(i8) & set(ex)) / len(ex))
        top1.append(f[0] == i8[0])
    return {
        "clips": len(index), "windows": index.num_windows, "queries": len(texts),
        "agree": float(np.mean(agree)), "top1": float(np.mean(top1)),
        "float_vs_exact": float(np.mean(vs_exact_f)), "int8_vs_exact": float(np.mean(vs_exact_i)),
        "float_ms": _pct(tf), "int8_ms": _pct(ti),
    }  # fmt: skip


def report(args: argparse.Namespace, rows: list[dict], real: dict | None) -> str:
    f = lambda t: f"{t[0]:.1f} / {t[1]:.1f}"
    cmd = " ".join(["python scripts/bench_search_speed.py", *sys.argv[1:]])
    load = os.getloadavg()
    out = [
        (f"`{cmd}` on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC: {os.cpu_count()} CPU cores ({platform.machine()}), "
         f"torch {torch.__version__} with {args.threads} threads; load average at the end {load[0]:.1f} / "
         f"{load[1]:.1f} / {load[2]:.1f} (the machine is shared: compare rows through the same-run ratios)."),
        "",
        ("Synthetic clips as in the Search section (one 128-frame window of 112 patches per clip). Full search = "
         "`Searcher.search(text, k=10)` with a new text each time (text encoding included), "
         f"{args.queries} queries interleaved over the configurations; core = a token query's two-stage search; "
         f"recall@10 vs exact on {args.recall_queries} token queries. Latency ms, p50 / p99."),
        "",
        "| clips | configuration | full search | vs baseline (p50) | two-stage core | recall@10 vs exact | searcher open |",
        "|---:|---|---:|---:|---:|---:|---:|",
    ]  # fmt: skip
    for r in rows:
        base = r["search"]["baseline"][0]
        for name in r["search"]:
            out.append(f"| {r['n']:,} ({r['codec']}) | {name} | **{f(r['search'][name])}** | "
                       f"{r['search'][name][0] / base:.2f}x | {f(r['core'][name])} | {r['recall'][name]:.3f} | "
                       f"{r['open_s'][name]:.1f} s |")  # fmt: skip
    out += ["", f"The re-rank stage alone ({args.recall_queries} token queries x 3, the same candidate rows for both): "
            + "; ".join(f"{r['n']:,} clips: baseline {f(r['rerank']['baseline'])} ms, new "
                        f"{f(r['rerank']['new'])} ms" for r in rows) + "."]  # fmt: skip
    out += ["", "Memory of the new searcher: " + "; ".join(
        f"{r['n']:,} clips: float cache {r['memory']['float cache'] / 1e9:.2f} GB, int8 copy "
        f"{r['memory']['int8 copy'] / 1e9:.2f} GB" for r in rows) + "."]  # fmt: skip
    if real:
        out += [
            "",
            (f"Real library (`{args.real_index}`: {real['clips']:,} clips, {real['windows']:,} windows, shipped "
             f"model), {real['queries']} test-split captions, default two-stage search: the int8 text graph's "
             f"top-10 shares **{real['agree']:.3f}** of the float graph's (top-1 the same for "
             f"{real['top1']:.3f}); recall@10 vs the exact top-10 of the float encoding {real['float_vs_exact']:.3f} "
             f"(float) and {real['int8_vs_exact']:.3f} (int8); full search {f(real['float_ms'])} ms (float) vs "
             f"{f(real['int8_ms'])} ms (int8)."),
        ]  # fmt: skip
    by_n = {r["n"]: r for r in rows}
    notes = []
    if 10_000 in by_n:
        r = by_n[10_000]["search"]["new"]
        notes.append(
            f"10k full search p50 <= 10 ms: {r[0]:.1f} ms (baseline {by_n[10_000]['search']['baseline'][0]:.1f} ms)"
        )
    if 100_000 in by_n:
        r = by_n[100_000]
        notes.append(f"100k p50 <= 30 ms at recall@10 >= 0.99: {r['search']['new'][0]:.1f} ms at "
                     f"{r['recall']['new']:.3f} (baseline {r['search']['baseline'][0]:.1f} ms)")  # fmt: skip
    if notes:
        out += ["", "Targets (issue 13) in this run: " + "; ".join(notes) + "."]
    return "\n".join(out)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="*", default=[10_000])
    ap.add_argument("--queries", type=int, default=60, help="timed full searches per configuration and size")
    ap.add_argument("--recall-queries", type=int, default=20)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--real-index", type=Path, default=None)
    ap.add_argument("--checkpoint", type=Path, default=DEFAULT_MODEL_DIR)
    ap.add_argument("--real-queries", type=int, default=300)
    ap.add_argument("--configs", nargs="*", default=list(CONFIGS), choices=list(CONFIGS),
                    help="configurations to run (baseline and new are always needed)")  # fmt: skip
    ap.add_argument("--no-write", action="store_true")
    ap.add_argument("--doc", type=Path, default=REPO / "docs" / "benchmarks.md")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.set_grad_enabled(False)
    world, rows = topics(), []
    with tempfile.TemporaryDirectory(prefix="bench-search-speed-") as d:
        tmp = Path(d)
        model = text_model(tmp)
        for n in args.sizes:
            print(f"size {n} ...", flush=True)
            rows.append(bench_size(n, args, model, world, tmp))
    real = bench_real(args) if args.real_index is not None else None
    print(real, flush=True)
    body = report(args, rows, real)
    print(body)
    if not args.no_write:
        write_section(args.doc, body, SECTION)
        print(f"updated {args.doc}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
