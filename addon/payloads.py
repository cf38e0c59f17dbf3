# SPDX-License-Identifier: GPL-3.0-or-later
"""Dataclasses mirroring the backend's JSON schemas (``docs/api.md``) (pure; request bodies: ``bodies.py``).

``from_json`` checks every field the add-on relies on and raises :class:`BadResponseError` naming the
field (``results[2].alignment.tokens``) when the server's answer does not follow the contract. Field names
equal the server's JSON keys, so a test can compare them with ``/openapi.json``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np

from .bodies import ALIGNMENT_MODES, MAX_RANK, alignment_request, describe_request, search_request
from .errors import BadResponseError
from .jsonfields import floats as _floats
from .jsonfields import optional as _optional
from .jsonfields import req as _req
from .jsonfields import strings as _strings

__all__ = [
    "ALIGNMENT_MODES",
    "MAX_RANK",
    "Alignment",
    "AlignmentResult",
    "Caption",
    "DatasetInfo",
    "DescribeResult",
    "Health",
    "LibraryInfo",
    "MotionData",
    "MotionMetadata",
    "SearchHit",
    "SearchPage",
    "TagInfo",
    "TimeSpan",
    "TokenBest",
    "alignment_request",
    "describe_request",
    "schema_fields",
    "search_request",
]


@dataclass(frozen=True)
class Health:
    """``GET /health``."""

    status: str
    model: str
    library_size: int
    problems: tuple[str, ...] = ()  # what is damaged when status is "degraded" (e.g. the caption bank)

    @classmethod
    def from_json(cls, d: Any) -> Health:
        problems = d.get("problems", []) if isinstance(d, dict) else []
        return cls(_req(d, "status", str, ""), _req(d, "model", str, ""), _req(d, "library_size", int, ""),
                   tuple(str(p) for p in problems) if isinstance(problems, list) else ())  # fmt: skip


@dataclass(frozen=True)
class TimeSpan:
    """Seconds."""

    start: float
    end: float

    @classmethod
    def from_json(cls, d: Any, where: str) -> TimeSpan:
        return cls(_req(d, "start", float, where), _req(d, "end", float, where))


@dataclass(frozen=True)
class TokenBest:
    """Best patch of one word."""

    part: str
    window: int
    start: float
    end: float

    @classmethod
    def from_json(cls, d: Any, where: str) -> TokenBest:
        return cls(
            _req(d, "part", str, where), _req(d, "window", int, where),
            _req(d, "start", float, where), _req(d, "end", float, where),
        )  # fmt: skip


@dataclass(frozen=True)
class Alignment:
    """Why a clip matched a text (see ``docs/api.md``)."""

    tokens: list[str]
    parts: list[str]
    windows: list[TimeSpan]
    grid: list
    token_scores: list[float]
    token_best: list[TokenBest]
    part_strength: dict[str, float]
    joint_strength: dict[str, float]
    window_strength: list[float]
    joint_window_strength: dict[str, list[float]]
    trajectory_strength: float = 0.0

    @classmethod
    def from_json(cls, d: Any, where: str = "alignment") -> Alignment:
        tokens = _req(d, "tokens", list, where)
        windows = [
            TimeSpan.from_json(w, f"{where}.windows[{i}]")
            for i, w in enumerate(_req(d, "windows", list, where))
        ]
        scores = _floats(_req(d, "token_scores", list, where), f"{where}.token_scores")
        best = [
            TokenBest.from_json(b, f"{where}.token_best[{i}]")
            for i, b in enumerate(_req(d, "token_best", list, where))
        ]
        if not (len(tokens) == len(scores) == len(best)):
            raise BadResponseError(
                f"{where}: tokens ({len(tokens)}), token_scores ({len(scores)}) and token_best ({len(best)}) differ in length"
            )
        jws = _req(d, "joint_window_strength", dict, where)
        trajectory = _floats([d.get("trajectory_strength", 0.0)], f"{where}.trajectory_strength")
        return cls(
            tokens=[str(t) for t in tokens],
            parts=[str(p) for p in _req(d, "parts", list, where)],
            windows=windows,
            grid=_req(d, "grid", list, where),
            token_scores=scores,
            token_best=best,
            part_strength={k: float(v) for k, v in _req(d, "part_strength", dict, where).items()},
            joint_strength={k: float(v) for k, v in _req(d, "joint_strength", dict, where).items()},
            window_strength=_floats(
                _req(d, "window_strength", list, where), f"{where}.window_strength", True
            ),
            joint_window_strength={
                k: _floats(v, f"{where}.joint_window_strength.{k}", True) for k, v in jws.items()
            },
            trajectory_strength=trajectory[0],
        )


@dataclass(frozen=True)
class SearchHit:
    """One search result (also a ``similar_motions`` entry); ``alignment`` is None unless the search asked
    for it (``POST /alignment`` explains a hit on demand). ``licence``, ``commercial_use`` and ``tags``
    default to unknown / False / none when a server does not send them."""

    id: str
    score: float
    caption: str
    source: str
    dataset: str
    duration: float
    segment: TimeSpan
    alignment: Alignment | None
    licence: str = ""
    commercial_use: bool = False
    tags: tuple[str, ...] = ()
    confidence: float | None = None

    @classmethod
    def from_json(cls, d: Any, where: str = "hit", need_alignment: bool = False) -> SearchHit:
        raw = d.get("alignment") if isinstance(d, dict) else None
        if raw is None and need_alignment:
            raise BadResponseError(f"{where}.alignment is missing from the backend's answer")
        return cls(
            id=_req(d, "id", str, where),
            score=_req(d, "score", float, where),
            caption=_req(d, "caption", str, where),
            source=_req(d, "source", str, where),
            dataset=_req(d, "dataset", str, where),
            duration=_req(d, "duration", float, where),
            segment=TimeSpan.from_json(_req(d, "segment", dict, where), f"{where}.segment"),
            alignment=None if raw is None else Alignment.from_json(raw, f"{where}.alignment"),
            licence=_req(d, "licence", str, where) if "licence" in d else "",
            commercial_use=_req(d, "commercial_use", bool, where) if "commercial_use" in d else False,
            tags=_strings(d["tags"], f"{where}.tags") if "tags" in d else (),
            confidence=_optional(d, "confidence", float, where),
        )

    @classmethod
    def list_from_json(cls, d: Any) -> list[SearchHit]:
        """``POST /search`` answer -> hits, best first."""
        return [cls.from_json(h, f"results[{i}]") for i, h in enumerate(_req(d, "results", list, ""))]


@dataclass(frozen=True)
class SearchPage:
    """``POST /search`` answer: the hits, whether even the best one is a close match (None: the
    backend's model has no confidence map, or an older backend) and the library captions the query was
    searched together with (empty: the query alone, or an older backend)."""

    results: list[SearchHit]
    no_close_match: bool | None = None
    confidence_threshold: float | None = None
    expanded_with: tuple[str, ...] = ()

    @classmethod
    def from_json(cls, d: Any) -> SearchPage:
        expanded = _optional(d, "expanded_with", list, "")
        return cls(SearchHit.list_from_json(d), _optional(d, "no_close_match", bool, ""),
                   _optional(d, "confidence_threshold", float, ""),
                   _strings(expanded, "expanded_with") if expanded is not None else ())  # fmt: skip


@dataclass(frozen=True)
class DatasetInfo:
    """One dataset of the served library (``GET /library``)."""

    name: str
    clips: int
    commercial_use: bool


@dataclass(frozen=True)
class TagInfo:
    """One tag of the served library (``GET /library``)."""

    name: str
    clips: int


@dataclass(frozen=True)
class LibraryInfo:
    """``GET /library``: what the panel's dataset and tag filter menus offer."""

    size: int
    datasets: tuple[DatasetInfo, ...]
    tags: tuple[TagInfo, ...]

    @classmethod
    def from_json(cls, d: Any) -> LibraryInfo:
        datasets = tuple(
            DatasetInfo(_req(x, "name", str, f"datasets[{i}]"), _req(x, "clips", int, f"datasets[{i}]"),
                        _req(x, "commercial_use", bool, f"datasets[{i}]"))
            for i, x in enumerate(_req(d, "datasets", list, ""))
        )  # fmt: skip
        tags = tuple(
            TagInfo(_req(x, "name", str, f"tags[{i}]"), _req(x, "clips", int, f"tags[{i}]"))
            for i, x in enumerate(_req(d, "tags", list, ""))
        )
        return cls(_req(d, "size", int, ""), datasets, tags)


@dataclass(frozen=True)
class AlignmentResult:
    """``POST /alignment`` answer: the explained window of one clip and its alignment."""

    id: str
    score: float
    segment: TimeSpan
    alignment: Alignment

    @classmethod
    def from_json(cls, d: Any) -> AlignmentResult:
        return cls(
            _req(d, "id", str, ""), _req(d, "score", float, ""),
            TimeSpan.from_json(_req(d, "segment", dict, ""), "segment"),
            Alignment.from_json(_req(d, "alignment", dict, ""), "alignment"),
        )  # fmt: skip


@dataclass(frozen=True)
class Caption:
    """One ranked caption of ``/describe``."""

    text: str
    score: float
    alignment: Alignment

    @classmethod
    def from_json(cls, d: Any, where: str) -> Caption:
        return cls(
            _req(d, "text", str, where), _req(d, "score", float, where),
            Alignment.from_json(_req(d, "alignment", dict, where), f"{where}.alignment"),
        )  # fmt: skip


@dataclass(frozen=True)
class DescribeResult:
    """``POST /describe`` answer."""

    captions: list[Caption]
    similar_motions: list[SearchHit]

    @classmethod
    def from_json(cls, d: Any) -> DescribeResult:
        caps = [Caption.from_json(c, f"captions[{i}]") for i, c in enumerate(_req(d, "captions", list, ""))]
        sims = [
            SearchHit.from_json(h, f"similar_motions[{i}]", need_alignment=True)
            for i, h in enumerate(_req(d, "similar_motions", list, ""))
        ]
        return cls(caps, sims)


@dataclass(frozen=True)
class MotionMetadata:
    """Clip metadata; only the fields the add-on shows are required."""

    id: str
    dataset: str = ""
    source: str = ""
    licence: str = ""
    duration: float = 0.0
    captions: list[str] = field(default_factory=list)

    @classmethod
    def from_json(cls, d: Any, where: str = "metadata") -> MotionMetadata:
        caps = d.get("captions", []) if isinstance(d, dict) else []
        return cls(
            id=_req(d, "id", str, where),
            dataset=str(d.get("dataset", "")),
            source=str(d.get("source", "")),
            licence=str(d.get("licence", "")),
            duration=float(d.get("duration", 0.0) or 0.0),
            captions=[str(c) for c in caps] if isinstance(caps, list) else [],
        )


@dataclass(frozen=True)
class MotionData:
    """``GET /motions/{id}``: the canonical clip (``joints`` as a ``(T, J, 3)`` float64 array, Y up)."""

    id: str
    fps: float
    joint_names: list[str]
    parents: list[int]
    joints: np.ndarray
    metadata: MotionMetadata

    @classmethod
    def from_json(cls, d: Any) -> MotionData:
        names = [str(n) for n in _req(d, "joint_names", list, "")]
        parents = _req(d, "parents", list, "")
        if len(parents) != len(names) or not all(
            isinstance(p, int) and -1 <= p < i for i, p in enumerate(parents)
        ):
            raise BadResponseError(
                f"parents must give one index per joint name, -1 or an earlier joint's; got {parents}"
            )
        fps = _req(d, "fps", float, "")
        if not (math.isfinite(fps) and fps > 0):
            raise BadResponseError(f"fps must be a positive number; got {fps}")
        try:
            joints = np.asarray(_req(d, "joints", list, ""), dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise BadResponseError(f"joints must be a [T][J][3] list of numbers ({exc})") from None
        if joints.ndim != 3 or joints.shape[1:] != (len(names), 3) or joints.shape[0] == 0:
            raise BadResponseError(f"joints must have shape (T>0, {len(names)}, 3); got {joints.shape}")
        if not np.isfinite(joints).all():
            raise BadResponseError("joints contains non-finite values")
        return cls(
            id=_req(d, "id", str, ""), fps=fps, joint_names=names, parents=[int(p) for p in parents],
            joints=joints, metadata=MotionMetadata.from_json(_req(d, "metadata", dict, "")),
        )  # fmt: skip


def schema_fields() -> dict[str, set[str]]:
    """Field names of each response dataclass, keyed by the server schema name (for the contract test)."""
    out = {
        c.__name__: {f.name for f in fields(c)}
        for c in (Health, TimeSpan, TokenBest, Alignment, SearchHit, Caption, DescribeResult)
    }
    out["AlignmentResponse"] = {f.name for f in fields(AlignmentResult)}
    out["SearchResponse"] = {f.name for f in fields(SearchPage)}
    out["HealthResponse"] = out.pop("Health")
    out["DescribeResponse"] = out.pop("DescribeResult")
    out["MotionData"] = {f.name for f in fields(MotionData)}
    out["LibrarySummary"] = {f.name for f in fields(LibraryInfo)}
    out["DatasetFacet"] = {f.name for f in fields(DatasetInfo)}
    out["TagFacet"] = {f.name for f in fields(TagInfo)}
    return out
