"""``POST /library`` (add a BVH, or an AMC with its ASF: multipart upload or JSON path) and ``DELETE /library/{id}``."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from fastapi import APIRouter, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError
from starlette.concurrency import run_in_threadpool

from backend.errors import InvalidInputError
from backend.motion.limits import ASF_SUFFIX, MOTION_FILE_SUFFIXES
from backend.server.deps import EngineDep, SettingsDep, TokenDep
from backend.server.describe_body import parse_describe_body
from backend.server.errors import PayloadTooLargeError
from backend.server.paths import check_suffix, resolve_library_path
from backend.server.responses import LibraryAddResponse, LibraryRemoveResponse, LibrarySummary
from backend.server.routes.common import ERROR_RESPONSES, ClipIdPath
from backend.server.schemas import LibraryAddJoints, LibraryAddRequest, check_unicode

if TYPE_CHECKING:
    from backend.server.engine import SearchEngine
    from backend.server.settings import ServerSettings

BodyModel = TypeVar("BodyModel", bound=BaseModel)

__all__ = ["REQUEST_SCHEMAS", "router"]

router = APIRouter(tags=["library"], dependencies=[TokenDep])

#: request models documented in the OpenAPI components although the route parses its body itself
REQUEST_SCHEMAS = (LibraryAddRequest, LibraryAddJoints)

_UPLOAD_SCHEMA = {
    "type": "object",
    "properties": {
        "file": {"type": "string", "format": "binary", "description": "the motion file (.bvh or .amc)"},
        "asf": {"type": "string", "format": "binary", "description": "the .asf skeleton of an .amc file"},
        "id": {"type": "string", "description": "clip id (default: from the file name)"},
        "caption": {"type": "string", "description": "a description stored with the clip"},
        "tags": {"type": "string", "description": "comma-separated tags stored with the clip"},
        "licence": {"type": "string", "description": "the clip's licence"},
        "commercial_use": {
            "type": "string",
            "enum": ["true", "false"],
            "description": "licence allows commercial use",
        },
    },
    "required": ["file"],
}
_CHUNK = 1 << 20


def _optional_text(value: Any, name: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidInputError(f"form field {name!r} must be text, not a file")
    return value


def check_unicode_fields(**fields: str | None) -> None:
    """Refuse form fields that are not proper Unicode (422 naming the field)."""
    for name, value in fields.items():
        if value is not None:
            try:
                check_unicode(value, name)
            except ValueError as exc:
                raise InvalidInputError(str(exc)) from None


async def _save_asf(form: Any, suffix: str, limit: int) -> tuple[Path | None, str | None]:
    """The uploaded ``asf`` skeleton of an ``.amc`` upload and its file name (``None`` for other files)."""
    asf = form.get("asf")
    if suffix != ".amc":
        if asf is not None:
            raise InvalidInputError("form field 'asf' is only for .amc uploads")
        return None, None
    if asf is None or isinstance(asf, str):
        raise InvalidInputError(
            "an .amc upload needs its skeleton: a file field named 'asf' holding the .asf"
        )
    name = Path(asf.filename or f"skeleton{ASF_SUFFIX}").name
    check_unicode_fields(asf=name)
    check_suffix(name, "form field 'asf'", (ASF_SUFFIX,))
    return await _save_upload(asf, limit, ASF_SUFFIX), name


async def _save_upload(upload: Any, limit: int, suffix: str) -> Path:
    """Copy an uploaded file into a temp file named ``*<suffix>`` (at most ``limit`` bytes)."""
    fd, tmp = tempfile.mkstemp(prefix="motion-search-upload-", suffix=suffix)
    size = 0
    try:
        with os.fdopen(fd, "wb") as out:
            while chunk := await upload.read(_CHUNK):
                size += len(chunk)
                if size > limit:
                    raise PayloadTooLargeError(f"file is larger than the upload limit of {limit} bytes")
                out.write(chunk)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    if size == 0:
        Path(tmp).unlink(missing_ok=True)
        raise InvalidInputError(f"file is empty (0 bytes): upload a {' or '.join(MOTION_FILE_SUFFIXES)} file")
    return Path(tmp)


async def _add_upload(request: Request, engine: SearchEngine, limit: int) -> dict[str, Any]:
    form = await request.form(max_files=2, max_fields=8)
    asf_path: Path | None = None
    asf_name: str | None = None
    try:
        upload = form.get("file")
        if upload is None or isinstance(upload, str):
            raise InvalidInputError(
                "multipart body needs a file field named 'file' holding a .bvh file (or an .amc, with 'asf')"
            )
        clip_id = _optional_text(form.get("id"), "id")
        caption = _optional_text(form.get("caption"), "caption")
        tags_text = _optional_text(form.get("tags"), "tags")
        licence = _optional_text(form.get("licence"), "licence")
        commercial = _optional_text(form.get("commercial_use"), "commercial_use")
        if commercial is not None and commercial.lower() not in ("true", "false", "1", "0", "yes", "no"):
            raise InvalidInputError(f"form field 'commercial_use' must be true or false, got {commercial!r}")
        commercial_use = commercial is not None and commercial.lower() in ("true", "1", "yes")
        tags = [t for t in (tags_text or "").split(",") if t.strip()]
        filename = Path(upload.filename or f"upload{MOTION_FILE_SUFFIXES[0]}").name
        check_unicode_fields(filename=filename, id=clip_id, caption=caption, tags=tags_text, licence=licence)
        if not Path(filename).suffix:
            filename += MOTION_FILE_SUFFIXES[0]
        suffix = check_suffix(filename, "file")
        asf_path, asf_name = await _save_asf(form, suffix, limit)
        path = await _save_upload(upload, limit, suffix)
    except BaseException:
        if asf_path is not None:
            asf_path.unlink(missing_ok=True)
        raise
    finally:
        await form.close()
    try:
        return await run_in_threadpool(
            engine.add_bvh,
            path,
            clip_id=clip_id,
            caption=caption,
            source=filename,
            display_name=filename,
            asf=asf_path,
            asf_name=asf_name,
            tags=tags,
            licence=licence,
            commercial_use=commercial_use,
        )
    finally:
        path.unlink(missing_ok=True)
        if asf_path is not None:
            asf_path.unlink(missing_ok=True)


def _validated(model: type[BodyModel], data: object) -> BodyModel:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        errors = [{**e, "loc": ("body", *e.get("loc", ()))} for e in exc.errors(include_url=False)]
        raise RequestValidationError(errors) from None


async def _add_json(request: Request, engine: SearchEngine, settings: ServerSettings) -> dict[str, Any]:
    """A JSON body: the motion itself (``joints`` + ``fps``) or a ``path`` on the server's disk."""
    data = await run_in_threadpool(parse_describe_body, await request.body())  # joints straight into numpy
    if isinstance(data, dict) and "joints" in data:
        if "path" in data:
            raise InvalidInputError("give either 'joints' (with 'fps') or 'path', not both")
        joints_body = _validated(LibraryAddJoints, data)
        return await run_in_threadpool(
            engine.add_joints,
            joints_body.joints,
            joints_body.fps,
            clip_id=joints_body.id,
            caption=joints_body.caption,
            tags=joints_body.tags,
            licence=joints_body.licence,
            commercial_use=joints_body.commercial_use,
        )
    body = _validated(LibraryAddRequest, data)
    path = resolve_library_path(body.path, settings.library_roots, settings.max_upload_bytes)
    asf = None
    if path.suffix.lower() == ".amc":
        asf = _skeleton_for(path, body.asf, settings)
    elif body.asf is not None:
        raise InvalidInputError("'asf' is only for .amc paths")
    return await run_in_threadpool(
        engine.add_bvh,
        path,
        clip_id=body.id,
        caption=body.caption,
        source=path.name,
        display_name=body.path,
        asf=asf,
        tags=body.tags,
        licence=body.licence,
        commercial_use=body.commercial_use,
    )


def _skeleton_for(amc: Path, named: str | None, settings: ServerSettings) -> Path:
    """The ASF of an ``.amc`` path: the one named (under a library root), else the one beside it; either is
    resolved and checked against the roots like the AMC itself."""
    from backend.motion.io.acclaim import find_asf

    if named is None:
        named = str(find_asf(amc))  # AsfAmcError (400) names the AMC when none or several fit
    return resolve_library_path(
        named, settings.library_roots, settings.max_upload_bytes, suffixes=(ASF_SUFFIX,)
    )


@router.post(
    "/library",
    response_model=LibraryAddResponse,
    responses={
        **ERROR_RESPONSES,
        409: {"description": "the clip id already exists"},
        413: {"description": "upload too large"},
        415: {"description": "unsupported content type"},
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "multipart/form-data": {"schema": _UPLOAD_SCHEMA},
                "application/json": {
                    "schema": {
                        "oneOf": [
                            {"$ref": "#/components/schemas/LibraryAddRequest"},
                            {"$ref": "#/components/schemas/LibraryAddJoints"},
                        ]
                    }
                },
            },
        }
    },
    summary="Add a BVH (or AMC + ASF) clip to the library (upload it, or name a path on the server)",
)
async def add_to_library(request: Request, engine: EngineDep, settings: SettingsDep) -> dict[str, Any]:
    """Multipart ``file`` (+ ``asf`` for an ``.amc``, optional ``id``, ``caption``) or JSON ``{"path", "asf"?, "id"?,
    "caption"?}``."""
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype == "multipart/form-data":  # body size, Origin and Content-Type were checked by the guard
        return await _add_upload(request, engine, settings.max_upload_bytes)
    if ctype == "application/json":
        return await _add_json(request, engine, settings)
    raise HTTPException(
        415,
        f"Content-Type {ctype!r} is not supported: send multipart/form-data with a 'file' field "
        "or application/json with a 'path'",
    )


@router.get(
    "/library",
    response_model=LibrarySummary,
    responses=ERROR_RESPONSES,
    summary="What the served library holds: its size, datasets (with commercial use) and tags",
)
def library_summary(engine: EngineDep) -> dict[str, Any]:
    """Size, datasets and tags of the served library (the add-on's filter menus)."""
    return engine.library_summary()


@router.delete(
    "/library/{id}",
    response_model=LibraryRemoveResponse,
    responses=ERROR_RESPONSES,
    summary="Remove a clip from the library",
)
def remove_from_library(id: ClipIdPath, engine: EngineDep) -> dict[str, Any]:
    """Remove clip ``id`` (404 when unknown)."""
    engine.remove(id)
    return {"id": id, "removed": True}
