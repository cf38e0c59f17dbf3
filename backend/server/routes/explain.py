"""``GET /explain.png?text=...&id=...``: the match of a text and a clip as a figure."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from backend.errors import InvalidInputError
from backend.motion.limits import MAX_ID_CHARS, MAX_URL_TEXT_CHARS
from backend.server.deps import EngineDep, TokenDep
from backend.server.routes.common import ERROR_RESPONSES, png_response
from backend.server.schemas import check_query_text

__all__ = ["router"]

router = APIRouter(tags=["explain"], dependencies=[TokenDep])


@router.get(
    "/explain.png",
    response_class=Response,
    responses={**ERROR_RESPONSES, 200: {"content": {"image/png": {}}, "description": "PNG figure"}},
    summary="Poses over time, motion image and the word x (body part, time window) score map",
)
def explain(
    engine: EngineDep,
    request: Request,
    text: Annotated[str, Query(min_length=1, max_length=MAX_URL_TEXT_CHARS, description="the query text")],
    id: Annotated[str, Query(min_length=1, max_length=MAX_ID_CHARS, description="clip id")],
) -> Response:
    """Render which words of ``text`` matched which body parts of clip ``id``, and when."""
    try:
        query = check_query_text(text)
    except ValueError as exc:
        raise InvalidInputError(str(exc)) from None
    return png_response(request, engine.explain_png(query, id))
