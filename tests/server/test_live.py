"""Real HTTP on loopback: a ``uvicorn.Server`` in a thread (random free port) exercised with urllib, as the
add-on does; ``python -m backend serve`` as a real process; ``python -m backend explain`` writing a PNG.
"""

from __future__ import annotations

import io
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
WAVE = "dataset-1_byebye_normal_001"


def _get(url: str, timeout: float = 60.0) -> tuple[int, Any, bytes]:
    """``(status, headers (case-insensitive), body)``."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


def _post(url: str, payload: object, timeout: float = 60.0) -> tuple[int, object]:
    req = urllib.request.Request(url, data=json.dumps(payload).encode(), method="POST",
                                 headers={"Content-Type": "application/json"})  # fmt: skip
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


@pytest.fixture(scope="module")
def live_url(tiny_setup, tmp_path_factory):
    """Base URL of a uvicorn server on 127.0.0.1 (port chosen by the OS) running in a thread."""
    import uvicorn

    from backend.server.app import create_app
    from backend.server.settings import ServerSettings

    settings = ServerSettings(
        index_dir=tiny_setup.index,
        checkpoint_dir=tiny_setup.checkpoint,
        preview_cache_dir=tmp_path_factory.mktemp("previews"),
        api_token=None,
    )
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(settings), log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 120
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            pytest.fail("uvicorn did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=30)
    sock.close()


def test_live_health_search_describe_motions_preview(live_url, tiny_setup) -> None:
    from PIL import Image

    status, _, body = _get(f"{live_url}/health")
    assert status == 200 and json.loads(body)["library_size"] == len(tiny_setup.clip_ids)

    status, res = _post(f"{live_url}/search", {"text": "someone waves goodbye with one hand", "k": 3})
    assert status == 200 and len(res["results"]) == 3  # type: ignore[index]

    status, _, body = _get(f"{live_url}/motions/{WAVE}")
    motion = json.loads(body)
    assert status == 200 and np.asarray(motion["joints"]).shape[1:] == (22, 3)

    status, res = _post(f"{live_url}/describe", {"joints": motion["joints"], "fps": 20, "k": 2})
    assert status == 200 and res["similar_motions"][0]["id"] == WAVE  # type: ignore[index]

    status, headers, body = _get(f"{live_url}/motions/{WAVE}?format=bvh")
    assert (
        status == 200 and body.startswith(b"HIERARCHY") and headers["Content-Type"].startswith("text/plain")
    )

    status, headers, body = _get(f"{live_url}/motions/{WAVE}/preview.png")
    assert status == 200 and headers["Content-Type"] == "image/png"
    assert Image.open(io.BytesIO(body)).size == (720, 180)

    status, _, body = _get(f"{live_url}/motions/nope")
    assert status == 404 and "nope" in json.loads(body)["detail"]
    status, res = _post(f"{live_url}/search", {"text": "", "k": 3})
    assert status == 422 and "text" in res["detail"]  # type: ignore[index]


def test_live_concurrent_requests(live_url) -> None:
    """Eight clients at once: every answer is a 200 (worker threads share one engine)."""
    from concurrent.futures import ThreadPoolExecutor

    queries = ["a person walks", "someone kicks", "a man bows", "a person dashes"] * 4
    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(lambda q: _post(f"{live_url}/search", {"text": q, "k": 5})[0], queries))
    assert statuses == [200] * len(queries)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_serve_command_as_a_real_process(tiny_setup, tmp_path) -> None:
    port = _free_port()
    env = {**os.environ, "MOTION_SEARCH_API_TOKEN": "", "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "backend", "serve", "--index", str(tiny_setup.index), "--checkpoint",
         str(tiny_setup.checkpoint), "--port", str(port), "--preview-cache", str(tmp_path / "p"), "--threads", "1"],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                status, _, body = _get(f"http://127.0.0.1:{port}/health", timeout=5)
                break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"server did not start: {proc.stdout.read() if proc.stdout else ''}")
                time.sleep(0.25)
        assert status == 200 and json.loads(body)["status"] == "ok"
        status, res = _post(f"http://127.0.0.1:{port}/search", {"text": "a person dashes forward", "k": 2})
        assert status == 200 and len(res["results"]) == 2  # type: ignore[index]
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0


@pytest.mark.parametrize(
    ("flags", "needle"),
    [(["--host", "0.0.0.0"], "--allow-remote"), (["--host", "0.0.0.0", "--allow-remote"], "API token")],
)
def test_serve_refuses_non_loopback_without_flag_and_token(flags, needle, tmp_path) -> None:
    env = {**os.environ, "MOTION_SEARCH_API_TOKEN": ""}
    out = subprocess.run([sys.executable, "-m", "backend", "serve", "--index", str(tmp_path), *flags], cwd=REPO,
                         env=env, capture_output=True, text=True, timeout=120, check=False)  # fmt: skip
    assert out.returncode == 1
    assert needle in out.stderr and "error:" in out.stderr


def test_serve_reports_a_missing_index(tmp_path) -> None:
    from backend.cli import main

    code = main(["serve", "--index", str(tmp_path / "nowhere"), "--checkpoint", str(tmp_path)])
    assert code == 1


def test_explain_command_writes_a_png(tiny_setup, tmp_path, capsys) -> None:
    from PIL import Image

    from backend.cli import main

    out = tmp_path / "figs" / "wave.png"
    code = main(["explain", "someone waves goodbye with one hand", WAVE, "--out", str(out),
                 "--index", str(tiny_setup.index), "--checkpoint", str(tiny_setup.checkpoint)])  # fmt: skip
    assert code == 0 and "wrote" in capsys.readouterr().out
    img = np.asarray(Image.open(out).convert("RGB"))
    assert img.shape[1] == 1400 and img.std() > 5
    assert main(["explain", "walk", "no_such_clip", "--out", str(tmp_path / "x.png"), "--index",
                 str(tiny_setup.index), "--checkpoint", str(tiny_setup.checkpoint)]) == 1  # fmt: skip
    assert not (tmp_path / "x.png").exists()


def _bench_module():
    import importlib.util

    spec = importlib.util.spec_from_file_location("bench_load", REPO / "scripts" / "bench_load.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


def test_bench_load_runner_against_the_live_server(live_url) -> None:
    stats = _bench_module().run_load(live_url, clients=4, duration=2.0, k=5, timeout=60.0)
    assert stats["requests"] >= 4 and stats["errors"] == {}
    assert 0 < stats["p50"] <= stats["p99"] <= stats["max"]


def test_bench_load_rewrites_only_its_section(tmp_path) -> None:
    doc = tmp_path / "benchmarks.md"
    doc.write_text(
        "# Benchmarks\n\n## Search\n\nkeep me\n\n## Load test\n\n(pending)\n\n## Later\n\nme too\n"
    )
    bench = _bench_module()
    bench.write_section(doc, "new numbers", bench.SECTION)
    bench.write_section(doc, "newer numbers", bench.SECTION)
    text = doc.read_text()
    assert (
        text
        == "# Benchmarks\n\n## Search\n\nkeep me\n\n## Load test\n\nnewer numbers\n\n## Later\n\nme too\n"
    )
