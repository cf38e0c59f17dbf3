"""Faster text and re-rank (issue 13): full search latency at 10k / 100k synthetic clips, this checkout's search
against the code of a baseline revision in the same run, plus the exactness of the re-rank's int8 first pass on
the real library.

Every configuration is a searcher in a worker process of its own (``scripts/_search_worker.py``) importing the
``backend`` package of its revision: **baseline** = ``--baseline-rev`` (the package extracted with ``git
archive``; no change to the checkout), **new** = this checkout with its defaults (the int8 text graph, the
int8 first pass of the re-rank), **new, float text** = with ``text_runtime="onnx"`` (what the int8 text
graph adds), **new, float text, bf16 pass** = also ``approx_rerank="bf16"`` (the previous defaults: what the
int8 first pass adds). Others: **new, approx off** (``approx_rerank="off"``) and **int8 re-rank copy**
(``int8_rerank=True``, opt-in). The driver
sends query ``i`` to every worker in turn (one at a time) before query ``i + 1``, so load changes on the
shared machine hit all of them alike; each worker times its own ``Searcher.search(text, k=10)`` (every text
new, query cache off, text encoding included) and two-stage token queries (the synthetic generator's: the
core, and recall@10 against one exact streaming pass). Synthetic indexes as in ``scripts/bench_search.py``
(``bench_search_synth``; fp16 up to 20k clips, int8 above), 2 threads. ``--real-index``: 300 test captions
on the real library through this checkout with the int8 first pass on and off (same hits? largest score
difference?). Writes the "## Faster text and re-rank" section of ``docs/benchmarks.md``.

Usage::

    python scripts/bench_search_speed.py --sizes 10000 100000 --real-index data/index
    python scripts/bench_search_speed.py --sizes 10000 --queries 20 --no-write        # a quick look
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import shutil
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
from bench_search import exact_topk, recall, text_model
from bench_search_api import baseline_tree
from bench_search_synth import TEXTS, token_queries, topics, write_index

from backend.model.config import DEFAULT_MODEL_DIR
from backend.search.rerank import int8_products_fast
from backend.search.searcher import Searcher

SECTION = "## Faster text and re-rank"
#: name -> (revision: "baseline" or "new", Searcher options)
CONFIGS: dict[str, tuple[str, dict]] = {
    "baseline": ("baseline", {}),
    "new, float text, bf16 pass": ("new", {"text_runtime": "onnx", "approx_rerank": "bf16"}),
    "new, float text": ("new", {"text_runtime": "onnx"}),
    "new, approx off": ("new", {"approx_rerank": "off"}),
    "new": ("new", {}),
    "int8 re-rank copy": ("new", {"int8_rerank": True}),
}
DEFAULT_CONFIGS = ["baseline", "new, float text, bf16 pass", "new, float text", "new"]
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


class Worker:
    """A ``scripts/_search_worker.py`` process importing the ``backend`` package under ``root``."""

    def __init__(self, root: Path) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, str(REPO / "scripts" / "_search_worker.py"), "--root", str(root)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=root,
        )  # fmt: skip

    def ask(self, **msg: object) -> dict:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(json.dumps(msg) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"search worker exited with {self.proc.wait()}")
        reply = json.loads(line)
        if "error" in reply:
            raise RuntimeError(reply["error"])
        return reply

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps({"op": "quit"}) + "\n")
        self.proc.stdin.close()
        self.proc.wait(timeout=60)


def bench_size(n: int, args: argparse.Namespace, model, world, tmp: Path, roots: dict[str, Path]) -> dict:
    codec = "fp16" if n <= 20_000 else "int8"
    t0 = time.perf_counter()
    index = write_index(tmp / f"idx{n}", n, codec, model.checksum(), world)
    row: dict = {"n": n, "codec": codec, "write_s": time.perf_counter() - t0, "open": {}}
    workers: dict[str, Worker] = {}
    try:
        for name in args.configs:
            rev, opts = CONFIGS[name]
            workers[name] = Worker(roots[rev])
            row["open"][name] = workers[name].ask(op="open", index=str(index.path), model=str(tmp / "model"),
                                                  opts=opts, threads=args.threads)  # fmt: skip
        texts = _texts(args.queries + 5)
        for w in workers.values():  # warm-up: sessions, first pages of the memory maps
            for t in texts[-5:]:
                w.ask(op="search", text=t, k=10)
        times: dict[str, list[float]] = {name: [] for name in workers}
        for t in texts[: args.queries]:
            for name, w in workers.items():
                times[name].append(w.ask(op="search", text=t, k=10)["s"])
        row["search"] = {name: _pct(ts) for name, ts in times.items()}
        # each alone: the same texts back to back in one worker while the others wait (as one server runs)
        pool = _texts(len(ADVERBS) * len(TEXTS))[len(texts) :]  # texts of the same kind, not sent before
        alone_texts = (pool * (1 + args.queries // max(len(pool), 1)))[: args.queries]
        row["alone"] = {
            name: _pct(w.ask(op="searches", texts=alone_texts, k=10)["s"]) for name, w in workers.items()
        }
        q = token_queries(args.recall_queries, world)
        np.save(tmp / "q.npy", q.numpy())
        t0 = time.perf_counter()
        truth = exact_topk(Searcher(index, None, cache_bytes=0, first_stage="pooled"), q)
        row["exact_s"] = time.perf_counter() - t0
        core: dict[str, list[float]] = {name: [] for name in workers}
        row["recall"] = {}
        for _ in range(3):
            for name, w in workers.items():
                res = w.ask(op="tokens", path=str(tmp / "q.npy"), k=10, mode="two_stage")
                core[name] += res["s"]
                row["recall"][name] = recall(res["positions"], truth)
        row["core"] = {name: _pct(ts) for name, ts in core.items()}
    finally:
        for w in workers.values():
            w.close()
    print(row, flush=True)
    shutil.rmtree(tmp / f"idx{n}", ignore_errors=True)
    return row


def _cpu_name() -> str:
    """The CPU's model name (Linux), else the machine type."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def bench_real(args: argparse.Namespace) -> dict:
    """The approximate (int8) pass of the re-rank on the real library: the same hits and scores as without it,
    and the latency."""
    from backend.index.store import MotionIndex
    from backend.search.build import load_model

    model = load_model(args.checkpoint)
    index = MotionIndex.open(args.real_index, expected_checksum=model.checksum())
    texts = [r.meta.captions[1 if len(r.meta.captions) > 1 and i % 2 else 0]
             for i, r in enumerate(index.clips) if r.meta.captions and r.meta.split == "test"][: args.real_queries]  # fmt: skip
    on = Searcher(index, model, query_cache=0, approx_rerank="int8")  # on even where auto leaves it off
    off = Searcher(index, model, query_cache=0, approx_rerank="off", query_encoder=on.query_encoder)
    same, diff, t_on, t_off = [], 0.0, [], []
    for t in texts:
        a = time.perf_counter()
        h_on = on.search(t, 10)
        t_on.append(time.perf_counter() - a)
        a = time.perf_counter()
        h_off = off.search(t, 10)
        t_off.append(time.perf_counter() - a)
        same.append([h.clip_id for h in h_on] == [h.clip_id for h in h_off])
        diff = max(diff, *(abs(x.score - y.score) for x, y in zip(h_on, h_off, strict=False)))
    return {
        "clips": len(index), "windows": index.num_windows, "queries": len(texts), "same": float(np.mean(same)),
        "max_diff": diff, "on_ms": _pct(t_on), "off_ms": _pct(t_off),
        "cache": int(on.patches.numel() * on.patches.element_size()) if on.patches is not None else 0,
        "approx": on.approx.nbytes if on.approx is not None else 0,
    }  # fmt: skip


def report(args: argparse.Namespace, rev: str, rows: list[dict], real: dict | None) -> str:
    f = lambda t: f"{t[0]:.1f} / {t[1]:.1f}"
    gb = lambda b: f"{b / 1e9:.2f} GB"
    cmd = " ".join(["python scripts/bench_search_speed.py", shlex.join(sys.argv[1:])])
    load = os.getloadavg()
    out = [
        (f"`{cmd}` on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC: {os.cpu_count()} CPU cores ({platform.machine()}), "
         f"{_cpu_name()}, torch {torch.__version__} with {args.threads} threads; int8 products fast here: "
         f"{'yes (auto: the int8 first pass)' if int8_products_fast() else 'no (auto: no approximate pass)'}; load average at the end {load[0]:.1f} / "
         f"{load[1]:.1f} / {load[2]:.1f} (the machine is shared: compare rows through the same-run ratios)."),
        "",
        (f"**baseline** = the package at `{rev}`, **new** = this checkout; each a worker process, every query "
         "sent to each in turn. Synthetic clips as in the Search section (one 128-frame window of 112 patches "
         "per clip). Full search = `Searcher.search(text, k=10)` with a new text each time (text encoding "
         f"included), {args.queries} queries interleaved over the configurations; alone = {args.queries} other "
         "new texts back to back in one configuration while the others wait (as one server runs); core = a token "
         f"query's two-stage search ({args.recall_queries} token queries x 3); recall@10 vs exact on those token "
         "queries. Latency ms, p50 / p99."),
        "",
        "| clips | configuration | full search | vs baseline (p50) | full search, alone | two-stage core | recall@10 vs exact | searcher open | memory held |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---|",
    ]  # fmt: skip
    for r in rows:
        base = r["search"]["baseline"][0]
        for name in r["search"]:
            o = r["open"][name]
            held = ", ".join(f"{k.replace('_', ' ')} {gb(o[k])}" for k in ("float_cache", "approx_copy", "int8_copy")
                             if o.get(k)) or "none (memory-mapped index)"  # fmt: skip
            out.append(f"| {r['n']:,} ({r['codec']}) | {name} | **{f(r['search'][name])}** | "
                       f"{r['search'][name][0] / base:.2f}x | {f(r['alone'][name])} | {f(r['core'][name])} | "
                       f"{r['recall'][name]:.3f} | "
                       f"{o['open_s']:.1f} s | {held} |")  # fmt: skip
    if real:
        out += [
            "",
            (f"Real library (`{args.real_index}`: {real['clips']:,} clips, {real['windows']:,} windows, shipped "
             f"model), {real['queries']} test-split captions, this checkout with the int8 first pass on and off: "
             f"the same top-10 in the same order for **{real['same']:.3f}** of the queries, largest score "
             f"difference {real['max_diff']:.1e}; full search {f(real['on_ms'])} ms (on) vs {f(real['off_ms'])} ms "
             f"(off); float16 cache {gb(real['cache'])}, int8 copy {gb(real['approx'])}."),
        ]  # fmt: skip
    by_n = {r["n"]: r for r in rows}
    notes = []
    if 10_000 in by_n:
        r = by_n[10_000]["search"]
        a = by_n[10_000]["alone"]
        notes.append(f"10k full search p50 <= 10 ms: {r['new'][0]:.1f} ms interleaved, {a['new'][0]:.1f} ms alone "
                     f"(baseline {r['baseline'][0]:.1f} / {a['baseline'][0]:.1f} ms)")  # fmt: skip
    if 100_000 in by_n:
        r = by_n[100_000]
        notes.append(f"100k p50 <= 30 ms at recall@10 >= 0.99: {r['search']['new'][0]:.1f} ms interleaved, "
                     f"{r['alone']['new'][0]:.1f} ms alone, at {r['recall']['new']:.3f} (baseline "
                     f"{r['search']['baseline'][0]:.1f} / {r['alone']['baseline'][0]:.1f} ms)")  # fmt: skip
    if notes:
        out += ["", "Targets (issue 13) in this run: " + "; ".join(notes) + "."]
    return "\n".join(out)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="*", default=[10_000])
    ap.add_argument("--queries", type=int, default=60, help="timed full searches per configuration and size")
    ap.add_argument("--recall-queries", type=int, default=20)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--baseline-rev", default="b010f5f", help="git revision of the baseline search")
    ap.add_argument("--real-index", type=Path, default=None)
    ap.add_argument("--checkpoint", type=Path, default=DEFAULT_MODEL_DIR)
    ap.add_argument("--real-queries", type=int, default=300)
    ap.add_argument("--configs", nargs="*", default=DEFAULT_CONFIGS, choices=list(CONFIGS),
                    help="configurations to run (baseline and new are always needed)")  # fmt: skip
    ap.add_argument("--no-write", action="store_true")
    ap.add_argument("--doc", type=Path, default=REPO / "docs" / "benchmarks.md")
    args = ap.parse_args()
    if not {"baseline", "new"} <= set(args.configs):
        ap.error("--configs needs baseline and new")
    torch.set_num_threads(args.threads)
    torch.set_grad_enabled(False)
    rev = subprocess.run(["git", "rev-parse", "--short", args.baseline_rev], cwd=REPO, capture_output=True,
                         text=True, check=True).stdout.strip()  # fmt: skip
    world, rows = topics(), []
    with tempfile.TemporaryDirectory(prefix="bench-search-speed-") as d:
        tmp = Path(d)
        roots = {"baseline": baseline_tree(args.baseline_rev, tmp), "new": REPO}
        model = text_model(tmp)
        for n in args.sizes:
            print(f"size {n} ...", flush=True)
            rows.append(bench_size(n, args, model, world, tmp, roots))
    real = bench_real(args) if args.real_index is not None else None
    print(real, flush=True)
    body = report(args, f"{args.baseline_rev} ({rev})", rows, real)
    print(body)
    if not args.no_write:
        write_section(args.doc, body, SECTION)
        print(f"updated {args.doc}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
