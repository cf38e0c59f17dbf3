"""Contract of ``backend.evaluation.metrics``: R@k / MedR from hand-built score matrices with known answers.

* The rank of a query is the 1-based rank of its best-ranked positive.
* Ties are pessimistic: a negative with the same score as the best positive is ranked before it, so ties
  never inflate a score (a constant score matrix gets the worst rank).
* Duplicate captions (several positives per query) count once, via the best positive.
* Both directions come from one text x motion matrix (motion-to-text = its transpose).
"""

from __future__ import annotations

import numpy as np
import pytest

from backend.errors import InvalidInputError
from backend.evaluation.metrics import (
    average_metrics,
    best_positive_ranks,
    bidirectional_metrics,
    median_rank,
    recall_at_k,
    retrieval_metrics,
)


def test_ranks_of_a_diagonal_matrix_with_known_answers() -> None:
    # query 0: positive best -> rank 1; query 1: two negatives above -> rank 3; query 2: one above -> rank 2
    s = np.array(
        [
            [0.9, 0.1, 0.2, 0.3],
            [0.8, 0.5, 0.7, 0.1],
            [0.1, 0.2, 0.4, 0.6],
        ]
    )
    p = np.zeros((3, 4), dtype=bool)
    p[0, 0] = p[1, 1] = p[2, 2] = True
    assert best_positive_ranks(s, p).tolist() == [1, 3, 2]
    m = retrieval_metrics(s, p)
    assert m["R@1"] == pytest.approx(100 / 3)
    assert m["R@2"] == pytest.approx(200 / 3)
    assert m["R@3"] == m["R@5"] == m["R@10"] == 100.0
    assert m["MedR"] == 2.0
    assert m["MeanR"] == 2.0
    assert (m["n_queries"], m["n_gallery"]) == (3, 4)


def test_ties_are_counted_against_the_positive() -> None:
    s = np.array([[0.5, 0.5, 0.5, 0.1]])
    p = np.array([[True, False, False, False]])
    # two negatives tie with the positive: rank 3, never rank 1
    assert best_positive_ranks(s, p).tolist() == [3]
    assert retrieval_metrics(s, p)["R@1"] == 0.0


def test_a_constant_model_gets_the_worst_rank() -> None:
    n = 6
    s = np.zeros((n, n))
    p = np.eye(n, dtype=bool)
    ranks = best_positive_ranks(s, p)
    assert ranks.tolist() == [n] * n
    m = retrieval_metrics(s, p)
    assert m["R@1"] == 0.0 and m["R@5"] == 0.0 and m["R@10"] == 100.0
    assert m["MedR"] == n


def test_duplicate_captions_use_the_best_ranked_positive() -> None:
    # text 0 and text 1 are the same caption, so motions 0 and 1 are both positives of both texts
    s = np.array(
        [
            [0.2, 0.9, 0.5],  # best positive (motion 1) is ranked first
            [0.3, 0.1, 0.6],  # motion 2 (negative) beats both positives; best positive motion 0 -> rank 2
            [0.4, 0.8, 0.7],  # caption of motion 2: motion 1 ranks above it -> rank 2
        ]
    )
    p = np.array([[True, True, False], [True, True, False], [False, False, True]])
    assert best_positive_ranks(s, p).tolist() == [1, 2, 2]


def test_positives_do_not_push_each_other_down() -> None:
    s = np.array([[0.9, 0.8, 0.7, 0.6]])
    p = np.array([[True, True, True, False]])
    assert best_positive_ranks(s, p).tolist() == [1]
    p2 = np.array([[False, True, True, False]])
    assert best_positive_ranks(s, p2).tolist() == [2]


def test_infinite_scores_are_ordinary_scores() -> None:
    s = np.array([[-np.inf, 0.0, -np.inf], [np.inf, 1.0, 2.0]])
    p = np.array([[True, False, False], [False, False, True]])
    # query 0: the positive at -inf ties with the other -inf negative and loses to 0.0 -> rank 3
    assert best_positive_ranks(s, p).tolist() == [3, 2]


def test_bidirectional_metrics_use_the_transpose() -> None:
    s = np.array([[0.9, 0.95], [0.1, 0.2]])
    p = np.eye(2, dtype=bool)
    r = bidirectional_metrics(s, p, ks=(1,))
    # t2m: text 0 -> motion 1 wins (rank 2); text 1 -> motion 1 (rank 1)
    assert r["t2m"]["R@1"] == 50.0
    # m2t: motion 0 -> text 0 (0.9 > 0.1, rank 1); motion 1 -> text 1 (0.2 < 0.95, rank 2)
    assert r["m2t"]["R@1"] == 50.0
    assert r["t2m"]["MedR"] == r["m2t"]["MedR"] == 1.5


def test_motions_without_a_positive_text_are_not_queries() -> None:
    s = np.array([[0.9, 0.1, 0.3]])
    p = np.array([[True, False, False]])
    r = bidirectional_metrics(s, p)
    assert r["t2m"]["n_gallery"] == 3
    assert r["m2t"]["n_queries"] == 1


def test_recall_and_median_helpers() -> None:
    ranks = np.array([1, 1, 4, 12, 3])
    assert recall_at_k(ranks, 1) == 40.0
    assert recall_at_k(ranks, 3) == 60.0
    assert recall_at_k(ranks, 10) == 80.0
    assert median_rank(ranks) == 3.0


def test_average_metrics_means_the_batches() -> None:
    a = {"R@1": 100.0, "MedR": 1.0, "n_queries": 32}
    b = {"R@1": 50.0, "MedR": 2.0, "n_queries": 32}
    out = average_metrics([a, b])
    assert out == {"R@1": 75.0, "MedR": 1.5, "n_queries": 64, "n_batches": 2}


@pytest.mark.parametrize(
    ("scores", "positives", "message"),
    [
        (np.zeros((2, 2)), np.zeros((2, 3), dtype=bool), "shape"),
        (np.zeros((2, 2)), np.eye(2), "boolean"),
        (np.array([[np.nan, 0.0], [0.0, 0.0]]), np.eye(2, dtype=bool), "NaN"),
        (np.zeros((2, 2)), np.array([[True, False], [False, False]]), "query row 1"),
        (np.zeros(3), np.ones(3, dtype=bool), "2-D"),
    ],
)
def test_bad_inputs_raise_named_errors(scores: np.ndarray, positives: np.ndarray, message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        best_positive_ranks(scores, positives)


def test_empty_ranks_and_bad_k_raise() -> None:
    with pytest.raises(InvalidInputError, match="empty"):
        recall_at_k(np.array([]), 1)
    with pytest.raises(InvalidInputError, match="k must be"):
        recall_at_k(np.array([1]), 0)
