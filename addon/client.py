# SPDX-License-Identifier: GPL-3.0-or-later
"""HTTP client of the backend (pure: stdlib ``urllib`` only, no bpy; safe on a worker thread).

Every request has a timeout. Failures become typed errors whose message says what to do:

* nothing listening -> :class:`BackendUnreachableError` ("backend not reachable at <url>: start it with
  `bash scripts/run.sh`"),
* no answer in time -> :class:`BackendTimeoutError`,
* 4xx/5xx -> :class:`BackendHTTPError` carrying the server's ``detail`` message,
* an answer that breaks the contract -> :class:`BadResponseError`,
* a non-loopback URL while Blender's online access is off -> :class:`OnlineAccessError` (raised before any
  connection is attempted).
"""

from __future__ import annotations

import json
import os
import socket
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

import numpy as np

from .errors import (
    BackendHTTPError,
    BackendTimeoutError,
    BackendUnreachableError,
    BadResponseError,
    MotionDataError,
    OnlineAccessError,
)
from .library import ClipInfo, LibraryAdded, add_joints_request, multipart_body, upload_fields
from .payloads import (
    AlignmentResult,
    DescribeResult,
    Health,
    LibraryInfo,
    MotionData,
    SearchHit,
    SearchPage,
    alignment_request,
    describe_request,
    search_request,
)
from .urls import is_loopback, normalise_url

__all__ = ["BackendClient"]

_USER_AGENT = "motion-search-blender/0.1"


class BackendClient:
    """Blocking client for one backend (create one per job; cheap).

    Args:
        url: backend base URL, e.g. ``http://127.0.0.1:8765``.
        timeout: seconds allowed for each request (connect + read).
        token: API token sent as ``Authorization: Bearer`` (remote servers need one).
        online_access: Blender's ``bpy.app.online_access``; when False only loopback URLs are allowed.
    """

    def __init__(self, url: str, timeout: float = 10.0, token: str = "", online_access: bool = True) -> None:
        self.url = normalise_url(url)
        if not (timeout > 0):
            raise ValueError(f"timeout must be positive; got {timeout}")
        self.timeout = float(timeout)
        self.token = token.strip()
        self.online_access = bool(online_access)

    # ------------------------------------------------------------------------------------------ transport
    def _request(
        self,
        method: str,
        path: str,
        body: Any = None,
        query: dict | None = None,
        raw: tuple[bytes, str] | None = None,
    ) -> tuple[bytes, str]:
        """Send one request (a JSON ``body``, or ``raw`` = ``(bytes, content type)``); returns ``(body
        bytes, content type)``."""
        if not self.online_access and not is_loopback(self.url):
            raise OnlineAccessError(self.url)
        full = self.url + path + (("?" + urllib.parse.urlencode(query)) if query else "")
        data = None
        headers = {"User-Agent": _USER_AGENT, "Accept": "application/json, image/png, text/plain"}
        if raw is not None:
            data, headers["Content-Type"] = raw
        elif body is not None:
            data = json.dumps(body, separators=(",", ":")).encode("utf-8")
            headers["Content-Type"] = "application/json"
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        req = urllib.request.Request(full, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                return resp.read(), resp.headers.get("Content-Type", "")
        except urllib.error.HTTPError as exc:
            raise BackendHTTPError(full, exc.code, self._detail(exc)) from None
        except urllib.error.URLError as exc:
            if isinstance(exc.reason, (TimeoutError, socket.timeout)):
                raise BackendTimeoutError(self.url, self.timeout) from None
            raise BackendUnreachableError(
                self.url, str(getattr(exc.reason, "strerror", "") or exc.reason)
            ) from None
        except TimeoutError:
            raise BackendTimeoutError(self.url, self.timeout) from None
        except (ConnectionError, OSError) as exc:  # reset mid-answer, remote closed, ...
            raise BackendUnreachableError(self.url, exc.strerror or type(exc).__name__) from None

    @staticmethod
    def _detail(exc: urllib.error.HTTPError) -> str:
        """The ``detail`` message of an error answer (or its text / reason)."""
        try:
            raw = exc.read()
        except OSError:
            raw = b""
        try:
            detail = json.loads(raw.decode("utf-8")).get("detail")
        except (ValueError, AttributeError, UnicodeDecodeError):
            detail = None
        if isinstance(detail, list):  # FastAPI validation errors: [{"loc": [...], "msg": ...}]
            detail = "; ".join(
                f"{'.'.join(str(x) for x in d.get('loc', []))}: {d.get('msg', '')}"
                if isinstance(d, dict)
                else str(d)
                for d in detail
            )
        if detail:
            return str(detail)
        text = raw.decode("utf-8", "replace").strip()
        return text[:300] if text else str(exc.reason)

    def _json(
        self,
        method: str,
        path: str,
        body: Any = None,
        query: dict | None = None,
        raw: tuple[bytes, str] | None = None,
    ) -> Any:
        answer, _ = self._request(method, path, body, query, raw)
        try:
            return json.loads(answer.decode("utf-8"))
        except (ValueError, UnicodeDecodeError) as exc:
            raise BadResponseError(f"{self.url}{path} did not answer JSON ({exc})") from None

    def _png(self, path: str, query: dict | None = None) -> bytes:
        raw, ctype = self._request("GET", path, query=query)
        if not raw.startswith(b"\x89PNG"):
            raise BadResponseError(f"{self.url}{path} did not answer a PNG image (content type {ctype!r})")
        return raw

    # ---------------------------------------------------------------------------------------- endpoints
    def health(self) -> Health:
        """``GET /health``."""
        return Health.from_json(self._json("GET", "/health"))

    def search(self, text: str, k: int = 10, **options: Any) -> list[SearchHit]:
        """``POST /search``: hits, best first (:meth:`search_page`'s ``results``; same keywords)."""
        return self.search_page(text, k, **options).results

    def search_page(
        self,
        text: str,
        k: int = 10,
        min_duration: float | None = None,
        max_duration: float | None = None,
        alignment: str = "none",
        **filters: Any,
    ) -> SearchPage:
        """``POST /search`` as a :class:`SearchPage`: the hits, best first, and the "no close match" verdict
        (``alignment``: which hits come explained; ``filters``: the ``datasets`` / ``tags`` /
        ``commercial_safe`` / ``offset`` keywords of ``payloads.search_request``)."""
        body = search_request(text, k, min_duration, max_duration, alignment, **filters)
        return SearchPage.from_json(self._json("POST", "/search", body))

    def library_info(self) -> LibraryInfo:
        """``GET /library``: size, datasets and tags of the served library (the filter menus)."""
        return LibraryInfo.from_json(self._json("GET", "/library"))

    def alignment(self, text: str, motion_id: str) -> AlignmentResult:
        """``POST /alignment``: why clip ``motion_id`` matched ``text`` (its best window)."""
        return AlignmentResult.from_json(self._json("POST", "/alignment", alignment_request(text, motion_id)))

    def motion(self, motion_id: str) -> MotionData:
        """``GET /motions/{id}``: the canonical clip (20 fps, metres, Y up)."""
        return MotionData.from_json(self._json("GET", f"/motions/{urllib.parse.quote(motion_id, safe='')}"))

    def preview_png(self, motion_id: str) -> bytes:
        """``GET /motions/{id}/preview.png``: the filmstrip thumbnail."""
        return self._png(f"/motions/{urllib.parse.quote(motion_id, safe='')}/preview.png")

    def explain_png(self, text: str, motion_id: str) -> bytes:
        """``GET /explain.png?text=...&id=...``: the alignment picture."""
        return self._png("/explain.png", {"text": text, "id": motion_id})

    def describe(self, joints_yup: np.ndarray, fps: float, k: int = 5) -> DescribeResult:
        """``POST /describe`` with ``(T, 22, 3)`` Y-up joints at ``fps``."""
        return DescribeResult.from_json(self._json("POST", "/describe", describe_request(joints_yup, fps, k)))

    def add_joints(self, joints_yup: np.ndarray, fps: float, info: ClipInfo) -> LibraryAdded:
        """``POST /library`` with ``(T, 22, 3)`` Y-up joints at ``fps`` (a sampled action) and ``info``."""
        return LibraryAdded.from_json(
            self._json("POST", "/library", add_joints_request(joints_yup, fps, info))
        )

    def add_file(self, path: str, info: ClipInfo, asf: str = "") -> LibraryAdded:
        """``POST /library`` multipart upload of a motion file (an ``.amc`` with its ``asf`` skeleton)."""
        files = {"file": (os.path.basename(path), _read(path))}
        if asf:
            files["asf"] = (os.path.basename(asf), _read(asf))
        raw = multipart_body(upload_fields(info), files)
        return LibraryAdded.from_json(self._json("POST", "/library", raw=raw))


def _read(path: str) -> bytes:
    """A file's bytes; an unreadable file is a :class:`MotionDataError` naming it."""
    try:
        with open(path, "rb") as fh:
            return fh.read()
    except OSError as exc:
        raise MotionDataError(f"cannot read {path}: {exc.strerror or exc}") from None
