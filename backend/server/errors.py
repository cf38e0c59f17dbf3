"""Map errors to JSON responses: typed project errors -> 4xx, request validation -> 422, the rest -> 500.

Every error body is ``{"detail": "<message naming the field / value / problem>"}`` (validation errors
add ``"errors": [{"loc", "msg", "type"}]``). Bad input must never reach the catch-all 500 handler:
the request schemas and the engine raise typed errors for every input problem they can detect.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from backend.errors import (
    BvhError,
    IndexMismatchError,
    InvalidInputError,
    MotionDataError,
    MotionSearchError,
    NotFoundError,
    RigMappingError,
)

__all__ = [
    "ConflictError",
    "ForbiddenError",
    "PayloadTooLargeError",
    "UnavailableError",
    "format_validation_errors",
    "install_error_handlers",
    "status_for_error",
]

log = logging.getLogger(__name__)


class ConflictError(InvalidInputError):
    """The request conflicts with the current state (e.g. a clip id that already exists)."""


class PayloadTooLargeError(InvalidInputError):
    """An upload is larger than the server accepts."""


class ForbiddenError(InvalidInputError):
    """The request is not allowed here (a path outside the library roots, path mode off)."""


class UnavailableError(MotionSearchError):
    """A part of the server is unusable right now (e.g. a damaged caption bank); answered 503."""


#: Most specific first: the first matching class decides the status.
_STATUS_BY_ERROR: tuple[tuple[type[MotionSearchError], int], ...] = (
    (NotFoundError, 404),
    (ConflictError, 409),
    (ForbiddenError, 403),
    (UnavailableError, 503),
    (PayloadTooLargeError, 413),
    (BvhError, 400),
    (RigMappingError, 422),
    (MotionDataError, 422),
    (InvalidInputError, 422),
    (IndexMismatchError, 409),
)


def status_for_error(exc: MotionSearchError) -> int:
    """HTTP status for a project error (500 for server-side problems such as a corrupt index).

    >>> status_for_error(NotFoundError("no clip 'x'")), status_for_error(BvhError("bad"))
    (404, 400)
    """
    for cls, status in _STATUS_BY_ERROR:
        if isinstance(exc, cls):
            return status
    return 500


def _short_input(value: Any) -> str | None:
    """A short rendering of an offending scalar input (``None`` for big or nested values)."""
    if isinstance(value, (bool, int, float)) or value is None:
        return repr(value)
    if isinstance(value, str):
        return repr(value if len(value) <= 40 else value[:37] + "...")
    return None


def format_validation_errors(errors: list[dict[str, Any]]) -> str:
    """One readable line naming each invalid field.

    Args:
        errors: pydantic / FastAPI error dicts (``loc``, ``msg``, ``type``, ``input``, ``ctx``).

    Returns:
        e.g. ``"k: Input should be less than or equal to 100 (got 101)"``; several errors are joined
        with ``"; "``.
    """
    parts: list[str] = []
    for err in errors[:5]:
        loc = [str(x) for x in err.get("loc", ())]
        kind = err.get("type", "")
        msg = str(err.get("msg", "invalid value"))
        msg = msg.removeprefix("Value error, ")
        if kind == "json_invalid":
            reason = (err.get("ctx") or {}).get("error", "")
            pos = loc[1] if len(loc) > 1 else "?"
            parts.append(f"request body is not valid JSON ({reason} at character {pos})")
            continue
        if loc == ["body"] and kind == "missing":
            parts.append("request body is missing (a JSON object is expected)")
            continue
        if loc and loc[0] == "body":
            loc = loc[1:]
        name = ".".join(loc) if loc else "request"
        shown = _short_input(err.get("input")) if kind not in ("missing", "value_error") else None
        text = msg if msg.startswith(name + " ") else f"{name}: {msg}"  # our validators name the field
        parts.append(text + (f" (got {shown})" if shown is not None else ""))
    if len(errors) > 5:
        parts.append(f"... and {len(errors) - 5} more problems")
    return "; ".join(parts)


async def _validation_handler(request: Request, exc: RequestValidationError) -> JSONResponse:
    errors = list(exc.errors())
    slim = [
        {"loc": list(e.get("loc", ())), "msg": str(e.get("msg", "")), "type": e.get("type", "")}
        for e in errors
    ]
    return JSONResponse(status_code=422, content={"detail": format_validation_errors(errors), "errors": slim})


async def _project_error_handler(request: Request, exc: MotionSearchError) -> JSONResponse:
    status = status_for_error(exc)
    if status >= 500:
        log.error("%s %s failed: %s: %s", request.method, request.url.path, type(exc).__name__, exc)
        return JSONResponse(
            status_code=status, content={"detail": f"server error ({type(exc).__name__}): {exc}"}
        )
    return JSONResponse(status_code=status, content={"detail": str(exc)})


async def _unexpected_handler(request: Request, exc: Exception) -> JSONResponse:
    log.error("%s %s crashed", request.method, request.url.path, exc_info=exc)
    return JSONResponse(
        status_code=500,
        content={"detail": f"internal server error ({type(exc).__name__}); see the server log"},
    )


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers on ``app``.

    Args:
        app: the application.
    """
    app.add_exception_handler(RequestValidationError, _validation_handler)  # type: ignore[arg-type]
    app.add_exception_handler(MotionSearchError, _project_error_handler)  # type: ignore[arg-type]
    app.add_exception_handler(Exception, _unexpected_handler)
