"""Error handling of ``addon/client.py`` (the real-backend behaviour is tested in tests/addon/blender).

A tiny stdlib ``http.server`` on 127.0.0.1 answers with canned statuses so every failure path is real
socket traffic:

* nothing listening -> BackendUnreachableError whose message names the URL and the run command;
* a slow answer -> BackendTimeoutError within about the configured timeout;
* 4xx / 5xx -> BackendHTTPError carrying the server's ``detail`` (FastAPI validation lists flattened);
* non-JSON / non-PNG answers -> BadResponseError;
* a non-loopback URL with online access off -> OnlineAccessError before any connection;
* the API token travels as ``Authorization: Bearer``.
"""

from __future__ import annotations

import doctest
import json
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from addon import urls
from addon.client import BackendClient
from addon.errors import (
    RUN_COMMAND,
    BackendHTTPError,
    BackendTimeoutError,
    BackendUnreachableError,
    BadResponseError,
    OnlineAccessError,
)
from addon.urls import is_loopback, normalise_url


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, *args: object) -> None:  # keep pytest output clean
        pass

    def _send(self, status: int, body: bytes, ctype: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        if self.path == "/health":
            auth = self.headers.get("Authorization", "")
            self._send(200, json.dumps({"status": "ok", "model": auth, "library_size": 3}).encode())
        elif self.path == "/slow/health":
            time.sleep(1.5)
            self._send(200, b"{}")
        elif self.path.startswith("/motions/missing"):
            self._send(404, json.dumps({"detail": "no clip with id 'missing'"}).encode())
        elif self.path.startswith("/motions/notpng/preview.png"):
            self._send(200, b"<html>oops</html>", "text/html")
        elif self.path == "/html/health":
            self._send(200, b"<html>not json</html>", "text/html")
        elif self.path == "/crash/health":
            self._send(500, b"Internal Server Error", "text/plain")
        else:
            self._send(404, json.dumps({"detail": f"no route {self.path}"}).encode())

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", 0))
        body = json.loads(self.rfile.read(length))
        if self.path == "/search" and body.get("k", 0) > 100:
            detail = [{"loc": ["body", "k"], "msg": "Input should be less than or equal to 100"}]
            self._send(422, json.dumps({"detail": detail}).encode())
        else:
            self._send(200, json.dumps({"results": "not a list"}).encode())


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_unreachable_names_url_and_run_command() -> None:
    url = f"http://127.0.0.1:{_free_port()}"
    with pytest.raises(BackendUnreachableError) as info:
        BackendClient(url, timeout=2).health()
    msg = str(info.value)
    assert msg.startswith(f"backend not reachable at {url}") and RUN_COMMAND in msg


def test_timeout(server: str) -> None:
    start = time.monotonic()
    with pytest.raises(BackendTimeoutError, match="did not answer within 0.3 s"):
        BackendClient(server + "/slow", timeout=0.3).health()
    assert time.monotonic() - start < 1.4


def test_http_errors_carry_the_detail(server: str) -> None:
    client = BackendClient(server, timeout=5)
    with pytest.raises(BackendHTTPError, match="404.*no clip with id 'missing'") as info:
        client.motion("missing")
    assert info.value.status == 404
    with pytest.raises(BackendHTTPError, match=r"422.*body\.k: Input should be less than or equal to 100"):
        client.search("a person waves", k=500)
    with pytest.raises(BackendHTTPError, match="500.*Internal Server Error"):
        BackendClient(server + "/crash", timeout=5).health()


def test_contract_breaks_are_bad_responses(server: str) -> None:
    with pytest.raises(BadResponseError, match="did not answer JSON"):
        BackendClient(server + "/html", timeout=5).health()
    with pytest.raises(BadResponseError, match="did not answer a PNG"):
        BackendClient(server, timeout=5).preview_png("notpng")
    with pytest.raises(BadResponseError, match="results must be list"):
        BackendClient(server, timeout=5).search("a person waves", k=3)


def test_token_header_and_health(server: str) -> None:
    h = BackendClient(server + "/", timeout=5, token=" secret ").health()
    assert h.model == "Bearer secret" and h.library_size == 3


def test_online_access_blocks_remote_before_connecting() -> None:
    start = time.monotonic()
    with pytest.raises(OnlineAccessError, match="Preferences > System > Network > Allow Online Access"):
        BackendClient("http://10.255.255.1:8765", timeout=30, online_access=False).health()
    assert time.monotonic() - start < 0.5
    with pytest.raises(BackendUnreachableError):  # loopback is always allowed
        BackendClient(f"http://127.0.0.1:{_free_port()}", timeout=2, online_access=False).health()


def test_url_helpers() -> None:
    assert normalise_url("localhost:8765/") == "http://localhost:8765"
    assert is_loopback("http://127.0.0.2:1") and is_loopback("http://[::1]:8765") and is_loopback("localhost")
    assert not is_loopback("http://192.168.1.5:8765") and not is_loopback("https://example.org")
    with pytest.raises(ValueError, match="timeout"):
        BackendClient("http://127.0.0.1:1", timeout=0)


def test_url_doctests() -> None:
    result = doctest.testmod(urls)
    assert result.attempted > 0 and result.failed == 0
