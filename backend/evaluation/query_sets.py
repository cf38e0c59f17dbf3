"""Held-out query sets (``backend/evaluation/queries.yaml``): natural sentences and terse animator queries per
action, written independently of the library's captions, and queries for actions no source holds.

A :class:`Concept` names the clips that answer its queries through label matchers (see the YAML file's header);
:func:`concept_positives` evaluates them against a gallery's clip labels. Loading validates the file and raises
:class:`~backend.errors.DatasetError` naming the concept or field that is wrong.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from backend.errors import DatasetError

__all__ = [
    "CONCEPT_KINDS",
    "DEFAULT_QUERIES",
    "FORMS",
    "Concept",
    "Query",
    "QuerySet",
    "concept_positives",
    "load_query_set",
]

#: the bundled query file
DEFAULT_QUERIES = Path(__file__).with_name("queries.yaml")
#: query forms
FORMS: tuple[str, ...] = ("natural", "terse")
#: concept kinds
CONCEPT_KINDS: tuple[str, ...] = ("action", "style", "absent")
_MATCH_KEYS = ("action", "style", "description", "idle", "hdm05", "description_prefix")
_LIMB_PARTS = ("arm", "leg")


@dataclass(frozen=True)
class Concept:
    """An action (or an action in a style, or an action no source holds) and the clips that show it.

    Attributes:
        name: concept name.
        kind: ``action`` | ``style`` | ``absent``.
        match: label matchers, each ``{key: accepted values}``.
        limb: ``(side, part)`` for one-sided actions, else None.
        pool: ``fit`` / ``eval`` for absent concepts, else ``""``.
    """

    name: str
    kind: str
    match: tuple[dict[str, tuple[str, ...]], ...]
    limb: tuple[str, str] | None = None
    pool: str = ""


@dataclass(frozen=True)
class Query:
    """One held-out query: its text, its concept's name and its form (``natural`` / ``terse``)."""

    text: str
    concept: str
    form: str


@dataclass(frozen=True)
class QuerySet:
    """The concepts and their queries."""

    concepts: dict[str, Concept]
    queries: tuple[Query, ...]

    def select(self, kinds: Sequence[str] = ("action",), forms: Sequence[str] = FORMS) -> list[Query]:
        """Queries of concepts of the given kinds and forms (file order)."""
        return [q for q in self.queries if self.concepts[q.concept].kind in kinds and q.form in forms]


def _values(v: object, where: str) -> tuple[str, ...]:
    items = v if isinstance(v, list) else [v]
    if not items or not all(isinstance(x, str | int | float) and str(x).strip() for x in items):
        raise DatasetError(f"{where}: expected a label value or a list of them, got {v!r}")
    return tuple(str(x) for x in items)


def _concept(name: str, raw: object, path: Path) -> tuple[Concept, list[Query]]:
    where = f"{path}: concept {name!r}"
    if not isinstance(raw, dict):
        raise DatasetError(f"{where}: must be a mapping")
    kind = raw.get("kind")
    if kind not in CONCEPT_KINDS:
        raise DatasetError(f"{where}: kind must be one of {list(CONCEPT_KINDS)}, got {kind!r}")
    match = []
    for i, m in enumerate(raw.get("match") or []):
        if not isinstance(m, dict) or not m or set(m) - set(_MATCH_KEYS):
            raise DatasetError(
                f"{where}: match[{i}] must map keys of {list(_MATCH_KEYS)} to values, got {m!r}"
            )
        match.append({str(k): _values(v, f"{where}: match[{i}].{k}") for k, v in m.items()})
    if kind != "absent" and not match:
        raise DatasetError(f"{where}: a {kind} concept needs at least one matcher")
    if kind == "absent" and match:
        raise DatasetError(f"{where}: an absent concept has no matchers")
    limb = raw.get("limb")
    if limb is not None:
        if (
            not isinstance(limb, dict)
            or limb.get("side") not in ("left", "right")
            or limb.get("part") not in _LIMB_PARTS
        ):
            raise DatasetError(f"{where}: limb must be {{side: left|right, part: arm|leg}}, got {limb!r}")
        limb = (str(limb["side"]), str(limb["part"]))
    pool = str(raw.get("pool") or "")
    if (kind == "absent") != (pool in ("fit", "eval")):
        raise DatasetError(f"{where}: pool must be fit or eval exactly for absent concepts, got {pool!r}")
    queries = []
    for form in FORMS:
        texts = raw.get(form) or []
        if not isinstance(texts, list) or not all(isinstance(t, str) and t.strip() for t in texts):
            raise DatasetError(f"{where}: {form} must be a list of non-empty strings")
        queries += [Query(t.strip(), name, form) for t in texts]
    if not queries:
        raise DatasetError(f"{where}: has no queries")
    return Concept(name, kind, tuple(match), limb, pool), queries


def load_query_set(path: str | Path | None = None) -> QuerySet:
    """Read and validate a query file (default: :data:`DEFAULT_QUERIES`).

    Raises:
        DatasetError: unreadable file, bad structure, or a query text used twice (names it).
    """
    import yaml

    path = Path(path) if path is not None else DEFAULT_QUERIES
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise DatasetError(f"cannot read query set {path}: {exc}") from exc
    if not isinstance(raw, dict) or not isinstance(raw.get("concepts"), dict) or not raw["concepts"]:
        raise DatasetError(f"{path}: expected a mapping with a non-empty 'concepts' mapping")
    concepts: dict[str, Concept] = {}
    queries: list[Query] = []
    for name, body in raw["concepts"].items():
        concept, qs = _concept(str(name), body, path)
        concepts[concept.name] = concept
        queries += qs
    seen: dict[str, str] = {}
    for q in queries:
        key = " ".join(q.text.lower().split())
        if key in seen:
            raise DatasetError(f"{path}: query {q.text!r} appears twice ({seen[key]} and {q.concept})")
        seen[key] = q.concept
    return QuerySet(concepts, tuple(queries))


def _matches(matcher: Mapping[str, tuple[str, ...]], labels: Mapping[str, str]) -> bool:
    for key, accepted in matcher.items():
        if key == "description_prefix":
            desc = str(labels.get("description", "")).lower()
            if not any(desc.startswith(a.lower()) for a in accepted):
                return False
        elif str(labels.get(key, "")) not in accepted:
            return False
    return True


def concept_positives(concept: Concept, clip_labels: Sequence[Mapping[str, str]]) -> np.ndarray:
    """``(Nc,)`` bool: the clips of a gallery that show the concept (none for an absent concept).

    >>> c = Concept("walk", "action", ({"action": ("walk",)}, {"description": ("walk",)}))
    >>> concept_positives(c, [{"action": "walk"}, {"description": "walk"}, {"action": "run"}]).tolist()
    [True, True, False]
    """
    return np.array([any(_matches(m, lab) for m in concept.match) for lab in clip_labels], dtype=bool)
