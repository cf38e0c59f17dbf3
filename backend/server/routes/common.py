"""Shared OpenAPI fragments and response helpers of the routers."""

from __future__ import annotations

import hashlib
from typing import Annotated, Any

from fastapi import Path, Request, Response

from backend.motion.limits import MAX_ID_CHARS
from backend.server.responses import ErrorResponse

__all__ = ["ERROR_RESPONSES", "ClipIdPath", "png_response"]

#: A clip id in a URL path (bounded, so a request head never outgrows the HTTP server's limit).
ClipIdPath = Annotated[str, Path(min_length=1, max_length=MAX_ID_CHARS, description="clip id")]

#: Documented error answers (every error body is ``{"detail": str}``).
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorResponse, "description": "malformed input (e.g. an unreadable BVH file)"},
    401: {"model": ErrorResponse, "description": "missing or wrong API token"},
    404: {"model": ErrorResponse, "description": "unknown clip id"},
    422: {"model": ErrorResponse, "description": "invalid field (the message names it)"},
}


def png_response(request: Request, png: bytes) -> Response:
    """A PNG answer with an ETag; answers 304 when the client already has these bytes."""
    etag = '"' + hashlib.sha256(png).hexdigest()[:32] + '"'
    headers = {"ETag": etag, "Cache-Control": "no-cache"}
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    return Response(content=png, media_type="image/png", headers=headers)
