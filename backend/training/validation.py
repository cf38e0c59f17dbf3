"""Validation for model selection: the All-protocol retrieval table of the validation split -> one score.

The trainer keeps the checkpoint with the highest :func:`selection_score`; :func:`validate` runs the
evaluation and returns that score with the per-direction recall values logged beside it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from backend.evaluation.run import EvalClip, evaluate_clips

__all__ = ["selection_score", "validate"]


def selection_score(rows: list[dict[str, Any]], metric: str) -> float:
    """Validation score used for model selection (higher is better) from All-protocol table rows.

    ``rsum``: mean of R@1, R@5 and R@10 over both directions; ``t2m/R@5`` etc.: that single value.

    >>> rows = [{"protocol": "all", "queries": "all", "direction": d, "R@1": 10.0, "R@5": 20.0, "R@10": 30.0}
    ...         for d in ("t2m", "m2t")]
    >>> selection_score(rows, "rsum"), selection_score(rows, "m2t/R@5")
    (20.0, 20.0)
    """
    by_dir = {r["direction"]: r for r in rows if r["protocol"] == "all" and r["queries"] == "all"}
    if metric == "rsum":
        return float(np.mean([by_dir[d][f"R@{k}"] for d in ("t2m", "m2t") for k in (1, 5, 10)]))
    direction, name = metric.split("/")
    return float(by_dir[direction][name])


def validate(
    model: Any, clips: Sequence[EvalClip], metric: str, *, batch_size: int, seed: int, amp: bool
) -> tuple[float, dict[str, float]]:
    """Score ``model`` on the validation ``clips`` with the All protocol.

    Args:
        model: the :class:`~backend.model.retrieval.MotionTextRetrieval` being trained.
        clips: featurised validation clips.
        metric: ``select_metric`` of the training config (``rsum`` or ``<direction>/<column>``).
        batch_size: encoding batch size.
        seed: seed of the evaluation protocol.
        amp: bf16 autocast on CUDA.

    Returns:
        The selection score and ``{"t2m/R@1": ..., "m2t/MedR": ...}`` for the log.
    """
    table = evaluate_clips(model, clips, protocols=("all",), batch_size=batch_size, seed=seed, amp=amp)
    rows = {
        f"{r['direction']}/{k}": r[k]
        for r in table["rows"]
        if r["queries"] == "all"
        for k in ("R@1", "R@5", "R@10", "MedR")
    }
    return selection_score(table["rows"], metric), rows
