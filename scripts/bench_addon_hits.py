"""The add-on's hit list with 100 hits against 10 (the old default) in the same run, in real bpy.

Runs under a bpy venv (``.venv-bpy42`` / ``.venv-bpy50``); the backend is a real ``python -m backend serve``
(main venv) over an index of real clips made with ``python -m backend index create`` (default: the first
``--clips`` Bandai-Namco-1 BVH files of the shared mirror), so the hits, thumbnails and alignment are real.
The add-on is built, installed and enabled as in the Blender tests. What is timed, on the main thread
(where a long step freezes Blender's UI):

* **list update**: ``results.show_hits`` with a real ``/search`` answer of n hits (fills the rows, starts
  the thumbnail and alignment workers, selects the best hit).
* **thumbnails landing**: every timer tick (``jobs.timer_tick``, what ``bpy.app.timers`` runs every 0.1 s)
  while the n thumbnails arrive; the longest tick is the worst UI hitch, the sum the main thread's total.
  Baseline in the same run: the thumbnails handed over as they arrive (``results.PREVIEWS_PER_TICK``
  lifted), as before the pacing: 100 thumbnails from a warm server cache then land in one or two ticks.
* **panel draw**: the Python side of drawing the sidebar (``VIEW3D_PT_motion_search.draw`` and the import /
  filter / favourites sub-panels, into a recording stand-in layout: headless bpy has no window to draw
  into); and ``MOTIONSEARCH_UL_hits.draw_item`` for every row (Blender calls it only for the visible rows,
  so this is the cost of a list stretched to show all n).
* **more results**: appending a page of n hits with ``show_hits(offset=...)`` (the paging path).

Writes the "## Add-on hit list" section of ``docs/benchmarks.md`` (``--no-write``: print only).

Usage::

    .venv-bpy50/bin/python scripts/bench_addon_hits.py
    .venv-bpy42/bin/python scripts/bench_addon_hits.py --no-write
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import contextmanager
from datetime import date
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MAIN_PYTHON = Path(os.environ.get("MOTION_SEARCH_MAIN_PYTHON", REPO / ".venv" / "bin" / "python"))
SECTION = "## Add-on hit list"
ADDON_MODULE = "bl_ext.user_default.motion_search"
BANDAI1 = "bandai-namco-1/dataset/Bandai-Namco-Research-Motiondataset-1/data"
QUERY = "a person walks forward and waves"
os.environ.setdefault("BLENDER_USER_RESOURCES", tempfile.mkdtemp(prefix="motion_search_bench_user_"))


class Layout:
    """A stand-in for ``bpy.types.UILayout``: accepts every call, counts them, returns more layouts."""

    calls = 0

    def __getattr__(self, name: str):
        def call(*args, **kwargs):
            Layout.calls += 1
            return Layout()

        return call

    def __setattr__(self, name: str, value) -> None:
        Layout.calls += 1


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _get(url: str, timeout: float = 5.0) -> dict:
    with urllib.request.urlopen(url, timeout=timeout) as resp:
        return json.loads(resp.read())


def build_index(out: Path, clips: int) -> Path:
    """An index of the first ``clips`` Bandai-Namco-1 files (the mirror is extracted by the test helpers)."""
    sys.path.insert(0, str(REPO))
    try:
        from tests.conftest import extract_archive
    finally:
        sys.path.pop(0)
    folder = extract_archive("bandai-namco-1").parent / BANDAI1
    files = sorted(folder.glob("*.bvh"))[:clips]
    index = out / "index"
    cmd = [str(MAIN_PYTHON), "-m", "backend", "index", "create", "--out", str(index), *map(str, files)]
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    env.pop("BLENDER_USER_RESOURCES", None)
    subprocess.run(cmd, cwd=REPO, env=env, check=True, stdout=subprocess.DEVNULL)
    return index


@contextmanager
def serve(index: Path, previews: Path):
    """A real backend on a free loopback port (main venv); yields its URL."""
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    env.pop("BLENDER_USER_RESOURCES", None)
    cmd = [str(MAIN_PYTHON), "-m", "backend", "serve", "--index", str(index), "--port", str(port), "--threads", "1",
           "--preview-cache", str(previews), "--log-level", "warning"]  # fmt: skip
    proc = subprocess.Popen(cmd, cwd=REPO, env=env)
    try:
        deadline = time.monotonic() + 300
        while True:
            try:
                if _get(url + "/health")["status"]:
                    break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"the backend did not start: {cmd}")
            time.sleep(0.5)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def install_addon(tmp: Path):
    """Build, install and enable the add-on; returns its package module."""
    import bpy

    sys.path.insert(0, str(REPO / "scripts"))
    try:
        import build_addon
    finally:
        sys.path.pop(0)
    bpy.ops.wm.read_factory_settings(use_empty=True)
    zip_path = build_addon.build_zip(tmp)
    result = bpy.ops.extensions.package_install_files(
        filepath=str(zip_path), repo="user_default", enable_on_install=True, overwrite=True
    )
    if result != {"FINISHED"}:
        raise SystemExit(f"installing the add-on failed: {result}")
    return sys.modules[ADDON_MODULE]


def _ms(fn, repeat: int) -> float:
    """Median main-thread CPU milliseconds of ``fn()`` over ``repeat`` runs (after one untimed warm-up run).

    CPU time, not wall time: the machine is shared, and a wall clock would also count other processes.
    """
    fn()
    out = []
    for _ in range(repeat):
        t0 = time.thread_time()
        fn()
        out.append((time.thread_time() - t0) * 1e3)
    return statistics.median(out)


def _thumbnail_ticks(addon, hits: list, snap) -> tuple[float, float, float]:
    """List ``hits`` and drain like the timer until every thumbnail landed, 3 times from an empty preview
    cache (the server keeps its PNGs); medians of (longest tick wall ms, its CPU ms, CPU ms of all ticks)."""
    results, queue, n = addon.results, addon.jobs.get_queue(), len(hits)
    worst, worst_cpu, total = [], [], []
    for _ in range(3):
        addon.previews.clear()
        results.show_hits(QUERY, hits, snap)
        ticks, cpu = [], []
        deadline = time.monotonic() + 300
        while queue.busy() and time.monotonic() < deadline:
            t0, c0 = time.perf_counter(), time.thread_time()
            handled = queue.drain()  # the body of jobs.timer_tick
            if handled:
                ticks.append((time.perf_counter() - t0) * 1e3)
                cpu.append((time.thread_time() - c0) * 1e3)
            time.sleep(addon.jobs.TIMER_INTERVAL)
        stored = sum(addon.previews.has(addon.previews.key_for_preview(h.id)) for h in hits)
        if stored != n:
            raise SystemExit(f"only {stored} of {n} thumbnails arrived")
        worst.append(max(ticks))
        worst_cpu.append(max(cpu))
        total.append(sum(cpu))
    return statistics.median(worst), statistics.median(worst_cpu), statistics.median(total)


def measure(addon, url: str, n: int, repeat: int) -> dict[str, float]:
    """Every timing of one list size (see the module docstring)."""
    import bpy

    results, panels, queue = addon.results, addon.panels, addon.jobs.get_queue()
    prefs = addon.preferences.addon_prefs()
    prefs.backend_url, prefs.result_count, prefs.timeout = url, n, 120.0
    snap = addon.preferences.snapshot()
    client = results.make_client(snap)
    hits = client.search(QUERY, n)
    if len(hits) != n:
        raise SystemExit(f"the index answered {len(hits)} hits, not {n}: use more --clips")
    st = bpy.context.window_manager.motion_search

    def update() -> None:
        results.show_hits(QUERY, hits, snap)
        queue.cancel()  # the timed part is the main-thread update; the workers' results are dropped

    out = {"update": _ms(update, repeat)}
    paced = results.PREVIEWS_PER_TICK
    out["tick_max"], out["tick_cpu"], out["tick_sum"] = _thumbnail_ticks(addon, hits, snap)
    results.PREVIEWS_PER_TICK = 10**6  # the baseline: every thumbnail handed over as soon as it arrives
    try:
        out["tick_max_unpaced"], out["tick_cpu_unpaced"], _ = _thumbnail_ticks(addon, hits, snap)
    finally:
        results.PREVIEWS_PER_TICK = paced
    ctx = bpy.context
    fake = type("P", (), {})()
    fake.layout = Layout()
    subpanels = (panels.VIEW3D_PT_motion_search_import, panels.VIEW3D_PT_motion_search_filters,
                 panels.VIEW3D_PT_motion_search_favourites)  # fmt: skip

    def draw() -> None:
        panels.VIEW3D_PT_motion_search.draw(fake, ctx)
        for cls in subpanels:
            cls.draw(fake, ctx)

    out["draw"] = _ms(draw, repeat * 4)
    draw_item = panels.MOTIONSEARCH_UL_hits.draw_item  # a UIList is only instantiated by Blender's drawing
    rows = list(st.hits)

    def draw_rows() -> None:
        for i, item in enumerate(rows):
            draw_item(fake, ctx, Layout(), st, item, 0, st, "hit_index", i)

    out["rows"] = _ms(draw_rows, repeat * 4)

    def more() -> None:
        results.show_hits(QUERY, hits[: n // 2], snap)
        queue.cancel()
        t0 = time.thread_time()
        results.show_hits(QUERY, hits[n // 2 :], snap, offset=n // 2, k=n - n // 2)
        more.ms.append((time.thread_time() - t0) * 1e3)
        queue.cancel()

    more.ms = []
    for _ in range(repeat):
        more()
    out["more"] = statistics.median(more.ms)
    return out


def report(rows: dict[int, dict[str, float]], clips: int, version: str) -> str:
    small, big = rows[10], rows[100]
    lines = [
        (
            f"`{Path(sys.executable).parent.parent.name}/bin/python scripts/bench_addon_hits.py` on {date.today()}: "
            f"bpy {version}, {os.cpu_count()} CPU cores ({platform.machine()}), a real backend over {clips} "
            f'Bandai-Namco-1 clips, query "{QUERY}". Main-thread CPU milliseconds (median; one row is wall clock); 100 '
            "hits against 10 (the old default) in the same run."
        ),
        "",
        "| step | 10 hits | 100 hits | ratio |",
        "|---|---:|---:|---:|",
    ]
    names = {
        "update": "list update (`show_hits`: rows, workers, best hit selected)",
        "tick_max": "longest timer tick while the thumbnails land, wall clock (worst UI hitch; median of 3)",
        "tick_cpu": "the same, main-thread CPU time (without other processes' and threads' share)",
        "tick_sum": "CPU time of all timer ticks while the thumbnails land (main-thread total; median of 3)",
        "tick_max_unpaced": "baseline, thumbnails not paced: longest timer tick, wall clock",
        "tick_cpu_unpaced": "baseline, thumbnails not paced: longest timer tick, CPU time",
        "draw": "panel draw, Python side (main panel + import, filters, favourites)",
        "rows": "`draw_item` for every row (Blender draws only the visible ones)",
        "more": 'append a page ("more results", half the hits)',
    }
    for key, label in names.items():
        lines.append(
            f"| {label} | {small[key]:.2f} | {big[key]:.2f} | {big[key] / max(small[key], 1e-9):.1f}x |"
        )
    cpu = max(big[k] for k in ("update", "tick_cpu", "draw", "more"))
    lines += [
        "",
        (
            f"Longest main-thread step with 100 hits: {cpu:.1f} ms CPU; the longest timer tick took "
            f"{big['tick_max']:.1f} ms wall clock on this shared machine (load average {os.getloadavg()[0]:.1f})."
        ),
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--index", type=Path, help="serve this index (default: build one of --clips clips)")
    parser.add_argument("--clips", type=int, default=110, help="clips of the index built (>= 100)")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument(
        "--no-write", action="store_true", help="print the table, do not touch docs/benchmarks.md"
    )
    args = parser.parse_args(argv)
    import bpy

    with tempfile.TemporaryDirectory(prefix="bench_addon_hits_") as tmp:
        root = Path(tmp)
        index = args.index or build_index(root, args.clips)
        addon = install_addon(root)
        try:
            with serve(index, root / "previews") as url:
                rows = {n: measure(addon, url, n, args.repeat) for n in (10, 100)}
        finally:
            bpy.ops.preferences.addon_disable(module=ADDON_MODULE)
    text = report(rows, args.clips, bpy.app.version_string)
    print(text)
    if not args.no_write:
        sys.path.insert(0, str(REPO / "scripts"))
        from _docs_section import write_section

        write_section(REPO / "docs" / "benchmarks.md", text, SECTION)
    return 0


if __name__ == "__main__":
    sys.exit(main())
