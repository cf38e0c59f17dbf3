"""Pydantic response models: the answers of the HTTP contract (``docs/api.md``).

They document what the server returns (the OpenAPI schema at ``/openapi.json`` is generated from them);
the requests and their validators are in :mod:`backend.server.schemas`.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from backend.motion.clip import CANONICAL_FPS

__all__ = [
    "Alignment",
    "AlignmentResponse",
    "Caption",
    "DatasetFacet",
    "DescribeResponse",
    "ErrorResponse",
    "HealthResponse",
    "LibraryAddResponse",
    "LibraryRemoveResponse",
    "LibrarySummary",
    "MotionData",
    "MotionMetadata",
    "SearchHit",
    "SearchResponse",
    "TagFacet",
    "TimeSpan",
    "TokenBest",
]


class TimeSpan(BaseModel):
    """A time span in seconds."""

    start: float
    end: float


class TokenBest(BaseModel):
    """Best-matching patch of one query word."""

    part: str
    window: int
    start: float
    end: float


class Alignment(BaseModel):
    """Why a clip matched: token x body part x time window similarities and derived strengths.

    See ``docs/api.md`` for the normalisation of the strengths (each map divided by its maximum).
    """

    tokens: list[str] = Field(description="query words (word pieces merged), specials excluded")
    parts: list[str] = Field(description="14 band names in motion-image order")
    windows: list[TimeSpan] = Field(description="time windows, seconds from the clip start")
    grid: list[list[list[float | None]]] = Field(description="cosine [token][part][window]; null = padding")
    token_scores: list[float] = Field(description="per word: max cosine over patches")
    token_best: list[TokenBest]
    part_strength: dict[str, float]
    joint_strength: dict[str, float] = Field(description="all 22 SMPL joints -> [0, 1]")
    window_strength: list[float]
    trajectory_strength: float = Field(
        description="strength of the root_position band (the global trajectory), normalised with part_strength; "
        "it drives no joint"
    )
    joint_window_strength: dict[str, list[float]]


class SearchHit(BaseModel):
    """One search result (also used for ``similar_motions``)."""

    id: str
    score: float
    caption: str
    source: str = Field(description="file path relative to its dataset root")
    dataset: str
    licence: str = Field(default="", description="the clip's licence")
    commercial_use: bool = Field(default=False, description="whether that licence allows commercial use")
    tags: list[str] = Field(default_factory=list, description="the clip's tags")
    duration: float = Field(description="clip duration in seconds")
    segment: TimeSpan = Field(description="best window, seconds within the clip")
    alignment: Alignment | None = Field(
        default=None, description="null unless asked for (`/search` `alignment`); always set by /describe"
    )
    confidence: float | None = Field(
        default=None,
        ge=0.0,
        le=1.0,
        description="calibrated probability that the library holds what the text asks for, judged by this "
        "hit (`/search` only; null when the model ships no confidence map)",
    )


class DatasetFacet(BaseModel):
    """One dataset of the served library."""

    name: str
    clips: int
    commercial_use: bool = Field(description="every clip of it may be used commercially")


class TagFacet(BaseModel):
    """One tag of the served library."""

    name: str
    clips: int


class LibrarySummary(BaseModel):
    """``GET /library``: what the served library holds, for filter menus."""

    size: int
    datasets: list[DatasetFacet]
    tags: list[TagFacet]


class SearchResponse(BaseModel):
    """``POST /search`` answer, best first."""

    results: list[SearchHit]
    no_close_match: bool | None = Field(
        default=None,
        description="true when even the query's best hit is below `confidence_threshold` (nothing in the "
        "library fits well; the hits are still listed); null without a confidence map",
    )
    confidence_threshold: float | None = Field(
        default=None,
        description="the model's 'no close match' threshold of `confidence` (null without a map)",
    )
    expanded_with: list[str] = Field(
        default_factory=list,
        description="the caption-bank captions the query was searched together with (its closest wording "
        "in the library's captions; empty: the query alone). Alignments use the query's own words",
    )


class AlignmentResponse(BaseModel):
    """``POST /alignment`` answer: the clip's best window for the text and why it matched."""

    id: str
    score: float = Field(description="MaxSim of the text and the explained window (the hit's score)")
    segment: TimeSpan = Field(description="the explained window, seconds within the clip")
    alignment: Alignment


class Caption(BaseModel):
    """One caption ranked by ``/describe``."""

    text: str
    score: float
    alignment: Alignment


class DescribeResponse(BaseModel):
    """``POST /describe`` answer."""

    captions: list[Caption]
    similar_motions: list[SearchHit]


class MotionMetadata(BaseModel):
    """Clip metadata (``ClipMeta``)."""

    id: str
    source: str
    dataset: str
    licence: str
    fps_orig: float
    duration: float
    labels: dict[str, str]
    captions: list[str]
    performer: str
    split: str


class MotionData(BaseModel):
    """``GET /motions/{id}`` answer: the canonical clip."""

    id: str
    fps: float = CANONICAL_FPS
    joint_names: list[str]
    parents: list[int]
    joints: list[list[list[float]]] = Field(description="[[[x, y, z] x 22] x T], metres, Y up, canonical")
    metadata: MotionMetadata


class HealthResponse(BaseModel):
    """``GET /health`` answer."""

    status: Literal["ok", "degraded"] = Field(
        default="ok", description="'degraded' when a part of the index is damaged (see `problems`)"
    )
    model: str
    library_size: int
    problems: list[str] = Field(
        default_factory=list,
        description="what is damaged, e.g. the caption bank (then /describe answers 503)",
    )


class LibraryAddResponse(BaseModel):
    """``POST /library`` answer."""

    id: str
    duration: float


class LibraryRemoveResponse(BaseModel):
    """``DELETE /library/{id}`` answer."""

    id: str
    removed: bool = True


class ErrorResponse(BaseModel):
    """Every 4xx/5xx body."""

    detail: str
