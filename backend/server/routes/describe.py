"""``POST /describe``: motion -> text (ranked captions) and the nearest library clips."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from backend.server.deps import EngineDep, TokenDep
from backend.server.routes.common import ERROR_RESPONSES
from backend.server.schemas import DescribeRequest, DescribeResponse

__all__ = ["router"]

router = APIRouter(tags=["describe"], dependencies=[TokenDep])


@router.post(
    "/describe",
    response_model=DescribeResponse,
    responses=ERROR_RESPONSES,
    summary="Describe a motion: best captions and similar library clips",
)
def describe(body: DescribeRequest, engine: EngineDep) -> dict[str, Any]:
    """Canonicalise ``joints`` (any fps, SMPL-22, metres, Y up) and rank the caption bank and the library."""
    return engine.describe(body.joints, body.fps, body.k)  # type: ignore[arg-type]
