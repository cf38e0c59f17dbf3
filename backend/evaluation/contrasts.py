"""Targeted contrasts: do left/right, direction and style words move the ranking the way a person expects?

A *contrast* is two groups of clips that differ in one label only -- ``wave-left-hand`` vs ``wave-right-hand``,
``walk`` vs ``walk-back``, or one action in two styles. For a text ``t`` describing group A only, every pair
(clip ``a`` of A, clip ``b`` of B) is ordered correctly when ``score(t, a) > score(t, b)`` (a tie counts as wrong:
pessimistic, like the metrics). A query's accuracy is its share of correctly ordered pairs; the same is done
for B's texts against A, so a model that ignores the contrasting word scores 50 % at best and a model that
ranks by that word alone scores 100 %. Accuracies are averaged over queries, per kind of contrast
(``left/right``, ``forward/backward``, ``style``) and per query subset (``all``, ``seen``, ``heldout``).

Groups come from the clip labels of a library (``action``, ``style``); clips without them take no part.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from backend.evaluation.protocols import TEXT_KINDS, EvalSet

__all__ = ["Contrast", "contrast_table", "find_contrasts", "pair_accuracy"]


@dataclass(frozen=True)
class Contrast:
    """Two clip groups that differ in one label.

    Attributes:
        kind: ``left/right``, ``forward/backward`` or ``style``.
        name: e.g. ``wave-left-hand vs wave-right-hand`` or ``walk: elderly vs youthful``.
        group_a: ``(Nc,)`` bool clips of the first group.
        group_b: ``(Nc,)`` bool clips of the second group.
    """

    kind: str
    name: str
    group_a: np.ndarray
    group_b: np.ndarray


def _mask(labels: Sequence[dict[str, str]], **want: str) -> np.ndarray:
    return np.array([all(lab.get(k) == v for k, v in want.items()) for lab in labels], dtype=bool)


def find_contrasts(labels: Sequence[dict[str, str]]) -> Iterator[Contrast]:
    """Every contrast present in a split's labels.

    * ``left/right``: an action naming ``left`` and the same action with ``right`` (any style).
    * ``forward/backward``: ``walk`` vs ``walk-back`` (any style).
    * ``style``: one action in two different styles.

    >>> labs = [{"action": "wave-left-hand", "style": "old"}, {"action": "wave-right-hand", "style": "old"},
    ...         {"action": "wave-left-hand", "style": "happy"}]
    >>> [(c.kind, c.name) for c in find_contrasts(labs)]  # doctest: +NORMALIZE_WHITESPACE
    [('left/right', 'wave-left-hand vs wave-right-hand'), ('style', 'wave-left-hand: happy vs old')]
    """
    actions = sorted({lab["action"] for lab in labels if lab.get("action")})
    for action in actions:
        if "left" in action and action.replace("left", "right") in actions:
            other = action.replace("left", "right")
            yield Contrast(
                "left/right",
                f"{action} vs {other}",
                _mask(labels, action=action),
                _mask(labels, action=other),
            )
    if "walk" in actions and "walk-back" in actions:
        yield Contrast(
            "forward/backward",
            "walk vs walk-back",
            _mask(labels, action="walk"),
            _mask(labels, action="walk-back"),
        )
    for action in actions:
        styles = sorted({lab["style"] for lab in labels if lab.get("action") == action and lab.get("style")})
        for i, s1 in enumerate(styles):
            for s2 in styles[i + 1 :]:
                yield Contrast(
                    "style",
                    f"{action}: {s1} vs {s2}",
                    _mask(labels, action=action, style=s1),
                    _mask(labels, action=action, style=s2),
                )


def pair_accuracy(
    scores: np.ndarray, rows: np.ndarray, group_a: np.ndarray, group_b: np.ndarray
) -> np.ndarray:
    """Per query, the share of (a, b) clip pairs with ``score(t, a) > score(t, b)``.

    Args:
        scores: ``(Nt, Nc)`` text x clip scores.
        rows: ``(n,)`` indices of the queries (texts of group A).
        group_a: ``(Nc,)`` bool clips the queries describe.
        group_b: ``(Nc,)`` bool contrasting clips.

    Returns:
        ``(n,)`` accuracies in ``[0, 1]``.

    >>> s = np.array([[0.9, 0.5, 0.9]])
    >>> pair_accuracy(s, np.array([0]), np.array([True, False, False]), np.array([False, True, True]))
    array([0.5])
    """
    sa = scores[np.ix_(rows, np.flatnonzero(group_a))]  # (n, na)
    sb = scores[np.ix_(rows, np.flatnonzero(group_b))]  # (n, nb)
    return (sa[:, :, None] > sb[:, None, :]).mean(axis=(1, 2))


def contrast_table(scores: np.ndarray, ev: EvalSet) -> list[dict[str, object]]:
    """Accuracy of every kind of contrast for the query subsets ``all`` / ``seen`` / ``heldout``.

    A text is a query of group A when every clip it describes is in A (texts shared with B are left out).

    Args:
        scores: ``(Nt, Nc)`` text x clip scores.
        ev: the evaluation set (labels included).

    Returns:
        Rows ``{"kind", "queries", "accuracy" (%), "n_queries", "n_contrasts"}``; kinds without any query are
        left out.

    >>> from backend.evaluation.protocols import build_eval_set
    >>> ev = build_eval_set(["a", "b"], [["waves the left hand"], ["waves the right hand"]],
    ...                     labels=[{"action": "wave-left-hand"}, {"action": "wave-right-hand"}])
    >>> contrast_table(np.array([[0.9, 0.1], [0.8, 0.2]]), ev)[0]["accuracy"]  # the right-hand text fails
    50.0
    """
    member = ev.membership
    kinds = np.asarray(ev.text_kinds)
    per_kind: dict[tuple[str, str], list[float]] = {}
    contrasts: dict[str, int] = {}
    for c in find_contrasts(ev.clip_labels):
        if not c.group_a.any() or not c.group_b.any():
            continue
        contrasts[c.kind] = contrasts.get(c.kind, 0) + 1
        for mine, other in ((c.group_a, c.group_b), (c.group_b, c.group_a)):
            rows = np.flatnonzero(member[:, mine].any(axis=1) & ~member[:, ~mine].any(axis=1))
            if rows.size == 0:
                continue
            acc = pair_accuracy(scores, rows, mine, other)
            for subset in ("all", *TEXT_KINDS):
                keep = np.ones(rows.size, bool) if subset == "all" else kinds[rows] == subset
                per_kind.setdefault((c.kind, subset), []).extend(acc[keep].tolist())
    out: list[dict[str, object]] = []
    for (kind, subset), values in per_kind.items():
        if values:
            out.append(
                {
                    "kind": kind,
                    "queries": subset,
                    "accuracy": float(100.0 * np.mean(values)),
                    "n_queries": len(values),
                    "n_contrasts": contrasts[kind],
                }
            )
    return out
