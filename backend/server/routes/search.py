"""``POST /search``: text -> motion (instant: no alignment work unless asked)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from backend.server.deps import EngineDep, TokenDep
from backend.server.responses import SearchResponse
from backend.server.routes.common import ERROR_RESPONSES
from backend.server.schemas import SearchRequest

__all__ = ["router"]

router = APIRouter(tags=["search"], dependencies=[TokenDep])


@router.post(
    "/search",
    response_model=SearchResponse,
    responses=ERROR_RESPONSES,
    summary="Find clips matching a text (alignments only for the hits `alignment` asks for)",
)
def search(body: SearchRequest, engine: EngineDep) -> dict[str, Any]:
    """Rank the library against ``text``; best first, at most ``k`` results."""
    return engine.search_page(body.text, body.k, min_duration=body.min_duration,
                              max_duration=body.max_duration, alignment=body.alignment, datasets=body.datasets,
                              tags=body.tags, commercial_safe=body.commercial_safe,
                              offset=body.offset)  # fmt: skip
