"""A web page cannot use the local server: attacks of issue 12 against a real uvicorn on 127.0.0.1.

Contract (docs/api.md, "Security model"): every ``Host`` that is not a loopback name is refused before any
route runs (DNS rebinding); a state-changing request whose ``Origin`` is another site (or ``null``) is
refused (403) and the library is unchanged; bodies need ``Content-Type: application/json`` (or multipart on
``POST /library``), else 415; path mode reads only files under ``--library-root`` (symlinks resolved), with
one answer for every path outside, existing or not, and never the content of such a file. The add-on's own
client (no ``Origin``) keeps working. Each test names the attack it replays.
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import sys
import types
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
CLIP = "dataset-1_bye_feminine_001"


def request(base: str, method: str, path: str, body: bytes | None = None,
            headers: dict[str, str | None] | None = None) -> tuple[int, dict, bytes]:  # fmt: skip
    """One raw HTTP request (``http.client``: every header as given, ``None`` = not sent)."""
    u = urlsplit(base)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=120)
    try:
        conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
        for k, v in {"Host": u.netloc, **(headers or {})}.items():
            if v is not None:
                conn.putheader(k, v)
        if body is not None and "Content-Length" not in (headers or {}):
            conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body)
        r = conn.getresponse()
        return r.status, dict(r.getheaders()), r.read()
    finally:
        conn.close()


def detail(body: bytes) -> str:
    return json.loads(body)["detail"]


def multipart(fields: dict[str, str], file_name: str, file_bytes: bytes) -> tuple[bytes, str]:
    """A ``multipart/form-data`` body with text ``fields`` and one ``file``; returns (body, content type)."""
    boundary = uuid.uuid4().hex
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
        for k, v in fields.items()
    ]
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{file_name}"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n".encode()
        + file_bytes
        + b"\r\n"
    )
    return b"".join(parts) + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def size(base: str) -> int:
    status, _, body = request(base, "GET", "/health")
    assert status == 200
    return json.loads(body)["library_size"]


@pytest.fixture(scope="module")
def roots(tmp_path_factory, bandai1) -> dict[str, Path]:
    """A library root holding a real BVH, and a folder outside it holding another."""
    base = tmp_path_factory.mktemp("roots")
    src = bandai1 / "dataset/Bandai-Namco-Research-Motiondataset-1/data" / f"{CLIP}.bvh"
    (base / "root").mkdir()
    (base / "outside").mkdir()
    shutil.copy(src, base / "root" / "walk.bvh")
    shutil.copy(src, base / "outside" / "secret.bvh")
    return {"root": base / "root", "outside": base / "outside", "bvh": src}


@pytest.fixture(scope="module")
def server(tiny_setup, tmp_path_factory, roots, serve_live):
    """A real server over a private index copy with one library root."""
    from backend.server.settings import ServerSettings

    tmp = tmp_path_factory.mktemp("security")
    shutil.copytree(tiny_setup.index, tmp / "index")
    settings = ServerSettings(index_dir=tmp / "index", checkpoint_dir=tiny_setup.checkpoint,
                              preview_cache_dir=tmp / "previews", api_token=None,
                              library_roots=[roots["root"]])  # fmt: skip
    with serve_live(settings) as url:
        yield url


# ------------------------------------------------------------------------------------- DNS rebinding
@pytest.mark.parametrize(
    ("method", "path", "body"),
    [("GET", "/health", None), ("GET", "/openapi.json", None), ("GET", "/motions/{id}", None),
     ("DELETE", "/library/{id}", None), ("POST", "/library", b'{"path": "walk.bvh"}')],
)  # fmt: skip
def test_dns_rebinding_host_is_refused_before_anything_runs(server, tiny_setup, method, path, body) -> None:
    """Attack: a page on evil.example (resolving to 127.0.0.1) reads, deletes, adds by path."""
    port = urlsplit(server).port
    before = size(server)
    target = path.replace("{id}", tiny_setup.clip_ids[0])
    headers = {"Host": f"evil.example:{port}", "Content-Type": "application/json" if body else None}
    status, _, answer = request(server, method, target, body, headers)
    assert status == 421, answer
    assert "evil.example" in detail(answer) and "DNS rebinding" in detail(answer)
    assert size(server) == before  # nothing deleted or added
    assert request(server, "GET", f"/motions/{tiny_setup.clip_ids[0]}")[0] == 200


def test_loopback_names_are_served(server) -> None:
    port = urlsplit(server).port
    for host in (f"127.0.0.1:{port}", f"localhost:{port}", f"LOCALHOST:{port}", "127.0.0.1"):
        assert request(server, "GET", "/health", headers={"Host": host})[0] == 200, host
    assert request(server, "GET", "/health", headers={"Host": None})[0] in (400, 421)  # no Host at all


# ----------------------------------------------------------------------------------- cross-site writes
@pytest.mark.parametrize("origin", ["http://evil.example", "null", "http://localhost.evil.example"])
def test_cross_site_multipart_upload_is_refused(server, roots, origin) -> None:
    """Attack: a page's form posts a BVH + caption to POST /library (no preflight for multipart)."""
    before = size(server)
    body, ctype = multipart({"caption": "planted", "id": "planted"}, "x.bvh", roots["bvh"].read_bytes())
    status, _, answer = request(server, "POST", "/library", body, {"Content-Type": ctype, "Origin": origin})
    assert status == 403, answer
    assert "cross-site" in detail(answer)
    assert size(server) == before


def test_cross_site_delete_and_fetch_metadata_are_refused(server, tiny_setup) -> None:
    clip = tiny_setup.clip_ids[1]
    status, _, _ = request(server, "DELETE", f"/library/{clip}", headers={"Origin": "http://evil.example"})
    assert status == 403
    status, _, _ = request(server, "DELETE", f"/library/{clip}", headers={"Sec-Fetch-Site": "cross-site"})
    assert status == 403
    assert request(server, "GET", f"/motions/{clip}")[0] == 200  # still there


@pytest.mark.parametrize("ctype", [None, "text/plain", "application/x-www-form-urlencoded"])
def test_json_add_without_json_content_type_is_415(server, ctype) -> None:
    """Attack: ``fetch(url, {method: "POST", body: '{"path": ...}'})`` sends text/plain or no type."""
    before = size(server)
    status, _, answer = request(server, "POST", "/library", b'{"path": "walk.bvh"}', {"Content-Type": ctype})
    assert status == 415, answer
    assert "Content-Type" in detail(answer)
    status, _, _ = request(server, "POST", "/search", b'{"text": "walk"}', {"Content-Type": ctype})
    assert status == 415
    assert size(server) == before


def test_same_origin_requests_work(server) -> None:
    """The docs page (/docs) posts with the server's own Origin; that is allowed."""
    status, _, answer = request(server, "POST", "/search", b'{"text": "a person waves", "k": 2}',
                                {"Content-Type": "application/json", "Origin": server})  # fmt: skip
    assert status == 200, answer


# -------------------------------------------------------------------------------- the add-on's client
def test_addon_client_keeps_working(server, tiny_setup) -> None:
    """The real add-on client (urllib, no Origin) against the guarded server: read, search, describe."""
    if "addon" not in sys.modules:  # the pure modules without bpy: a package stub over the real folder
        pkg = types.ModuleType("addon")
        pkg.__path__ = [str(REPO / "addon")]
        sys.modules["addon"] = pkg
    from addon.client import BackendClient

    client = BackendClient(server, timeout=120)
    health = client.health()
    assert health.status == "ok" and health.library_size >= len(tiny_setup.clip_ids)
    hits = client.search("someone waves goodbye with one hand", k=3)
    assert hits and hits[0].id in tiny_setup.clip_ids
    motion = client.motion(hits[0].id)
    assert client.preview_png(hits[0].id)[:4] == b"\x89PNG"
    joints = np.asarray(motion.joints, dtype=np.float64)[:40]
    described = client.describe(joints, 20.0, k=2)
    assert described.captions and described.similar_motions


# ------------------------------------------------------------------------------------------ path mode
def test_path_outside_the_roots_gets_one_answer_whether_it_exists_or_not(server, roots) -> None:
    """Attack: probe the disk through the error messages of path mode."""
    answers = set()
    for path in (roots["outside"] / "secret.bvh", roots["outside"] / "missing.bvh", Path("/etc/passwd"),
                 Path("/no/such/dir/x.bvh"), roots["root"] / ".." / "outside" / "secret.bvh"):  # fmt: skip
        status, _, answer = request(server, "POST", "/library", json.dumps({"path": str(path)}).encode(),
                                    {"Content-Type": "application/json"})  # fmt: skip
        assert status == 403, (path, answer)
        answers.add(detail(answer))
    assert len(answers) == 1 and "library root" in answers.pop()


def test_symlink_under_a_root_to_a_secret_is_refused_unread(server, roots) -> None:
    """Attack: a ``.bvh`` symlink to /proc/self/environ had its first line (the environment) quoted."""
    link = roots["root"] / "environ.bvh"
    link.symlink_to("/proc/self/environ")
    outside_link = roots["root"] / "secret_link.bvh"
    outside_link.symlink_to(roots["outside"] / "secret.bvh")
    for p in (link, outside_link):
        status, _, answer = request(server, "POST", "/library", json.dumps({"path": str(p)}).encode(),
                                    {"Content-Type": "application/json"})  # fmt: skip
        assert status == 403, answer
        assert "library root" in detail(answer)
    env_values = [v for v in os.environ.values() if len(v) >= 6]
    assert not any(v in detail(answer) for v in env_values)


def test_path_mode_inside_the_root_adds_and_limits_apply(server, roots, tmp_path) -> None:
    before = size(server)
    status, _, answer = request(server, "POST", "/library", json.dumps({"path": "walk.bvh", "id": "rooted"}).encode(),
                                {"Content-Type": "application/json"})  # fmt: skip
    assert status == 200, answer
    assert json.loads(answer)["id"] == "rooted" and size(server) == before + 1
    big = roots["root"] / "huge.bvh"
    with open(big, "wb") as f:  # sparse: 65 MiB without writing them
        f.truncate(65 * 1024 * 1024)
    status, _, answer = request(server, "POST", "/library", json.dumps({"path": str(big)}).encode(),
                                {"Content-Type": "application/json"})  # fmt: skip
    assert status == 413 and "limit" in detail(answer)
    long_name = "a" * 300 + ".bvh"
    status, _, answer = request(server, "POST", "/library", json.dumps({"path": long_name}).encode(),
                                {"Content-Type": "application/json"})  # fmt: skip
    assert status == 422, answer  # an OSError (name too long) becomes a 4xx
    assert request(server, "DELETE", "/library/rooted")[0] == 200


def test_path_mode_is_off_without_roots(tiny_setup, tmp_path, roots, serve_live) -> None:
    from backend.server.settings import ServerSettings

    shutil.copytree(tiny_setup.index, tmp_path / "index")
    settings = ServerSettings(index_dir=tmp_path / "index", checkpoint_dir=tiny_setup.checkpoint,
                              preview_cache_dir=tmp_path / "previews", api_token=None)  # fmt: skip
    with serve_live(settings) as url:
        status, _, answer = request(url, "POST", "/library", json.dumps({"path": str(roots["bvh"])}).encode(),
                                    {"Content-Type": "application/json"})  # fmt: skip
        assert status == 403 and "--library-root" in detail(answer)


def test_serve_flags_set_library_roots_and_allowed_hosts(tmp_path) -> None:
    import argparse

    from backend.server.commands import add_parser, settings_from_args

    parser = argparse.ArgumentParser()
    add_parser(parser.add_subparsers())
    args = parser.parse_args(["serve", "--library-root", str(tmp_path), "--library-root", "/srv/mocap",
                              "--allowed-host", "studio.lan"])  # fmt: skip
    settings = settings_from_args(args)
    assert settings.library_roots == [tmp_path, Path("/srv/mocap")]
    assert settings.allowed_hosts == ["studio.lan"]
