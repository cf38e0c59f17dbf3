"""``GET /motions/{id}`` (canonical joints as JSON, or BVH text) and ``GET /motions/{id}/preview.png``."""

from __future__ import annotations

import json
import re
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, Response

from backend.motion.clip import CANONICAL_FPS
from backend.motion.kinematics.skeleton import SMPL_JOINT_NAMES, SMPL_PARENTS
from backend.server.deps import EngineDep, TokenDep
from backend.server.responses import MotionData
from backend.server.routes.common import ERROR_RESPONSES, ClipIdPath, png_response

__all__ = ["motion_payload", "router"]

router = APIRouter(tags=["motions"], dependencies=[TokenDep])

_SAFE_NAME = re.compile(r"[^A-Za-z0-9_.-]+")


def motion_payload(clip_id: str, joints_list: list, meta: dict, fps: float = CANONICAL_FPS) -> dict:
    """The ``MotionData`` JSON object (see ``docs/api.md``)."""
    return {
        "id": clip_id,
        "fps": float(fps),
        "joint_names": list(SMPL_JOINT_NAMES),
        "parents": list(SMPL_PARENTS),
        "joints": joints_list,
        "metadata": meta,
    }


@router.get(
    "/motions/{id}",
    response_model=MotionData,
    responses={
        **ERROR_RESPONSES,
        200: {
            "content": {"text/plain": {"schema": {"type": "string"}}},
            "description": "MotionData (JSON) or, with ?format=bvh, BVH text",
        },
    },
    summary="A clip's canonical joints (JSON) or the clip as BVH",
)
def get_motion(
    id: ClipIdPath,
    engine: EngineDep,
    format_: Annotated[
        Literal["json", "bvh"], Query(alias="format", description="json (default) or bvh")
    ] = "json",
) -> Response:
    """Canonical joints (20 fps, metres, Y up) with names, parents and metadata; or BVH text."""
    if format_ == "bvh":
        text = engine.clip_bvh(id)
        filename = (_SAFE_NAME.sub("_", id) or "clip") + ".bvh"
        return Response(
            content=text,
            media_type="text/plain; charset=utf-8",
            headers={"Content-Disposition": f'inline; filename="{filename}"'},
        )
    clip = engine.clip(id)
    payload = motion_payload(clip.meta.id, engine.joints_to_list(clip.joints), clip.meta.to_dict(), clip.fps)
    return Response(content=json.dumps(payload, separators=(",", ":")), media_type="application/json")


@router.get(
    "/motions/{id}/preview.png",
    response_class=Response,
    responses={**ERROR_RESPONSES, 200: {"content": {"image/png": {}}, "description": "PNG filmstrip"}},
    summary="Filmstrip of the clip as a stick figure (side view), rendered once and cached",
)
def get_preview(id: ClipIdPath, engine: EngineDep, request: Request) -> Response:
    """A few poses over time, side view; left limbs blue, right limbs red."""
    return png_response(request, engine.preview_png(id))
