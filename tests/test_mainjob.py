"""The README's run command, end to end, as a new user would run it (issue: the main job).

Runs ``bash scripts/run.sh`` non-interactively on a temporary data folder with one small source (the real
CMU BVH samples from the mirror), the shipped default model and a free loopback port, then checks that the
server answers /health and /search with results, that the add-on zip was built, that Ctrl-C (SIGINT) stops
it cleanly, and that a second run reuses the cached library and index.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
import urllib.request
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start(tmp: Path, port: int, log: Path) -> subprocess.Popen:
    cmd = [
        "bash",
        "scripts/run.sh",
        "--data-dir",
        str(tmp / "data"),
        "--dist",
        str(tmp / "dist"),
        "--only",
        "cmu-bvh-samples",
        "--port",
        str(port),
    ]
    env = {**os.environ, "MOTION_SEARCH_SKIP_BLENDER_SETUP": "1"}
    return subprocess.Popen(
        cmd, cwd=REPO, stdout=log.open("w"), stderr=subprocess.STDOUT, env=env, start_new_session=True
    )


def _wait_health(url: str, proc: subprocess.Popen, log: Path, timeout: float) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"run command exited early ({proc.returncode}):\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url + "/health", timeout=2) as r:
                return json.loads(r.read())
        except OSError:
            time.sleep(1)
    pytest.fail(f"server not healthy after {timeout} s:\n{log.read_text()[-3000:]}")


def _stop(proc: subprocess.Popen) -> int:
    os.killpg(proc.pid, signal.SIGINT)
    try:
        return proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        raise


def test_run_command_end_to_end(tmp_path: Path, shared_datasets: Path) -> None:
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    log = tmp_path / "run1.log"
    proc = _start(tmp_path, port, log)
    try:
        health = _wait_health(url, proc, log, timeout=900)
        assert health["status"] == "ok"
        assert health["library_size"] == 7  # the seven CMU sample clips
        req = urllib.request.Request(
            url + "/search",
            data=json.dumps({"text": "a person walks", "k": 3}).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(req, timeout=60) as r:
            results = json.loads(r.read())["results"]
        assert len(results) == 3
        assert all(r["dataset"] == "cmu-bvh-samples" and r["duration"] > 0 for r in results)
        assert results[0]["score"] >= results[-1]["score"]
        # the install instructions follow once the server answers (printed by a thread that polls /health)
        deadline = time.monotonic() + 60
        while "Install from Disk" not in log.read_text() and time.monotonic() < deadline:
            time.sleep(0.5)
    finally:
        code = _stop(proc)
    assert code in (0, 130), log.read_text()[-3000:]
    zips = list((tmp_path / "dist").glob("motion_search-*.zip"))
    assert len(zips) == 1
    with zipfile.ZipFile(zips[0]) as z:
        assert "blender_manifest.toml" in z.namelist()
    text = log.read_text()
    assert "Install from Disk" in text and "a person waves with the left hand" in text

    # Second run: library and index come from the cache and the server is up quickly.
    log2 = tmp_path / "run2.log"
    t0 = time.monotonic()
    proc = _start(tmp_path, port, log2)
    try:
        _wait_health(url, proc, log2, timeout=300)
        startup = time.monotonic() - t0
    finally:
        _stop(proc)
    text2 = log2.read_text()
    assert "cached:" in text2 and "build the motion library" in text2
    assert startup < 120, f"cached start-up took {startup:.0f} s"
