"""Load test of the HTTP API: N concurrent clients on loopback for D seconds against a real server process.

Starts ``python -m backend serve`` on a free port of 127.0.0.1, waits for ``/health``, warms up, then runs
``--clients`` threads that each send ``POST /search`` requests (one new connection per request, as the
add-on's urllib client does) for ``--duration`` seconds. Reports errors (non-200 answers and failed
requests), throughput and latency percentiles, and rewrites only the "## Load test" section of
``docs/benchmarks.md``.

Usage::

    python scripts/bench_load.py --index data/index --checkpoint backend/assets/default_model
    python scripts/bench_load.py                 # demo: builds a temporary index of real Bandai-Namco-1 clips
    python scripts/bench_load.py --clients 8 --duration 10 --no-write   # a quick look

Without ``--index`` the script builds a temporary index from the shared datasets' Bandai-Namco-1 BVH
files with ``--checkpoint`` (default ``backend/assets/default_model``); when no trained checkpoint exists it
uses a random-init model with the default model's search-time shapes (real MiniLM text encoder, 256-d
tokens, 160-frame windows = 14 x 10 patches): search latency does not depend on the weights.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))

from _docs_section import write_section

from backend.model.config import DEFAULT_MODEL_DIR as DEFAULT_CHECKPOINT

DOC = REPO / "docs" / "benchmarks.md"
SHARED = Path(os.environ.get("MOTION_SEARCH_MIRROR", REPO.parent / "shared" / "datasets"))
SECTION = "## Load test"

#: animator-style queries (varied length, sides, limbs, styles)
QUERIES = [
    "a person walks forward", "someone waves goodbye with the left hand", "a man runs and then stops",
    "a person bows politely", "kick with the right leg", "an old person walks slowly", "jump in place",
    "a person raises both arms above the head", "walk backwards carefully", "a happy person dances",
    "someone turns around to the left", "a tired man walks to the right", "punch with the left fist",
    "a person sits down on a chair", "a proud walk", "a childish run", "a person looks around while standing",
    "stumble and regain balance", "a feminine wave of the right hand", "an angry person stomps the ground",
]  # fmt: skip


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _request(url: str, payload: dict[str, Any] | None, timeout: float) -> tuple[int, bytes]:
    data = json.dumps(payload).encode() if payload is not None else None
    req = urllib.request.Request(url, data=data, method="POST" if data else "GET",
                                 headers={"Content-Type": "application/json"})  # fmt: skip
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


# ------------------------------------------------------------------------------- demo index
def _demo_model(checkpoint: Path | None, work: Path) -> tuple[Path, str]:
    """A checkpoint folder to serve and a description of it."""
    if checkpoint is not None:
        return checkpoint, f"checkpoint `{checkpoint.name}`"
    if (DEFAULT_CHECKPOINT / "config.json").is_file():
        return DEFAULT_CHECKPOINT, "the default model (`backend/assets/default_model`)"
    import torch

    from backend.model.config import RetrievalConfig
    from backend.model.retrieval import MotionTextRetrieval

    torch.manual_seed(0)
    config = RetrievalConfig(
        vit_kwargs={"depth": 2, "embed_dim": 64, "num_heads": 2}, embed_dim=256, window_frames=160
    )
    model = MotionTextRetrieval.from_config(config).eval()
    return model.save_pretrained(work / "checkpoint"), (
        "a random-init model with the default search-time shapes (real MiniLM text encoder, 256-d tokens, "
        "14 x 10 patches per window; no trained checkpoint was available)"
    )


def _demo_index(checkpoint: Path, work: Path, max_clips: int) -> Path:
    """Encode up to ``max_clips`` real Bandai-Namco-1 clips (with label captions) into a new index."""
    import tarfile

    from backend.index.captions import collect_captions
    from backend.index.format import IndexHeader
    from backend.index.windows import default_stride
    from backend.index.writer import CaptionPart, IndexWriter, create_index
    from backend.model.retrieval import MotionTextRetrieval
    from backend.motion.convert import bvh_to_clip
    from backend.motion.kinematics.features import compute_features
    from backend.motion.kinematics.normalize import fit_stats
    from backend.search.ingest import encode_captions, encode_clips

    archive = SHARED / "bandai-namco-1.tar.gz"
    if not archive.is_file():
        raise SystemExit(f"no --index given and no shared dataset archive at {archive}")
    with tarfile.open(archive) as tar:
        tar.extractall(work / "data", filter="data")
    data = work / "data" / "bandai-namco-1" / "dataset" / "Bandai-Namco-Research-Motiondataset-1"

    def labels(name: str) -> list[str]:
        words = (data / "cfg" / name).read_text().split()
        return [w.removeprefix("dataset-1_").replace("-", " ") for w in words]

    contents, styles = labels("content_label.txt"), labels("style_label.txt")
    clips = []
    for bvh in sorted((data / "data").glob("*.bvh"))[:max_clips]:
        clip = bvh_to_clip(bvh, dataset="bandai-namco-1", source=str(bvh.relative_to(data.parent.parent)))
        label = json.loads(bvh.with_suffix(".json").read_text())
        clip.meta.captions = [f"{contents[label['content']]}, {styles[label['style']]} style"]
        clips.append(clip)
    model = MotionTextRetrieval.from_pretrained(checkpoint)
    if model.feature_stats is None:  # random-init demo model: fit its z-score statistics on these clips
        rep = model.config.representation
        model.set_feature_stats(fit_stats([compute_features(c.joints, rep) for c in clips], rep))
        checkpoint = model.save_pretrained(checkpoint)
        model = MotionTextRetrieval.from_pretrained(checkpoint)
    w = int(model.config.window_frames)
    index = work / "index"
    create_index(index, IndexHeader(model_checksum=model.checksum(), embed_dim=int(model.config.embed_dim),
                                    codec="fp16", window_frames=w, stride=default_stride(w),
                                    n_time=model.config.n_windows, model_name=checkpoint.name))  # fmt: skip
    texts = collect_captions([t for c in clips for t in c.meta.captions])
    with IndexWriter(index) as writer:
        writer.add(list(encode_clips(model, clips, stride=default_stride(w), progress=sys.stderr.isatty())),
                   captions=CaptionPart(texts, encode_captions(model, texts)))  # fmt: skip
    return index


# ------------------------------------------------------------------------------- server
@contextlib.contextmanager
def serve(
    index: Path,
    checkpoint: Path,
    previews: Path,
    threads: int = 0,
    code: Path = REPO,
    env: dict[str, str] | None = None,
) -> Iterator[tuple[str, dict[str, Any]]]:
    """Run ``python -m backend serve`` (the package under ``code``) on a free loopback port.

    Yields ``(url, /health answer)`` once healthy; stops the server (SIGINT, then kill) afterwards.
    """
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    cmd = [sys.executable, "-m", "backend", "serve", "--index", str(index), "--checkpoint", str(checkpoint),
           "--port", str(port), "--preview-cache", str(previews), "--log-level", "warning",
           "--threads", str(threads)]  # fmt: skip
    run_env = {**os.environ, "MOTION_SEARCH_API_TOKEN": "", "PYTHONPATH": str(code), **(env or {})}
    server = subprocess.Popen(cmd, cwd=code, env=run_env)
    try:
        deadline = time.monotonic() + 300
        while True:
            try:
                status, body = _request(f"{url}/health", None, 5)
                if status == 200:
                    break
            except OSError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"the server ({cmd}) did not start")
            time.sleep(0.5)
        yield url, json.loads(body)
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()


# ------------------------------------------------------------------------------- load
def _client(
    url: str,
    stop_at: float,
    seed: int,
    k: int,
    timeout: float,
    out: list[tuple[float, int]],
    extra: dict[str, Any] | None = None,
) -> None:
    rng = random.Random(seed)
    while time.monotonic() < stop_at:
        t0 = time.perf_counter()
        try:
            body = {"text": rng.choice(QUERIES), "k": k, **(extra or {})}
            status, body = _request(f"{url}/search", body, timeout)
            if status == 200 and not json.loads(body).get("results"):
                status = -2  # an empty answer counts as an error
        except (OSError, ValueError):
            status = -1
        out.append((time.perf_counter() - t0, status))


def run_load(
    url: str, clients: int, duration: float, k: int, timeout: float, extra: dict[str, Any] | None = None
) -> dict[str, Any]:
    """``clients`` threads hammering ``/search`` for ``duration`` seconds; returns the statistics.

    ``extra``: more fields of every request body (e.g. ``{"alignment": "all"}``).
    """
    results: list[list[tuple[float, int]]] = [[] for _ in range(clients)]
    stop_at = time.monotonic() + duration
    threads = [
        threading.Thread(target=_client, args=(url, stop_at, i, k, timeout, results[i], extra))
        for i in range(clients)
    ]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.monotonic() - t0
    flat = [r for rs in results for r in rs]
    lat = np.array([d for d, s in flat if s == 200]) * 1000.0
    errors: dict[str, int] = {}
    for _, s in flat:
        if s != 200:
            key = {-1: "connection/timeout", -2: "empty result"}.get(s, f"HTTP {s}")
            errors[key] = errors.get(key, 0) + 1
    pct = lambda q: float(np.percentile(lat, q)) if len(lat) else float("nan")
    return {
        "requests": len(flat),
        "ok": len(lat),
        "errors": errors,
        "wall_s": wall,
        "throughput": len(flat) / wall,
        "p50": pct(50),
        "p90": pct(90),
        "p99": pct(99),
        "max": float(lat.max()) if len(lat) else float("nan"),
        "mean": float(lat.mean()) if len(lat) else 0.0,
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--index", type=Path, help="index folder (default: build a demo index)")
    p.add_argument("--checkpoint", type=Path, help="model folder (default backend/assets/default_model)")
    p.add_argument("--clients", type=int, default=32)
    p.add_argument("--duration", type=float, default=60.0, help="seconds of load")
    p.add_argument("--k", type=int, default=10, help="results per search")
    p.add_argument("--single-seconds", type=float, default=10.0, help="seconds of the 1-client baseline")
    p.add_argument("--max-clips", type=int, default=174, help="clips in the demo index")
    p.add_argument("--threads", type=int, default=0, help="torch threads of the server (0 = torch default)")
    p.add_argument("--timeout", type=float, default=60.0, help="per-request timeout (s)")
    p.add_argument("--alignment", choices=("none", "top", "all"), default="none",
                   help="which hits of each /search carry an alignment (the server's default: none)")  # fmt: skip
    p.add_argument("--no-write", action="store_true", help="print only; do not touch docs/benchmarks.md")
    p.add_argument("--doc", type=Path, default=DOC)
    args = p.parse_args(argv)

    sys.path.insert(0, str(REPO))
    extra = {"alignment": args.alignment}
    with tempfile.TemporaryDirectory(prefix="bench-load-") as tmp:
        work = Path(tmp)
        if args.index is None:
            checkpoint, model_desc = _demo_model(args.checkpoint, work)
            index = _demo_index(checkpoint, work, args.max_clips)
        else:
            checkpoint = args.checkpoint or DEFAULT_CHECKPOINT
            index, model_desc = args.index, f"checkpoint `{Path(checkpoint).name}`"
        with serve(index, checkpoint, work / "previews", args.threads, REPO) as (url, health):
            for q in QUERIES:  # warm-up
                _request(f"{url}/search", {"text": q, "k": args.k, **extra}, args.timeout)
            load_before = os.getloadavg()[0]
            print(f"server up: {health}; 1 client for {args.single_seconds:.0f} s ...", flush=True)
            single = run_load(url, 1, args.single_seconds, args.k, args.timeout, extra)
            print(f"{args.clients} clients for {args.duration:.0f} s ...", flush=True)
            stats = run_load(url, args.clients, args.duration, args.k, args.timeout, extra)
        info = {}
        from backend.index.store import MotionIndex

        idx = MotionIndex.open(index)
        info = {"windows": idx.num_windows, "codec": idx.header.codec}

    err_total = sum(stats["errors"].values()) + sum(single["errors"].values())
    machine = (
        f"`python scripts/bench_load.py{' --index ...' if args.index else ''}` on {date.today().isoformat()}: "
        f"{os.cpu_count()} CPU cores ({platform.machine()}), Python {platform.python_version()}; client and "
        f"server share the machine (1-minute load average before the run: {load_before:.1f})."
    )
    setup = (
        f"Server: `python -m backend serve` on 127.0.0.1 (uvicorn, one process), {model_desc}; "
        f"{health['library_size']} clips, {info['windows']} windows, codec {info['codec']}. Load: "
        f"**{args.clients} concurrent clients for {args.duration:.0f} s**, each sending `POST /search` "
        f"(k = {args.k}, `alignment: {args.alignment}`; one of {len(QUERIES)} queries at random) on a new connection "
        "(urllib), back to back."
    )

    def row(name: str, st: dict[str, Any]) -> str:
        errs = sum(st["errors"].values())
        text = ", ".join(f"{k}: {v}" for k, v in st["errors"].items()) or "none"
        return (
            f"| {name} | {st['requests']} | {errs} ({text}) | {st['throughput']:.1f} req/s | {st['p50']:.0f} ms | "
            f"{st['p90']:.0f} ms | {st['p99']:.0f} ms | {st['max']:.0f} ms |"
        )

    note = (
        f"Latency is per request as a client sees it, including queueing: with {args.clients} clients and "
        f"{os.cpu_count()} cores, p50 is roughly {args.clients} x the single-request service time divided by "
        "the cores available (throughput is the capacity figure); the 1-client row is the service time."
    )
    table = (
        "| clients | requests | errors | throughput | p50 | p90 | p99 | max |\n"
        "|---|---:|---:|---:|---:|---:|---:|---:|"
    )
    rows = [
        row(f"**{args.clients} for {args.duration:.0f} s**", stats),
        row(f"1 for {args.single_seconds:.0f} s (baseline)", single),
    ]
    lines = [machine, "", setup, "", table, *rows, "", note]
    body = "\n".join(lines)
    print(body)
    if not args.no_write:
        write_section(args.doc, body, SECTION)
        print(f"updated {args.doc}")
    return 0 if err_total == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
