"""Instant search over HTTP: ``/search`` latency by ``k`` and ``alignment``, the selected hit's ``/alignment``,
and 32-client throughput, against the code of a baseline revision in the same run.

Both servers are real ``python -m backend serve`` processes on loopback over the same index and checkpoint,
started one after the other (never at the same time). The baseline is the package of ``--baseline-rev``
(extracted with ``git archive`` into a temporary folder; before issue 13 every hit carried an alignment).
Every timed request is one new connection (urllib, as the add-on's client) with a text the server has not
seen (the query-encoding cache never helps), so text encoding is always included. Writes the
"## Instant search" section of ``docs/benchmarks.md``.

Usage::

    python scripts/bench_search_api.py --index data/index --baseline-rev b83b697~1
    python scripts/bench_search_api.py --index data/index --queries 10 --duration 10 --no-write   # a quick look
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))

from _docs_section import write_section
from bench_load import DEFAULT_CHECKPOINT, DOC, QUERIES, _request, run_load, serve

SECTION = "## Instant search"
ADVERBS = ["", "slowly", "quickly", "twice", "carefully", "again", "calmly", "in a hurry", "happily", "sadly",
           "with energy", "lazily", "proudly", "nervously", "gently", "then stops"]  # fmt: skip


def fresh_texts() -> Iterator[str]:
    """Distinct query texts (base query + adverb), so no request is served by the query-encoding cache."""
    return iter(f"{q} {a}".strip() for a in ADVERBS for q in QUERIES)


def pct(ms: list[float]) -> tuple[float, float]:
    return float(np.percentile(ms, 50)), float(np.percentile(ms, 99))


def timed_post(url: str, path: str, body: dict[str, Any], timeout: float) -> tuple[float, dict]:
    import json

    t0 = time.perf_counter()
    status, raw = _request(url + path, body, timeout)
    ms = (time.perf_counter() - t0) * 1e3
    if status != 200:
        raise SystemExit(f"{path} {body} answered {status}: {raw[:300]!r}")
    return ms, json.loads(raw)


def measure(url: str, texts, args: argparse.Namespace, modes: list[str | None]) -> dict[str, Any]:
    """``/search`` p50 / p99 per (k, alignment mode); ``None`` = the field left out (the server's default)."""
    out: dict[str, Any] = {}
    for q in QUERIES[:5]:  # warm-up (model, ONNX session, caches of the first clips)
        _request(url + "/search", {"text": q, "k": 50}, args.timeout)
    for mode in modes:
        for k in args.ks:
            body = {"k": k} if mode is None else {"k": k, "alignment": mode}
            ms = [timed_post(url, "/search", {"text": next(texts), **body}, args.timeout)[0]
                  for _ in range(args.queries)]  # fmt: skip
            out[(mode, k)] = pct(ms)
            print(mode, k, out[(mode, k)], flush=True)
    return out


def measure_alignment(url: str, texts, args: argparse.Namespace) -> dict[str, Any]:
    """The panel's flow: ``/search`` (default), then ``/alignment`` of the selected hit (rank 0, then rank 5)."""
    first, other, again = [], [], []
    for _ in range(args.queries):
        text = next(texts)
        _, res = timed_post(url, "/search", {"text": text, "k": 10}, args.timeout)
        hits = res["results"]
        first.append(timed_post(url, "/alignment", {"text": text, "id": hits[0]["id"]}, args.timeout)[0])
        other.append(timed_post(url, "/alignment", {"text": text, "id": hits[5]["id"]}, args.timeout)[0])
        again.append(timed_post(url, "/alignment", {"text": text, "id": hits[0]["id"]}, args.timeout)[0])
    return {"first": pct(first), "other": pct(other), "again": pct(again)}


def baseline_tree(rev: str, work: Path) -> Path:
    """The ``backend`` package of ``rev`` extracted under ``work/baseline`` (no change to the checkout)."""
    dest = work / "baseline"
    dest.mkdir()
    archive = work / "baseline.tar"
    with open(archive, "wb") as f:
        subprocess.run(["git", "archive", rev, "backend"], cwd=REPO, stdout=f, check=True)
    with tarfile.open(archive) as tar:
        tar.extractall(dest, filter="data")
    return dest


def report(args: argparse.Namespace, rev_name: str, base: dict, new: dict, info: dict) -> str:
    f = lambda t: f"{t[0]:.1f} / {t[1]:.1f}"
    cmd = " ".join(["python scripts/bench_search_api.py", *sys.argv[1:]])
    load = os.getloadavg()
    lines = [
        (f"`{cmd}` on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC: {os.cpu_count()} CPU cores "
        f"({platform.machine()}), Python {platform.python_version()}; client and server share the machine "
        f"(load average at the end: {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f}; other work ran on it)."),
        "",
        (f"Real library built by the run command: {info['health']['library_size']} clips, "
        f"{info['windows']} windows ({info['codec']}), shipped model. One `python -m backend serve` at a time on "
        f"127.0.0.1: **baseline** = the package at `{rev_name}` (every hit carries an alignment), **new** = this "
        "checkout. Single client, one new connection per request, every text new to the server (text encoding "
        f"included), {args.queries} requests per cell; latency in ms, p50 / p99."),
        "",
        "| server | `alignment` | " + " | ".join(f"k = {k}" for k in args.ks) + f" | k = {args.ks[-1]} / k = {args.ks[0]} (p50) |",
        "|---|---|" + "---:|" * (len(args.ks) + 1),
    ]  # fmt: skip
    rows = [("baseline", None, base)] + [("new", m, new) for m in (None, "top", "all")]
    for name, mode, res in rows:
        cells = [f(res[(mode, k)]) for k in args.ks]
        ratio = res[(mode, args.ks[-1])][0] / res[(mode, args.ks[0])][0]
        label = "(every hit)" if name == "baseline" else ("`none` (default)" if mode is None else f"`{mode}`")
        lines.append(f"| {name} | {label} | " + " | ".join(cells) + f" | {ratio:.2f}x |")
    al = info["alignment"]
    lines += [
        "",
        (
            "The panel's flow on the new server (`/search` with the default, then `POST /alignment` for the selected "
            f"hit): best hit {f(al['first'])} ms, the 6th hit {f(al['other'])} ms, the best hit again (answer cached) "
            f"{f(al['again'])} ms."
        ),
        "",
        (
            f"Throughput, {args.clients} concurrent clients for {args.duration:.0f} s each, `POST /search` k = 10 (one "
            "of 20 queries at random, new connection per request):"
        ),
        "",
        "| server | requests | errors | throughput | p50 | p99 |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, st in (
        ("baseline (every hit aligned)", info["load_base"]),
        ("new (default)", info["load_new"]),
    ):
        errs = sum(st["errors"].values())
        lines.append(f"| {name} | {st['requests']} | {errs} | {st['throughput']:.1f} req/s | {st['p50']:.0f} ms | "
                     f"{st['p99']:.0f} ms |")  # fmt: skip
    gain = info["load_new"]["throughput"] / max(info["load_base"]["throughput"], 1e-9)
    k0, k1 = args.ks[0], args.ks[-1]
    lines += [
        "",
        (f"Targets (issue 13) in this run: `/search` k = {k1} within 1.5x of k = {k0}: "
        f"{new[(None, k1)][0] / new[(None, k0)][0]:.2f}x (baseline {base[(None, k1)][0] / base[(None, k0)][0]:.2f}x); "
        f"p50 <= 30 ms at k = {k1}: {new[(None, k1)][0]:.1f} ms; the selected hit's alignment <= 150 ms: "
        f"{al['first'][0]:.1f} ms p50 ({al['first'][1]:.1f} ms p99); {args.clients}-client throughput >= 5x the "
        f"baseline: {gain:.1f}x."),
    ]  # fmt: skip
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument(
        "--index", type=Path, required=True, help="the real index (python -m backend main builds it)"
    )
    ap.add_argument("--checkpoint", type=Path, default=DEFAULT_CHECKPOINT)
    ap.add_argument("--baseline-rev", default="b83b697~1", help="git revision of the baseline server")
    ap.add_argument("--ks", type=int, nargs="*", default=[1, 10, 50])
    ap.add_argument("--queries", type=int, default=20, help="timed requests per cell")
    ap.add_argument("--clients", type=int, default=32)
    ap.add_argument("--duration", type=float, default=20.0, help="seconds of each load run")
    ap.add_argument("--threads", type=int, default=0, help="torch threads of the servers (0 = default)")
    ap.add_argument("--timeout", type=float, default=120.0)
    ap.add_argument("--no-write", action="store_true")
    ap.add_argument("--doc", type=Path, default=DOC)
    args = ap.parse_args()
    rev = subprocess.run(["git", "rev-parse", "--short", args.baseline_rev], cwd=REPO, capture_output=True,
                         text=True, check=True).stdout.strip()  # fmt: skip
    texts = fresh_texts()
    info: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="bench-search-api-") as tmp:
        work = Path(tmp)
        code = baseline_tree(args.baseline_rev, work)
        with serve(args.index, args.checkpoint, work / "previews-base", args.threads, code) as (url, health):
            print("baseline up", health, flush=True)
            base = measure(url, texts, args, [None])
            info["load_base"] = run_load(url, args.clients, args.duration, 10, args.timeout)
            print("baseline load", info["load_base"], flush=True)
        with serve(args.index, args.checkpoint, work / "previews-new", args.threads, REPO) as (url, health):
            print("new up", health, flush=True)
            info["health"] = health
            new = measure(url, texts, args, [None, "top", "all"])
            info["alignment"] = measure_alignment(url, texts, args)
            info["load_new"] = run_load(url, args.clients, args.duration, 10, args.timeout)
            print("new load", info["load_new"], flush=True)
    sys.path.insert(0, str(REPO))
    from backend.index.store import MotionIndex

    idx = MotionIndex.open(args.index)
    info["windows"], info["codec"] = idx.num_windows, idx.header.codec
    body = report(args, f"{args.baseline_rev} ({rev})", base, new, info)
    print(body)
    if not args.no_write:
        write_section(args.doc, body, SECTION)
        print(f"updated {args.doc}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
