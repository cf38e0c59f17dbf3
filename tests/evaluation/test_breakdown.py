"""Contract of ``backend.evaluation.breakdown`` and the suite protocols of ``evaluate``.

* Per-source rows rank a source's queries against the whole gallery (a clip of another source can beat them).
* Macro = mean over action labels (each counts once), micro = mean over queries.
* On real clips with the shipped model, ``evaluate_checkpoint`` reports breakdown, held-out queries (concepts
  without clips listed as skipped), grounding and calibration, and renders them as Markdown.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from backend.evaluation.breakdown import caption_breakdown, grouped_recall
from backend.evaluation.protocols import build_eval_set


def test_sources_are_ranked_against_the_whole_gallery() -> None:
    ev = build_eval_set(
        ["a", "b", "c"],
        [["walk"], ["walk fast"], ["squat"]],
        labels=[{"action": "walk"}, {"action": "walk"}, {"action": "squat"}],
    )
    # texts: walk -> a, walk fast -> b, squat -> c; the squat text prefers clip a (another source)
    scores = np.array([[0.9, 0.1, 0.0], [0.2, 0.8, 0.1], [0.7, 0.0, 0.5]])
    rows = caption_breakdown(scores, ev, {"all": ev.membership}, ["bn", "bn", "hdm"], ks=(1,))
    t2m = {r["group"]: r["R@1"] for r in rows if r["direction"] == "t2m"}
    assert t2m == pytest.approx({"micro": 200 / 3, "macro": 50.0, "source:bn": 100.0, "source:hdm": 0.0})


def test_terse_forms_are_their_own_query_kind() -> None:
    from backend.evaluation.protocols import protocol_all

    ev = build_eval_set(
        ["a", "b"], [["a person walks"], ["a person squats"]], terse=[["walk"], ["squat", "a person walks"]]
    )
    assert ev.text_kinds == ["seen", "seen", "terse", "terse"]  # a terse form equal to a caption stays seen
    out = protocol_all(np.array([[0.9, 0.1], [0.2, 0.8], [0.1, 0.5], [0.3, 0.4]]), ev, ks=(1,))
    assert out["terse"]["t2m"]["R@1"] == 50.0 and out["terse"]["t2m"]["n_queries"] == 2


def test_macro_counts_each_action_once() -> None:
    ranks = np.array([1, 1, 1, 5])  # three walk queries right, one squat query wrong
    rows = grouped_recall(ranks, [["walk"]] * 3 + [["squat"]], [["x"]] * 4, ks=(1,))
    assert rows[0]["R@1"] == 75.0 and rows[1]["R@1"] == 50.0 and rows[1]["n_actions"] == 2


def test_evaluate_checkpoint_runs_the_suite(sided_library: Path, shipped_model) -> None:
    from backend.evaluation.run import evaluate_checkpoint, table_to_markdown
    from backend.library.captions import captions_for
    from tests.evaluation.conftest import DEFAULT_MODEL

    def heldout(labels, clip_id):
        return captions_for(labels, clip_id, heldout=True)

    table = evaluate_checkpoint(
        DEFAULT_MODEL,
        "library",
        sided_library,
        protocols=("breakdown", "queries", "grounding", "calibration"),
        heldout_fn=heldout,
    )
    groups = {r["group"] for r in table["breakdown"]}
    assert groups == {"micro", "macro", "source:bandai-namco-2"}
    forms = {(r["kind"], r["form"]) for r in table["queries"]["rows"]}
    assert forms == {("action", "natural"), ("action", "terse"), ("style", "natural"), ("style", "terse")}
    assert "kick-left-leg" in table["queries"]["skipped_concepts"]  # no HDM05 clip in this gallery
    assert "wave-left-hand" not in table["queries"]["skipped_concepts"]
    assert table["grounding"]["n_clips"] == 12
    cal = table["calibration"]
    assert cal["n"]["absent"] == 29 and cal["calibration"]["n_fit"][1] == 20
    assert 0.0 <= cal["auroc_absent"] <= 1.0
    md = table_to_markdown(table)
    assert (
        "| held-out queries |" in md
        and "Grounding on 12 one-sided clips" in md
        and "Calibration (fit on val" in md
    )
