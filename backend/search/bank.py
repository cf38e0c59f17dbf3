"""The index's caption bank as a query expander (:mod:`backend.model.expansion`), with the fallback a search
needs: a bank that is damaged (reported by ``/health`` and ``index verify``) or cannot be read leaves queries
unexpanded instead of failing every search."""

from __future__ import annotations

import logging

from backend.errors import IndexError_, MotionSearchError
from backend.index.store import MotionIndex
from backend.model.expansion import CaptionExpander

__all__ = ["index_expander"]

log = logging.getLogger(__name__)


def index_expander(index: MotionIndex, captions: int) -> CaptionExpander:
    """A :class:`CaptionExpander` over ``index``'s caption bank adding ``captions`` captions (0 = none)."""
    if not captions:
        return CaptionExpander.empty()
    try:
        if index.caption_problem:
            raise IndexError_(index.caption_problem)
        bank = index.caption_bank()
        return CaptionExpander(bank.texts, bank.tokens, bank.offsets, captions)
    except MotionSearchError as exc:
        log.warning("caption bank unusable, queries are searched alone: %s", exc)
        return CaptionExpander.empty()
