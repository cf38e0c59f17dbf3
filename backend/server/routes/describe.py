"""``POST /describe``: motion -> text (ranked captions) and the nearest library clips."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from backend.server.deps import EngineDep, TokenDep
from backend.server.describe_body import parse_describe_body
from backend.server.responses import DescribeResponse
from backend.server.routes.common import ERROR_RESPONSES
from backend.server.schemas import DescribeRequest

__all__ = ["REQUEST_SCHEMAS", "router"]

router = APIRouter(tags=["describe"], dependencies=[TokenDep])

#: request models documented in the OpenAPI components although the route parses its body itself
REQUEST_SCHEMAS = (DescribeRequest,)


@router.post(
    "/describe",
    response_model=DescribeResponse,
    responses={
        **ERROR_RESPONSES,
        413: {"description": "body over 64 MiB"},
        503: {"description": "the caption bank is damaged (see GET /health)"},
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/DescribeRequest"}}},
        }
    },
    summary="Describe a motion: best captions and similar library clips",
)
async def describe(request: Request, engine: EngineDep) -> dict[str, Any]:
    """Canonicalise ``joints`` (any fps, SMPL-22, metres, Y up) and rank the caption bank and the library.

    The body is parsed by :func:`~backend.server.describe_body.parse_describe_body` (joints straight into
    numpy, no Python list per number), then validated by :class:`DescribeRequest`.
    """
    data = await run_in_threadpool(parse_describe_body, await request.body())
    try:
        body = DescribeRequest.model_validate(data)
    except ValidationError as exc:
        errors = [{**e, "loc": ("body", *e.get("loc", ()))} for e in exc.errors(include_url=False)]
        raise RequestValidationError(errors) from None
    return await run_in_threadpool(engine.describe, body.joints, body.fps, body.k)
