"""Contract of ``backend.evaluation.contrasts`` on hand-built scores with known answers.

* Contrasts are found from labels: left/right action pairs, walk vs walk-back, and styles of one action.
* Pairwise accuracy: share of (own clip, contrasting clip) pairs the query orders correctly; ties are wrong.
* A model blind to the contrasting word cannot beat 50 %; one that reads it gets 100 %.
"""

from __future__ import annotations

import numpy as np
import pytest

from backend.evaluation.contrasts import contrast_table, find_contrasts, pair_accuracy
from backend.evaluation.protocols import build_eval_set, label_positives

LABELS = [
    {"action": "wave-left-hand", "style": "old"},
    {"action": "wave-right-hand", "style": "old"},
    {"action": "walk", "style": "old"},
    {"action": "walk", "style": "happy"},
    {"action": "walk-back", "style": "old"},
    {"action": "run"},
]
CAPTIONS = [
    ["waves the left hand"],
    ["waves the right hand"],
    ["an old man walks"],
    ["a happy walk"],
    ["walks backwards"],
    ["runs"],
]
HELDOUT = [["lifts the left palm and waves"], ["lifts the right palm and waves"], [], [], [], []]


def test_contrasts_found_from_labels() -> None:
    found = {
        (c.kind, c.name): (c.group_a.nonzero()[0].tolist(), c.group_b.nonzero()[0].tolist())
        for c in find_contrasts(LABELS)
    }
    assert found == {
        ("left/right", "wave-left-hand vs wave-right-hand"): ([0], [1]),
        ("forward/backward", "walk vs walk-back"): ([2, 3], [4]),
        ("style", "walk: happy vs old"): ([3], [2]),
    }


def test_pair_accuracy_counts_ties_as_wrong() -> None:
    s = np.array([[0.5, 0.5, 0.4, 0.9]])
    a = np.array([True, False, False, False])
    b = np.array([False, True, True, True])
    # against 0.5 (tie: wrong), 0.4 (right), 0.9 (wrong)
    assert pair_accuracy(s, np.array([0]), a, b).tolist() == pytest.approx([1 / 3])


def _ev():
    return build_eval_set([f"c{i}" for i in range(len(LABELS))], CAPTIONS, labels=LABELS, heldout=HELDOUT)


def test_a_model_that_reads_the_word_scores_100_and_a_blind_one_at_most_50() -> None:
    ev = _ev()
    reads_action = label_positives(ev, ["action"]).astype(float)  # a text scores every clip of its action 1
    rows = {(r["kind"], r["queries"]): r for r in contrast_table(reads_action, ev)}
    assert rows[("left/right", "all")]["accuracy"] == 100.0
    assert rows[("left/right", "heldout")]["accuracy"] == 100.0
    assert rows[("forward/backward", "seen")]["accuracy"] == 100.0
    assert rows[("style", "all")]["accuracy"] == 0.0  # blind to style: every style pair ties
    assert rows[("left/right", "all")]["n_queries"] == 4 and rows[("left/right", "all")]["n_contrasts"] == 1
    reads_style = label_positives(ev, ["action", "style"]).astype(float)
    rows = {(r["kind"], r["queries"]): r for r in contrast_table(reads_style, ev)}
    assert rows[("style", "all")]["accuracy"] == 100.0

    blind = np.tile(np.arange(len(LABELS), dtype=float), (len(ev.texts), 1))  # same ranking for every text
    rows = {(r["kind"], r["queries"]): r for r in contrast_table(blind, ev)}
    assert rows[("left/right", "all")]["accuracy"] == 50.0
    constant = np.zeros((len(ev.texts), len(LABELS)))
    assert all(r["accuracy"] == 0.0 for r in contrast_table(constant, ev))


def test_texts_shared_by_both_groups_are_not_queries() -> None:
    ev = build_eval_set(
        ["a", "b"],
        [["waves a hand", "waves the left hand"], ["waves a hand"]],
        labels=[{"action": "wave-left-hand"}, {"action": "wave-right-hand"}],
    )
    rows = contrast_table(ev.membership.astype(float), ev)
    assert [r["n_queries"] for r in rows if r["queries"] == "all"] == [1]
