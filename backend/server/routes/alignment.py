"""``POST /alignment``: why one clip matched a text, on demand (the hit the user selected)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from backend.server.deps import EngineDep, TokenDep
from backend.server.responses import AlignmentResponse
from backend.server.routes.common import ERROR_RESPONSES
from backend.server.schemas import AlignmentRequest

__all__ = ["router"]

router = APIRouter(tags=["search"], dependencies=[TokenDep])


@router.post(
    "/alignment",
    response_model=AlignmentResponse,
    responses=ERROR_RESPONSES,
    summary="Explain one clip for a text: its best window and the word x body part x time alignment",
)
def alignment(body: AlignmentRequest, engine: EngineDep) -> dict[str, Any]:
    """The alignment of clip ``id`` for ``text`` (the same as ``/search`` would attach to that hit)."""
    return engine.alignment(body.text, body.id)
