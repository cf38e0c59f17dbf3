"""``GET /health``: liveness, model name and library size (open even when an API token is set)."""

from __future__ import annotations

from fastapi import APIRouter

from backend.server.deps import EngineDep
from backend.server.responses import HealthResponse

__all__ = ["router"]

router = APIRouter(tags=["health"])


@router.get("/health", response_model=HealthResponse, summary="Is the server up, which model, how many clips")
def health(engine: EngineDep) -> HealthResponse:
    """Answer ``{"status": "ok" | "degraded", "model": ..., "library_size": N, "problems": [...]}``."""
    problems = engine.problems()
    return HealthResponse(
        status="degraded" if problems else "ok",
        model=engine.model_name,
        library_size=engine.library_size,
        problems=problems,
    )
