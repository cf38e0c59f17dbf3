"""The issue-11 protocols on top of the caption tables: per-source / macro breakdown, held-out query sets,
grounding and pointing game, calibration of a "no close match" confidence; and their Markdown.

Called by :func:`backend.evaluation.run.evaluate_clips` for the protocol names :data:`SUITE_PROTOCOLS`:

* ``breakdown``: :func:`~backend.evaluation.breakdown.caption_breakdown` of the ``all``, ``action`` and
  ``action+style`` protocols (labels by :func:`~backend.evaluation.clip_labels.action_key`, so CMU trials count
  as actions too);
* ``queries``: the held-out natural and terse query sets (:mod:`backend.evaluation.query_sets`) against the
  split's clips, action@k macro over actions, per source;
* ``grounding``: :func:`~backend.evaluation.grounding.grounding_metrics`;
* ``calibration``: fit on the validation split, AUROC on this split (:mod:`backend.evaluation.calibration`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from backend.evaluation.breakdown import caption_breakdown, query_set_breakdown
from backend.evaluation.calibration import auroc, fit_calibration, row_confidence, score_features
from backend.evaluation.clip_labels import action_key, style_key
from backend.evaluation.grounding import grounding_metrics
from backend.evaluation.protocols import EvalSet
from backend.evaluation.query_sets import Query, QuerySet, concept_positives

if TYPE_CHECKING:
    from backend.model.expansion import CaptionExpander
    from backend.model.outputs import MotionEncoding
    from backend.model.retrieval import MotionTextRetrieval

__all__ = ["SUITE_PROTOCOLS", "key_positives", "run_suite", "suite_markdown"]

#: protocol names handled here
SUITE_PROTOCOLS: tuple[str, ...] = ("breakdown", "queries", "grounding", "calibration")


def key_positives(ev: EvalSet, with_style: bool) -> np.ndarray:
    """``(Nt, Nc)`` label-level positives by action key (and style key): a hit = a clip of the same action."""
    keys = [
        (action_key(lab, cid), style_key(lab) if with_style else "")
        for lab, cid in zip(ev.clip_labels, ev.clip_ids, strict=True)
    ]
    codes = {k: i for i, k in enumerate(dict.fromkeys(keys))}
    code = np.array([codes[k] for k in keys])
    same = (code[:, None] == code[None, :]).astype(np.float64)
    return (ev.membership.astype(np.float64) @ same) > 0


def _score(
    model: MotionTextRetrieval,
    texts: Sequence[str],
    motion: MotionEncoding,
    batch_size: int,
    amp: bool,
    expander: CaptionExpander | None = None,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Scores of ``texts`` (searched expanded when an ``expander`` is given) and their coverages (or None)."""
    from backend.evaluation.encoding import score_texts, score_texts_expanded

    if expander is not None:
        return score_texts_expanded(model, list(texts), motion, expander, batch_size)
    return score_texts(model, list(texts), motion, batch_size, amp), None


def _calibration(
    model: MotionTextRetrieval,
    motion: MotionEncoding,
    clip_labels: list[dict[str, str]],
    query_set: QuerySet,
    fit: tuple[MotionEncoding, list[str]],
    bs: int,
    amp: bool,
    expander: CaptionExpander | None = None,
) -> dict[str, Any]:
    """Fit on ``fit = (val motion, val held-out texts)`` + the fit pool; AUROC on this gallery."""
    val_motion, val_texts = fit
    fit_neg = [q.text for q in query_set.queries if query_set.concepts[q.concept].pool == "fit"]
    (fit_p, fit_p_cov), (fit_n, fit_n_cov) = (
        _score(model, t, val_motion, bs, amp, expander) for t in (val_texts, fit_neg)
    )
    cal = fit_calibration(fit_p, fit_n, fit_p_cov, fit_n_cov)
    present: list[Query] = []
    known_absent: list[Query] = []
    for q in query_set.select(("action",)):
        (
            present if concept_positives(query_set.concepts[q.concept], clip_labels).any() else known_absent
        ).append(q)
    absent = [q for q in query_set.queries if query_set.concepts[q.concept].pool == "eval"]
    scored = {name: _score(model, [q.text for q in qs], motion, bs, amp, expander) if qs else None
              for name, qs in (("present", present), ("known_absent", known_absent), ("absent", absent))}  # fmt: skip
    rows = {name: None if v is None else v[0] for name, v in scored.items()}
    cover = {name: None if v is None else v[1] for name, v in scored.items()}
    out: dict[str, Any] = {
        "calibration": cal.to_dict(),
        "n": {k: 0 if v is None else len(v) for k, v in rows.items()},
    }
    pos_rows = rows["present"]
    for neg in ("absent", "known_absent"):
        neg_rows = rows[neg]
        if pos_rows is None or neg_rows is None:
            continue
        y = [True] * len(pos_rows) + [False] * len(neg_rows)
        both = np.concatenate([pos_rows, neg_rows])
        pc, nc = cover["present"], cover[neg]
        both_cov = None if pc is None or nc is None else np.concatenate([pc, nc])
        out[f"auroc_{neg}"] = auroc(y, row_confidence(cal, both, both_cov))
        out[f"auroc_{neg}_top1"] = auroc(y, score_features(both)[:, 0])
    for name, r in rows.items():
        if r is not None:
            out[f"mean_confidence_{name}"] = float(row_confidence(cal, r, cover[name]).mean())
    return out


def with_m2t_from(rows: list[dict[str, Any]], m2t_rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``rows`` with each motion -> text row replaced by the same row of ``m2t_rows`` (same order of rows).

    With expansion, text -> motion rows come from expanded queries (as a search runs them) and motion -> text
    rows from the captions alone (as ``describe`` ranks the bank).
    """
    other = iter(r for r in m2t_rows if r["direction"] == "m2t")
    return [next(other) if r["direction"] == "m2t" else r for r in rows]


def run_suite(
    model: MotionTextRetrieval,
    ev: EvalSet,
    scores: np.ndarray,
    motion: MotionEncoding,
    clip_sources: Sequence[str],
    protocols: Sequence[str],
    query_set: QuerySet | None = None,
    fit: tuple[MotionEncoding, list[str]] | None = None,
    batch_size: int = 128,
    amp: bool = True,
    expander: CaptionExpander | None = None,
    plain_scores: np.ndarray | None = None,
) -> dict[str, Any]:
    """Run the requested suite protocols; returns ``{protocol: result}`` (see the module docstring).

    Args:
        model: the retrieval model (eval mode).
        ev: the split's evaluation set; ``scores`` its ``(Nt, Nc)`` score matrix; ``motion`` its clips' encoding.
        clip_sources: ``Nc`` source names.
        protocols: names of :data:`SUITE_PROTOCOLS` to run (others are ignored).
        query_set: held-out queries (default: the bundled file).
        fit: ``(validation MotionEncoding, validation held-out texts)`` for ``calibration`` (skipped without).
        batch_size: encoding batch size.
        amp: bf16 autocast on CUDA.
        expander: queries of ``queries`` and ``calibration`` are searched expanded with its bank
            (:mod:`backend.model.expansion`; None = the query alone). Grounding always scores the query alone.
        plain_scores: with ``expander``, ``ev``'s scores of the texts alone: the breakdown's motion -> text rows.
    """
    from backend.evaluation.query_sets import load_query_set

    out: dict[str, Any] = {}
    if "breakdown" in protocols:
        positives = {
            "all": ev.membership,
            "action": key_positives(ev, False),
            "action+style": key_positives(ev, True),
        }
        out["breakdown"] = caption_breakdown(scores, ev, positives, clip_sources)
        if plain_scores is not None:
            out["breakdown"] = with_m2t_from(
                out["breakdown"], caption_breakdown(plain_scores, ev, positives, clip_sources)
            )
    wanted = {"queries", "grounding", "calibration"} & set(protocols)
    if not wanted:
        return out
    qset = query_set if query_set is not None else load_query_set()
    labels = ev.clip_labels
    if "queries" in wanted:
        qs = qset.select(("action", "style"))
        rows, skipped = query_set_breakdown(
            _score(model, [q.text for q in qs], motion, batch_size, amp, expander)[0],
            qs,
            qset,
            labels,
            clip_sources,
        )
        out["queries"] = {"rows": rows, "skipped_concepts": skipped}
    if "grounding" in wanted:
        out["grounding"] = grounding_metrics(model, motion, labels, qset, batch_size=batch_size)
    if "calibration" in wanted and fit is not None:
        out["calibration"] = _calibration(model, motion, labels, qset, fit, batch_size, amp, expander)
    return out


def _pct(v: Any) -> str:
    return "–" if v is None else f"{100 * v:.1f}"


def suite_markdown(table: Mapping[str, Any]) -> str:
    """Markdown of the suite sections of an evaluation table (empty string when none ran)."""
    lines: list[str] = []
    if table.get("breakdown"):
        lines += [
            "",
            "| protocol | dir | group | R@1 | R@3 | R@5 | R@10 | queries | actions |",
            "|---|---|---|---:|---:|---:|---:|---:|---:|",
        ]
        for r in table["breakdown"]:
            lines.append(
                f"| {r['protocol']} | {r['direction']} | {r['group']} | {r['R@1']:.1f} | {r['R@3']:.1f} | {r['R@5']:.1f} | "
                f"{r['R@10']:.1f} | {r['n_queries']} | {r['n_actions']} |"
            )
    if table.get("queries"):
        lines += ["", "| held-out queries | form | group | action@1 | action@5 | action@10 | queries | actions |",
                  "|---|---|---|---:|---:|---:|---:|---:|"]  # fmt: skip
        for r in table["queries"]["rows"]:
            lines.append(
                f"| {r['kind']} | {r['form']} | {r['group']} | {r['R@1']:.1f} | {r['R@5']:.1f} | {r['R@10']:.1f} | "
                f"{r['n_queries']} | {r['n_actions']} |"
            )
        if table["queries"]["skipped_concepts"]:
            lines.append(
                f"\nConcepts without a clip in this split (left out): {', '.join(table['queries']['skipped_concepts'])}"
            )
    g = table.get("grounding")
    if g:
        lines += [
            "",
            (
                f"Grounding on {g['n_clips']} one-sided clips, {g['n_queries']} queries: grounding {_pct(g['grounding'])} % "
                f"of {g['n_words']} side/limb words (opposite side {_pct(g['opposite_side'])} %), pointing game "
                f"{_pct(g['pointing_game'])} % of {g['n_pairs']} pairs; sink: {_pct(g['sink_top1'])} % of scored tokens "
                f"in the top band, {_pct(g['sink_top3'])} % in the top 3 ({', '.join(f'{k} {100 * v:.0f} %' for k, v in list(g['band_share'].items())[:3])})."
            ),
        ]
    c = table.get("calibration")
    if c:
        lines += [
            "",
            (
                f"Calibration (fit on val: {c['calibration']['n_fit'][0]} held-out phrasings vs "
                f"{c['calibration']['n_fit'][1]} absent-action queries): AUROC present vs absent "
                f"{_pct(c.get('auroc_absent'))} % (raw top-1 score {_pct(c.get('auroc_absent_top1'))} %), present vs "
                f"trained-but-not-in-gallery {_pct(c.get('auroc_known_absent'))} % (raw {_pct(c.get('auroc_known_absent_top1'))} %); "
                f"queries {c['n']}."
            ),
        ]
    return "\n" + "\n".join(lines) if lines else ""
