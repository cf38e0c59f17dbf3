"""The request guard: an ASGI middleware that refuses hostile requests before any route runs.

The server listens on loopback, which every web page the user opens can reach. The guard refuses, in this
order, answering JSON ``{"detail": ...}`` like every other error:

1. a ``Host`` header that is not a loopback name (or the configured host / extra names with
   ``--allow-remote``): ``421`` (DNS rebinding: a page on a domain that resolves to 127.0.0.1);
2. a state-changing request (anything but ``GET`` / ``HEAD`` / ``OPTIONS``) whose ``Origin`` is not the
   server's own origin, or that a browser marks ``Sec-Fetch-Site: cross-site``: ``403`` (cross-site
   writes; the add-on and scripts send no ``Origin``);
3. a body-carrying request without ``Content-Type: application/json`` (or ``multipart/form-data`` where
   uploads are accepted): ``415`` (forms and ``text/plain`` posts need no CORS preflight);
4. a body over its cap (:mod:`backend.motion.limits`): ``413``, from ``Content-Length`` before reading, or
   as soon as the streamed body passes the cap;
5. a JSON body nested deeper than :data:`~backend.motion.limits.MAX_JSON_DEPTH`: ``400``.

Starlette's ``TrustedHostMiddleware`` is not used: it answers plain text and splits ``[::1]:8765`` at the
first colon, so an IPv6 loopback server would refuse its own clients.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import numpy as np
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse

from backend.motion.limits import MAX_DESCRIBE_BODY_BYTES, MAX_FILE_BYTES, MAX_JSON_BODY_BYTES, MAX_JSON_DEPTH

__all__ = ["LOOPBACK_NAMES", "GuardPolicy", "RequestGuard", "host_name", "json_depth"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

#: Host names always served (the loopback interface).
LOOPBACK_NAMES = frozenset({"127.0.0.1", "localhost", "::1"})
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_JSON = "application/json"
_MULTIPART = "multipart/form-data"
_STRING_RE = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')
_DEPTH_CHUNK = 1 << 22


class _BodyTooLarge(HTTPException):
    """Raised by the counting ``receive`` when the streamed body passes its cap (an HTTP 413 that body
    parsers re-raise as it is)."""

    def __init__(self, cap: int) -> None:
        super().__init__(413, f"request body is over the limit of {cap} bytes")


@dataclass(frozen=True)
class GuardPolicy:
    """What the guard accepts.

    Attributes:
        hosts: accepted ``Host`` names (lower case, no port, IPv6 without brackets).
        upload_paths: paths that accept ``multipart/form-data`` (``POST /library``).
        upload_bytes: cap of a multipart body (the file cap plus room for the form fields).
        large_json_paths: paths whose JSON bodies may reach :data:`MAX_DESCRIBE_BODY_BYTES`.
        json_bytes: cap of every other JSON body.
        large_json_bytes: cap of a JSON body on ``large_json_paths``.
        max_depth: deepest nesting of a JSON body.
    """

    hosts: frozenset[str]
    upload_paths: frozenset[str] = frozenset({"/library"})
    upload_bytes: int = MAX_FILE_BYTES + 65536
    large_json_paths: frozenset[str] = frozenset({"/describe", "/library"})  # joints bodies
    json_bytes: int = MAX_JSON_BODY_BYTES
    large_json_bytes: int = MAX_DESCRIBE_BODY_BYTES
    max_depth: int = MAX_JSON_DEPTH

    @classmethod
    def for_server(
        cls, host: str, allow_remote: bool, extra_hosts: Iterable[str], upload_bytes: int
    ) -> GuardPolicy:
        """Loopback names, plus the bound host and ``extra_hosts`` when remote access is allowed."""
        hosts = set(LOOPBACK_NAMES)
        if allow_remote:
            hosts.add(host_name(host))
        hosts.update(host_name(h) for h in extra_hosts)
        hosts.discard("")
        return cls(hosts=frozenset(hosts), upload_bytes=upload_bytes + 65536)

    def body_cap(self, path: str, media_type: str) -> int:
        """Largest body accepted for ``path`` with ``media_type``."""
        if media_type == _MULTIPART:
            return self.upload_bytes
        return self.large_json_bytes if path in self.large_json_paths else self.json_bytes


def host_name(host: str) -> str:
    """The name part of a ``Host`` header: lower case, without port, IPv6 brackets or a trailing dot.

    >>> host_name("LOCALHOST:8765"), host_name("[::1]:8765"), host_name("127.0.0.1"), host_name("::1")
    ('localhost', '::1', '127.0.0.1', '::1')
    """
    h = host.strip().lower()
    if h.startswith("["):
        end = h.find("]")
        return h[1:end] if end > 0 else ""
    if h.count(":") == 1:
        h = h.split(":", 1)[0]
    return h.rstrip(".")


def json_depth(body: bytes) -> int:
    """Deepest nesting of arrays and objects in a JSON text (brackets inside strings ignored).

    Counted with numpy over 4 MiB chunks, so a 64 MiB body costs a few tens of milliseconds.

    >>> json_depth(b'{"a": [[1, 2], "]]]"]}'), json_depth(b'[]'), json_depth(b'3')
    (3, 1, 0)
    """
    text = _STRING_RE.sub(b'""', body)
    deepest = depth = 0
    for start in range(0, len(text), _DEPTH_CHUNK):
        a = np.frombuffer(text, dtype=np.uint8, count=min(_DEPTH_CHUNK, len(text) - start), offset=start)
        step = (a == 0x5B).astype(np.int32) + (a == 0x7B) - (a == 0x5D) - (a == 0x7D)
        if not step.any():
            continue
        running = depth + np.cumsum(step)
        deepest = max(deepest, int(running.max()))
        depth = int(running[-1])
    return deepest


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return value.decode("latin-1")
    return None


def _refuse(status: int, detail: str) -> JSONResponse:
    return JSONResponse(status_code=status, content={"detail": detail})


class RequestGuard:
    """ASGI middleware enforcing :class:`GuardPolicy` (see the module docstring)."""

    def __init__(self, app: ASGIApp, policy: GuardPolicy) -> None:
        self.app = app
        self.policy = policy

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        refusal = self._check_headers(scope)
        if refusal is not None:
            await refusal(scope, receive, send)
            return
        method = scope["method"].upper()
        if method in _SAFE_METHODS:
            await self.app(scope, receive, send)
            return
        media = (_header(scope, b"content-type") or "").split(";")[0].strip().lower()
        cap = self.policy.body_cap(scope["path"], media)
        length = _header(scope, b"content-length")
        if length is not None and length.strip().isdigit() and int(length) > cap:
            await _refuse(413, f"request body is {int(length)} bytes; the limit here is {cap} bytes")(
                scope, receive, send
            )
            return
        if media == _JSON:
            await self._json(scope, receive, send, cap)
            return
        await self._streamed(scope, receive, send, cap)

    def _check_headers(self, scope: Scope) -> JSONResponse | None:
        host = _header(scope, b"host")
        name = host_name(host or "")
        if name not in self.policy.hosts:
            shown = (host or "")[:100]
            return _refuse(
                421,
                f"Host {shown!r} is not served here (protection against DNS rebinding); use "
                "http://127.0.0.1:<port>, or start the server with --allow-remote / --allowed-host NAME",
            )
        method = scope["method"].upper()
        if method in _SAFE_METHODS:
            return None
        origin = _header(scope, b"origin")
        if origin is not None and not self._same_origin(origin, host or ""):
            return _refuse(
                403,
                f"cross-site request refused: Origin {origin[:100]!r} is not this server; web pages cannot "
                "change the library",
            )
        if (_header(scope, b"sec-fetch-site") or "").lower() == "cross-site":
            return _refuse(403, "cross-site request refused (Sec-Fetch-Site: cross-site)")
        media = (_header(scope, b"content-type") or "").split(";")[0].strip().lower()
        if method in ("POST", "PUT", "PATCH"):
            allowed = [_JSON, _MULTIPART] if scope["path"] in self.policy.upload_paths else [_JSON]
            if media not in allowed:
                wanted = " or ".join(allowed)
                if not media:
                    return _refuse(415, f"Content-Type is missing: send {wanted}")
                return _refuse(415, f"Content-Type {media!r} is not accepted here: send {wanted}")
        return None

    @staticmethod
    def _same_origin(origin: str, host: str) -> bool:
        parts = urlsplit(origin.strip())
        return parts.scheme == "http" and parts.netloc.lower() == host.strip().lower() and not parts.path

    async def _json(self, scope: Scope, receive: Receive, send: Send, cap: int) -> None:
        """Read the whole (capped) JSON body, check its nesting, then replay it to the app."""
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                await self.app(scope, _replay([message]), send)
                return
            body = message.get("body", b"")
            size += len(body)
            if size > cap:
                await _refuse(413, f"request body is over the limit of {cap} bytes")(scope, receive, send)
                return
            chunks.append(body)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        del chunks
        depth = json_depth(body)
        if depth > self.policy.max_depth:
            await _refuse(
                400,
                f"request body is nested {depth} levels deep; at most {self.policy.max_depth} are accepted",
            )(scope, receive, send)
            return
        await self.app(
            scope, _replay([{"type": "http.request", "body": body, "more_body": False}], receive), send
        )

    async def _streamed(self, scope: Scope, receive: Receive, send: Send, cap: int) -> None:
        """Pass the body through, counting; past the cap the app's read raises and the guard answers 413."""
        size = 0
        started = False

        async def counting() -> Message:
            nonlocal size
            message = await receive()
            if message["type"] == "http.request":
                size += len(message.get("body", b""))
                if size > cap:
                    raise _BodyTooLarge(cap)
            return message

        async def tracking(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting, tracking)
        except _BodyTooLarge:
            if not started:
                await _refuse(413, f"request body is over the limit of {cap} bytes")(scope, receive, send)


def _replay(messages: list[Message], then: Receive | None = None) -> Receive:
    """A ``receive`` that returns ``messages`` first, then defers to ``then`` (disconnects)."""
    pending = list(messages)

    async def receive() -> Message:
        if pending:
            return pending.pop(0)
        if then is not None:
            return await then()
        return {"type": "http.disconnect"}

    return receive
