"""Which clips a search may return: dataset, tag and licence filters, and the facets the add-on lists.

Per index (one :class:`ClipFacets` per searcher), the clips' datasets, tags (label ``tags``, comma-separated)
and commercial use (:func:`backend.library.licences.commercial_use_allowed`) are read once from the metadata;
:meth:`ClipFacets.mask` turns a request's filters into a per-clip boolean mask that the search ANDs with its
duration filter before scoring, so filtered-out clips cost nothing and ``k`` hits still come back when they
exist.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from backend.library.licences import commercial_use_allowed

__all__ = ["ClipFacets", "clip_commercial_use", "clip_tags"]


def clip_tags(labels: dict[str, str] | None) -> list[str]:
    """The tags of a clip from its labels (``"tags": "a,b"``), in order, without blanks.

    >>> clip_tags({"tags": "studio, day 1,"}), clip_tags({})
    (['studio', 'day 1'], [])
    """
    raw = (labels or {}).get("tags", "")
    return [t.strip() for t in str(raw).split(",") if t.strip()]


def clip_commercial_use(meta: Any) -> bool:
    """Whether a clip (its ``ClipMeta``) may be used commercially (licence or declared label)."""
    return commercial_use_allowed(meta.licence, meta.labels)


@dataclass
class ClipFacets:
    """Datasets, tags and commercial use of every clip of an index, in the index's clip order.

    Attributes:
        datasets: ``(N,)`` dataset name per clip.
        tags: tag list per clip.
        commercial: ``(N,)`` bool: the clip's licence allows commercial use.
    """

    datasets: np.ndarray
    tags: list[list[str]]
    commercial: np.ndarray

    @classmethod
    def from_records(cls, records: Sequence[Any]) -> ClipFacets:
        """From clip records with a ``meta`` (``ClipMeta``)."""
        metas = [r.meta for r in records]
        return cls(
            datasets=np.array([m.dataset for m in metas], dtype=object),
            tags=[clip_tags(m.labels) for m in metas],
            commercial=np.array([clip_commercial_use(m) for m in metas], dtype=bool),
        )

    def mask(
        self,
        datasets: Iterable[str] | None = None,
        tags: Iterable[str] | None = None,
        commercial_safe: bool = False,
    ) -> np.ndarray | None:
        """Per-clip mask of the clips passing every filter (``None`` when no filter is set).

        Args:
            datasets: keep clips of these datasets (any of them).
            tags: keep clips that have every one of these tags.
            commercial_safe: keep only clips whose licence allows commercial use.
        """
        wanted = list(datasets or [])
        need = [t.strip() for t in (tags or []) if t.strip()]
        if not wanted and not need and not commercial_safe:
            return None
        ok = np.ones(len(self.datasets), dtype=bool)
        if wanted:
            ok &= np.isin(self.datasets, wanted)
        if need:
            ok &= np.array([all(t in have for t in need) for have in self.tags], dtype=bool)
        if commercial_safe:
            ok &= self.commercial
        return ok

    def summary(self) -> dict[str, Any]:
        """``{"size", "datasets": [{"name", "clips", "commercial_use"}], "tags": [{"name", "clips"}]}``
        (``GET /library``); a dataset is ``commercial_use`` when all its clips are."""
        counts = Counter(self.datasets.tolist())
        datasets = [
            {
                "name": name,
                "clips": n,
                "commercial_use": bool(self.commercial[self.datasets == name].all()),
            }
            for name, n in sorted(counts.items())
        ]
        tag_counts = Counter(t for ts in self.tags for t in set(ts))
        tags = [{"name": name, "clips": n} for name, n in sorted(tag_counts.items())]
        return {"size": len(self.datasets), "datasets": datasets, "tags": tags}
