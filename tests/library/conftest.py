"""Fixtures for the library tests: a real loopback HTTP server (with ``Range`` support) over a folder."""

from __future__ import annotations

import functools
import http.server
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest


@dataclass
class ServerLog:
    """What the loopback server saw: request paths and the ``Range`` headers."""

    paths: list[str] = field(default_factory=list)
    ranges: list[str] = field(default_factory=list)
    honour_range: bool = True


class _RangeHandler(http.server.SimpleHTTPRequestHandler):
    """Static files with single ``bytes=N-`` range support (Python's handler has none)."""

    log_state: ServerLog

    def log_message(self, format: str, *args: object) -> None:
        pass

    def send_head(self):  # type: ignore[override]
        self.log_state.paths.append(self.path)
        header = self.headers.get("Range")
        if header:
            self.log_state.ranges.append(header)
        path = self.translate_path(self.path)
        if not header or not self.log_state.honour_range or not os.path.isfile(path):
            return super().send_head()
        start = int(header.removeprefix("bytes=").split("-")[0])
        size = os.path.getsize(path)
        if start >= size:
            self.send_error(416, "Requested Range Not Satisfiable")
            return None
        fh = open(path, "rb")  # noqa: SIM115 - closed by copyfile's caller
        fh.seek(start)
        self.send_response(206)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Range", f"bytes {start}-{size - 1}/{size}")
        self.send_header("Content-Length", str(size - start))
        self.end_headers()
        return fh


@dataclass
class LoopbackServer:
    """A running server: ``url`` serves ``root``; ``log`` records requests."""

    url: str
    root: Path
    log: ServerLog


@pytest.fixture()
def serve_folder() -> Iterator:
    """Factory: ``serve_folder(path) -> LoopbackServer`` on 127.0.0.1 (stopped after the test)."""
    servers = []

    def start(root: Path) -> LoopbackServer:
        state = ServerLog()
        handler = functools.partial(type("H", (_RangeHandler,), {"log_state": state}), directory=str(root))
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        servers.append(server)
        return LoopbackServer(f"http://127.0.0.1:{server.server_address[1]}", root, state)

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()
