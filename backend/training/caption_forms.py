"""Terse caption forms for training (``data.terse_prob``), decontaminated against the held-out query sets.

The library stores sentences; the terse keyword forms of :func:`backend.library.captions.terse_captions`
(training pools only) are made here for each training clip from its labels. Any form that equals (after
:func:`~backend.model.losses.normalise_caption`) a query of the evaluation's held-out query set
(``backend/evaluation/queries.yaml``) is dropped, so a terse query is never a training caption -- the way
test items are removed from training data, not a choice fitted to them.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from backend.errors import MotionSearchError
from backend.model.losses import normalise_caption

__all__ = ["attach_terse_captions", "heldout_query_keys", "training_terse_captions"]

log = logging.getLogger(__name__)


def heldout_query_keys() -> frozenset[str]:
    """Normalised texts of every query of the bundled held-out query set."""
    from backend.evaluation.query_sets import load_query_set

    return frozenset(normalise_caption(q.text) for q in load_query_set().queries)


def training_terse_captions(
    labels: Mapping[str, str], clip_id: str, exclude: frozenset[str], n: int = 6
) -> list[str]:
    """Terse training captions of a clip, minus the texts in ``exclude`` (normalised).

    Args:
        labels: the clip's labels.
        clip_id: seeds the choice.
        exclude: normalised texts never to use (:func:`heldout_query_keys`).
        n: at most this many (drawn before the exclusion).

    Returns:
        The forms; empty for clips whose labels have no terse pool.
    """
    from backend.library.captions import terse_captions

    try:
        forms = terse_captions(labels, clip_id, n=n)
    except MotionSearchError as exc:  # labels of no known kind (e.g. HumanML3D): no terse forms
        log.debug("no terse captions for %s: %s", clip_id, exc)
        return []
    return [t for t in forms if normalise_caption(t) not in exclude]


def attach_terse_captions(items: Sequence[Any], n: int = 6) -> None:
    """Set ``item.terse`` of every :class:`~backend.training.datasets.MotionItem` (decontaminated forms)."""
    exclude = heldout_query_keys()
    for it in items:
        it.terse = training_terse_captions(it.labels, it.clip_id, exclude, n=n)
