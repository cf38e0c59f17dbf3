"""Evaluate a model on one split: encode (batched, no grad), score with the model's own scoring, run the
protocols, and lay the results out as a table (a JSON-ready dict and Markdown).

Scores come from :meth:`MotionTextRetrieval.score`, i.e. :mod:`backend.model.scoring` (MaxSim or pooled, with
the checkpoint's padding-mask setting); nothing here re-implements MaxSim. Clips longer than the model's
``window_frames`` are centre-cropped (``prepare_motion_batch(crop="center")``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from backend.errors import InvalidInputError, MotionSearchError
from backend.evaluation.contrasts import contrast_table
from backend.evaluation.encoding import encode_motions, score_texts, score_texts_expanded
from backend.evaluation.metrics import RECALL_KS
from backend.evaluation.protocols import (
    EvalSet,
    build_eval_set,
    protocol_all,
    protocol_batches,
    protocol_labels,
    protocol_threshold,
)

if TYPE_CHECKING:
    from backend.evaluation.query_sets import QuerySet
    from backend.model.expansion import CaptionExpander
    from backend.model.retrieval import MotionTextRetrieval

__all__ = [
    "LABEL_PROTOCOLS",
    "PROTOCOLS",
    "EvalClip",
    "evaluate_checkpoint",
    "evaluate_clips",
    "table_to_markdown",
]

log = logging.getLogger(__name__)

#: protocol names accepted by :func:`evaluate_clips` (``labels`` expands to :data:`LABEL_PROTOCOLS`;
#: ``contrasts`` = :mod:`backend.evaluation.contrasts`, reported in the table's ``contrasts`` list; the last
#: four are :data:`backend.evaluation.suite.SUITE_PROTOCOLS`, reported under their own names)
PROTOCOLS: tuple[str, ...] = (
    "all", "batch32", "threshold", "labels", "contrasts", "breakdown", "queries", "grounding", "calibration"
)  # fmt: skip
#: label-level protocols: row name -> label keys that must agree
LABEL_PROTOCOLS: dict[str, tuple[str, ...]] = {"action": ("action",), "action+style": ("action", "style")}

HeldoutFn = Callable[[Mapping[str, str], str], Sequence[str]]


@dataclass
class EvalClip:
    """A featurized clip of the evaluated split.

    Attributes:
        clip_id: clip id.
        features: ``(T, C)`` z-scored features (``model.featurize``).
        captions: its captions (seen-template wordings for a library).
        labels: its labels (``action``/``style`` for label-level metrics).
        heldout: held-out phrasings used only as test queries.
        source: the dataset it came from (per-source breakdown).
        terse: held-out terse keyword forms used only as test queries.
    """

    clip_id: str
    features: np.ndarray
    captions: list[str]
    labels: dict[str, str] = field(default_factory=dict)
    heldout: list[str] = field(default_factory=list)
    source: str = ""
    terse: list[str] = field(default_factory=list)


def _rows(protocol: str, result: Mapping[str, Mapping[str, Mapping[str, float]]]) -> list[dict[str, Any]]:
    out = []
    for queries, directions in result.items():
        for direction, metrics in directions.items():
            out.append({"protocol": protocol, "queries": queries, "direction": direction, **metrics})
    return out


def evaluate_clips(
    model: MotionTextRetrieval,
    clips: Sequence[EvalClip],
    protocols: Sequence[str] = PROTOCOLS,
    batch_size: int = 128,
    seed: int = 0,
    threshold: float = 0.95,
    ks: Sequence[int] = RECALL_KS,
    amp: bool = True,
    query_set: QuerySet | None = None,
    fit_clips: Sequence[EvalClip] | None = None,
    expander: CaptionExpander | None = None,
) -> dict[str, Any]:
    """Run the protocols on featurized clips.

    Args:
        model: the retrieval model (put in eval mode here).
        clips: the split's clips.
        protocols: subset of :data:`PROTOCOLS`.
        batch_size: encoding batch size.
        seed: seed of the batches-of-32 protocol.
        threshold: caption-similarity threshold of the threshold protocol.
        ks: recall cut-offs.
        amp: bf16 autocast on CUDA.
        query_set: held-out query set of the ``queries`` / ``grounding`` / ``calibration`` protocols
            (default: the bundled one).
        fit_clips: validation clips (with held-out phrasings) the ``calibration`` protocol fits on.
        expander: every text query is searched expanded with this caption bank, as a search does
            (:mod:`backend.model.expansion`); None = the query alone (the model's own ranking).

    Returns:
        ``{"n_clips", "n_texts": {"seen", "heldout", "terse"}, "rows": [{"protocol", "queries", "direction", "R@1",
        ..., "MedR", "MeanR", "n_queries", "n_gallery"}, ...], "contrasts": [{"kind", "queries", "accuracy",
        "n_queries", "n_contrasts"}, ...]}`` (``contrasts`` only when asked for).

    Raises:
        InvalidInputError: unknown protocol name or no clips.
    """
    unknown = sorted(set(protocols) - set(PROTOCOLS))
    if unknown:
        raise InvalidInputError(f"unknown protocol(s) {unknown}; valid: {list(PROTOCOLS)}")
    ev = build_eval_set(
        [c.clip_id for c in clips],
        [c.captions for c in clips],
        labels=[c.labels for c in clips],
        heldout=[c.heldout for c in clips] if any(c.heldout for c in clips) else None,
        terse=[c.terse for c in clips] if any(c.terse for c in clips) else None,
    )
    from backend.evaluation.suite import SUITE_PROTOCOLS, run_suite, with_m2t_from

    was_training = model.training
    model.eval()
    try:
        motion = encode_motions(model, [c.features for c in clips], batch_size, amp)
        plain = score_texts(
            model, ev.texts, motion, batch_size, amp
        )  # motion -> text: captions as describe ranks
        scores = (
            plain
            if expander is None
            else score_texts_expanded(model, ev.texts, motion, expander, batch_size)[0]
        )
        suite = {}
        if set(SUITE_PROTOCOLS) & set(protocols):
            fit = None
            if fit_clips and "calibration" in protocols:
                texts = [t for c in fit_clips for t in c.heldout]
                fit = (encode_motions(model, [c.features for c in fit_clips], batch_size, amp), texts)
            sources = [c.source for c in clips]
            suite = run_suite(model, ev, scores, motion, sources, protocols, query_set, fit, batch_size, amp,
                              expander, None if expander is None else plain)  # fmt: skip
    finally:
        model.train(was_training)
    table: dict[str, Any] = {
        "n_clips": len(ev.clip_ids),
        "n_texts": {kind: int(ev.rows(kind).size) for kind in ("seen", "heldout", "terse")},
        "rows": run_protocols(scores, ev, protocols, model, seed, threshold, ks),
    }
    if expander is not None:
        table["rows"] = with_m2t_from(
            table["rows"], run_protocols(plain, ev, protocols, model, seed, threshold, ks)
        )
    if "contrasts" in protocols:
        table["contrasts"] = contrast_table(scores, ev)
    table.update(suite)
    return table


def run_protocols(
    scores: np.ndarray,
    ev: EvalSet,
    protocols: Sequence[str],
    model: MotionTextRetrieval,
    seed: int,
    threshold: float,
    ks: Sequence[int],
) -> list[dict[str, Any]]:
    """Table rows of the chosen protocols for a ``(Nt, Nc)`` score matrix (see :func:`evaluate_clips`)."""
    rows: list[dict[str, Any]] = []
    if "all" in protocols:
        rows += _rows("all", protocol_all(scores, ev, ks))
    if "batch32" in protocols:
        rows += _rows("batch32", protocol_batches(scores, ev, 32, seed, ks))
    if "threshold" in protocols:
        from backend.evaluation.text_similarity import caption_similarity

        sim = caption_similarity(ev.texts, model.config.text_model_path, device=str(model.device))
        rows += _rows("threshold", protocol_threshold(scores, ev, sim, threshold, ks))
    if "labels" in protocols:
        for name, keys in LABEL_PROTOCOLS.items():
            if any(all(lab.get(k) for k in keys) for lab in ev.clip_labels):
                rows += _rows(name, protocol_labels(scores, ev, keys, ks))
    return rows


def _heldout(fn: HeldoutFn | None, labels: Mapping[str, str], clip_id: str) -> list[str]:
    if fn is None:
        return []
    try:
        return [t for t in fn(labels, clip_id) if t.strip()]
    except MotionSearchError as exc:  # labels of no known kind: the clip gets no held-out phrasing
        log.debug("no held-out phrasings for %s: %s", clip_id, exc)
        return []


def evaluate_checkpoint(
    checkpoint: str | Path,
    dataset: str,
    data_root: str | Path,
    split: str = "test",
    protocols: Sequence[str] = PROTOCOLS,
    heldout_fn: HeldoutFn | None = None,
    batch_size: int = 128,
    device: str = "cpu",
    max_clips: int | None = None,
    seed: int = 0,
    query_set: QuerySet | None = None,
    terse_fn: HeldoutFn | None = None,
    expansion: int = 0,
) -> dict[str, Any]:
    """Load a checkpoint folder and evaluate it on a split.

    Args:
        checkpoint: folder written by ``MotionTextRetrieval.save_pretrained``.
        dataset: ``library`` | ``humanml3d`` | ``kitml``.
        data_root: the data folder.
        split: split evaluated (``test`` for reported numbers).
        protocols: subset of :data:`PROTOCOLS`.
        heldout_fn: ``(labels, clip_id) -> held-out phrasings`` (library only; None = none).
        batch_size: encoding batch size.
        device: torch device.
        max_clips: evaluate a seeded subset of at most this many clips.
        seed: seed of the subset and of the batches-of-32 protocol.
        query_set: held-out query set (default: the bundled one).
        terse_fn: ``(labels, clip_id) -> held-out terse forms`` (library only; None = none).
        expansion: search every text query expanded with this many captions of a bank made of the **train**
            split's captions (:mod:`backend.model.expansion`; the served index uses its own caption bank);
            0 = the query alone.

    Returns:
        The table of :func:`evaluate_clips` plus ``checkpoint``, ``checksum``, ``dataset``, ``split``,
        ``scoring`` and ``mask_padding_patches``.
    """
    from backend.evaluation.data import load_split
    from backend.model.retrieval import MotionTextRetrieval

    model = MotionTextRetrieval.from_pretrained(checkpoint, device=device)
    records = load_split(dataset, data_root, split, max_clips=max_clips, seed=seed)
    clips = [
        EvalClip(
            r.clip_id,
            model.featurize(r.joints),
            r.captions,
            r.labels,
            _heldout(heldout_fn, r.labels, r.clip_id),
            r.source,
            _heldout(terse_fn, r.labels, r.clip_id),
        )
        for r in records
    ]
    fit_clips = None
    if "calibration" in protocols and heldout_fn is not None and split != "val":
        fit_clips = [
            EvalClip(
                r.clip_id,
                model.featurize(r.joints),
                r.captions,
                r.labels,
                _heldout(heldout_fn, r.labels, r.clip_id),
            )
            for r in load_split(dataset, data_root, "val")
        ]
    expander = None
    if expansion:
        from backend.model.expansion import CaptionExpander

        train = load_split(dataset, data_root, "train")
        expander = CaptionExpander.from_texts(model, [c for r in train for c in r.captions], expansion)
    table = evaluate_clips(model, clips, protocols, batch_size=batch_size, seed=seed, fit_clips=fit_clips,
                           query_set=query_set, expander=expander)  # fmt: skip
    header = {
        "checkpoint": str(checkpoint),
        "checksum": model.checksum(),
        "dataset": dataset,
        "split": split,
        "scoring": model.config.scoring,
        "mask_padding_patches": model.config.mask_padding_patches,
        "expansion": expansion,
        "expansion_bank": len(expander) if expander is not None else 0,
    }
    return {**header, **table}


def table_to_markdown(table: Mapping[str, Any], ks: Sequence[int] = RECALL_KS) -> str:
    """Markdown rendering of an evaluation table (one line per protocol x queries x direction).

    >>> t = {"rows": [{"protocol": "all", "queries": "all", "direction": "t2m", "R@1": 50.0, "MedR": 1.5,
    ...                "n_queries": 4}]}
    >>> print(table_to_markdown(t, ks=(1,)))
    | protocol | queries | direction | R@1 | MedR | n |
    |---|---|---|---:|---:|---:|
    | all | all | t2m | 50.00 | 1.5 | 4 |
    """
    head = ["protocol", "queries", "direction", *[f"R@{k}" for k in ks], "MedR", "n"]
    lines = [
        "| " + " | ".join(head) + " |",
        "|---|---|---|" + "---:|" * (len(ks) + 2),
    ]
    for row in table["rows"]:
        cells = [str(row["protocol"]), str(row["queries"]), str(row["direction"])]
        cells += [f"{row[f'R@{k}']:.2f}" for k in ks]
        cells += [f"{row['MedR']:.1f}", str(int(row["n_queries"]))]
        lines.append("| " + " | ".join(cells) + " |")
    if table.get("contrasts"):
        lines += [
            "",
            "| contrast | queries | pairwise accuracy % (chance 50) | queries | contrasts |",
            "|---|---|---:|---:|---:|",
        ]
        for row in table["contrasts"]:
            lines.append(
                f"| {row['kind']} | {row['queries']} | {row['accuracy']:.1f} | {row['n_queries']} | "
                f"{row['n_contrasts']} |"
            )
    from backend.evaluation.suite import suite_markdown

    return "\n".join(lines) + suite_markdown(table)
