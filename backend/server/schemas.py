"""Pydantic request models and their validators: the requests of the HTTP contract (``docs/api.md``).

They validate everything a client can get wrong (text length, ``k``, joint shapes, NaN, frame rate,
duration) so bad input becomes a 422 that names the field, never a 500. The answers are documented by
:mod:`backend.server.responses`; the OpenAPI schema at ``/openapi.json`` is generated from both.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Annotated, Any, Literal

import numpy as np
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    ValidatorFunctionWrapHandler,
    WrapValidator,
    field_validator,
    model_validator,
)

from backend.motion.limits import MAX_CLIP_SECONDS, MAX_FPS, MIN_FPS, max_frames_at

__all__ = [
    "MAX_FPS",
    "MAX_MOTION_SECONDS",
    "MAX_QUERY_CHARS",
    "MAX_QUERY_TOKENS",
    "MIN_FPS",
    "AlignmentMode",
    "AlignmentRequest",
    "DescribeRequest",
    "JointsArray",
    "LibraryAddRequest",
    "SearchRequest",
    "UnicodeStr",
    "check_joints_array",
    "check_query_text",
    "check_unicode",
    "count_text_tokens",
]

#: A query must have fewer tokens than this (words and punctuation, as a BERT basic tokenizer splits).
MAX_QUERY_TOKENS = 1000
#: Cheap upper bound on query characters, checked before tokenizing.
MAX_QUERY_CHARS = 20_000
#: Longest motion accepted by ``/describe`` and ``/library`` (10 minutes: 12,000 frames at 20 fps).
MAX_MOTION_SECONDS = MAX_CLIP_SECONDS
#: Largest absolute joint coordinate accepted (metres).
MAX_ABS_COORDINATE = 10_000.0

#: Which hits of ``POST /search`` carry an alignment.
AlignmentMode = Literal["none", "top", "all"]

_TOKEN_RE = re.compile(r"\w+|[^\w\s]", re.UNICODE)


def count_text_tokens(text: str) -> int:
    """Number of words and punctuation marks in ``text`` (a lower bound of word-piece tokens).

    >>> count_text_tokens("a person waves, then sits")
    6
    """
    return sum(1 for _ in _TOKEN_RE.finditer(text))


def check_unicode(text: str, field: str = "text") -> str:
    """Refuse text that is not proper Unicode (a lone UTF-16 surrogate such as ``"\\ud800"``).

    JSON escapes can smuggle lone surrogates into a Python ``str``; they cannot be encoded to UTF-8,
    so the tokenizer, SQLite and logging would fail on them.

    Raises:
        ValueError: naming ``field`` and the character position.

    >>> check_unicode("caf\u00e9")
    'café'
    """
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError(
            f"{field} is not valid Unicode: lone surrogate {text[exc.start]!r} at character {exc.start}"
        ) from None
    return text


def _unicode_field(value: Any, info: ValidationInfo) -> Any:
    return check_unicode(value, info.field_name or "text") if isinstance(value, str) else value


#: A string that must be proper Unicode (no lone surrogates): 422 naming the field otherwise.
UnicodeStr = Annotated[str, AfterValidator(_unicode_field)]


def check_query_text(text: str, field: str = "text") -> str:
    """Validate a text query.

    Args:
        text: the query.
        field: field name used in messages.

    Returns:
        The query with surrounding whitespace removed.

    Raises:
        ValueError: the text is empty / blank, too long in characters, or has 1,000 tokens or more.
    """
    check_unicode(text, field)
    stripped = text.strip()
    if not stripped:
        raise ValueError(f"{field} is empty: give a description such as 'a person waves with the left hand'")
    if len(stripped) > MAX_QUERY_CHARS:
        raise ValueError(f"{field} is too long: {len(stripped)} characters (at most {MAX_QUERY_CHARS})")
    n = count_text_tokens(stripped)
    if n >= MAX_QUERY_TOKENS:
        raise ValueError(f"{field} is too long: {n} tokens (fewer than {MAX_QUERY_TOKENS} allowed)")
    return stripped


def check_joints_array(value: Any, field: str = "joints") -> np.ndarray:
    """Convert and validate a joint array.

    Args:
        value: nested lists ``[T][22][3]`` of numbers (or an array of that shape).
        field: field name used in messages.

    Returns:
        ``(T, 22, 3)`` float32 array, all finite.

    Raises:
        ValueError: ragged / non-numeric nesting, wrong shape, no frames, NaN/inf/null values or
            absurdly large coordinates (the message names the frame and joint).
    """
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (ValueError, TypeError) as exc:
        raise ValueError(
            f"{field} must be a nested list [T][22][3] of numbers; got ragged or non-numeric entries ({exc})"
        ) from None
    if arr.ndim >= 1 and arr.shape[0] == 0:
        raise ValueError(f"{field} has no frames (T = 0)")
    if arr.ndim != 3 or arr.shape[1:] != (22, 3):
        raise ValueError(
            f"{field} must have shape (T, 22, 3) (frames x SMPL-22 joints x xyz); got {arr.shape}"
        )
    finite = np.isfinite(arr)
    if not finite.all():
        frame, joint, _ = np.argwhere(~finite)[0]
        raise ValueError(
            f"{field} contains non-finite values (NaN, inf or null), first at frame {int(frame)}, joint {int(joint)}"
        )
    big = np.abs(arr) > MAX_ABS_COORDINATE
    if big.any():
        frame, joint, _ = np.argwhere(big)[0]
        raise ValueError(
            f"{field} has a coordinate beyond +-{MAX_ABS_COORDINATE:g} m at frame {int(frame)}, joint {int(joint)} "
            "(joints must be in metres)"
        )
    return arr.astype(np.float32)


def _validate_joints(value: Any, handler: ValidatorFunctionWrapHandler) -> np.ndarray:
    """Wrap validator: validate with numpy (one clear message) instead of element by element."""
    del handler  # the list[list[list[float]]] annotation only documents the JSON schema
    return check_joints_array(value)


#: ``(T, 22, 3)`` joints; JSON schema ``[[[x, y, z] x 22] x T]``, validated to a float32 ndarray.
if TYPE_CHECKING:  # what a validated model holds: the validator's ndarray, not the schema's nested lists
    JointsArray = np.ndarray
else:
    JointsArray = Annotated[list[list[list[float]]], WrapValidator(_validate_joints)]


# ----------------------------------------------------------------------------------------- requests
class SearchRequest(BaseModel):
    """``POST /search`` body."""

    text: str = Field(description="what to look for, e.g. 'a person waves with the left hand'")
    k: int = Field(default=10, ge=1, le=100, description="number of results (1..100)")
    min_duration: float | None = Field(default=None, ge=0, description="keep clips at least this long (s)")
    max_duration: float | None = Field(default=None, ge=0, description="keep clips at most this long (s)")
    alignment: AlignmentMode = Field(
        default="none",
        description="which hits carry an alignment: 'none' (default: instant results; ask POST /alignment for "
        "the hit the user selects), 'top' (the best hit only) or 'all' (every hit; one attribution pass each)",
    )
    datasets: list[UnicodeStr] | None = Field(
        default=None, max_length=64, description="only clips of these datasets (see GET /library)"
    )
    tags: list[UnicodeStr] | None = Field(
        default=None, max_length=32, description="only clips that have every one of these tags"
    )
    commercial_safe: bool = Field(
        default=False, description="only clips whose licence allows commercial use (`commercial_use` true)"
    )
    offset: int = Field(
        default=0, ge=0, le=999, description="skip this many hits of the ranking (paging; offset + k <= 1000)"
    )

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"text": "a person raises the left hand", "k": 10}]}
    )

    @field_validator("text")
    @classmethod
    def _text(cls, v: str) -> str:
        return check_query_text(v)

    @model_validator(mode="after")
    def _durations(self) -> SearchRequest:
        if (
            self.min_duration is not None
            and self.max_duration is not None
            and self.min_duration > self.max_duration
        ):
            raise ValueError(
                f"min_duration ({self.min_duration}) is greater than max_duration ({self.max_duration})"
            )
        if self.offset + self.k > 1000:
            raise ValueError(f"offset + k must be at most 1000, got {self.offset} + {self.k}")
        return self


class AlignmentRequest(BaseModel):
    """``POST /alignment`` body: explain one clip for a text (its best window, as search scores it)."""

    text: str = Field(description="the query the clip was found with")
    id: UnicodeStr = Field(min_length=1, max_length=128, description="the clip id (a search hit's `id`)")

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"text": "a person raises the left hand", "id": "clip_001"}]}
    )

    @field_validator("text")
    @classmethod
    def _text(cls, v: str) -> str:
        return check_query_text(v)


class DescribeRequest(BaseModel):
    """``POST /describe`` body: SMPL-22 joints (HumanML3D order), metres, Y up, any fps, <= 10 minutes."""

    joints: JointsArray = Field(description="[[[x, y, z] x 22] x T], metres, Y up, SMPL-22 order")
    fps: float = Field(
        ge=MIN_FPS, le=MAX_FPS, description=f"frame rate of `joints` ({MIN_FPS:g}..{MAX_FPS:g})"
    )
    k: int = Field(default=5, ge=1, le=100, description="number of captions and similar motions (1..100)")

    @model_validator(mode="after")
    def _duration(self) -> DescribeRequest:
        _check_length(self.joints, self.fps)
        return self


def _check_length(joints: Any, fps: float) -> None:
    """Refuse joints longer than the clip limit at ``fps`` (``ValueError`` -> 422)."""
    frames = int(joints.shape[0])
    max_frames = max_frames_at(fps)
    if frames > max_frames:
        raise ValueError(
            f"joints is too long: {frames} frames at {fps:g} fps = {frames / fps:.1f} s "
            f"(at most {MAX_MOTION_SECONDS / 60:g} minutes = {max_frames} frames at this fps)"
        )


class ClipInfoFields(BaseModel):
    """What ``POST /library`` stores with a clip besides its motion."""

    id: UnicodeStr | None = Field(default=None, description="clip id (default: derived from the file name)")
    caption: UnicodeStr | None = Field(default=None, description="a description stored with the clip")
    tags: list[UnicodeStr] | None = Field(
        default=None, max_length=32, description="tags stored with the clip (`/search` filters on them)"
    )
    licence: UnicodeStr | None = Field(default=None, max_length=200, description="the clip's licence")
    commercial_use: bool = Field(default=False, description="that licence allows commercial use")


class LibraryAddJoints(ClipInfoFields):
    """``POST /library`` JSON body with the motion itself: SMPL-22 joints as for ``/describe``."""

    joints: JointsArray = Field(description="[[[x, y, z] x 22] x T], metres, Y up, SMPL-22 order")
    fps: float = Field(
        ge=MIN_FPS, le=MAX_FPS, description=f"frame rate of `joints` ({MIN_FPS:g}..{MAX_FPS:g})"
    )

    @model_validator(mode="after")
    def _duration(self) -> LibraryAddJoints:
        _check_length(self.joints, self.fps)
        return self


class LibraryAddRequest(ClipInfoFields):
    """``POST /library`` JSON body: add a motion file (BVH, or AMC with its ASF) that the server can read."""

    path: UnicodeStr = Field(
        min_length=1, max_length=4096, description="path of a motion file under a library root of the server"
    )
    asf: UnicodeStr | None = Field(
        default=None,
        max_length=4096,
        description="for an .amc path: its .asf skeleton under a library root (default: the .asf beside it)",
    )
