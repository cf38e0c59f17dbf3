"""FastAPI dependencies as ``Annotated`` aliases: settings, the engine, and the API-token guard.

The settings and the engine live on ``app.state`` (set by :func:`backend.server.app.create_app` and
its lifespan), so they are created once per application, never at import time.
"""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from backend.server.engine import SearchEngine
from backend.server.settings import ServerSettings

__all__ = [
    "EngineDep",
    "SettingsDep",
    "TokenDep",
    "bearer_scheme",
    "get_engine",
    "get_settings",
    "require_token",
]

#: Shows the bearer scheme in the OpenAPI document; errors are raised by :func:`require_token`.
bearer_scheme = HTTPBearer(auto_error=False, description="needed when the server runs with an API token")


def get_settings(request: Request) -> ServerSettings:
    """The application's settings."""
    return request.app.state.settings


def get_engine(request: Request) -> SearchEngine:
    """The application's :class:`SearchEngine` (loaded once by the lifespan).

    Raises:
        HTTPException: 503 while the engine is not loaded (startup or shutdown).
    """
    engine = getattr(request.app.state, "engine", None)
    if engine is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "the search engine is not loaded")
    return engine


SettingsDep = Annotated[ServerSettings, Depends(get_settings)]


def require_token(
    settings: SettingsDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
) -> None:
    """Check ``Authorization: Bearer <token>`` when the server has an API token.

    Raises:
        HTTPException: 401 with ``WWW-Authenticate: Bearer`` when the header is missing, not a bearer
            token, or the token is wrong (compared in constant time).
    """
    expected = settings.token
    if expected is None:
        return
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "missing API token: send the header 'Authorization: Bearer <token>'",
            headers={"WWW-Authenticate": "Bearer"},
        )
    if not secrets.compare_digest(credentials.credentials.encode(), expected.encode()):
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, "wrong API token", headers={"WWW-Authenticate": "Bearer"}
        )


EngineDep = Annotated[SearchEngine, Depends(get_engine)]
TokenDep = Depends(require_token)
