"""Server memory: RSS over add/remove cycles (against a baseline revision) and under a 32-client mixed load.

Part 1, the write path: a real ``python -m backend serve`` process gets ``--cycles`` rounds of ``POST /library``
(a real BVH upload under a fresh id) + ``DELETE /library/{id}``; the server's RSS (``VmRSS`` of
``/proc/<pid>/status``) is read after a warm-up and after every cycle. The same runs, in the same session and
on a copy of the same index, against ``--baseline-rev`` (default: the commit before issue 12; its ``backend``
package extracted with ``git archive``), whose searcher kept a reference cycle so that every replaced searcher
(and its float32 patch cache) waited for a full garbage collection.

Part 2, a mixed load: ``--clients`` threads for ``--duration`` seconds, each request one of ``POST /search``,
``POST /describe`` (a real clip's joints), ``GET /motions/{id}`` and ``GET /motions/{id}/preview.png`` at
random; RSS before and after, errors and latency per kind.

Usage::

    python scripts/bench_memory.py                      # demo index of real Bandai-Namco-1 clips, default model
    python scripts/bench_memory.py --index data/index   # a real index (copied; the original is not changed)
    python scripts/bench_memory.py --cycles 5 --duration 10 --no-write   # a quick look

Rewrites only the "## Memory" section of ``docs/benchmarks.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))

from _docs_section import write_section
from bench_load import DOC, QUERIES, SHARED, _demo_index, _demo_model, serve
from bench_search_api import baseline_tree

from backend.motion.clip import CANONICAL_FPS

SECTION = "## Memory"
BASELINE_REV = "8d12abb"
UPLOAD = "dataset-1_bye_feminine_001.bvh"
KINDS = ("search", "describe", "motion", "preview")


# ----------------------------------------------------------------------------------------- process
def server_pid(url: str) -> int:
    """PID of the ``python -m backend serve`` process listening on ``url``'s port."""
    port = url.rsplit(":", 1)[1]
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            args = (d / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"serve" in args and b"--port" in args and args[args.index(b"--port") + 1] == port.encode():
            return int(d.name)
    raise SystemExit(f"no server process on port {port}")


def rss_mb(pid: int, field: str = "VmRSS") -> float:
    """``VmRSS`` (or ``VmHWM``, the peak) of a process in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024.0
    raise SystemExit(f"no {field} for pid {pid}")


def call(url: str, method: str, path: str, body: bytes | None = None, ctype: str | None = None,
         timeout: float = 120.0) -> tuple[int, bytes]:  # fmt: skip
    headers = {"Content-Type": ctype} if ctype else {}
    req = urllib.request.Request(url + path, data=body, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def multipart(clip_id: str, name: str, data: bytes) -> tuple[bytes, str]:
    b = uuid.uuid4().hex
    body = (f'--{b}\r\nContent-Disposition: form-data; name="id"\r\n\r\n{clip_id}\r\n'
            f'--{b}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n").encode() + data + f"\r\n--{b}--\r\n".encode()  # fmt: skip
    return body, f"multipart/form-data; boundary={b}"


# ----------------------------------------------------------------------------------------- part 1
def cycles(url: str, bvh: bytes, n: int) -> dict[str, Any]:
    """``n`` add + remove rounds; RSS after a warm-up round and after every round (MB)."""
    pid = server_pid(url)
    call(url, "POST", "/search", json.dumps({"text": QUERIES[0]}).encode(), "application/json")
    rss, seconds = [], []
    for i in range(n + 1):
        t0 = time.perf_counter()
        body, ctype = multipart(f"cycle_{i}", UPLOAD, bvh)
        status, answer = call(url, "POST", "/library", body, ctype)
        if status != 200:
            raise SystemExit(f"add {i} failed: {status} {answer[:200]!r}")
        status, answer = call(url, "DELETE", f"/library/cycle_{i}")
        if status != 200:
            raise SystemExit(f"remove {i} failed: {status} {answer[:200]!r}")
        seconds.append(time.perf_counter() - t0)
        rss.append(rss_mb(pid))  # round 0 is the warm-up (first add loads the encoders' paths)
    return {"start": rss[0], "peak": max(rss), "end": rss[-1], "hwm": rss_mb(pid, "VmHWM"), "series": rss,
            "cycle_s": float(np.median(seconds[1:]))}  # fmt: skip


def replicate(source: Path, dest: Path, times: int) -> Path:
    """A copy of ``source`` holding every clip ``times`` times (ids ``<id>_r<i>``; embeddings copied, not
    re-encoded), so that a demo index has the patch-cache size of a real library."""
    from dataclasses import replace

    from backend.index.captions import load_caption_bank
    from backend.index.store import MotionIndex
    from backend.index.writer import CaptionPart, EncodedClip, IndexWriter, create_index

    src = MotionIndex.open(source)
    create_index(dest, replace(src.header, segments=[], tombstones=[], caption_parts=[], caption_files={}))
    pooled = src.pooled()
    encoded = []
    for pos, rec in enumerate(src.clips):
        rows = src.clip_windows(pos)
        emb, mask = src.window_patches(rows)
        base = EncodedClip(rec.meta, src.joints(rec.id), src.window_start[rows], src.window_length[rows], emb,
                           mask, pooled[rows])  # fmt: skip
        encoded += [replace(base, meta=replace(rec.meta, id=f"{rec.id}_r{i}")) for i in range(times)]
    bank = load_caption_bank(source, src.header.caption_parts, src.header.embed_dim)
    tokens = [np.asarray(bank.tokens[a:b]) for a, b in zip(bank.offsets[:-1], bank.offsets[1:])]
    with IndexWriter(dest) as writer:
        writer.add(encoded, captions=CaptionPart(list(bank.texts), tokens))
    return dest


def strip_checksums(index: Path) -> None:
    """Drop the per-array digests from a copy's manifest (the baseline revision predates them)."""
    path = index / "header.json"
    header = json.loads(path.read_text())
    header.pop("caption_files", None)
    for seg in header.get("segments", []):
        seg.pop("files", None)
    path.write_text(json.dumps(header, indent=1))


# ----------------------------------------------------------------------------------------- part 2
def mixed_client(url: str, stop_at: float, seed: int, ids: list[str], joints: list, out: list) -> None:
    rng = random.Random(seed)
    describe = json.dumps({"joints": joints, "fps": CANONICAL_FPS, "k": 5}).encode()
    while time.monotonic() < stop_at:
        kind = rng.choice(KINDS)
        t0 = time.perf_counter()
        try:
            if kind == "search":
                body = json.dumps({"text": rng.choice(QUERIES), "k": 10}).encode()
                status, _ = call(url, "POST", "/search", body, "application/json")
            elif kind == "describe":
                status, _ = call(url, "POST", "/describe", describe, "application/json")
            elif kind == "motion":
                status, _ = call(url, "GET", f"/motions/{rng.choice(ids)}")
            else:
                status, _ = call(url, "GET", f"/motions/{rng.choice(ids)}/preview.png")
        except OSError:
            status = -1
        out.append((kind, time.perf_counter() - t0, status))


def mixed_load(url: str, clients: int, duration: float) -> dict[str, Any]:
    pid = server_pid(url)
    _, body = call(url, "POST", "/search", json.dumps({"text": "a person walks", "k": 50}).encode(),
                   "application/json")  # fmt: skip
    ids = [h["id"] for h in json.loads(body)["results"]]
    clip = json.loads(call(url, "GET", f"/motions/{ids[0]}")[1])
    joints = clip["joints"][:200]
    for i in ids[:8]:  # warm the preview cache a little, as a user scrolling the first hits would
        call(url, "GET", f"/motions/{i}/preview.png")
    before = rss_mb(pid)
    results: list[list] = [[] for _ in range(clients)]
    stop_at = time.monotonic() + duration
    threads = [threading.Thread(target=mixed_client, args=(url, stop_at, i, ids, joints, results[i]))
               for i in range(clients)]  # fmt: skip
    t0 = time.monotonic()
    for t in threads:
        t.start()
    samples = []  # RSS every 10 s while the load runs: a plateau or a climb
    while any(t.is_alive() for t in threads):
        time.sleep(min(10.0, max(0.5, stop_at - time.monotonic())))
        samples.append(rss_mb(pid))
    for t in threads:
        t.join()
    wall = time.monotonic() - t0
    time.sleep(10.0)
    idle = rss_mb(pid)
    flat = [r for rs in results for r in rs]
    per: dict[str, dict[str, Any]] = {}
    for kind in KINDS:
        lat = np.array([d for k, d, s in flat if k == kind and s == 200]) * 1000.0
        errs = sum(1 for k, _, s in flat if k == kind and s != 200)
        per[kind] = {"n": sum(1 for k, *_ in flat if k == kind), "errors": errs,
                     "p50": float(np.percentile(lat, 50)) if len(lat) else float("nan"),
                     "p95": float(np.percentile(lat, 95)) if len(lat) else float("nan")}  # fmt: skip
    return {"before": before, "after": samples[-1], "idle": idle, "samples": samples,
            "hwm": rss_mb(pid, "VmHWM"), "wall": wall,
            "requests": len(flat), "errors": sum(p["errors"] for p in per.values()), "per": per}  # fmt: skip


# ----------------------------------------------------------------------------------------- report
def report(args: argparse.Namespace, info: dict[str, Any], new: dict, base: dict, load: dict) -> str:
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        (
            f"`python scripts/bench_memory.py{' --index ...' if args.index else ''}{f' --replicate {args.replicate}' if args.replicate > 1 else ''}` ({when}; {os.cpu_count()} CPU "
            f"cores, Python {platform.python_version()}; client and server share the machine). Server: "
            f"`python -m backend serve` on 127.0.0.1, {info['model']}; {info['clips']} clips"
            f"{f' (each real clip stored {args.replicate} times)' if args.replicate > 1 else ''}, {info['windows']} "
            f"windows, codec {info['codec']} (float32 patch cache {info['cache_mb']:.0f} MB). RSS = `VmRSS` of the "
            "server process, MB."
        ),
        "",
        (
            f"**Write path**: {args.cycles} cycles of `POST /library` (a real {UPLOAD} upload, fresh id) + "
            f"`DELETE /library/{{id}}`, RSS after a warm-up cycle (start) and after every cycle; the baseline is "
            f"revision `{args.baseline_rev}` (before issue 12) on a copy of the same index in the same run."
        ),
        "",
        "| server | RSS start | RSS peak | RSS end | end / start | peak (VmHWM) | median cycle |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, r in ((f"baseline `{args.baseline_rev}`", base), ("this revision", new)):
        if r:
            lines.append(f"| {name} | {r['start']:.0f} | {r['peak']:.0f} | {r['end']:.0f} | "
                         f"{r['end'] / r['start']:.2f} | {r['hwm']:.0f} | {r['cycle_s']:.2f} s |")  # fmt: skip
    lines += [
        "",
        (
            f"**Mixed load**: {args.clients} concurrent clients for {args.duration:.0f} s, each request one of "
            "`POST /search` (k = 10), `POST /describe` (200 frames of a library clip), `GET /motions/{id}`, "
            "`GET /motions/{id}/preview.png` at random (new connection per request, urllib). "
            f"RSS before {load['before']:.0f} MB, after {load['after']:.0f} MB "
            f"({load['after'] / load['before']:.2f}x), 10 s after the load {load['idle']:.0f} MB, peak (VmHWM) "
            f"{load['hwm']:.0f} MB; every 10 s during the load: {', '.join(f'{x:.0f}' for x in load['samples'])} "
            f"MB. {load['requests']} requests in {load['wall']:.0f} s, {load['errors']} errors."
        ),
        "",
        "| request | count | errors | p50 | p95 |",
        "|---|---|---|---|---|",
    ]
    for kind, p in load["per"].items():
        lines.append(f"| {kind} | {p['n']} | {p['errors']} | {p['p50']:.0f} ms | {p['p95']:.0f} ms |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--index", type=Path, help="index folder (copied; default: build a demo index)")
    p.add_argument("--checkpoint", type=Path, help="model folder (default backend/assets/default_model)")
    p.add_argument("--cycles", type=int, default=50)
    p.add_argument("--clients", type=int, default=32)
    p.add_argument("--duration", type=float, default=60.0, help="seconds of mixed load")
    p.add_argument("--max-clips", type=int, default=174, help="clips in the demo index")
    p.add_argument("--replicate", type=int, default=1,
                   help="store every clip this many times (a demo index the size of a real library)")  # fmt: skip
    p.add_argument("--baseline-rev", default=BASELINE_REV, help="revision to compare the write path with")
    p.add_argument("--no-baseline", action="store_true")
    p.add_argument("--no-write", action="store_true", help="print only; do not touch docs/benchmarks.md")
    p.add_argument("--doc", type=Path, default=DOC)
    args = p.parse_args(argv)

    sys.path.insert(0, str(REPO))
    from backend.index.store import MotionIndex

    with tempfile.TemporaryDirectory(prefix="bench-memory-") as tmp:
        work = Path(tmp)
        checkpoint, model_desc = _demo_model(args.checkpoint, work)
        source = args.index if args.index is not None else _demo_index(checkpoint, work, args.max_clips)
        if args.replicate > 1:
            source = replicate(source, work / "index-replicated", args.replicate)
        bvh = next((work / "data").rglob(UPLOAD), None) if (work / "data").exists() else None
        if bvh is None:
            import tarfile

            with tarfile.open(SHARED / "bandai-namco-1.tar.gz") as tar:
                member = next(m for m in tar.getmembers() if m.name.endswith(UPLOAD))
                bvh = work / UPLOAD
                bvh.write_bytes(tar.extractfile(member).read())  # type: ignore[union-attr]
        data = bvh.read_bytes()
        idx = MotionIndex.open(source)
        h = idx.header
        info = {"model": model_desc, "clips": len(idx), "windows": idx.num_windows, "codec": h.codec,
                "cache_mb": idx.num_windows * h.num_patches * h.embed_dim * 4 / 2**20}  # fmt: skip
        del idx
        base: dict[str, Any] = {}
        if not args.no_baseline:
            shutil.copytree(source, work / "index-base")
            strip_checksums(work / "index-base")
            tree = baseline_tree(args.baseline_rev, work)
            with serve(work / "index-base", checkpoint, work / "prev-base", 0, tree) as (url, _):
                print(f"baseline {args.baseline_rev}: {args.cycles} add/remove cycles ...", flush=True)
                base = cycles(url, data, args.cycles)
        shutil.copytree(source, work / "index-new")
        with serve(work / "index-new", checkpoint, work / "prev-new", 0, REPO) as (url, _):
            print(f"this revision: {args.cycles} add/remove cycles ...", flush=True)
            new = cycles(url, data, args.cycles)
            print(f"mixed load: {args.clients} clients for {args.duration:.0f} s ...", flush=True)
            load = mixed_load(url, args.clients, args.duration)
    text = report(args, info, new, base, load)
    print(text)
    print("RSS series (this revision):", " ".join(f"{x:.0f}" for x in new["series"]))
    if base:
        print("RSS series (baseline):", " ".join(f"{x:.0f}" for x in base["series"]))
    if not args.no_write:
        write_section(args.doc, text, SECTION)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
