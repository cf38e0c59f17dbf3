"""Hostile files and bodies against a real uvicorn on 127.0.0.1: limits, no 500s, integrity, safe retries.

Contract (docs/api.md, "Limits"): a clip over 600 s or a file declaring too many frames is refused from its
header (400, nothing added); bodies over their cap get 413 before they are parsed; malformed Unicode, deep
nesting and OS errors on paths are 4xx, never 500; an index whose arrays differ from the checksums written
with them does not serve (the error names the file), a damaged caption bank shows in ``/health`` and makes
``/describe`` answer 503; a retried add of the same content under the same id answers 200 with that clip;
replacing the searcher after a write frees the old one at once (no reference cycle). Each test names the
attack of issue 12 it replays.
"""

from __future__ import annotations

import gc
import json
import shutil
import subprocess
import sys
import weakref
from pathlib import Path

import numpy as np
import pytest

from backend.errors import IndexError_

REPO = Path(__file__).resolve().parents[2]
CLIP = "dataset-1_bye_feminine_001"
JSON = {"Content-Type": "application/json"}


@pytest.fixture(scope="module")
def helpers():
    """The raw-HTTP helpers of ``test_security.py`` (loaded by path: tests are not a package)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "_security_http", Path(__file__).with_name("test_security.py")
    )
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)  # type: ignore[union-attr]
    return mod


@pytest.fixture(scope="module")
def bvh_text(bandai1) -> str:
    return (bandai1 / "dataset/Bandai-Namco-Research-Motiondataset-1/data" / f"{CLIP}.bvh").read_text()


def _settings(tiny_setup, tmp: Path, index: Path | None = None):
    from backend.server.settings import ServerSettings

    if index is None:
        index = tmp / "index"
        shutil.copytree(tiny_setup.index, index)
    return ServerSettings(index_dir=index, checkpoint_dir=tiny_setup.checkpoint, preview_cache_dir=tmp / "previews",
                          api_token=None)  # fmt: skip


@pytest.fixture(scope="module")
def server(tiny_setup, tmp_path_factory, serve_live):
    with serve_live(_settings(tiny_setup, tmp_path_factory.mktemp("limits"))) as url:
        yield url


def _with_motion(bvh: str, frames: int, frame_time: float, lines: int) -> str:
    head = bvh[: bvh.index("MOTION")]
    row = bvh.splitlines()[-1]
    return head + f"MOTION\nFrames: {frames}\nFrame Time: {frame_time}\n" + (row + "\n") * lines


# ------------------------------------------------------------------------------------ unbounded work
@pytest.mark.parametrize(
    ("frames", "frame_time", "lines"),
    [(3000, 1.0, 3000), (10_000_000, 1 / 120, 20)],
    ids=["50-minute clip at 1 fps", "1e7 frames declared"],
)
def test_too_long_clips_are_refused_from_the_header(
    server, helpers, bvh_text, frames, frame_time, lines
) -> None:
    """Attack: a 1-fps BVH of 3,000 frames (50 min) was indexed; a 1e7-frame header cost 23 s and 3.2 GB."""
    before = helpers.size(server)
    body, ctype = helpers.multipart(
        {}, "long.bvh", _with_motion(bvh_text, frames, frame_time, lines).encode()
    )
    status, _, answer = helpers.request(server, "POST", "/library", body, {"Content-Type": ctype})
    assert status == 400, answer
    assert "too long" in helpers.detail(answer) and "600 s" in helpers.detail(answer)
    assert helpers.size(server) == before


def test_describe_and_json_bodies_are_capped_before_parsing(server, helpers) -> None:
    """Attack: a 310 MB /describe body peaked at 8.3 GB; a 200 MB /search body was accepted."""
    from backend.motion.limits import MAX_DESCRIBE_BODY_BYTES, MAX_JSON_BODY_BYTES

    status, _, answer = helpers.request(
        server, "POST", "/describe", b"{}", {**JSON, "Content-Length": str(MAX_DESCRIBE_BODY_BYTES + 1)}
    )
    assert status == 413 and "limit" in helpers.detail(answer)
    big = json.dumps({"text": "walk", "pad": "x" * (MAX_JSON_BODY_BYTES + 10)}).encode()
    status, _, answer = helpers.request(server, "POST", "/search", big, JSON)
    assert status == 413, answer


def test_streamed_body_over_the_cap_is_413(server, helpers) -> None:
    """A chunked body (no Content-Length) is counted while it arrives."""
    import http.client
    from urllib.parse import urlsplit

    u = urlsplit(server)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
    try:
        chunks = (b'{"text": "walk", "pad": "' if i == 0 else b"x" * 65536 for i in range(40))
        conn.request("POST", "/search", body=chunks, headers=JSON, encode_chunked=True)
        r = conn.getresponse()
        assert r.status == 413, r.read()
    finally:
        conn.close()


# ------------------------------------------------------------------------------------ no 500 on input
@pytest.mark.parametrize(
    ("path", "body"),
    [("/search", b'{"text": "a person \\ud800 waves"}'),
     ("/library", b'{"path": "x.bvh", "caption": "\\udfff"}'),
     ("/library", b'{"path": "\\ud800.bvh"}')],
)  # fmt: skip
def test_lone_surrogates_are_422(server, helpers, path, body) -> None:
    """Attack: ``"\\ud800"`` in ``text`` or ``caption`` crashed the tokenizer (500)."""
    status, _, answer = helpers.request(server, "POST", path, body, JSON)
    assert status == 422, answer
    assert "unicode" in helpers.detail(answer).lower()


def test_invalid_utf8_in_a_multipart_caption_is_replaced_not_a_crash(server, helpers, bvh_text) -> None:
    body, ctype = helpers.multipart({"caption": "CAPTION", "id": "bad_utf8"}, "w.bvh", bvh_text.encode())
    body = body.replace(b"CAPTION", b"\xed\xa0\x80 waves")  # a surrogate encoded as bytes (not UTF-8)
    status, _, answer = helpers.request(server, "POST", "/library", body, {"Content-Type": ctype})
    assert status == 200, answer  # the form parser replaces undecodable bytes with U+FFFD
    status, _, answer = helpers.request(server, "GET", "/motions/bad_utf8")
    assert status == 200 and json.loads(answer)["metadata"]["captions"][0].endswith(" waves")
    assert helpers.request(server, "DELETE", "/library/bad_utf8")[0] == 200


@pytest.mark.parametrize("path", ["/library", "/search", "/describe"])
def test_deep_nesting_is_400(server, helpers, path) -> None:
    """Attack: JSON nested 1e5 deep to /library raised RecursionError (500)."""
    body = b'{"path": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    status, _, answer = helpers.request(server, "POST", path, body, JSON)
    assert status == 400, answer
    assert "nested" in helpers.detail(answer)


# ----------------------------------------------------------------------------------------- integrity
def _damage(path: Path, how: str) -> None:
    if how == "zeros":  # same size, middle third zeroed
        data = bytearray(path.read_bytes())
        a, b = len(data) // 3, 2 * len(data) // 3
        data[a:b] = bytes(b - a)
        path.write_bytes(bytes(data))
    elif how == "empty":
        path.write_bytes(b"")
    else:  # truncated
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _segment_file(index: Path, name: str) -> Path:
    return next((index / "segments").glob(f"*/{name}"))


def test_zeroed_patches_stop_the_server_with_a_clear_error(tiny_setup, tmp_path) -> None:
    """Attack: 8 MB of patches.npy zeroed (size unchanged) served silently changed results."""
    index = tmp_path / "index"
    shutil.copytree(tiny_setup.index, index)
    _damage(_segment_file(index, "patches.npy"), "zeros")
    proc = subprocess.run(
        [sys.executable, "-m", "backend", "serve", "--index", str(index), "--checkpoint", str(tiny_setup.checkpoint),
         "--port", "0"],
        check=False, cwd=REPO, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode != 0
    assert "patches.npy" in proc.stderr and "differs from the sampled checksum" in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize("how", ["empty", "truncated", "zeros"])
def test_damaged_arrays_raise_index_errors_naming_the_file(tiny_setup, tmp_path, how) -> None:
    """Attack: a 0-byte array raised a raw EOFError."""
    from backend.index.store import MotionIndex

    index = tmp_path / "index"
    shutil.copytree(tiny_setup.index, index)
    _damage(_segment_file(index, "joints.npy"), how)
    with pytest.raises(IndexError_, match="joints.npy"):
        MotionIndex.open(index)


def test_index_verify_checks_every_byte(tiny_setup, tmp_path) -> None:
    index = tmp_path / "index"
    shutil.copytree(tiny_setup.index, index)
    cmd = [sys.executable, "-m", "backend", "index", "verify", "--index", str(index)]
    ok = subprocess.run(cmd, check=False, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert ok.returncode == 0, ok.stderr
    assert "ok" in ok.stdout
    masks = _segment_file(index, "masks.npy")
    data = bytearray(masks.read_bytes())
    data[-1] ^= 1  # one flipped bit, size unchanged
    masks.write_bytes(bytes(data))
    bad = subprocess.run(cmd, check=False, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert bad.returncode == 1
    assert "masks.npy" in bad.stdout + bad.stderr and "sha256" in bad.stdout + bad.stderr


@pytest.mark.parametrize("how", ["truncated", "empty"])
def test_damaged_caption_bank_shows_in_health_and_describe_is_503(tiny_setup, tmp_path, serve_live, helpers,
                                                                   how) -> None:  # fmt: skip
    """Attack: a truncated caption-bank array: /health said ok, then /describe answered 500."""
    index = tmp_path / "index"
    shutil.copytree(tiny_setup.index, index)
    _damage(next((index / "captions").glob("*/tokens.npy")), how)
    with serve_live(_settings(tiny_setup, tmp_path, index)) as url:
        status, _, answer = helpers.request(url, "GET", "/health")
        health = json.loads(answer)
        assert status == 200 and health["status"] == "degraded"
        assert any("caption bank" in p and "tokens.npy" in p for p in health["problems"])
        joints = np.zeros((40, 22, 3)).tolist()
        status, _, answer = helpers.request(url, "POST", "/describe", json.dumps({"joints": joints, "fps": 20}).encode(),
                                            JSON)  # fmt: skip
        assert status == 503 and "caption bank" in helpers.detail(answer)
        status, _, _ = helpers.request(url, "POST", "/search", b'{"text": "a person waves"}', JSON)
        assert status == 200  # search does not need the caption bank


# ------------------------------------------------------------------------------------ retries, memory
def test_retried_add_of_the_same_content_answers_the_existing_clip(server, helpers, bvh_text) -> None:
    """Attack: a clip committed before the connection dropped answered 409 to the client's retry."""
    before = helpers.size(server)
    body, ctype = helpers.multipart(
        {"id": "retry_me", "caption": "a person waves"}, "w.bvh", bvh_text.encode()
    )
    first = helpers.request(server, "POST", "/library", body, {"Content-Type": ctype})
    again = helpers.request(server, "POST", "/library", body, {"Content-Type": ctype})
    assert first[0] == 200 and again[0] == 200, again
    assert json.loads(first[2]) == json.loads(again[2]) and helpers.size(server) == before + 1
    other, ctype = helpers.multipart(
        {"id": "retry_me", "caption": "another caption"}, "w.bvh", bvh_text.encode()
    )
    status, _, answer = helpers.request(server, "POST", "/library", other, {"Content-Type": ctype})
    assert status == 409 and "other content" in helpers.detail(answer)
    assert helpers.request(server, "DELETE", "/library/retry_me")[0] == 200


def test_a_replaced_searcher_is_freed_at_once(tiny_setup, tmp_path, bandai1) -> None:
    """Attack: each reopen after an add / remove kept ~0.9 GB until a full garbage collection."""
    from backend.server.engine import SearchEngine

    engine = SearchEngine.load(_settings(tiny_setup, tmp_path))
    bvh = bandai1 / "dataset/Bandai-Namco-Research-Motiondataset-1/data" / f"{CLIP}.bvh"
    engine.search("a person waves", k=2, alignment="all")
    old = weakref.ref(engine._searcher)
    gc.disable()
    try:
        engine.add_bvh(bvh, clip_id="fresh")
        assert old() is None, "the previous searcher is still referenced (a cycle?)"
        old = weakref.ref(engine._searcher)
        engine.remove("fresh")
        assert old() is None
    finally:
        gc.enable()
        engine.close()


def test_describe_body_is_parsed_without_a_list_per_number(server, helpers) -> None:
    """Attack: a 310 MB /describe body peaked at 8.3 GB (json.loads: ~25x the body in Python objects)."""
    import tracemalloc

    from backend.server.describe_body import parse_describe_body

    rng = np.random.default_rng(0)
    joints = rng.normal(size=(20_000, 22, 3)).round(5)
    raw = json.dumps({"fps": 100.0, "k": 3, "joints": joints.tolist()}).encode()  # ~20 MB
    tracemalloc.start()
    try:
        data = parse_describe_body(raw)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert np.array_equal(data["joints"], joints) and data["fps"] == 100.0 and data["k"] == 3
    assert peak < 4 * len(raw), f"peak {peak / 1e6:.0f} MB for a {len(raw) / 1e6:.0f} MB body"
    # the same route end to end: a real motion answers, a null in a large body is a 422 naming joints
    small = json.dumps({"fps": 20, "k": 2, "joints": joints[:60].tolist()}).encode()
    status, _, answer = helpers.request(server, "POST", "/describe", small, JSON)
    assert status == 200 and json.loads(answer)["captions"], answer
    bad = raw.replace(b"[", b"[null, ", 1)
    status, _, answer = helpers.request(server, "POST", "/describe", bad, JSON)
    assert status == 422 and "joints" in helpers.detail(answer)


def _start_serve(
    index: Path, checkpoint: Path, tmp: Path, env: dict[str, str]
) -> tuple[subprocess.Popen, str]:
    """``python -m backend serve`` as a real process on a free loopback port; returns it once /health answers."""
    import os
    import socket
    import time
    import urllib.request

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "backend", "serve", "--index", str(index), "--checkpoint", str(checkpoint),
         "--port", str(port), "--preview-cache", str(tmp / "p"), "--threads", "1"],
        cwd=REPO, env={**os.environ, "MOTION_SEARCH_API_TOKEN": "", "OMP_NUM_THREADS": "1", **env},
        stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 300
    while True:
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=5) as r:
                if r.status == 200:
                    return proc, url
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail("the server did not start")
            time.sleep(0.25)


@pytest.mark.slow
def test_add_retried_after_a_kill_9_past_the_commit_answers_the_clip(
    tiny_setup, tmp_path, helpers, bvh_text
) -> None:
    """Attack (reliability): the server is killed (-9) right after committing an add, before answering; the
    client saw the connection drop and retries the same add on the restarted server: 200, the same clip, once."""
    import signal
    import threading

    index = tmp_path / "index"
    shutil.copytree(tiny_setup.index, index)
    body, ctype = helpers.multipart(
        {"id": "crash_me", "caption": "a person waves"}, "w.bvh", bvh_text.encode()
    )
    proc, url = _start_serve(index, tiny_setup.checkpoint, tmp_path, {"MOTION_SEARCH_INDEX_PAUSE": "3"})
    try:
        before = helpers.size(url)
        outcome: list[object] = []
        client = threading.Thread(
            target=lambda: outcome.append(
                _try(helpers.request, url, "POST", "/library", body, {"Content-Type": ctype})
            )
        )
        client.start()
        for line in proc.stderr:  # type: ignore[union-attr]
            if "crash-point after-manifest" in line:  # committed; the answer is not sent yet
                break
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        client.join(timeout=60)
        assert outcome and isinstance(outcome[0], Exception), outcome  # the client lost the answer
    finally:
        if proc.poll() is None:
            proc.kill()
    proc, url = _start_serve(index, tiny_setup.checkpoint, tmp_path, {})
    try:
        assert helpers.size(url) == before + 1  # the add was committed
        status, _, answer = helpers.request(url, "POST", "/library", body, {"Content-Type": ctype})
        assert status == 200, answer
        assert json.loads(answer)["id"] == "crash_me" and helpers.size(url) == before + 1
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()


def _try(fn, *args):
    try:
        return fn(*args)
    except Exception as exc:  # noqa: BLE001 - the test inspects what the client saw
        return exc
