"""The FastAPI application factory.

``create_app(settings)`` builds the app; its lifespan loads the model and the index once
(:meth:`SearchEngine.load`) unless an engine is passed in (the CLI loads it first so that a bad index
or checkpoint fails before the port is bound, with a clear message).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from backend import __version__
from backend.server.engine import SearchEngine
from backend.server.errors import install_error_handlers
from backend.server.guard import GuardPolicy, RequestGuard
from backend.server.routes import alignment, describe, explain, health, library, motions, search
from backend.server.settings import ServerSettings, check_binding

__all__ = ["create_app"]

log = logging.getLogger(__name__)

_DESCRIPTION = """Text <-> motion search over a motion library (late interaction over body part x time patches).

The stable contract is `docs/api.md`. With an API token configured, every endpoint except `GET /health`
(and these docs) needs `Authorization: Bearer <token>`."""


def create_app(settings: ServerSettings | None = None, *, engine: SearchEngine | None = None) -> FastAPI:
    """Build the application.

    Args:
        settings: server settings (default: read from the environment).
        engine: an already loaded engine; when None the lifespan loads one from ``settings`` and
            closes it on shutdown.

    Returns:
        The FastAPI app (OpenAPI at ``/docs`` and ``/openapi.json``).

    Raises:
        ConfigError: unsafe binding (non-loopback host without ``allow_remote`` and a token).
    """
    settings = settings if settings is not None else ServerSettings()
    check_binding(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = engine is None
        eng = engine if engine is not None else await run_in_threadpool(SearchEngine.load, settings)
        app.state.engine = eng
        log.info("serving %d clips with model %s", eng.library_size, eng.model_name)
        try:
            yield
        finally:
            app.state.engine = None
            if owned:
                eng.close()

    app = FastAPI(title="Motion Search", version=__version__, description=_DESCRIPTION, lifespan=lifespan)
    app.state.settings = settings
    app.state.engine = None
    install_error_handlers(app)
    app.add_middleware(
        RequestGuard,
        policy=GuardPolicy.for_server(
            settings.host, settings.allow_remote, settings.allowed_hosts, settings.max_upload_bytes
        ),
    )
    for module in (health, search, alignment, describe, motions, explain, library):
        app.include_router(module.router)
    _document_request_schemas(app, describe.REQUEST_SCHEMAS + library.REQUEST_SCHEMAS)
    return app


def _document_request_schemas(app: FastAPI, models: tuple[type[BaseModel], ...]) -> None:
    """Add request models of routes that parse their own body to the OpenAPI components (referenced there)."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        spec = generate()
        schemas = spec.setdefault("components", {}).setdefault("schemas", {})
        for model in models:
            if model.__name__ not in schemas:
                schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
                schemas.update(schema.pop("$defs", {}))
                schemas[model.__name__] = schema
        return spec

    app.openapi = openapi  # type: ignore[method-assign]
